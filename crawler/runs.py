"""Run bookkeeping outside the database: the per-run folder and the archive's crawl lock."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO


class LockedError(Exception):
    """The archive's crawl lock cannot be taken: another live process is crawling or extracting
    into it, or the lock file cannot be written."""


@dataclass
class CrawlLock:
    """An exclusive lock beside the archive (`archive.db.lock`), released when the process dies.

    `flock` frees the lock with its holder, so a lock left by a killed crawl is simply taken over;
    the pid and command written inside let us say whose it was. `oversight extract` takes it too:
    run beside a crawl it would only redo the crawl's extraction, and the user would not know.
    """

    path: Path
    command: str = "oversight crawl"
    handle: TextIO | None = None

    def acquire(self, warn: TextIO = sys.stderr) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+", encoding="utf-8", errors="replace")
        except OSError as exc:
            raise LockedError(f"{self.path}: cannot take the crawl lock ({exc.strerror})") from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise LockedError(
                f"{self.path}: another Oversight process is already writing this archive"
                + (f" ({holder})" if holder else "")
            ) from exc
        handle.seek(0)
        previous = handle.read().strip()
        if previous:
            print(
                f"warning: taking over a stale crawl lock ({previous}, no longer running)",
                file=warn,
            )
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {socket.gethostname()}, {self.command}")
            handle.flush()
        except OSError as exc:  # a full disk
            handle.close()
            raise LockedError(f"{self.path}: cannot take the crawl lock ({exc.strerror})") from exc
        self.handle = handle

    def release(self) -> None:
        if self.handle is None:
            return
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.flush()
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
        self.handle = None

    def __enter__(self) -> CrawlLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def lock_for(db_path: Path, command: str = "oversight crawl") -> CrawlLock:
    return CrawlLock(db_path.with_name(db_path.name + ".lock"), command)


def run_dir(db_path: Path, run_id: int) -> Path:
    """The run's folder beside the archive, for its log and Scrapy's stats: `<run-id>/` for an
    archive called `archive.db` (the default, `runs/archive.db`), `<name>-<run-id>/` for any
    other, so archives sharing a folder (`runs/demo.db`) never write into each other's runs.

    A folder that already holds a log belongs to an earlier archive of the same name (run ids
    are never reused within one archive), so its files are replaced, not appended to.
    """
    name = str(run_id) if db_path.stem == "archive" else f"{db_path.stem}-{run_id}"
    folder = db_path.parent / name
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("log.txt", "stats.json"):
        (folder / stale).unlink(missing_ok=True)
    return folder


def write_stats(folder: Path, stats: dict[str, Any]) -> Path:
    path = folder / "stats.json"
    path.write_text(json.dumps(stats, indent=2, default=str, sort_keys=True))
    return path
