"""The extract stage: pending snapshots -> a process pool -> documents, versions and figures.

Workers read their snapshot's body from the archive themselves (read-only), so the parent only
hands out ids and writes results, in snapshot order, one transaction per batch. Each document has
a time limit: a pathological page is recorded as a failure and cannot stall the run.
"""

from __future__ import annotations

import ctypes
import gc
import os
import pickle
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from crawler import archive

TIME_LIMIT = 60  # seconds per document
BATCH = 50
# Documents per task: each task costs the parent a fifth of a millisecond of pool bookkeeping
# (futures, queues, pickling the call), as much as writing a document's figures.
CHUNK = 8


class ExtractionTimeout(TimeoutError):
    pass


@dataclass
class ExtractReport:
    extracted: int = 0
    failed: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


_worker_db: sqlite3.Connection | None = None
# Long enough for trafilatura's first pass to be kept: a short page would also set up jusText's
# stoplists (a quarter of a second), which only pages with little text need.
_WARM_UP = (
    b"<html><head><title>Warm up</title></head><body><article><h1>Warm up</h1>"
    + b"".join(
        b"<p>In %d the Home Office said 118 out of 490 referrals, up 12%% on the year, cost "
        b"\xc2\xa31.2 million, and the IOPC said Kent Police must improve its vetting.</p>" % year
        for year in range(2000, 2020)
    )
    + b"</article></body></html>"
)


def _init_worker(db_path: str) -> None:
    global _worker_db
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    _worker_db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    _warm_up()
    # Everything alive now (modules, regexes, the gazetteer) lives as long as the worker: out of
    # the collector's sight, each collection scans only what documents allocate (a worker runs
    # about 4% faster).
    gc.freeze()


def _die_with_parent() -> None:
    """End this worker when the process that started it dies, however it dies.

    A parent killed outright (SIGKILL, the OOM killer) leaves its workers waiting on the pool's
    pipe forever, holding the crawl lock they inherited: every later crawl of the archive would
    be refused. Linux kills them with the parent (PR_SET_PDEATHSIG); elsewhere a thread watches.
    """
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            raise OSError(ctypes.get_errno(), "prctl failed")
    except (OSError, AttributeError):
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # it died before the request was made
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _warm_up() -> None:
    """Imports and first-use set-up (regexes, the gazetteer), outside any document's time limit.

    The parent runs it before the pool forks, so workers start with it done (half a second of
    CPU each); under the spawn or forkserver start methods the worker's own call does the work.
    """
    from extract import extract_document
    from extract.similarity import signature

    signature(extract_document(_WARM_UP, "http://127.0.0.1/warm-up/", "text/html").text)


def _on_alarm(signum, frame):
    raise ExtractionTimeout


def extract_one(snapshot_id: int, time_limit: int = TIME_LIMIT) -> tuple[int, object]:
    """Extract one snapshot in a worker: (id, (Document, signature)), or (id, reason string)."""
    assert _worker_db is not None
    found = _worker_db.execute(
        "select body, final_url, url, content_type from snapshots where id = ?", [snapshot_id]
    ).fetchone()
    if found is None or found[0] is None:
        return snapshot_id, "snapshot has no body"
    body = archive.decompress(found[0])
    try:
        return snapshot_id, _extract_timed(body, found[1] or found[2], found[3], time_limit)
    finally:
        if len(body) > LARGE_BODY:
            _give_back_memory()


def _extract_timed(body: bytes, url: str, content_type: str | None, time_limit: int) -> object:
    """A Document and its signature, or the reason there is none."""
    from extract import ExtractionError, extract_document
    from extract.similarity import signature

    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(time_limit)
    try:
        doc = extract_document(body, url, content_type)
        return doc, signature(doc.text)
    except ExtractionError as exc:
        return str(exc) or "unreadable document"
    except ExtractionTimeout:
        return f"extraction took longer than {time_limit} s"
    except Exception as exc:  # a bug in an extractor must not lose the run; the row says which
        return f"extractor error: {type(exc).__name__}: {exc}"[:500]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# A worker's memory after a large document stays with the worker (glibc keeps what was freed), and
# grows with each large one it meets: two hostile pages in one worker took it past 600 MB, where
# each alone needs 230. After a body this large the worker hands freed memory back.
LARGE_BODY = 512 * 1024


