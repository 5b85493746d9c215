"""Watches: saved full-text searches that turn each run's new and changed documents into alerts.

A journalist follows a subject once, in `watches.toml`; every run then records the documents it
added or changed that match, in `alerts`, and may POST them to a webhook. Delivery is best effort:
a webhook that is down is logged and reported, and never fails the crawl.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from crawler import archive
from crawler.plugins import fts_query
from crawler.sources import KINDS

log = logging.getLogger("oversight.watches")

FIELDS = ("name", "query", "sources", "kinds", "webhook")
USER_AGENT = "Oversight/0.1 (+https://github.com/oversight-archive/oversight) webhook"
#: Alerts per webhook POST: a first run over a big archive must not send one huge body.
BATCH_SIZE = 100
#: Longest pause honoured from a webhook's Retry-After, so one slow endpoint cannot hold a run.
MAX_RETRY_AFTER = 30.0


class WatchesError(ValueError):
    """A watches file that cannot be used; the message names the file, the watch and the field."""


@dataclass
class Watch:
    """A saved search, optionally narrowed to sources or source kinds. `query` is read as
    `oversight search` reads it: FTS5 syntax, and words FTS5 would refuse searched as words."""

    name: str
    query: str
    sources: list[str] | None = None
    kinds: list[str] | None = None
    webhook: str | None = None


@dataclass
class Alert:
    """A document a run added or changed that matched a watch, with what a message needs."""

    id: int
    watch: str
    document_id: int
    run_id: int
    matched_at: str
    reason: str
    url: str | None = None
    title: str | None = None
    source_id: str | None = None
    source_name: str | None = None
    published: str | None = None
    delivered_at: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "watch": self.watch,
            "reason": self.reason,
            "document_id": self.document_id,
            "run_id": self.run_id,
            "matched_at": self.matched_at,
            "url": self.url,
            "title": self.title,
            "source_id": self.source_id,
            "source_name": self.source_name,
            "published": self.published,
        }


@dataclass
class DeliveryFailure:
    watch: str
    webhook: str
    alert_ids: list[int]
    error: str
    attempts: int


@dataclass
class DeliveryReport:
    """What delivery did: alerts delivered, webhook POSTs that gave up, and why."""

    delivered: list[int] = field(default_factory=list)
    failed: list[DeliveryFailure] = field(default_factory=list)
    skipped: int = 0  # alerts of watches without a webhook, or delivered before

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        text = f"{len(self.delivered)} alert(s) delivered"
        if self.failed:
            failed = sum(len(f.alert_ids) for f in self.failed)
            text += f", {failed} not delivered ({'; '.join(f'{f.watch}: {f.error}' for f in self.failed)})"
        return text


# Loading


def load_watches(path: str | Path, known_sources: set[str] | None = None) -> list[Watch]:
    """Read and validate a watches file.

    A query is read as `oversight search` and Datasette read it (`crawler.plugins.fts_query`), so
    a watch finds what a search for the same words finds; one with no word to search for would
    never match anything and is refused here rather than found out weeks later. `known_sources`,
    when given (the registry's ids), also refuses a watch naming a source that does not exist.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WatchesError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WatchesError(f"{path}: not valid TOML ({exc})") from exc
    unknown = set(data) - {"watches"}
    if unknown:
        raise WatchesError(
            f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}; expected [[watches]]"
        )
    entries = data.get("watches", [])
    if not isinstance(entries, list):
        raise WatchesError(f"{path}: 'watches' must be an array of tables ([[watches]])")
    watches: list[Watch] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        watch = _validate(path, position, entry, known_sources)
        if watch.name in seen:
            raise WatchesError(f"{path}: watch '{watch.name}': field 'name': used twice")
        seen.add(watch.name)
        watches.append(watch)
    return watches


