"""The snapshot pipeline: every crawl result reaches the archive within a second, in batches.

Batching keeps SQLite fast; the timer keeps a hard kill from costing more than the last second of
work, and each batch is one transaction so nothing is half-written.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from crawler import archive
from crawler.items import FailureItem, NotModifiedItem, SnapshotItem
from crawler.settings import MAX_RESPONSE_BYTES

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

BATCH_ITEMS = 25
BATCH_BYTES = 16 * 1024 * 1024
FLUSH_SECONDS = 1.0


class SnapshotPipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.snapshots: list[dict] = []
        self.failures: list[dict] = []
        self.not_modified: list[dict] = []
        self.buffered_bytes = 0
        self.timer: task.LoopingCall | None = None
        self.db = None
        self.run_id = 0
        self.fatal: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SnapshotPipeline:
        return cls(crawler)

    def open_spider(self, spider=None) -> None:
        spider = spider or self.crawler.spider
        self.db = archive.open_archive(spider.db_path)
        self.run_id = spider.run_id
        self.timer = task.LoopingCall(self.flush)
        self.timer.start(FLUSH_SECONDS, now=False)

    def close_spider(self, spider=None) -> None:
        if self.timer and self.timer.running:
            self.timer.stop()
        self.flush()
        self.db.conn.close()

    def process_item(self, item: Any, spider=None) -> Any:
        record = dataclasses.asdict(item)
        record["run_id"] = self.run_id
        if isinstance(item, SnapshotItem):
            if len(item.body) > MAX_RESPONSE_BYTES:
                self.failures.append(self._too_large(item))
            else:
                record["headers"] = archive.to_json(record["headers"])
                self.snapshots.append(record)
                self.buffered_bytes += len(item.body)
                self.stats.inc_value("oversight/snapshots")
        elif isinstance(item, NotModifiedItem):
            self.not_modified.append(record)
        elif isinstance(item, FailureItem):
            self.failures.append(record)
            self.stats.inc_value("oversight/failures")
        if (
            len(self.snapshots) + len(self.failures) >= BATCH_ITEMS
            or self.buffered_bytes > BATCH_BYTES
        ):
            self.flush()
        return item

    def _too_large(self, item: SnapshotItem) -> dict:
        return {
            "url": item.url,
            "source_id": item.source_id,
            "run_id": self.run_id,
            "status": item.status,
            "role": item.role,
            "reason": f"response too large: {len(item.body)} bytes, over the {MAX_RESPONSE_BYTES} byte cap",
            "at": item.fetched_at,
        }

    def flush(self) -> None:
        if not (self.snapshots or self.failures or self.not_modified):
            return
        started = time.monotonic()
        snapshots, failures, not_modified = self.snapshots, self.failures, self.not_modified
        self.snapshots, self.failures, self.not_modified = [], [], []
        self.buffered_bytes = 0
        if self.fatal:
            return
        try:
            archive.write_crawl_batch(self.db, snapshots, failures, not_modified)
        except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as exc:
            # A full disk or a broken archive: the transaction rolled back, so what is stored is
            # whole. Stop the crawl instead of fetching pages that cannot be kept.
            self.fatal = f"archive write failed, crawl stopped: {exc}"
            self.stats.set_value("oversight/fatal", self.fatal)
            if self.timer and self.timer.running:
                self.timer.stop()
            deferred_from_coro(
                self.crawler.engine.close_spider_async(reason="archive_write_failed")
            )
            return
        self.stats.inc_value("oversight/batches")
        self.stats.inc_value("oversight/write_seconds", time.monotonic() - started)
