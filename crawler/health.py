"""Per-source health for `oversight status`: is each source still answering, and still yielding?

A crawl that runs unattended fails in two ways nobody sees: a site that stops answering (moved,
blocking us) and, worse, a site that still answers but yields nothing, because a redesign moved
its links out of reach of the source's patterns. Both are flagged from what the archive recorded.

The rules, over the last N *counted runs* of a source (N = `stale_runs`, default 3). A run counts
for a source when it finished (any status but `running`), included the source (its `sources` list
names it; a run without a list included every source) and recorded something for it: a response,
a 304 or a failure. A run stopped before it reached a source tells nothing about the source, so it
is passed over rather than counted.

- **failing**: in each of the last N counted runs the source had failures and no answer at all
  (no 2xx response and no 304).
- **silent**: in each of the last N counted runs the source answered (a 2xx response or a 304),
  yet across those runs nothing came back from its documents: no new or changed document, no
  document page fetched or answering 304, no document skipped as unchanged (known when the run crawled this
  source alone), and no document of the source seen (`last_seen`) since the first of those runs
  began. Its feeds, sitemaps or listings answered but led nowhere.

Fewer than N counted runs raise no flag: one bad night is not a broken source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlite_utils

from crawler import archive

RUN_CHUNK = 25


@dataclass
class SourceHealth:
    """What `oversight status` shows for one source."""

    source_id: str
    name: str | None
    kind: str | None
    documents: int
    last_success_at: str | None  # when the last run in which the source answered finished
    last_success_run: int | None
    last_failure_at: str | None
    last_failure_reason: str | None
    last_failure_url: str | None
    new_this_week: int  # documents first stored in the last 7 days
    changed_this_week: int  # new versions of known documents in the last 7 days
    runs_counted: int  # counted runs looked at for the flags (at most `stale_runs`)
    flags: list[str] = field(default_factory=list)  # "failing", "silent"
    reasons: dict[str, str] = field(default_factory=dict)  # flag -> a sentence for the user

    @property
    def changes_this_week(self) -> int:
        return self.new_this_week + self.changed_this_week


@dataclass
class _Evidence:
    run_id: int
    started_at: str | None
    pages: int = 0
    document_pages: int = 0
    not_modified: int = 0
    document_not_modified: int = 0
    skipped: int = 0
    failures: int = 0
    new: int = 0
    changed: int = 0

    @property
    def answered(self) -> bool:
        return self.pages + self.not_modified > 0


def source_health(
    db: sqlite_utils.Database, stale_runs: int = 3, now: datetime | None = None
) -> list[SourceHealth]:
    """Health of every source the archive knows, ordered by source id (rules in the module doc)."""
    if stale_runs < 1:
        raise ValueError("stale_runs must be at least 1")
    now = now or datetime.now(UTC)
    sources = archive.sources_for_health(db)
    ids = [s["id"] for s in sources]
    windows, successes = _walk_runs(db, ids, stale_runs)
    week_ago = (now - timedelta(days=7)).astimezone(UTC).isoformat(timespec="seconds")
    changes = archive.version_changes_since(db, week_ago)
    counts = archive.document_counts_by_source(db)
    failures = archive.last_failure_by_source(db)
    result = []
    for s in sources:
        sid = s["id"]
        window = windows[sid]
        success = successes.get(sid)
        failure = failures.get(sid) or {}
        health = SourceHealth(
            source_id=sid,
            name=s["name"],
            kind=s["kind"],
            documents=counts.get(sid, 0),
            last_success_at=(success["finished_at"] or success["started_at"]) if success else None,
            last_success_run=success["id"] if success else None,
            last_failure_at=failure.get("at"),
            last_failure_reason=failure.get("reason"),
            last_failure_url=failure.get("url"),
            new_this_week=changes.get(sid, {}).get("new", 0),
            changed_this_week=changes.get(sid, {}).get("changed", 0),
            runs_counted=len(window),
        )
        if len(window) == stale_runs:
            _flag(db, health, window, failure)
        result.append(health)
    return result


def _walk_runs(
    db: sqlite_utils.Database, ids: list[str], stale_runs: int
) -> tuple[dict[str, list[_Evidence]], dict[str, dict]]:
    """Newest runs first, in chunks, until every source has its window and its last success."""
    windows: dict[str, list[_Evidence]] = {sid: [] for sid in ids}
    successes: dict[str, dict] = {}
    pending = set(ids)
    runs = [r for r in archive.runs_newest_first(db) if r["status"] != "running"]
    for start in range(0, len(runs), RUN_CHUNK):
        if not pending:
            break
        chunk = runs[start : start + RUN_CHUNK]
        activity = archive.source_run_activity(db, [r["id"] for r in chunk])
        for run in chunk:
            listed = _listed_sources(run)
            included = set(ids) if listed is None else set(listed)
            for sid in included & pending:
                evidence = _Evidence(
                    run["id"], run["started_at"], **activity.get((run["id"], sid), {})
                )
                if listed == [sid]:
                    # A run of this source alone: the run's own counts belong to it.
                    evidence.not_modified = max(evidence.not_modified, run["not_modified"] or 0)
                    evidence.skipped = run["skipped_unchanged"] or 0
                if (
                    sid not in successes
                    and evidence.answered
                    and run["status"] in ("ok", "partial")
                ):
                    successes[sid] = run
                counted = evidence.answered or evidence.failures > 0
                if counted and len(windows[sid]) < stale_runs:
                    windows[sid].append(evidence)
                if sid in successes and len(windows[sid]) >= stale_runs:
                    pending.discard(sid)
    return windows, successes


def _listed_sources(run: dict) -> list[str] | None:
    try:
        listed = json.loads(run["sources"]) if run["sources"] else None
    except ValueError:
        return None
    return [str(s) for s in listed] if isinstance(listed, list) and listed else None


def _flag(
    db: sqlite_utils.Database, health: SourceHealth, window: list[_Evidence], failure: dict
) -> None:
    n = len(window)
    if all(not e.answered and e.failures > 0 for e in window):
        total = sum(e.failures for e in window)
        last = f"; last: {failure['reason']} ({failure['url']})" if failure.get("reason") else ""
        health.flags.append("failing")
        health.reasons["failing"] = f"no answer in the last {n} runs, {total} failure(s){last}"
    # A feed or listing answering 304 is an answer, not a document: it yields nothing.
    yielded = sum(
        e.new + e.changed + e.document_pages + e.document_not_modified + e.skipped for e in window
    )
    if all(e.answered for e in window) and yielded == 0 and not _seen_since(db, health, window):
        pages = sum(e.pages + e.not_modified for e in window)
        health.flags.append("silent")
        health.reasons["silent"] = (
            f"the last {n} runs fetched or re-checked {pages} page(s) but reached no document,"
            " new, changed or unchanged: have the site's links, feed or sitemap moved?"
        )


def _seen_since(db: sqlite_utils.Database, health: SourceHealth, window: list[_Evidence]) -> bool:
    """Whether any document of the source was fetched, re-checked or changed during the window.

    This catches what per-run counts cannot: a 304 whose URL answered again in a later run, and
    a document skipped on its date when the crawl marks it seen.
    """
    start = window[-1].started_at
    if not start:
        return False
    return archive.document_seen_since(db, health.source_id, start)
