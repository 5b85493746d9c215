"""Hard stops: SIGKILL the crawler and the extractor at random points, restart, and lose nothing.

A generated loopback site of a few dozen articles (each answer slowed a little so a crawl lasts
seconds) is crawled with the real CLI; the crawl (with its extraction workers) or a separate
`oversight extract` is killed with SIGKILL at a random moment, many times over. After every kill
the archive must pass `PRAGMA integrity_check`, hold no duplicate documents, versions or figures,
and still hold every snapshot a separate read-only connection saw committed before the kill. The
last run must complete with every article archived. A full disk (a small tmpfs, where the test
runs as root) must stop the run with a clear error and leave the archive intact.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crawler.demo import sources_toml_for
from crawler.siteserver import Site
from tests.helpers import ROOT, store_snapshots

ARTICLES = 40
PAGE_DELAY = 0.06  # seconds per answer: a crawl of ARTICLES pages lasts a few seconds
FIRST_HOST = 91
# Seconds after the extraction pool's workers appear: extracting the ARTICLES pages and closing
# the run takes about half a second, and the kill must land inside it (the window narrows each
# time a run finishes first).
EXTRACTION_WINDOW = (0.0, 0.35)


def article(number: int) -> str:
    referrals = 100 + number
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Inspection report {number}</title></head><body><main><article>"
        f"<h1>Inspection report {number}</h1>"
        f"<p>The watchdog received {referrals} referrals out of 490 overall in 2023, up 12% on "
        f"the year before, and inspectors visited {number + 3} custody suites over six months.</p>"
        + "".join(
            f"<p>Paragraph {n} of report {number}: officers recorded complaints promptly in most "
            f"cases, and around {n * 7} cases were reviewed by the professional standards team.</p>"
            for n in range(1, 8)
        )
        + "</article></main></body></html>"
    )


def build_site(root: Path, articles: int = ARTICLES, delay: float = PAGE_DELAY) -> Path:
    """A site with a sitemap listing `articles` slow-ish article pages."""
    root.mkdir(parents=True, exist_ok=True)
    routes = ['[site]\nlast_modified = "2024-06-01T09:00:00Z"\n']
    locs = []
    for number in range(articles):
        path = f"/reports/report-{number}/"
        (root / "reports" / f"report-{number}").mkdir(parents=True, exist_ok=True)
        (root / "reports" / f"report-{number}" / "index.html").write_text(article(number))
        routes.append(f'[routes."{path}"]\nhandler = "delay"\nseconds = {delay}\n')
        locs.append(f"<url><loc>{{{{base}}}}{path}</loc></url>")
    (root / "routes.toml").write_text("\n".join(routes))
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "\n".join(locs)
        + "\n</urlset>\n"
    )
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    (root / "source.toml").write_text(
        "[[sources]]\n"
        'id = "killsite"\nname = "Kill test site"\nkind = "watchdog"\n'
        'homepage = "{{base}}/"\nallowed_domains = ["{{host}}"]\n'
        'sitemaps = ["{{base}}/sitemap.xml"]\n'
        "documents = ['/reports/report-\\d+/$']\ndelay = 0\n"
    )
    return root


@dataclass
class KillLog:
    """What the kill tests did, for the benchmark report."""

    kills: int = 0
    restarts: int = 0
    snapshots_seen: int = 0
    rows_lost: int = 0
    details: list[str] = field(default_factory=list)


class SnapshotWatcher:
    """Polls a separate read-only connection for committed snapshot ids while a process writes."""

    def __init__(self, db: Path):
        self.db = db
        self.seen: set[int] = set()
        self.extracted: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SnapshotWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.db.exists():
                try:
                    conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=1)
                    try:
                        found = conn.execute("select id, extracted_at from snapshots").fetchall()
                    finally:
                        conn.close()
                    self.seen.update(i for i, _ in found)
                    self.extracted.update(i for i, at in found if at)
                except sqlite3.Error:
                    pass  # not created yet, or mid-schema: the next poll sees it
            self._stop.wait(0.05)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", *args]


def start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OVERSIGHT_WATCHES": "/nonexistent/watches.toml"}
    # A session of its own, so one killpg takes the crawler and its extraction workers together.
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate(timeout=30)


def snapshot_ids(db: Path) -> set[int]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return {i for (i,) in conn.execute("select id from snapshots")}
    finally:
        conn.close()


def check_archive(db: Path, seen: set[int]) -> dict[str, int]:
    """Assert the invariants that must hold after any kill; returns counts for the report."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        duplicate_urls = conn.execute(
            "select url from documents group by url having count(*) > 1"
        ).fetchall()
        assert duplicate_urls == []
        duplicate_versions = conn.execute(
            "select document_id, content_hash from versions"
            " group by document_id, content_hash having count(*) > 1"
        ).fetchall()
        assert duplicate_versions == []
        duplicate_figures = conn.execute(
            'select document_id, start, "end", text from figures'
            ' group by document_id, start, "end", text having count(*) > 1'
        ).fetchall()
        assert duplicate_figures == []
        orphans = conn.execute(
            "select count(*) from figures where document_id not in (select id from documents)"
        ).fetchone()[0]
        assert orphans == 0
        present = {i for (i,) in conn.execute("select id from snapshots")}
        lost = seen - present
        assert not lost, f"snapshots committed before the kill are gone: {sorted(lost)[:10]}"
        return {
            "snapshots": len(present),
            "documents": conn.execute("select count(*) from documents").fetchone()[0],
        }
    finally:
        conn.close()