def _validate(
    path: Path,
    position: int,
    entry: Any,
    known_sources: set[str] | None,
) -> Watch:
    label = f"watch #{position}"
    if not isinstance(entry, dict):
        raise WatchesError(f"{path}: {label}: must be a table with name and query")
    name = entry.get("name")
    if isinstance(name, str) and name.strip():
        label = f"watch '{name}'"

    def fail(field_name: str, problem: str) -> WatchesError:
        return WatchesError(f"{path}: {label}: field '{field_name}': {problem}")

    for key in entry:
        if key not in FIELDS:
            raise fail(key, f"unknown field (expected one of {', '.join(FIELDS)})")
    if not isinstance(name, str) or not name.strip():
        raise fail("name", "required, a non-empty string")
    if name != name.strip() or "\n" in name:
        raise fail("name", "must not start or end with spaces or contain line breaks")
    query = entry.get("query")
    if not isinstance(query, str) or not query.strip():
        raise fail("query", "required, a non-empty FTS5 query such as 'misconduct AND referral*'")
    if fts_query(query) == '""':
        raise fail("query", f"{query!r} has no word to search for")
    sources = _string_list(entry, "sources", fail)
    if sources and known_sources is not None:
        missing = [s for s in sources if s not in known_sources]
        if missing:
            raise fail("sources", f"no such source: {', '.join(missing)}")
    kinds = _string_list(entry, "kinds", fail)
    bad_kinds = [k for k in kinds or [] if k not in KINDS]
    if bad_kinds:
        raise fail("kinds", f"{', '.join(bad_kinds)} is not one of {', '.join(KINDS)}")
    webhook = entry.get("webhook")
    if webhook is not None:
        if not isinstance(webhook, str):
            raise fail("webhook", "must be an http(s) URL string")
        parts = urlsplit(webhook)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise fail("webhook", f"{webhook!r} is not an http(s) URL")
    return Watch(name=name, query=query, sources=sources, kinds=kinds, webhook=webhook)


def _string_list(
    entry: dict, key: str, fail: Callable[[str, str], WatchesError]
) -> list[str] | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise fail(key, "must be a non-empty list of strings (leave it out to mean all)")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(key, "every item must be a non-empty string")
    return list(value)


# Recording


def record_alerts(db: sqlite_utils.Database, watches: list[Watch], run_id: int) -> list[Alert]:
    """Record, for each watch, the documents run `run_id` added or changed that match it.

    Safe to call again for the same run (after a restart, or by `oversight alerts`): rows already
    recorded are kept as they were, with their delivery state. Returns every alert of the run for
    these watches, so a caller can deliver the ones not yet delivered.
    """
    matched_at = archive.now()
    touched = archive.documents_touched_in_run(db, run_id)
    for watch in watches:
        candidates = [
            t
            for t in touched
            if (watch.sources is None or t["source_id"] in watch.sources)
            and (watch.kinds is None or t["source_kind"] in watch.kinds)
        ]
        try:
            matching = archive.documents_matching(
                db, fts_query(watch.query), [t["document_id"] for t in candidates]
            )
        except sqlite3.OperationalError as exc:
            # The query FTS5 is given always parses; this catches a damaged full-text index.
            log.error("watch '%s': query %r failed: %s", watch.name, watch.query, exc)
            continue
        archive.insert_alerts(
            db,
            [
                {
                    "watch": watch.name,
                    "document_id": t["document_id"],
                    "run_id": run_id,
                    "matched_at": matched_at,
                    "reason": t["reason"],
                    "delivered_at": None,
                }
                for t in candidates
                if t["document_id"] in matching
            ],
        )
    return [_alert(r) for r in archive.alerts_of_run(db, run_id, [w.name for w in watches])]


def _alert(r: dict) -> Alert:
    return Alert(
        id=r["id"],
        watch=r["watch"],
        document_id=r["document_id"],
        run_id=r["run_id"],
        matched_at=r["matched_at"],
        reason=r["reason"],
        url=r["url"],
        title=r["title"],
        source_id=r["source_id"],
        source_name=r["source_name"],
        published=r["published"],
        delivered_at=r["delivered_at"],
    )


# Delivery


