"""Readers during writes: Datasette serves the archive while a crawl writes to it, never locked.

`oversight serve`'s app (crawler.serve) runs under uvicorn in one process on 127.0.0.1; a second
process issues a bounded loop of GETs (search, table, row and SQL pages) first while the archive
is idle, then while a crawl of a generated site writes snapshots, documents and figures. Every
answer must be a 200 with no `database is locked`; the read latencies of both phases are printed
and returned by `measure_reads_during_writes()`, which tests/benchmarks/bench_hostile.py reuses.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from crawler.demo import sources_toml_for
from crawler.siteserver import Site
from tests.helpers import ROOT, crawl
from tests.test_kills import article, build_site

PATHS = (
    "/archive/documents.json?_search=referrals&_size=20",
    "/archive/documents.json?_size=50&_sort_desc=id",
    "/archive.json?sql=select+count(*)+from+snapshots",
    "/archive/figures.json?_size=50",
    "/archive/documents?_search=custody",
)
READER = """
import json, sys
from tests.test_readers_during_writes import read_loop
print(json.dumps(read_loop(sys.argv[1], int(sys.argv[2]), sys.argv[3])))
"""


def read_loop(base_url: str, limit: int, stop_file: str = "") -> list[dict]:
    """GET the PATHS in turn, at most `limit` times (or until `stop_file` exists)."""
    results = []
    for number in range(limit):
        if stop_file and os.path.exists(stop_file):
            break
        url = base_url + PATHS[number % len(PATHS)]
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                body = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            body, status = error.read(), error.code
        except OSError as error:
            body, status = str(error).encode(), 0
        elapsed = time.perf_counter() - started
        results.append(
            {
                "path": PATHS[number % len(PATHS)],
                "status": status,
                "ms": elapsed * 1000,
                "locked": b"database is locked" in body,
            }
        )
    return results


@dataclass
class ReadReport:
    idle: list[dict]
    writing: list[dict]
    crawl_seconds: float

    @staticmethod
    def _percentile(values: list[float], share: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0

    def summary(self) -> dict[str, float]:
        idle = [r["ms"] for r in self.idle]
        busy = [r["ms"] for r in self.writing]
        return {
            "idle_requests": len(idle),
            "writing_requests": len(busy),
            "idle_p50_ms": statistics.median(idle),
            "idle_p95_ms": self._percentile(idle, 0.95),
            "writing_p50_ms": statistics.median(busy),
            "writing_p95_ms": self._percentile(busy, 0.95),
            "locked": sum(r["locked"] for r in self.idle + self.writing),
            "errors": sum(r["status"] != 200 for r in self.idle + self.writing),
            "crawl_seconds": self.crawl_seconds,
        }


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def run_reader(base_url: str, limit: int, stop_file: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", READER, base_url, str(limit), str(stop_file or "")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def measure_reads_during_writes(
    workdir: Path, host: int = 111, articles: int = 80, idle_requests: int = 100
) -> ReadReport:
    """Crawl a first site, serve it, read while idle, then read while a bigger crawl writes."""
    root = build_site(workdir / "site", articles=articles, delay=0)
    db = workdir / "archive.db"
    with Site(root, host=f"127.0.0.{host}") as site:
        sources = workdir / "sources.toml"
        sources.write_text(sources_toml_for([site]))
        crawl(sources, db)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "crawler.serve", str(db), "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/archive.json")
            idle = run_reader(base, idle_requests)
            idle_out, idle_err = idle.communicate(timeout=120)
            assert idle.returncode == 0, idle_err[-2000:]
            # Every page changes, so the second crawl stores new snapshots, versions and figures.
            for number in range(articles):
                path = f"/reports/report-{number}/"
                site.set_page(path, article(number).replace("promptly", "promptly again"))
            stop = workdir / "stop-reading"
            reader = run_reader(base, 5000, stop)
            started = time.monotonic()
            crawl(sources, db)
            crawl_seconds = time.monotonic() - started
            stop.touch()
            busy_out, busy_err = reader.communicate(timeout=120)
            assert reader.returncode == 0, busy_err[-2000:]
        finally:
            server.terminate()
            server.wait(timeout=10)
    return ReadReport(json.loads(idle_out), json.loads(busy_out), crawl_seconds)


def test_datasette_reads_never_see_a_locked_database_while_a_crawl_writes(tmp_path):
    report = measure_reads_during_writes(tmp_path)
    summary = report.summary()
    print("\nread latency:", json.dumps(summary, indent=1))
    assert summary["writing_requests"] >= 20, "the reader barely ran during the crawl"
    assert summary["locked"] == 0
    bad = [r for r in report.idle + report.writing if r["status"] != 200]
    assert bad == [], bad[:5]
    # Reads stay usable under write load: the bar is generous (2 cores shared with the crawl
    # and its extraction workers), the point is no stall behind the writer.
    assert summary["writing_p95_ms"] < 5000
