"""The hostile fixture web (tests/sites/hostile/) crawled once: every case ends as the right row.

One crawl of the whole site runs in a child process (Scrapy's reactor runs once per process, and
the child's peak memory is what the bombs must not inflate), then each case in
`tests/sites/hostile/expected.json` is one test: a `failures` row whose reason a person can act on,
or a correct document. `run_hostile_crawl()` is shared with tests/benchmarks/bench_hostile.py.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler.demo import sources_toml_for
from crawler.siteserver import Site, serve_sites
from tests.helpers import ROOT, query, scalar

SITES = Path(__file__).parent / "sites"
HOSTILE = SITES / "hostile"
CASES = json.loads((HOSTILE / "expected.json").read_text(encoding="utf-8"))["cases"]
MEMORY_LIMIT_MB = 600
#: Stalls are detected by the download timeout; 5 s instead of the default 30 keeps the run short.
CRAWL_SETTINGS = {"DOWNLOAD_TIMEOUT": 5}

DRIVER = """
import json, resource, sys
from crawler.crawl import crawl
from crawler.sources import load_sources
result = crawl(load_sources(sys.argv[1]), sys.argv[2], settings=json.loads(sys.argv[3]))
# This process's own high-water mark, and its reaped extraction workers'. Not ru_maxrss of
# RUSAGE_SELF: Linux folds into it the peak of the process that started this one (a pytest
# process hundreds of MB large by the end of the suite), recorded when exec replaced it.
own = max(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"run_id": result.run_id, "status": result.status, "counts": result.counts,
                  "peak_rss_kb": max(own, workers)}))
"""


@dataclass
class ChildRun:
    """A crawl run in a child process: its exit status, output and peak memory."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float

    @property
    def result(self) -> dict:
        lines = [line for line in self.stdout.splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else {}


def run_crawl_child(
    sources: Path, db: Path, settings: dict | None = None, timeout: float = 240
) -> ChildRun:
    """Run `crawler.crawl.crawl` in a child process and measure its peak RSS.

    The child reports its own peak and its extraction workers'. `ru_maxrss` from `os.wait4`
    would also count this process's peak, which the child inherits as it starts; it stands in
    only when the child dies before it can report.
    """
    started = time.monotonic()
    out, err = db.with_suffix(".out"), db.with_suffix(".err")
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(sources), str(db), json.dumps(settings or {})],
            stdout=stdout,
            stderr=stderr,
            cwd=ROOT,
        )
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    run = ChildRun(process.returncode, out.read_text(), err.read_text(), 0, 0)
    # Both are in kilobytes on Linux.
    run.peak_rss_mb = run.result.get("peak_rss_kb", usage.ru_maxrss) / 1024
    run.seconds = time.monotonic() - started
    return run


@dataclass
class HostileCrawl:
    sites: dict[str, Site]
    db: Path
    run: ChildRun
    cases: list[dict]


def rendered_cases(site: Site) -> list[dict]:
    return site.expected()["cases"]


def run_hostile_crawl(workdir: Path, first_host: int = 61) -> Iterator[HostileCrawl]:
    """Serve the hostile site (and `offsite`, which nothing may contact) and crawl it once."""
    roots = {"hostile": HOSTILE, "offsite": SITES / "offsite"}
    with serve_sites(roots, first_host=first_host) as sites:
        sources = workdir / "sources.toml"
        sources.write_text(sources_toml_for([sites["hostile"]]))
        db = workdir / "archive.db"
        run = run_crawl_child(sources, db, CRAWL_SETTINGS)
        yield HostileCrawl(sites, db, run, rendered_cases(sites["hostile"]))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Iterator[HostileCrawl]:
    yield from run_hostile_crawl(tmp_path_factory.mktemp("hostile"))


