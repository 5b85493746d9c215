"""The archive: the SQLite schema and every read and write of it.

This is the one module that knows table and column names. Everything goes through sqlite-utils;
SQL is written out only where a query reads more clearly as SQL. The database runs in WAL mode so
Datasette can read while a crawl writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

SCHEMA_VERSION = 1

#: Columns of each table, in order. sqlite-utils creates them; migrations add what is missing.
TABLES: dict[str, dict[str, Any]] = {
    "meta": {"columns": {"key": str, "value": str}, "pk": "key"},
    "sources": {
        "columns": {
            "id": str,
            "name": str,
            "kind": str,
            "homepage": str,
            "allowed_domains": str,
            "every": str,
            "config": str,
        },
        "pk": "id",
    },
    "runs": {
        "columns": {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "sources": str,
            "pages_fetched": int,
            "not_modified": int,
            "skipped_unchanged": int,
            "documents_new": int,
            "documents_changed": int,
            "failures": int,
            "bytes_received": int,
            "pid": int,
            "host": str,
            "error": str,
            "log_dir": str,
        },
        "pk": "id",
    },
    "snapshots": {
        "columns": {
            "id": int,
            "url": str,
            "final_url": str,
            "source_id": str,
            "run_id": int,
            "role": str,
            "fetched_at": str,
            "status": int,
            "content_type": str,
            "etag": str,
            "last_modified": str,
            "headers": str,
            "body": bytes,
            "body_size": int,
            "body_sha256": str,
            "linked_date": str,
            "extracted_at": str,
            "extract_error": str,
        },
        "pk": "id",
        "foreign_keys": [("source_id", "sources", "id"), ("run_id", "runs", "id")],
    },
    "urls": {
        "columns": {
            "url": str,
            "source_id": str,
            "role": str,
            "etag": str,
            "last_modified": str,
            "declared_modified": str,
            "last_fetched_at": str,
            "last_status": int,
            "last_snapshot_id": int,
            "last_run_id": int,
            "fail_count": int,
            "next_try_at": str,
            "last_error": str,
        },
        "pk": "url",
    },
    "documents": {
        "columns": {
            "id": int,
            "url": str,
            "source_id": str,
            "content_type": str,
            "title": str,
            "author": str,
            "published": str,
            "updated": str,
            "description": str,
            "language": str,
            "site_name": str,
            "text": str,
            "word_count": int,
            "content_hash": str,
            "first_seen": str,
            "last_seen": str,
            "last_changed": str,
            "version_count": int,
            "snapshot_id": int,
            "duplicate_of": int,
            "status": str,
            "page_starts": str,
        },
        "pk": "id",
        "foreign_keys": [
            ("source_id", "sources", "id"),
            ("snapshot_id", "snapshots", "id"),
            ("duplicate_of", "documents", "id"),
        ],
    },
    "versions": {
        "columns": {
            "id": int,
            "document_id": int,
            "seen_at": str,
            "content_hash": str,
            "title": str,
            "text": str,
            "snapshot_id": int,
            "run_id": int,
            "diff": str,
            "declared_change": str,
        },
        "pk": "id",
        "foreign_keys": [("document_id", "documents", "id")],
    },
    "figures": {
        "columns": {
            "id": int,
            "document_id": int,
            "text": str,
            "sentence": str,
            "value": float,
            "value_min": float,
            "value_max": float,
            "unit": str,
            "kind": str,
            "denominator": float,
            "start": int,
            "end": int,
            "page": int,
            "qualifier": str,
            "period": str,
        },
        "pk": "id",
        "foreign_keys": [("document_id", "documents", "id")],
    },
    "failures": {
        "columns": {
            "id": int,
            "run_id": int,
            "source_id": str,
            "url": str,
            "status": int,
            "reason": str,
            "at": str,
        },
        "pk": "id",
        "foreign_keys": [("run_id", "runs", "id"), ("source_id", "sources", "id")],
    },
    "links": {
        "columns": {
            "id": int,
            "document_id": int,
            "url": str,
            "normalized_url": str,
            "anchor": str,
            "target_document_id": int,
        },
        "pk": "id",
        "foreign_keys": [("document_id", "documents", "id"), ("target_document_id", "documents", "id")],
    },
    "entities": {
        "columns": {"id": str, "name": str, "kind": str, "aliases": str, "former_names": str},
        "pk": "id",
    },
    "mentions": {
        "columns": {"document_id": int, "entity_id": str, "count": int},
        "pk": ("document_id", "entity_id"),
        "foreign_keys": [("document_id", "documents", "id"), ("entity_id", "entities", "id")],
    },
    "tables": {
        "columns": {
            "id": int,
            "document_id": int,
            "position": int,
            "caption": str,
            "header": str,
            "rows": str,
        },
        "pk": "id",
        "foreign_keys": [("document_id", "documents", "id")],
    },
    "images": {
        "columns": {"id": int, "document_id": int, "src": str, "alt": str, "caption": str},
        "pk": "id",
        "foreign_keys": [("document_id", "documents", "id")],
    },
    "figure_checks": {
        "columns": {
            "id": int,
            "figure_id": int,
            "document_id": int,
            "cited_document_id": int,
            "cited_figure_id": int,
            "status": str,
            "note": str,
        },
        "pk": "id",
        "foreign_keys": [
            ("figure_id", "figures", "id"),
            ("document_id", "documents", "id"),
            ("cited_document_id", "documents", "id"),
            ("cited_figure_id", "figures", "id"),
        ],
    },
    "events": {
        "columns": {
            "id": int,
            "document_id": int,
            "kind": str,
            "at": str,
            "run_id": int,
            "detail": str,
        },
        "pk": "id",
        "foreign_keys": [("document_id", "documents", "id"), ("run_id", "runs", "id")],
    },
    "alerts": {
        "columns": {
            "id": int,
            "watch": str,
            "document_id": int,
            "run_id": int,
            "matched_at": str,
            "reason": str,
            "delivered_at": str,
        },
        "pk": "id",
        "foreign_keys": [("document_id", "documents", "id"), ("run_id", "runs", "id")],
    },
}

INDEXES: list[tuple[str, list[str], bool]] = [
    ("snapshots", ["url"], False),
    ("snapshots", ["extracted_at"], False),
    ("snapshots", ["run_id"], False),
    ("documents", ["url"], True),
    ("documents", ["source_id"], False),
    ("documents", ["published"], False),
    ("documents", ["last_changed"], False),
    ("documents", ["content_hash"], False),
    ("documents", ["duplicate_of"], False),
    ("versions", ["document_id"], False),
    ("figures", ["document_id"], False),
    ("figures", ["kind"], False),
    ("figures", ["unit"], False),
    ("failures", ["run_id"], False),
    ("failures", ["url"], False),
    ("links", ["document_id"], False),
    ("links", ["normalized_url"], False),
    ("links", ["target_document_id"], False),
    ("mentions", ["entity_id"], False),
    ("tables", ["document_id"], False),
    ("images", ["document_id"], False),
    ("figure_checks", ["document_id"], False),
    ("events", ["document_id"], False),
    ("alerts", ["watch", "matched_at"], False),
    ("alerts", ["watch", "document_id", "reason", "run_id"], True),
]


class ArchiveError(Exception):
    """The archive cannot be opened or used; the message names the file."""


def now() -> str:
    """The current UTC time as ISO 8601 with an offset, the form every timestamp column uses."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def open_archive(path: str | Path, create: bool = True) -> sqlite_utils.Database:
    """Open (and create or migrate) the archive at `path`, in WAL mode with a busy timeout."""
    path = Path(path)
    if not create and not path.exists():
        raise ArchiveError(f"{path}: no archive here (run `oversight crawl` or `oversight demo` first)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        db = sqlite_utils.Database(conn)
        db.enable_wal()
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = OFF")
        ensure_schema(db)
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(f"{path}: not a usable SQLite archive ({exc})") from exc
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot open ({exc})") from exc
    return db


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create missing tables, columns, indexes, FTS and triggers; record the schema version."""
    existing = set(db.table_names())
    with db.conn:
        for name, spec in TABLES.items():
            table = db[name]
            if name not in existing:
                table.create(spec["columns"], pk=spec["pk"], foreign_keys=spec.get("foreign_keys"))
            else:
                have = {c.name for c in table.columns}
                for column, kind in spec["columns"].items():
                    if column not in have:
                        table.add_column(column, kind)
        for table_name, columns, unique in INDEXES:
            db[table_name].create_index(columns, unique=unique, if_not_exists=True)
        db["meta"].upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")
    if "documents_fts" not in existing:
        db["documents"].enable_fts(
            ["title", "text"], tokenize="porter", create_triggers=True, replace=True
        )


def row(db: sqlite_utils.Database, sql: str, params: Iterable[Any] | dict = ()) -> dict | None:
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    found = cursor.fetchone()
    return dict(zip(names, found, strict=True)) if found else None


def rows(db: sqlite_utils.Database, sql: str, params: Iterable[Any] | dict = ()) -> Iterator[dict]:
    yield from db.query(sql, params)


def to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


@dataclass
class ArchiveCounts:
    documents: int
    versions: int
    figures: int
    snapshots: int
    failures: int
