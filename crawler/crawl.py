"""A crawl from start to finish: lock, run record, Scrapy, extraction, counts, alerts.

`crawl()` is what `oversight crawl` calls and what tests call. It runs Scrapy in this process, so
it can run once per process (Twisted's reactor cannot restart); `oversight watch` therefore starts
each scheduled crawl as a child process.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler import archive
from crawler.runs import lock_for, run_dir, write_stats
from crawler.settings import crawl_settings
from crawler.sources import Source


@dataclass
class CrawlResult:
    run_id: int
    status: str
    counts: dict[str, int]
    stats: dict[str, Any] = field(default_factory=dict)
    log_dir: Path | None = None
    alerts: int = 0


def crawl(
    sources: list[Source],
    db_path: str | Path,
    progress: bool = False,
    extract: bool = True,
    watches_path: str | Path | None = None,
    settings: dict[str, Any] | None = None,
) -> CrawlResult:
    """Crawl `sources` into the archive at `db_path`, then extract what was fetched."""
    db_path = Path(db_path)
    db = archive.open_archive(db_path)
    lock = lock_for(db_path)
    lock.acquire()
    try:
        for stale in archive.interrupted_runs(db):
            archive.update_run(
                db,
                stale["id"],
                status="failed",
                finished_at=archive.now(),
                error="interrupted: the crawl process died before finishing (resumed by a later run)",
                # What it stored before it died still counts, as for any run.
                **archive.run_counts(db, stale["id"]),
            )
            print(f"warning: run {stale['id']} was interrupted; resuming its work", file=sys.stderr)
        source_ids = [s.id for s in sources]
        skip = archive.urls_fetched_since_last_completed_run(db, source_ids)
        archive.sync_sources(db, sources)
        run_id = archive.start_run(db, source_ids, os.getpid(), socket.gethostname())
        folder = run_dir(db_path, run_id)
        archive.update_run(db, run_id, log_dir=str(folder.resolve()))
        try:
            stats = _run_scrapy(sources, db_path, run_id, skip, folder, progress, settings or {})
        except Exception as exc:
            archive.update_run(
                db,
                run_id,
                status="failed",
                finished_at=archive.now(),
                error=f"{type(exc).__name__}: {exc}",
            )
            raise
        fatal = stats.get("oversight/fatal")
        if fatal:
            _give_up(db, run_id, folder, stats, fatal)
        write_stats(folder, stats)
        stopped = stats.get("finish_reason") not in ("finished", None)
        if extract and not stopped:
            from crawler.extracting import extract_pending

            try:
                extract_pending(db_path, progress=_bar("extracting") if progress else None)
            except archive.ArchiveError as exc:
                _give_up(db, run_id, folder, stats, str(exc))
        counts = archive.run_counts(db, run_id)
        counts["not_modified"] = int(stats.get("oversight/not_modified", 0))
        counts["skipped_unchanged"] = int(stats.get("oversight/skipped_unchanged", 0))
        counts["entries_refused"] = int(stats.get("oversight/entries_refused", 0))
        if stopped or counts["failures"]:
            status = "partial"
        else:
            status = "ok"
        archive.update_run(
            db,
            run_id,
            status=status,
            finished_at=archive.now(),
            error=fatal or (f"stopped: {stats.get('finish_reason')}" if stopped else None),
            **counts,
        )
        alerts = _alerts(db, run_id, watches_path)
        return CrawlResult(run_id, status, counts, stats, folder, alerts)
    finally:
        db.conn.close()
        lock.release()


class CrawlError(Exception):
    """The crawl could not go on (the archive cannot be written); the message says why."""


def _give_up(db, run_id: int, folder: Path, stats: dict, fatal: str) -> None:
    """Record what can be recorded of a run that had to stop, then raise CrawlError.

    On a full disk even these small writes may fail; what was stored before stays whole.
    """
    try:
        write_stats(folder, stats)
    except OSError:
        pass
    try:
        archive.update_run(db, run_id, status="failed", finished_at=archive.now(), error=fatal)
    except (sqlite3.Error, OSError):
        pass
    raise CrawlError(fatal)


def _run_scrapy(sources, db_path, run_id, skip, folder: Path, progress: bool, overrides) -> dict:
    from scrapy.core.engine import ExecutionEngine
    from scrapy.crawler import CrawlerProcess

    from crawler.spiders.monitor import MonitorSpider

    settings = crawl_settings(sources, {"LOG_FILE": str(folder / "log.txt"), **overrides})
    # A log line that cannot be written (a full disk) must not print tracebacks into cron mail.
    logging.raiseExceptions = False
    # Scrapy notices that a crawl has nothing left to do on a 5 s heartbeat; an unchanged
    # re-crawl finishes its real work in well under a second, so check every half second.
    ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = 0.5
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(MonitorSpider)
    if progress:
        _show_progress(crawler)
    process.crawl(crawler, sources=sources, db_path=str(db_path), run_id=run_id, skip_urls=skip)
    process.start()
    return dict(crawler.stats.get_stats())


def _show_progress(crawler) -> None:
    from scrapy import signals
    from tqdm import tqdm
    from twisted.internet import task

    bar = tqdm(desc="crawling", unit=" pages", leave=False)

    def tick() -> None:
        stats = crawler.stats
        bar.n = int(
            stats.get_value("oversight/snapshots", 0) + stats.get_value("oversight/not_modified", 0)
        )
        bar.set_postfix(failures=int(stats.get_value("oversight/failures", 0)), refresh=False)
        bar.refresh()

    loop = task.LoopingCall(tick)

    def started(spider) -> None:
        loop.start(0.5)

    def stopped(spider) -> None:
        if loop.running:
            loop.stop()
        bar.close()

    crawler.signals.connect(started, signal=signals.spider_opened, weak=False)
    crawler.signals.connect(stopped, signal=signals.spider_closed, weak=False)


def _bar(label: str):
    from tqdm import tqdm

    bar = tqdm(desc=label, unit=" docs", leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def _alerts(db, run_id: int, watches_path: str | Path | None) -> int:
    if not watches_path or not Path(watches_path).exists():
        return 0
    from crawler import watches

    try:
        loaded = watches.load_watches(watches_path)
    except watches.WatchesError as exc:  # alerts never fail a run that has finished
        print(f"error: alerts not recorded: {exc}", file=sys.stderr)
        return 0
    found = watches.record_alerts(db, loaded, run_id)
    if any(w.webhook for w in loaded):
        watches.deliver_alerts(found, loaded, db=db)
    return len(found)