def check_case(crawl: HostileCrawl, case: dict) -> None:
    """Assert the outcome `case` (from expected.json, rendered) asks for."""
    db = crawl.db
    if case["expect"] == "document":
        found = query(db, "select * from documents where url = ?", [case["url"]])
        if not found:
            failures = query(
                db, "select url, reason from failures where url like ?", [case["url"][:60] + "%"]
            )
            raise AssertionError(
                f"{case['id']}: no document at {case['url']}; failures: {failures}"
            )
        document = found[0]
        assert document["title"] == case["title"], case["id"]
        for text in case["contains"]:
            assert text in document["text"], (case["id"], text)
        for text in case["excludes"]:
            assert text not in document["text"] and text not in (document["title"] or ""), (
                case["id"],
                text,
            )
        return
    if case.get("url_prefix"):
        rows = query(db, "select * from failures where url like ?", [case["url"] + "%"])
    else:
        rows = query(db, "select * from failures where url = ?", [case["url"]])
    assert rows, f"{case['id']}: no failures row for {case['url']}"
    reasons = " | ".join(r["reason"] or "" for r in rows)
    matching = [
        r
        for r in rows
        if all(part.lower() in (r["reason"] or "").lower() for part in case["reason"])
    ]
    assert matching, f"{case['id']}: reason(s) {reasons!r} lack {case['reason']}"
    if "status" in case:
        assert any(r["status"] == case["status"] for r in matching), (case["id"], rows)
    if case["url"].startswith("http") and not case.get("url_prefix"):
        assert not query(db, "select id from documents where url = ?", [case["url"]]), case["id"]


@pytest.mark.parametrize("case_id", [c["id"] for c in CASES])
def test_hostile_case_ends_as_the_expected_row(hostile, case_id):
    case = next(c for c in hostile.cases if c["id"] == case_id)
    check_case(hostile, case)


def test_the_site_has_at_least_forty_cases():
    assert len(CASES) >= 40
    assert len({c["id"] for c in CASES}) == len(CASES)


def test_the_run_finishes_as_partial(hostile):
    assert hostile.run.returncode == 0, hostile.run.stderr[-3000:]
    assert hostile.run.result["status"] == "partial"
    run = query(hostile.db, "select * from runs order by id desc limit 1")[0]
    assert run["status"] == "partial" and run["finished_at"]
    assert run["failures"] >= sum(1 for c in CASES if c["expect"] == "failure")


def test_the_archive_passes_integrity_check(hostile):
    assert scalar(hostile.db, "PRAGMA integrity_check") == "ok"


def test_peak_memory_under_the_bombs_stays_below_the_limit(hostile):
    print(f"\npeak RSS of the hostile crawl: {hostile.run.peak_rss_mb:.0f} MB")
    assert 0 < hostile.run.peak_rss_mb < MEMORY_LIMIT_MB, hostile.run.peak_rss_mb


def test_nothing_outside_the_site_is_contacted(hostile):
    """Redirects, meta refresh and external entities pointing at `offsite` are never followed."""
    assert hostile.sites["offsite"].log == []


def test_robots_disallowed_url_is_never_requested(hostile):
    assert hostile.sites["hostile"].requests("/cases/robots-disallowed/") == []


def test_no_external_entity_is_expanded_into_the_archive(hostile):
    texts = query(hostile.db, "select coalesce(title, '') || text as t from documents")
    assert not any("root:x:0:0" in r["t"] for r in texts)
    assert not query(hostile.db, "select id from failures where url like '%from-xxe%'")
    assert hostile.sites["hostile"].requests("/cases/from-xxe-feed/") == []


def test_a_500_is_retried_before_it_is_recorded(hostile):
    attempts = hostile.sites["hostile"].requests("/cases/server-error/")
    assert len(attempts) == 3  # the first try and RETRY_TIMES = 2


def test_endless_pagination_stops_at_max_pages(hostile):
    listing = [r for r in hostile.sites["hostile"].log if r.path.startswith("/listing/page/")]
    assert 0 < len(listing) <= 8


def test_the_crawl_process_ran_in_bounded_time(hostile):
    assert hostile.run.seconds < 180


def test_the_bombs_stayed_small_on_the_wire(hostile):
    """The bombs really were bombs: a small body that would inflate to a gigabyte."""
    for path in ("/cases/gzip-bomb/", "/cases/brotli-bomb/"):
        sent = sum(r.bytes_sent for r in hostile.sites["hostile"].requests(path))
        assert 0 < sent < 5 * 1024 * 1024


def test_resource_module_reports_kilobytes():
    """Guard for the unit of ru_maxrss (kilobytes on Linux), which the memory test relies on."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert 10_000 < own < 10_000_000