def deliver_alerts(
    alerts: list[Alert],
    watches: list[Watch],
    timeout: float = 10,
    retries: int = 3,
    db: sqlite_utils.Database | None = None,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """POST each watch's undelivered alerts to its webhook as JSON; never raises.

    One POST carries up to BATCH_SIZE alerts of one watch. A connection error, timeout, 408, 429
    or 5xx is retried `retries` times, waiting `backoff`, then twice as long each time (or the
    server's Retry-After, capped); other 4xx answers mean the request itself is wrong and are not
    retried. Delivered alerts get `delivered_at`, in memory and, when `db` is given, in the archive.
    """
    report = DeliveryReport()
    hooks = {w.name: w.webhook for w in watches if w.webhook}
    pending: dict[str, list[Alert]] = {}
    for alert in alerts:
        if alert.delivered_at or alert.watch not in hooks:
            report.skipped += 1
        else:
            pending.setdefault(alert.watch, []).append(alert)
    for watch_name, batch_alerts in pending.items():
        url = hooks[watch_name]
        for start in range(0, len(batch_alerts), BATCH_SIZE):
            batch = batch_alerts[start : start + BATCH_SIZE]
            try:
                error, attempts = _post_with_retries(
                    url, _payload(watch_name, batch), timeout, retries, backoff, sleep
                )
            except Exception as exc:  # delivery must never fail a run, whatever goes wrong
                error, attempts = f"unexpected error: {exc!r}", 1
            ids = [a.id for a in batch]
            if error is None:
                at = archive.now()
                for alert in batch:
                    alert.delivered_at = at
                report.delivered.extend(ids)
                if db is not None:
                    _mark_delivered(db, ids, at)
                log.info("watch '%s': %d alert(s) delivered to %s", watch_name, len(batch), url)
            else:
                report.failed.append(DeliveryFailure(watch_name, url, ids, error, attempts))
                log.warning(
                    "watch '%s': %d alert(s) not delivered to %s after %d attempt(s): %s",
                    watch_name,
                    len(batch),
                    url,
                    attempts,
                    error,
                )
    return report


def _mark_delivered(db: sqlite_utils.Database, ids: list[int], at: str) -> None:
    try:
        archive.mark_alerts_delivered(db, ids, at)
    except sqlite3.Error as exc:
        log.warning("could not mark alerts %s delivered: %s", ids, exc)


def _payload(watch_name: str, batch: list[Alert]) -> bytes:
    body = {
        "watch": watch_name,
        "count": len(batch),
        "alerts": [a.as_json() for a in batch],
        # Chat webhooks (Slack, Mattermost, Teams' legacy connectors) display `text`.
        "text": "\n".join(
            f"[{watch_name}] {a.reason}: {a.title or a.url} <{a.url}>" for a in batch
        ),
    }
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _post_with_retries(
    url: str,
    body: bytes,
    timeout: float,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> tuple[str | None, int]:
    """POST `body`; return (None, attempts) on a 2xx answer, else (the last error, attempts)."""
    if urlsplit(url).scheme not in ("http", "https"):
        return f"{url!r} is not an http(s) URL", 0
    attempts = 0
    error: str | None = None
    for attempt in range(retries + 1):
        attempts += 1
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        wait = backoff * (2**attempt)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read(65536)
            return None, attempts
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code} {exc.reason}"
            retry_after = _retry_after(exc.headers.get("Retry-After"))
            exc.close()
            if exc.code not in (408, 429) and exc.code < 500:
                return error, attempts
            if retry_after is not None:
                wait = min(retry_after, MAX_RETRY_AFTER)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            error = f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason
        if attempt < retries:
            sleep(wait)
    return error, attempts


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


# Listing


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime | None = None) -> str:
    """Turn '7d', '24h', '30m', '2w' or an ISO date/datetime into the archive's timestamp form.

    A date or datetime without a zone is taken as UTC, the zone every archive timestamp uses.
    """
    now = now or datetime.now(UTC)
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2).lower()
        moment = now - timedelta(seconds=amount * _UNIT_SECONDS[unit])
    else:
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"--since {text!r}: expected a date (2026-01-31), a datetime, or an age like 7d, 24h"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def known_watches(db: sqlite_utils.Database, watches_path: str | Path | None) -> list[str]:
    """Watch names, sorted: those in the watches file (when there is one) and those that alerted.

    A watch renamed or removed from the file keeps its alerts, so it is still known.
    """
    names = set(archive.alerting_watches(db))
    if watches_path and Path(watches_path).exists():
        names.update(w.name for w in load_watches(watches_path))
    return sorted(names)


def list_alerts(
    db: sqlite_utils.Database, since: str | None = None, watch: str | None = None
) -> list[dict]:
    """Alerts newest first, for `oversight alerts [--since 7d] [--watch NAME]`.

    Each row has the alert (id, watch, reason, matched_at, run_id, delivered_at) and its document
    (document_id, url, title, source_id, source_name, published, description): everything an Atom
    entry per watch needs (`atom_id` from the alert id, `atom_updated` from `matched_at`).
    """
    return archive.query_alerts(db, since=parse_since(since) if since else None, watch=watch)