def _give_back_memory() -> None:
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def extract_some(snapshot_ids: list[int], time_limit: int, outbox: str) -> str:
    """Extract a few snapshots in a worker, each under its own time limit (see `extract_one`).

    The outcomes are pickled to a file in `outbox`, and only its path goes back through the pool.
    A worker killed (by the OOM killer, say) while sending tens of kilobytes through the pool's
    pipe leaves half a message there, and the pool then waits for the rest forever instead of
    noticing the death; a path is sent in one write, which a kill cannot cut in two.
    """
    outcomes = [extract_one(snapshot_id, time_limit) for snapshot_id in snapshot_ids]
    handle, path = tempfile.mkstemp(dir=outbox, suffix=".pickle")
    with os.fdopen(handle, "wb") as file:
        pickle.dump(outcomes, file, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def _collect(path: str) -> list[tuple[int, object]]:
    with open(path, "rb") as file:
        outcomes = pickle.load(file)
    os.unlink(path)
    return outcomes


def extract_pending(
    db_path: str | Path,
    everything: bool = False,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    time_limit: int = TIME_LIMIT,
) -> ExtractReport:
    """Extract every pending snapshot (every document snapshot with `everything`)."""
    started = time.monotonic()
    db = archive.open_archive(db_path)
    report = ExtractReport()
    ids = archive.pending_snapshot_ids(db, everything=everything)
    if ids:
        from extract.entities import load_gazetteer

        archive.sync_entities(db, load_gazetteer())
        # Near-duplicate marking needs MinHash here after extraction and workers need all of
        # extract: done before the pool forks, imports and set-up happen once, not three times.
        _warm_up()
    rebuilding: archive.Rebuild = archive.documents_to_rebuild(db) if everything else {}
    workers = workers or max(1, os.cpu_count() or 1)
    touched: set[int] = set()
    position = 0
    window = max(workers * 4, BATCH * 2)  # keep workers busy while a batch is written
    # After a crash or overrun, the documents that were in the failed task go one at a time,
    # so the culprit fails alone and the others are extracted.
    suspect_until = 0
    # Workers hand results back as files here (see `extract_some`).
    with tempfile.TemporaryDirectory(prefix="oversight-extract-") as outbox:
        while position < len(ids):
            pool = ProcessPoolExecutor(
                max_workers=workers, initializer=_init_worker, initargs=(str(db_path),)
            )
            pending: deque[tuple[list[int], Future]] = deque()
            queued = 0
            results: list[tuple[int, object]] = []
            broken = False
            try:
                while position < len(ids) and not broken:
                    while position + queued < len(ids) and queued < window:
                        start = position + queued
                        if start < suspect_until and queued:
                            break  # one document in flight at a time while the culprit is sought
                        chunk = ids[start : start + (1 if start < suspect_until else CHUNK)]
                        try:
                            task = pool.submit(extract_some, chunk, time_limit, outbox)
                        except BrokenProcessPool:
                            break  # a worker died: the first task in flight reports it below
                        pending.append((chunk, task))
                        queued += len(chunk)
                    chunk, future = pending[0]
                    try:
                        outcomes = _collect(
                            future.result(timeout=time_limit * (len(chunk) + 1) + 10)
                        )
                    except OSError as exc:  # a full or read-only temporary folder
                        raise archive.ArchiveError(
                            f"extraction stopped: workers cannot hand results over in {outbox}: {exc}"
                        ) from exc
                    except (FutureTimeout, BrokenProcessPool) as exc:
                        broken = True
                        if len(chunk) > 1 or position >= suspect_until:
                            # Not proven guilty yet: retry each alone in a fresh pool.
                            suspect_until = position + len(chunk)
                            break
                        overran = isinstance(exc, FutureTimeout)
                        outcomes = [
                            (
                                chunk[0],
                                f"extraction took longer than {time_limit} s"
                                if overran
                                else "the extractor crashed on this document",
                            )
                        ]
                    pending.popleft()
                    queued -= len(chunk)
                    results.extend(outcomes)
                    position += len(chunk)
                    if len(results) >= BATCH or position == len(ids) or broken:
                        _store(db, results, rebuilding, report, touched)
                        results = []
                        if progress:
                            progress(position, len(ids))
            finally:
                if broken:
                    _kill_pool(pool)
                pool.shutdown(wait=not broken, cancel_futures=True)
            if results:
                _store(db, results, rebuilding, report, touched)
                if progress:
                    progress(position, len(ids))
    try:
        after_extraction(db, touched)
    except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as exc:
        raise archive.ArchiveError(f"archive write failed after extraction: {exc}") from exc
    report.seconds = time.monotonic() - started
    db.conn.close()
    return report


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    for process in list(getattr(pool, "_processes", {}).values()):
        try:
            process.kill()
        except Exception:
            pass


def _store(
    db: sqlite_utils.Database,
    results: list,
    rebuilding: archive.Rebuild,
    report: ExtractReport,
    touched: set[int],
) -> None:
    try:
        _write(db, results, rebuilding, report, touched)
    except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as exc:
        # A full disk or a broken archive: the batch rolled back whole; stop with one line.
        raise archive.ArchiveError(f"archive write failed, extraction stopped: {exc}") from exc


def _write(
    db: sqlite_utils.Database,
    results: list,
    rebuilding: archive.Rebuild,
    report: ExtractReport,
    touched: set[int],
) -> None:
    ready = []
    snapshots = archive.snapshots_for_extraction(db, [snapshot_id for snapshot_id, _ in results])
    for snapshot_id, outcome in results:
        snapshot = snapshots.get(snapshot_id)
        if snapshot is None:
            continue
        if isinstance(outcome, str):
            archive.mark_extraction_failed(db, snapshot, outcome)
            report.failed += 1
            report.failures.append(f"{snapshot['final_url']}: {outcome}")
        else:
            ready.append((snapshot, *outcome))
    if ready:
        counts = archive.store_documents(db, ready, rebuilding)
        # A document the archive cannot hold (text with a lone surrogate, say) is a failures row
        # of its own; the rest of the batch is stored.
        for snapshot, reason in counts["unstorable"]:
            report.failed += 1
            report.failures.append(f"{snapshot['final_url']}: {reason}")
        report.extracted += len(ready) - len(counts["unstorable"])
        report.new += counts["new"]
        report.changed += counts["changed"]
        report.unchanged += counts["same"]
        touched.update(counts["touched"])


def after_extraction(db: sqlite_utils.Database, touched: set[int]) -> None:
    """Cross-document work: citations, figure checks and near-duplicates for what changed."""
    from crawler import linking

    linking.resolve_citations(db)
    linking.mark_near_duplicates(db, touched)


def main() -> None:  # pragma: no cover - used by benchmarks as `python -m crawler.extracting DB`
    report = extract_pending(sys.argv[1], everything="--all" in sys.argv)
    print(report)


if __name__ == "__main__":  # pragma: no cover
    main()