def assert_complete(db: Path, site: Site, articles: int = ARTICLES) -> None:
    conn = sqlite3.connect(db)
    try:
        urls = {u for (u,) in conn.execute("select url from documents")}
        expected = {site.url(f"/reports/report-{n}/") for n in range(articles)}
        assert expected <= urls, f"missing documents: {sorted(expected - urls)[:5]}"
        pending = conn.execute(
            "select count(*) from snapshots where role = 'document' and extracted_at is null"
        ).fetchone()[0]
        assert pending == 0
        figures = conn.execute("select count(distinct document_id) from figures").fetchone()[0]
        assert figures >= articles
        last = conn.execute("select status from runs order by id desc limit 1").fetchone()[0]
        assert last in ("ok", "partial")
        failures = conn.execute(
            "select url, reason from failures where reason like '%extract%'"
        ).fetchall()
        assert failures == [], failures
        # A killed run, marked failed by the next, keeps the count of what it stored.
        miscounted = conn.execute(
            """select r.id from runs r where r.error like 'interrupted%' and r.pages_fetched !=
            (select count(*) from snapshots s where s.run_id = r.id and s.status < 400)"""
        ).fetchall()
        assert miscounted == []
    finally:
        conn.close()


def extracted_documents(db: Path) -> set[int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        found = conn.execute(
            "select id from snapshots where role = 'document' and extracted_at is not null"
        )
        return {i for (i,) in found}
    finally:
        conn.close()


def has_children(pid: int) -> bool:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return bool(found.stdout.split())


def kill_and_restart(
    args: list[str],
    db: Path,
    log: KillLog,
    rng: random.Random,
    window: tuple[float, float],
    wait_for_extraction: bool = False,
) -> bool:
    """Start `args`, SIGKILL it (with its workers) at a random moment, check the archive.

    Returns False when the process finished before the kill came (a completed run).
    """
    with SnapshotWatcher(db) as watcher:
        process = start(args)
        if wait_for_extraction:
            # The extraction pool's workers are the process's children: once they exist the
            # process is extracting, and the kill comes at a random moment after that.
            deadline = time.monotonic() + 60
            while not has_children(process.pid) and process.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
        time.sleep(rng.uniform(*window))
        finished = process.poll() is not None
        if not finished:
            kill_group(process)
        else:
            out, err = process.communicate()
            assert process.returncode == 0, err[-2000:]
        time.sleep(0.1)
        seen = set(watcher.seen)
    log.rows_lost += len(seen - snapshot_ids(db))
    counts = check_archive(db, seen)
    log.snapshots_seen = max(log.snapshots_seen, len(seen))
    if finished:
        log.details.append(f"{args[3]}: finished before the kill ({counts})")
        return False
    log.kills += 1
    log.details.append(f"{args[3]}: killed ({counts})")
    return True


@pytest.fixture
def kill_site(tmp_path) -> Iterator[tuple[Site, Path]]:
    root = build_site(tmp_path / "site")
    with Site(root, host=f"127.0.0.{FIRST_HOST}") as site:
        sources = tmp_path / "sources.toml"
        sources.write_text(sources_toml_for([site]))
        yield site, sources


def run_kill_loop(
    site: Site, sources: Path, db: Path, kills: int, seed: int, log: KillLog, phase: str
) -> None:
    """Kill the crawl `kills` times in `phase` ("crawl", "extraction" or "extract-command"),
    restarting after each, then let a final run complete and check it archived everything."""
    rng = random.Random(seed)
    crawl_args = cli("crawl", "--sources", str(sources), "--db", str(db))
    attempts = 0
    done = 0
    window = EXTRACTION_WINDOW
    while done < kills and attempts < kills * 3:
        attempts += 1
        if phase == "crawl":
            killed = kill_and_restart(crawl_args, db, log, rng, (0.3, 3.5))
        elif phase == "extraction":
            killed = kill_and_restart(crawl_args, db, log, rng, window, wait_for_extraction=True)
        else:
            extract_args = cli("extract", "--db", str(db), "--workers", "2")
            killed = kill_and_restart(extract_args, db, log, rng, window, wait_for_extraction=True)
        done += killed
        if not killed:
            # On a machine fast enough to finish first, later kills come sooner.
            window = (window[0], window[1] * 0.7)
            # The run completed: change every page so the next run has real work again.
            for number in range(ARTICLES):
                path = f"/reports/report-{number}/"
                site.set_page(
                    path, article(number).replace("most cases", f"most cases ({attempts})")
                )
                site.set_route(path, "delay", seconds=PAGE_DELAY)
            if phase == "extract-command":
                subprocess.run(
                    cli("crawl", "--no-extract", "--sources", str(sources), "--db", str(db)),
                    cwd=ROOT,
                    capture_output=True,
                    timeout=180,
                    check=True,
                )
        log.restarts += 1
    assert done == kills, log.details
    final = subprocess.run(crawl_args, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert final.returncode == 0, final.stderr[-2000:]
    if phase == "extract-command":
        finish = subprocess.run(
            cli("extract", "--db", str(db)), cwd=ROOT, capture_output=True, text=True, timeout=180
        )
        assert finish.returncode == 0, finish.stderr[-2000:]
    check_archive(db, set())
    assert_complete(db, site)


def test_crawler_killed_mid_crawl_loses_nothing(kill_site, tmp_path):
    site, sources = kill_site
    log = KillLog()
    run_kill_loop(site, sources, tmp_path / "archive.db", 8, 11, log, "crawl")
    assert log.kills == 8


def test_crawler_killed_while_extracting_loses_nothing(kill_site, tmp_path):
    site, sources = kill_site
    log = KillLog()
    run_kill_loop(site, sources, tmp_path / "archive.db", 6, 12, log, "extraction")
    assert log.kills == 6


def test_extract_command_killed_loses_nothing(kill_site, tmp_path):
    site, sources = kill_site
    db = tmp_path / "archive.db"
    fetched = subprocess.run(
        cli("crawl", "--no-extract", "--sources", str(sources), "--db", str(db)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert fetched.returncode == 0, fetched.stderr[-2000:]
    log = KillLog()
    run_kill_loop(site, sources, db, 6, 13, log, "extract-command")
    assert log.kills == 6


def test_extraction_workers_die_with_a_killed_parent(tmp_path):
    """SIGKILL of the parent alone (the OOM killer's way) must not leave its workers behind,
    waiting forever and holding the crawl lock they inherited."""
    db = tmp_path / "archive.db"
    store_snapshots(
        db, {f"http://127.0.0.1/reports/report-{n}/": article(n).encode() for n in range(600)}
    )
    process = start(cli("extract", "--db", str(db), "--workers", "2"))
    deadline = time.monotonic() + 60
    while not extracted_documents(db) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    workers = [
        int(pid)
        for pid in subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True
        ).stdout.split()
    ]
    assert workers and process.poll() is None, "the extraction finished before the kill"
    process.kill()
    process.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if _alive(pid)]


def _alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting for init to reap it is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] not in ("Z", "X")
    except OSError:
        return False


def test_a_killed_extraction_worker_does_not_lose_its_document(tmp_path):
    """The OOM killer takes one pool worker mid-run: the documents it held must still be archived.

    The archive holds enough pending snapshots that the pool is still busy when the first batch
    has been written, which is when the worker is killed.
    """
    count = 600
    db = tmp_path / "archive.db"
    store_snapshots(
        db, {f"http://127.0.0.1/reports/report-{n}/": article(n).encode() for n in range(count)}
    )

    process = start(cli("extract", "--db", str(db), "--workers", "2"))
    deadline = time.monotonic() + 60
    done_before_kill = 0
    while not done_before_kill and process.poll() is None and time.monotonic() < deadline:
        done_before_kill = len(extracted_documents(db))
        time.sleep(0.005)
    workers = subprocess.run(
        ["pgrep", "-P", str(process.pid)], capture_output=True, text=True
    ).stdout.split()
    assert workers and 0 < done_before_kill < count, "no worker killed mid-run"
    os.kill(int(workers[0]), signal.SIGKILL)
    process.communicate(timeout=120)
    # The same run retried what the dead worker held in a fresh pool: nothing is left over.
    assert process.returncode == 0
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("select count(*) from documents").fetchone()[0] == count
        assert conn.execute("select count(*) from versions").fetchone()[0] == count
        assert conn.execute("select count(*) from failures").fetchone()[0] == 0
        pending = "select count(*) from snapshots where extracted_at is null"
        assert conn.execute(pending).fetchone()[0] == 0
    finally:
        conn.close()


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    return mounted.returncode == 0


@dataclass
class FullDiskRun:
    db: Path
    result: subprocess.CompletedProcess

    @property
    def message(self) -> str:
        return (self.result.stderr + self.result.stdout).lower()


@pytest.fixture(scope="module")
def full_disk_run(tmp_path_factory) -> Iterator[FullDiskRun]:
    """A crawl of 150 articles into an archive on a 1.2 MB tmpfs, which fills up mid-run."""
    tmp = tmp_path_factory.mktemp("fulldisk")
    disk = tmp / "small-disk"
    if not _mount_tmpfs(disk, "1200k"):
        pytest.skip("needs root to mount a small tmpfs (a full disk cannot be simulated here)")
    try:
        root = build_site(tmp / "site", articles=150, delay=0)
        with Site(root, host=f"127.0.0.{FIRST_HOST + 1}") as site:
            sources = tmp / "sources.toml"
            sources.write_text(sources_toml_for([site]))
            db = disk / "archive.db"
            result = subprocess.run(
                cli("crawl", "--sources", str(sources), "--db", str(db)),
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )
        yield FullDiskRun(db, result)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_full_disk_leaves_the_archive_intact(full_disk_run):
    conn = sqlite3.connect(f"file:{full_disk_run.db}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("select count(*) from snapshots").fetchone()[0] > 0
    finally:
        conn.close()


def test_full_disk_stops_the_run_with_a_clear_error(full_disk_run):
    message = full_disk_run.message
    assert full_disk_run.result.returncode != 0, message[-2000:]
    assert "full" in message or "no space" in message, message[-2000:]
    assert "traceback" not in message, message[-2000:]
    conn = sqlite3.connect(f"file:{full_disk_run.db}?mode=ro", uri=True)
    try:
        status, error = conn.execute(
            "select status, error from runs order by id desc limit 1"
        ).fetchone()
    finally:
        conn.close()
    assert status == "failed" and error and ("full" in error.lower() or "space" in error.lower())
