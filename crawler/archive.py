"""The archive: the SQLite schema and every read and write of it.

This is the one module that knows table and column names. Everything goes through sqlite-utils;
SQL is written out only where a query reads more clearly as SQL. The database runs in WAL mode so
Datasette can read while a crawl writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import zlib
from collections import ChainMap, deque
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

import sqlite_utils

from crawler.discovery import FEED_UPDATED, LISTING, preferred_listed_date

#: 3: MinHash signatures hashed from word CRCs (`extract.similarity` format 2), re-signed on open.
#: 4: urls.document_url. 5: run_sources (each run's 304s per source).
#: 6: snapshots.declared_modified, documents.published_from.
#: 7: runs.entries_refused; run_sources.entries_refused, listing_walk and listing_limit.
#: 8: snapshots.linked_date_from. 9: links.page (the PDF page a link is on).
#: 10: figure_checks.cited_version_id and cited_edited_at; figures, links, tables and images
#: never reuse an id (`_ids_never_reused`). 11: nor do versions; versions(document_id, seen_at).
SCHEMA_VERSION = 11

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
            # Feed, sitemap and API entries the sources' rules refused (each named in the log).
            "entries_refused": int,
            "bytes_received": int,
            "pid": int,
            "host": str,
            "error": str,
            "log_dir": str,
            # The last versions row before the run began: the versions after it, up to the next
            # run's, are what this run added, whichever run fetched their snapshots (a killed
            # or --no-extract run's pages are extracted by the next one).
            "versions_before": int,
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
            # What `linked_date` is: null or "listing", a publication date; "feed updated", the
            # `updated` of an Atom entry that gave no other date (`crawler.discovery`).
            "linked_date_from": str,
            # The modification date a sitemap, feed or API gave the page when it was fetched:
            # an edit it moved is one the publisher declared.
            "declared_modified": str,
            "extracted_at": str,
            "extract_error": str,
        },
        "pk": "id",
        "foreign_keys": [("source_id", "sources", "id"), ("run_id", "runs", "id")],
    },
    # A 304 leaves no snapshot: what each run was answered with it, per source, is kept here
    # (source health needs it run by run), with the feed, sitemap and API entries it refused and
    # how far it walked the source's listing pages (see `listing_walk_before`).
    "run_sources": {
        "columns": {
            "run_id": int,
            "source_id": str,
            "not_modified": int,
            "document_not_modified": int,
            "entries_refused": int,
            "listing_walk": str,
            "listing_limit": int,
        },
        "pk": ("run_id", "source_id"),
    },
    "api_listings": {
        "columns": {"source_id": str, "url": str, "run_id": int, "started_at": str},
        "pk": ("source_id", "url"),
    },
    "urls": {
        "columns": {
            "url": str,
            # The archived document it last led to: after redirects, and a GOV.UK Content API
            # item's public page. Set when a response is extracted, or answers 304.
            "document_url": str,
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
            "listed_run_id": int,
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
            "published_from": str,
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
            "url_key": str,
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
            "page": int,
        },
        "pk": "id",
        "foreign_keys": [
            ("document_id", "documents", "id"),
            ("target_document_id", "documents", "id"),
        ],
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
            # The version of the cited document the figures were checked against: the one live
            # when the citing document was published (`crawler.linking`).
            "cited_version_id": int,
            # When the cited document was first seen edited in a way that changed this check
            # since that version; null when it holds alike against the current one.
            "cited_edited_at": str,
        },
        "pk": "id",
        "foreign_keys": [
            ("figure_id", "figures", "id"),
            ("document_id", "documents", "id"),
            ("cited_document_id", "documents", "id"),
            ("cited_figure_id", "figures", "id"),
            ("cited_version_id", "versions", "id"),
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
    "signatures": {
        "columns": {"document_id": int, "minhash": bytes},
        "pk": "document_id",
        "foreign_keys": [("document_id", "documents", "id")],
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
    ("documents", ["url_key"], False),
    # Covering indexes for the published facets: a page's source, type and date are read from
    # these instead of each document's large row (by id after a search, by source otherwise).
    ("documents", ["id", "source_id", "content_type", "published"], False),
    ("documents", ["source_id", "content_type", "published"], False),
    # A document's versions in the order they were seen: a full re-extraction keeps the ids of
    # versions that come out the same and gives new ones to those that do not, so ids alone do
    # not say which version came first.
    ("versions", ["document_id", "seen_at"], False),
    ("versions", ["run_id"], False),
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
    ("figure_checks", ["cited_document_id"], False),
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
        raise ArchiveError(
            f"{path}: no archive here (run `oversight crawl` or `oversight demo` first)"
        )
    if not create and not _writable(path):
        return _open_read_only(path)
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


def _writable(path: Path) -> bool:
    """Whether this user may write the archive and, for WAL's side files, its folder."""
    return os.access(path, os.W_OK) and os.access(path.resolve().parent, os.W_OK)


def _open_read_only(path: Path) -> sqlite_utils.Database:
    """An archive this user may only read (a shared copy, a colleague's crawl): searched, listed
    and served as it is, never written, so it is never set up or migrated."""
    try:
        conn, version = _read_only_connection(path, "mode=ro")
    except sqlite3.DatabaseError as exc:
        # A WAL archive's reader needs its -shm file, which only a writer of the folder can
        # make. With no -wal file there is nothing beyond the main file to read, and no crawl
        # is writing: it can be read as it stands.
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size:
            raise ArchiveError(
                f"{path}: cannot be read without write access to its folder while a crawl is "
                f"writing it or has left changes in {wal.name} ({exc})"
            ) from exc
        try:
            conn, version = _read_only_connection(path, "immutable=1")
        except sqlite3.DatabaseError as again:
            raise ArchiveError(f"{path}: not a usable SQLite archive ({again})") from again
    if version is None or int(version[0]) != SCHEMA_VERSION:
        conn.close()
        raise ArchiveError(
            f"{path}: made by another version of Oversight and read-only to you: it needs "
            "upgrading by a user who may write it (any `oversight` command run by them does it)"
        )
    return sqlite_utils.Database(conn)


def _read_only_connection(path: Path, mode: str) -> tuple[sqlite3.Connection, tuple | None]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn, conn.execute("select value from meta where key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError:
        conn.close()
        raise


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create missing tables, columns, indexes, FTS and triggers; record the schema version."""
    existing = set(db.table_names())
    found = (
        row(db, "select value from meta where key = 'schema_version'")
        if "meta" in existing
        else None
    )
    with transaction(db):
        for name, spec in TABLES.items():
            table = db[name]
            if name not in existing:
                table.create(spec["columns"], pk=spec["pk"], foreign_keys=spec.get("foreign_keys"))
            else:
                have = {c.name for c in table.columns}
                for column, kind in spec["columns"].items():
                    if column not in have:
                        table.add_column(column, kind)
        for name in ("versions", "figures", "links", "tables", "images"):
            _ids_never_reused(db, name)
        for table_name, columns, unique in INDEXES:
            db[table_name].create_index(columns, unique=unique, if_not_exists=True)
        if found and int(found["value"]) < 3:
            _resign_documents(db)
        if found and int(found["value"]) < 4:
            db.execute(
                """update urls set document_url = d.url from documents d
                where d.snapshot_id = urls.last_snapshot_id and urls.document_url is null"""
            )
        db["meta"].upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")
    if "documents_fts" not in existing:
        db["documents"].enable_fts(
            ["title", "text"], tokenize="porter", create_triggers=True, replace=True
        )
    _narrow_fts_update_trigger(db)
    _refresh_statistics(db)


_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(\[[^\]]+\]|\"[^\"]+\"|\w+)", re.IGNORECASE)
_ID_PRIMARY_KEY = re.compile(r"(\[id\]|\"id\"|\bid)\s+INTEGER\s+PRIMARY\s+KEY", re.IGNORECASE)


def _ids_never_reused(db: sqlite_utils.Database, table: str) -> None:
    """Make `table`'s ids AUTOINCREMENT, rebuilding it once if it was made without.

    People cite `/archive/figures/ID` and `/archive/versions/ID`. Without AUTOINCREMENT SQLite
    gives a new row the largest id plus one, so when the newest figure is edited away the next
    figure stored takes its id, and a saved link shows another number without a word. For
    versions it also broke `extract --all`: an older version that came out different took the
    id of a newer one deleted for the rebuild, which then could not have its id back and was
    not stored. sqlite-utils creates tables without it and cannot add it, so the table is
    copied into one made with it (what its `transform` does): instant for a new archive, once
    for an older one (1.1-1.6 s for 20,000 versions of 4 KB; the old copy's pages stay in the
    file, free for later writes).
    """
    schema = db[table].schema
    if "AUTOINCREMENT" in schema.upper():
        return
    rebuilt = f"{table}_autoincrement"
    create = _ID_PRIMARY_KEY.sub(r"\g<0> AUTOINCREMENT", schema, count=1)
    db.execute(_CREATE_TABLE.sub(f"CREATE TABLE [{rebuilt}]", create, count=1))
    db.execute(f"insert into [{rebuilt}] select * from [{table}]")
    db.execute(f"drop table [{table}]")
    db.execute(f"alter table [{rebuilt}] rename to [{table}]")


def _resign_documents(db: sqlite_utils.Database) -> None:
    """Recompute every stored MinHash signature from its document's text.

    Signatures made by another version of `extract.similarity.signature` cannot be compared with
    new ones; the texts are all here, so the migration signs them again (about 0.4 ms each),
    a thousand at a time so a large archive's texts are never all in memory.
    """
    from extract.similarity import signature

    last = 0
    while True:
        page = db.execute(
            """select s.document_id, d.text from signatures s join documents d
            on d.id = s.document_id where s.document_id > ? order by s.document_id limit 1000""",
            [last],
        ).fetchall()
        if not page:
            return
        db.conn.executemany(
            "update signatures set minhash = ? where document_id = ?",
            [(signature(text or ""), document_id) for document_id, text in page],
        )
        last = page[-1][0]


def _refresh_statistics(db: sqlite_utils.Database) -> None:
    """ANALYZE once documents number 1,000 and at each doubling since the last ANALYZE.

    Without statistics SQLite reads a searched document's row, not the covering index above,
    and counting a common word's matches reads thousands of large rows.
    """
    documents = db.execute("select count(*) from documents").fetchone()[0]
    analyzed = 0
    if db["sqlite_stat1"].exists():
        found = db.execute(
            "select stat from sqlite_stat1 where tbl = 'documents' and idx = ?",
            ["idx_documents_id_source_id_content_type_published"],
        ).fetchone()
        analyzed = int(found[0].split()[0]) if found else 0
    if documents >= max(1000, 2 * analyzed):
        db.execute("ANALYZE")


def _narrow_fts_update_trigger(db: sqlite_utils.Database) -> None:
    """Re-index a document only when its title or text change.

    sqlite-utils' trigger fires on any update, so marking 2,000 unchanged documents as seen would
    re-tokenise 2,000 texts; `UPDATE OF title, text` keeps `last_seen` and `status` writes cheap.
    """
    found = row(
        db, "select sql from sqlite_master where type = 'trigger' and name = 'documents_au'"
    )
    if found and "UPDATE OF" in found["sql"]:
        return
    with transaction(db):
        db.execute("drop trigger if exists documents_au")
        db.execute(
            """create trigger documents_au after update of title, text on documents begin
            insert into documents_fts (documents_fts, rowid, title, text)
              values ('delete', old.rowid, old.title, old.text);
            insert into documents_fts (rowid, title, text) values (new.rowid, new.title, new.text);
            end"""
        )


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """One SQLite transaction around a batch of writes, rolled back whole on any error.

    Archive connections run in autocommit mode (sqlite-utils' savepoints need it), where
    `with conn:` opens no transaction at all: every statement would commit on its own, a kill
    could separate a snapshot from its bookkeeping, and each commit costs a WAL write. Inside an
    open transaction this joins it.
    """
    conn = db.conn
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite rolls back by itself when it cannot write (a full disk)
        raise


@contextmanager
def savepoint(db: sqlite_utils.Database, name: str) -> Iterator[None]:
    """A part of the open transaction that an error undoes alone, leaving the rest of it to go on.

    After a real I/O error SQLite may already have rolled back the whole transaction; the
    original error is what the caller needs to see, so the savepoint's own rollback keeps quiet.
    """
    conn = db.conn
    conn.execute(f"SAVEPOINT [{name}]")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            try:
                conn.execute(f"ROLLBACK TO [{name}]")
                conn.execute(f"RELEASE [{name}]")
            except sqlite3.Error:
                pass
        raise
    conn.execute(f"RELEASE [{name}]")


def storable_text(text: str) -> str:
    """`text` as SQLite can hold it: a lone surrogate (from a JSON `\\udfff` escape, say) becomes
    its escape, so a reason quoting hostile input can always be written."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def insert_row(db: sqlite_utils.Database, table: str, record: dict[str, Any]) -> int:
    """Insert one row of plain values and return its rowid.

    The crawl and extract stages write a few rows per page; sqlite-utils' `insert` checks the
    table's existence and types and opens a savepoint each time, which cost more than the write.
    Schema work stays with sqlite-utils.
    """
    names = ", ".join(f"[{name}]" for name in record)
    marks = ", ".join("?" * len(record))
    cursor = db.conn.execute(
        f"insert into [{table}] ({names}) values ({marks})", list(record.values())
    )
    return int(cursor.lastrowid)


def upsert_row(db: sqlite_utils.Database, table: str, record: dict[str, Any], pk: str) -> None:
    """Insert a row, or update only the given columns of the row with the same `pk`."""
    names = ", ".join(f"[{name}]" for name in record)
    marks = ", ".join("?" * len(record))
    updates = ", ".join(f"[{name}] = excluded.[{name}]" for name in record if name != pk)
    db.conn.execute(
        f"insert into [{table}] ({names}) values ({marks}) "
        f"on conflict([{pk}]) do update set {updates}",
        list(record.values()),
    )


def update_row(db: sqlite_utils.Database, table: str, pk: int, record: dict[str, Any]) -> None:
    """Set the given columns of one row by its integer primary key."""
    sets = ", ".join(f"[{name}] = ?" for name in record)
    db.conn.execute(f"update [{table}] set {sets} where rowid = ?", [*record.values(), pk])


def row(db: sqlite_utils.Database, sql: str, params: Iterable[Any] | dict = ()) -> dict | None:
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    found = cursor.fetchone()
    return dict(zip(names, found, strict=True)) if found else None


def rows(db: sqlite_utils.Database, sql: str, params: Iterable[Any] | dict = ()) -> Iterator[dict]:
    yield from db.query(sql, params)


def to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


# Sources and runs


def sync_sources(db: sqlite_utils.Database, sources: Iterable[Any]) -> None:
    """Upsert the registry into `sources`, so Datasette can label source ids with names and
    show readers the rules each source was crawled by (`config`)."""
    records = [
        {
            "id": s.id,
            "name": s.name,
            "kind": s.kind,
            "homepage": s.homepage,
            "allowed_domains": to_json(s.allowed_domains),
            "every": s.every,
            "config": to_json(asdict(s)),
        }
        for s in sources
    ]
    with transaction(db):
        db["sources"].upsert_all(records, pk="id")


def start_run(db: sqlite_utils.Database, source_ids: list[str], pid: int, host: str) -> int:
    with transaction(db):
        table = db["runs"].insert(
            {
                "started_at": now(),
                "status": "running",
                "sources": to_json(source_ids),
                "pages_fetched": 0,
                "not_modified": 0,
                "skipped_unchanged": 0,
                "documents_new": 0,
                "documents_changed": 0,
                "failures": 0,
                "entries_refused": 0,
                "bytes_received": 0,
                "pid": pid,
                "host": host,
                "versions_before": db.execute(
                    "select coalesce(max(id), 0) from versions"
                ).fetchone()[0],
            }
        )
    return int(table.last_pk)


def update_run(db: sqlite_utils.Database, run_id: int, **values: Any) -> None:
    with transaction(db):
        db["runs"].update(run_id, values)


def get_run(db: sqlite_utils.Database, run_id: int) -> dict:
    return db["runs"].get(run_id)


def interrupted_runs(db: sqlite_utils.Database) -> list[dict]:
    """Runs still marked `running`: either live in another process or killed without a goodbye."""
    return list(db.query("select * from runs where status = 'running' order by id"))


def urls_fetched_since_last_completed_run(
    db: sqlite_utils.Database, source_ids: list[str]
) -> set[str]:
    """Document URLs already stored by runs that were killed since the last run that finished.

    A restarted crawl skips these, so a kill does not cost a second download of everything.
    """
    last_done = row(db, "select max(id) as id from runs where status in ('ok', 'partial')")
    after = (last_done or {}).get("id") or 0
    placeholders = ",".join("?" for _ in source_ids) or "''"
    found = db.execute(
        f"""select distinct s.url from snapshots s join runs r on r.id = s.run_id
        where s.run_id > ? and r.status in ('failed', 'running') and s.role = 'document'
        and s.status < 400 and s.source_id in ({placeholders})""",
        [after, *source_ids],
    )
    return {u for (u,) in found}


# The first version of versions row `v`'s document: the one seen first, not the smallest id (a
# full re-extraction gives a version that came out different a new id, older versions too).
_FIRST_VERSION = """(select f.id from versions f where f.document_id = v.document_id
    order by f.seen_at, f.id limit 1)"""

# Whether versions row `v` was added during run `r` (see `runs.versions_before`); runs recorded
# before that column existed go by the run that fetched the version's snapshot.
_VERSION_OF_RUN = """(case when r.versions_before is null then v.run_id = r.id
    else v.id > r.versions_before and v.id <= coalesce(
      (select min(n.versions_before) from runs n where n.id > r.id), 9223372036854775807) end)"""


def run_counts(db: sqlite_utils.Database, run_id: int) -> dict[str, int]:
    """Counts for a run, read back from what was stored (so they are right after a restart too)."""
    new = row(
        db,
        f"""select count(*) as n from versions v join runs r on r.id = ? where {_VERSION_OF_RUN}
        and v.id = {_FIRST_VERSION}""",
        [run_id],
    )
    changed = row(
        db,
        f"""select count(*) as n from versions v join runs r on r.id = ? where {_VERSION_OF_RUN}
        and v.id != {_FIRST_VERSION}""",
        [run_id],
    )
    failures = row(db, "select count(*) as n from failures where run_id = ?", [run_id])
    pages = row(
        db,
        """select coalesce(sum(status < 400), 0) as n, coalesce(sum(body_size), 0) as b
        from snapshots where run_id = ?""",
        [run_id],
    )
    return {
        "documents_new": new["n"],
        "documents_changed": changed["n"],
        "failures": failures["n"],
        "pages_fetched": pages["n"],
        "bytes_received": pages["b"],
    }


def api_listed_since(db: sqlite_utils.Database, source_id: str, api_url: str) -> str | None:
    """When the last run that read this API's listing to its end started: the next run asks only
    for what changed since (the day before). None: never read whole, so ask for everything."""
    found = row(
        db,
        "select started_at from api_listings where source_id = ? and url = ?",
        [source_id, api_url],
    )
    return found["started_at"] if found else None


def record_api_listed(db: sqlite_utils.Database, source_id: str, api_url: str, run_id: int) -> None:
    """This run read the API's listing to its end, every page of it answered and understood."""
    with transaction(db):
        db.execute(
            """insert into api_listings (source_id, url, run_id, started_at)
            select ?, ?, id, started_at from runs where id = ?
            on conflict(source_id, url) do update
            set run_id = excluded.run_id, started_at = excluded.started_at""",
            [source_id, api_url, run_id],
        )


def listing_walk_before(db: sqlite_utils.Database, source_id: str, run_id: int) -> dict | None:
    """How the last run before `run_id` that crawled the source left its listing pages.

    `listing_walk` is "whole" (walked to the end), "stopped" (stopped early where nothing was
    new) or "limit" (cut at `listing_limit` pages, the source's `max_pages` then); None when that
    run's walk was cut short (stopped, killed, a listing page failed). None for a first run.
    """
    return row(
        db,
        """select rs.listing_walk, rs.listing_limit from runs r
        left join run_sources rs on rs.run_id = r.id and rs.source_id = :source
        where r.id < :run and r.status != 'running' and (r.sources is null
          or exists (select 1 from json_each(r.sources) where value = :source))
        order by r.id desc limit 1""",
        {"source": source_id, "run": run_id},
    )


def record_run_source(
    db: sqlite_utils.Database,
    run_id: int,
    source_id: str,
    entries_refused: int,
    listing_walk: str | None,
    listing_limit: int | None,
) -> None:
    """What a run did for one source beyond its 304s: refused entries and its listing walk."""
    with transaction(db):
        db.execute(
            """insert into run_sources (run_id, source_id, not_modified, document_not_modified,
              entries_refused, listing_walk, listing_limit) values (?, ?, 0, 0, ?, ?, ?)
            on conflict (run_id, source_id) do update set
            entries_refused = excluded.entries_refused, listing_walk = excluded.listing_walk,
            listing_limit = excluded.listing_limit""",
            [run_id, source_id, entries_refused, listing_walk, listing_limit],
        )


def entries_refused_by_source(db: sqlite_utils.Database) -> dict[str, dict]:
    """Per source, its latest run's count of refused feed, sitemap and API entries."""
    return {
        r["source_id"]: r
        for r in db.query(
            """select source_id, run_id, entries_refused from run_sources s
            where run_id = (select max(run_id) from run_sources x
              where x.source_id = s.source_id and x.entries_refused is not null)"""
        )
    }


def failed_documents_due(
    db: sqlite_utils.Database,
    source_id: str,
    reasons: tuple[str, ...],
    statuses: tuple[int, ...],
    limit: int = 500,
) -> list[str]:
    """Documents whose last fetch failed in a way that may pass (`reasons` are how such failure
    reasons begin, `statuses` such HTTP statuses) and whose back-off is over, oldest first.

    An incremental API lists an item once: if fetching it failed then, nothing lists it again.
    """
    like = " or ".join("last_error like ? || '%'" for _ in reasons) or "0"
    marks = ",".join("?" for _ in statuses) or "null"
    return [
        url
        for (url,) in db.execute(
            f"""select url from urls where source_id = ? and role = 'document'
            and fail_count > 0 and (next_try_at is null or next_try_at <= ?)
            and (last_status in ({marks}) or (last_status is null and ({like})))
            order by last_fetched_at, url limit ?""",
            [source_id, now(), *statuses, *reasons, limit],
        )
    ]


# Crawl state: what each URL answered last, for conditional requests and back-off


def url_state(db: sqlite_utils.Database, url: str) -> dict | None:
    return row(db, "select * from urls where url = ?", [url])


def stored_copy(
    db: sqlite_utils.Database, snapshot_id: int | None
) -> tuple[bytes, str | None] | None:
    """A snapshot's body and Content-Type, to read again for links when its URL answers 304."""
    if snapshot_id is None:
        return None
    found = row(db, "select body, content_type from snapshots where id = ?", [snapshot_id])
    if not found or found["body"] is None:
        return None
    return decompress(found["body"]), found["content_type"]


def compress(body: bytes) -> bytes:
    # Level 3: most of level 6's saving on HTML at well under half its CPU time.
    return zlib.compress(body, 3)


def decompress(blob: bytes) -> bytes:
    return zlib.decompress(blob)


def write_crawl_batch(
    db: sqlite_utils.Database,
    snapshots: list[dict],
    failures: list[dict],
    not_modified: list[dict],
) -> list[int]:
    """Store one batch of crawl results in a single transaction; return the new snapshot ids.

    Each snapshot dict carries the raw body (compressed here) and the URL state it implies, so a
    kill between batches never leaves a snapshot without its bookkeeping or the reverse.
    """
    ids: list[int] = []
    with transaction(db):
        for snap in snapshots:
            body = snap.pop("body")
            record = dict(snap)
            record["body_size"] = len(body)
            record["body_sha256"] = hashlib.sha256(body).hexdigest()
            # A server that sends no validators answers 200 with the same bytes every run: the
            # fetch is recorded, the body (already stored) is not stored again or re-extracted.
            unchanged = (
                snap["status"] < 400 and _stored_sha256(db, snap["url"]) == record["body_sha256"]
            )
            record["body"] = None if unchanged else compress(body)
            if unchanged:
                record["extracted_at"] = snap["fetched_at"]
            snapshot_id = insert_row(db, "snapshots", record)
            ids.append(snapshot_id)
            if snap["status"] >= 400:
                continue  # an error page: its failure row keeps the URL's state and back-off
            for url in {snap["url"], snap["final_url"]}:
                upsert_row(
                    db,
                    "urls",
                    {
                        "url": url,
                        "source_id": snap["source_id"],
                        "role": snap["role"],
                        "etag": snap.get("etag"),
                        "last_modified": snap.get("last_modified"),
                        "last_fetched_at": snap["fetched_at"],
                        "last_status": snap["status"],
                        **({} if unchanged else {"last_snapshot_id": snapshot_id}),
                        "last_run_id": snap["run_id"],
                        "fail_count": 0,
                        "next_try_at": None,
                        "last_error": None,
                        "declared_modified": snap.get("declared_modified"),
                    },
                    "url",
                )
            if unchanged:
                _seen_unchanged(
                    db, snap["url"], snap["final_url"], snap["fetched_at"], snap["run_id"]
                )
        for item in not_modified:
            upsert_row(
                db,
                "urls",
                {
                    "url": item["url"],
                    "last_fetched_at": item["at"],
                    "last_status": 304,
                    "last_run_id": item["run_id"],
                    "fail_count": 0,
                    "next_try_at": None,
                    **(
                        {"declared_modified": item["declared_modified"]}
                        if item.get("declared_modified")
                        else {}
                    ),
                },
                "url",
            )
            if item.get("source_id"):
                db.execute(
                    """insert into run_sources
                    (run_id, source_id, not_modified, document_not_modified) values (?, ?, 1, ?)
                    on conflict (run_id, source_id) do update set
                    not_modified = not_modified + 1,
                    document_not_modified = document_not_modified + excluded.document_not_modified""",
                    [item["run_id"], item["source_id"], int(item.get("role") == "document")],
                )
            final = item.get("final_url") or item["url"]
            db.execute(
                """update urls set document_url = coalesce(
                (select document_url from urls where url = ?), document_url) where url = ?""",
                [final, item["url"]],
            )
            _seen_unchanged(db, item["url"], final, item["at"], item["run_id"])
        for failure in failures:
            # A reason may quote what a server sent (an API's error message), lone surrogates
            # and all: it must not be the write that loses the batch.
            failure["reason"] = storable_text(failure["reason"])
            db["failures"].insert(
                {k: failure[k] for k in ("run_id", "source_id", "url", "status", "reason", "at")}
            )
            state = url_state(db, failure["url"]) or {}
            fail_count = (state.get("fail_count") or 0) + 1
            db["urls"].upsert(
                {
                    "url": failure["url"],
                    "source_id": failure["source_id"],
                    "role": failure.get("role") or state.get("role"),
                    "last_status": failure.get("status"),
                    "last_run_id": failure["run_id"],
                    "fail_count": fail_count,
                    "next_try_at": backoff_until(failure["at"], fail_count),
                    "last_error": failure["reason"],
                    **(
                        {"declared_modified": failure["declared_modified"]}
                        if failure.get("declared_modified")
                        else {}
                    ),
                },
                pk="url",
            )
            if failure.get("status") in (404, 410):
                mark_gone(db, failure["url"], failure["status"], failure["run_id"], failure["at"])
    return ids


def _stored_sha256(db: sqlite_utils.Database, url: str) -> str | None:
    found = db.execute(
        """select s.body_sha256 from urls u join snapshots s on s.id = u.last_snapshot_id
        where u.url = ?""",
        [url],
    ).fetchone()
    return found[0] if found else None


def _seen_unchanged(db: sqlite_utils.Database, url: str, final: str, at: str, run_id: int) -> None:
    """A page that answered with what is stored (a 304, or the same bytes): its document was
    seen, and is restored if it had been taken down."""
    db.execute(f"update documents set last_seen = ? where {_DOCUMENT_OF_URL}", [at, final, url])
    for document in list(
        rows(
            db,
            f"select id from documents where status = 'removed' and {_DOCUMENT_OF_URL}",
            [final, url],
        )
    ):
        if at > _removed_at(db, document["id"]):
            record_event(
                db,
                document["id"],
                "restored",
                at,
                run_id,
                "the page answers again, unchanged since it was stored",
                "live",
            )


def backoff_until(at: str, fail_count: int) -> str | None:
    """A URL that keeps failing is retried after 0, 1, 2, 4 ... up to 7 days' worth of hours."""
    if fail_count <= 1:
        return None
    hours = min(2 ** (fail_count - 2), 24 * 7)
    return (datetime.fromisoformat(at) + timedelta(hours=hours)).isoformat(timespec="seconds")


def record_event(
    db: sqlite_utils.Database,
    document_id: int,
    kind: str,
    at: str,
    run_id: int | None,
    detail: str,
    status: str | None = None,
) -> None:
    """A dated `events` row for a document, and its new `status` when the event changes it."""
    if status is not None:
        db["documents"].update(document_id, {"status": status})
    db["events"].insert(
        {"document_id": document_id, "kind": kind, "at": at, "run_id": run_id, "detail": detail}
    )


# The document a fetched URL stands for: itself, or the one it last led to (two parameters:
# the URL as the document's address, then as the fetched URL).
_DOCUMENT_OF_URL = "url in (?, (select document_url from urls where url = ?))"


def _removed_at(db: sqlite_utils.Database, document_id: int) -> str:
    """When the document was last marked removed: only a later fetch can show it is back (a
    full re-extraction replays older snapshots, which must not)."""
    found = row(
        db,
        "select max(at) as at from events where document_id = ? and kind = 'removed'",
        [document_id],
    )
    return (found or {}).get("at") or ""


def mark_gone(db: sqlite_utils.Database, url: str, status: int, run_id: int, at: str) -> None:
    """A known document that answers 404/410 is marked removed, with a dated event; kept whole."""
    document = row(db, f"select id, status from documents where {_DOCUMENT_OF_URL}", [url, url])
    if not document or document["status"] == "removed":
        return
    record_event(
        db, document["id"], "removed", at, run_id, f"the page answered HTTP {status}", "removed"
    )


def not_modified_since(db: sqlite_utils.Database, url: str) -> dict | None:
    """The state of a URL we hold a stored copy of (for a conditional request or a date skip)."""
    return row(
        db,
        """select u.url, u.etag, u.last_modified, u.last_fetched_at, u.last_snapshot_id,
        u.declared_modified, u.fail_count, u.next_try_at, u.last_status, u.last_run_id
        from urls u where u.url = ?""",
        [url],
    )


def record_declared_modified(db: sqlite_utils.Database, url: str, modified: str) -> None:
    with transaction(db):
        db.execute("update urls set declared_modified = ? where url = ?", [modified, url])


# Extraction: pending snapshots in, documents, versions and figures out


def pending_snapshot_ids(db: sqlite_utils.Database, everything: bool = False) -> list[int]:
    where = "role = 'document' and status between 200 and 299 and body is not null"
    if not everything:
        where += " and extracted_at is null"
    return [r[0] for r in db.execute(f"select id from snapshots where {where} order by id")]


def snapshots_for_extraction(db: sqlite_utils.Database, snapshot_ids: list[int]) -> dict[int, dict]:
    """Snapshots' bookkeeping (not their bodies) by id, for storing what was extracted."""
    found = rows(
        db,
        f"""select s.id, s.url, s.final_url, s.source_id, s.run_id, s.fetched_at, s.content_type,
        s.last_modified, s.linked_date, s.linked_date_from, s.declared_modified, s.status
        from snapshots s
        where s.id in ({", ".join("?" * len(snapshot_ids))})""",
        snapshot_ids,
    )
    return {snapshot["id"]: snapshot for snapshot in found}


def date_snapshots(
    db: sqlite_utils.Database, run_id: int, dates: dict[str, tuple[str, str]]
) -> None:
    """Give this run's document snapshots of these URLs the date a listing gave them, with its
    kind (`Candidate.published_from`)."""
    if not dates:
        return
    with transaction(db):
        db.conn.executemany(
            """update snapshots set linked_date = ?, linked_date_from = ?
            where run_id = ? and url = ? and role = 'document' and extracted_at is null""",
            [(date, kind, run_id, url) for url, (date, kind) in dates.items()],
        )


def declare_modified(db: sqlite_utils.Database, run_id: int, dates: dict[str, str]) -> None:
    """Give this run's fetches of these URLs the modification date a sitemap, feed or API
    declared after the fetch was made (see `MonitorSpider.modified_later`)."""
    if not dates:
        return
    with transaction(db):
        db.conn.executemany(
            """update snapshots set declared_modified = ?
            where run_id = ? and url = ? and status < 400 and extracted_at is null""",
            [(date, run_id, url) for url, date in dates.items()],
        )
        db.conn.executemany(
            "update urls set declared_modified = ? where url = ? and last_run_id = ?",
            [(date, url, run_id) for url, date in dates.items()],
        )


def mark_extraction_failed(db: sqlite_utils.Database, snapshot: dict, reason: str) -> None:
    """An unreadable document: the snapshot is done with, and the reason is a `failures` row."""
    _give_up(db, snapshot, reason, f"extraction failed: {reason}")


def _give_up(db: sqlite_utils.Database, snapshot: dict, error: str, failure: str) -> None:
    """The snapshot is marked extracted with `error`, so no later run tries it again, and
    `failure` is its row in `failures`."""
    with transaction(db):
        update_row(
            db,
            "snapshots",
            snapshot["id"],
            {"extracted_at": now(), "extract_error": storable_text(error)},
        )
        _snapshot_failure(db, snapshot, failure)


def _snapshot_failure(db: sqlite_utils.Database, snapshot: dict, reason: str) -> None:
    insert_row(
        db,
        "failures",
        {
            "run_id": snapshot["run_id"],
            "source_id": snapshot["source_id"],
            "url": snapshot["final_url"] or snapshot["url"],
            "status": snapshot.get("status"),
            "reason": storable_text(reason),
            "at": now(),
        },
    )


def store_documents(
    db: sqlite_utils.Database, results: list[tuple[dict, Any]], rebuilding: Rebuild
) -> dict[str, int]:
    """Write a batch of extracted documents (with versions, figures and the rest) in one transaction.

    `results` holds each snapshot (as from `snapshots_for_extraction`) with its `extract.Document`
    and the MinHash signature of its text (computed in the worker, where the CPU time is spread).
    `rebuilding` holds the documents a full re-extraction is rebuilding (see
    `documents_to_rebuild`); the first snapshot of each resets its history.

    Each document is written in a savepoint of its own: one whose values SQLite cannot take
    (`UNSTORABLE`) is rolled back alone and recorded as a failure (`counts["unstorable"]`: its
    snapshot and the reason), so one bad page cannot keep a batch, or every later run, from the
    archive. Any other error rolls the whole batch back, as before.
    """
    counts: dict[str, Any] = {
        "new": 0,
        "changed": 0,
        "same": 0,
        "touched": set(),
        "unstorable": [],
    }
    with transaction(db):
        for snapshot, doc, minhash in results:
            # A full re-extraction's bookkeeping changes with the document's rows: kept apart
            # until they are stored, so a document rolled back leaves it as it was.
            started: Rebuild = {}
            try:
                with savepoint(db, "document"):
                    outcome, document_id = _store_document(
                        db, snapshot, doc, ChainMap(started, rebuilding)
                    )
                    if outcome != "same":
                        store_signature(db, document_id, minhash)
                    update_row(
                        db,
                        "snapshots",
                        snapshot["id"],
                        {"extracted_at": now(), "extract_error": None},
                    )
                    _record_omissions(db, snapshot, doc)
            except UNSTORABLE as exc:
                if not _from_values(exc):
                    raise
                reason = f"could not store: {_unstorable_reason(doc, exc)}"[:500]
                _give_up(db, snapshot, reason, reason)
                counts["unstorable"].append((snapshot, reason))
                continue
            rebuilding.update(started)
            counts[outcome] += 1
            if outcome != "same":
                counts["touched"].add(document_id)
    return counts


#: What a document's own values can raise on the way into SQLite: text UTF-8 cannot encode (a
#: lone surrogate), a number too large for an INTEGER, a value of a type SQLite cannot bind, a
#: constraint it breaks. A full disk or a broken archive (`OperationalError`, `DatabaseError`,
#: `OSError`) is not among them: that stops the run.
UNSTORABLE = (
    ValueError,
    OverflowError,
    TypeError,
    sqlite3.InterfaceError,
    sqlite3.DataError,
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
)


def _from_values(exc: BaseException) -> bool:
    """Whether an `UNSTORABLE` error came from the values written: a `ProgrammingError` is also
    what a closed connection raises, which is no fault of the document."""
    return not isinstance(exc, sqlite3.ProgrammingError) or str(exc).startswith(
        "Error binding parameter"
    )


def _unstorable_reason(doc: Any, exc: BaseException) -> str:
    """What kept a document out of the archive, naming the field when it is unencodable text."""
    if isinstance(exc, UnicodeEncodeError):
        where = _unencodable_at(doc, "") or "a value"
        return f"{where} holds text that is not valid Unicode ({exc})"
    return f"{type(exc).__name__}: {exc}"


def _unencodable_at(value: Any, path: str) -> str | None:
    """The first place in a document (a field, `figures[3].sentence`) holding text UTF-8 cannot
    encode, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if is_dataclass(value) and not isinstance(value, type):
        parts: Iterable[tuple[str, Any]] = (
            (f"{path}.{f.name}" if path else f.name, getattr(value, f.name)) for f in fields(value)
        )
    elif isinstance(value, dict):
        parts = ((f"{path}[{key!r}]", item) for key, item in value.items())
    elif isinstance(value, list | tuple):
        parts = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for where, item in parts:
        found = _unencodable_at(item, where)
        if found:
            return found
    return None


def _record_omissions(db: sqlite_utils.Database, snapshot: dict, doc: Any) -> None:
    """Kept, but incomplete: the reader is told what is missing, as for any failure (once per
    fetch: `extract --all` reads the same snapshot again)."""
    for omission in getattr(doc, "omissions", None) or []:
        reason = f"read in part: {omission}"
        url = snapshot["final_url"] or snapshot["url"]
        if not db.execute(
            "select 1 from failures where run_id = ? and url = ? and reason = ?",
            [snapshot["run_id"], url, reason],
        ).fetchone():
            _snapshot_failure(db, snapshot, reason)


def _store_document(
    db: sqlite_utils.Database,
    snapshot: dict,
    doc: Any,
    rebuilding: Rebuild,
) -> tuple[str, int]:
    from extract.diff import content_hash, word_diff
    from extract.links import normalize_url

    url = getattr(doc, "canonical_url", None) or snapshot["final_url"] or snapshot["url"]
    seen_at = snapshot["fetched_at"]
    db.execute(
        "update urls set document_url = ? where url in (?, ?)",
        [url, snapshot["url"], snapshot["final_url"] or snapshot["url"]],
    )
    digest = content_hash(doc.title, doc.text)
    existing = row(db, "select * from documents where url = ?", [url])
    published, published_from = _publication_date(doc, snapshot, existing)
    fields = {
        "url": url,
        "url_key": normalize_url(url),
        "source_id": snapshot["source_id"],
        "content_type": doc.content_type,
        "title": doc.title,
        "author": doc.author,
        "published": published,
        "published_from": published_from,
        "updated": doc.updated,
        "description": doc.description,
        "language": doc.language,
        "site_name": doc.site_name,
        "text": doc.text,
        "word_count": doc.word_count,
        "content_hash": digest,
        "snapshot_id": snapshot["id"],
        "page_starts": to_json(doc.page_starts) if doc.page_starts else None,
    }
    if existing and existing["id"] in rebuilding and rebuilding[existing["id"]] is None:
        rebuilding[existing["id"]] = Rebuilt(
            {
                (r["snapshot_id"], r["content_hash"]): r["id"]
                for r in rows(
                    db,
                    "select id, snapshot_id, content_hash from versions where document_id = ?",
                    [existing["id"]],
                )
            }
        )
        db.execute("delete from versions where document_id = ?", [existing["id"]])
        db.execute("delete from events where document_id = ? and kind = 'edited'", [existing["id"]])
        existing["content_hash"] = None
        existing["version_count"] = 0
        existing["first_seen"] = seen_at
    if existing is None:
        fields.update(
            first_seen=seen_at,
            last_seen=seen_at,
            last_changed=seen_at,
            version_count=1,
            status="live",
        )
        document_id = insert_row(db, "documents", fields)
        _insert_version(db, document_id, snapshot, doc, digest, None, None, None)
        outcome = "new"
    else:
        document_id = existing["id"]
        fields["last_seen"] = max(seen_at, existing["last_seen"] or seen_at)
        fields["first_seen"] = existing["first_seen"] or seen_at
        if existing["content_hash"] == digest:
            # Title and text are unchanged: leave them out, so the FTS index is not rebuilt.
            unchanged = {k: v for k, v in fields.items() if k not in ("title", "text")}
            update_row(db, "documents", document_id, unchanged)
            outcome = "same"
        else:
            previous = row(
                db,
                """select v.title, v.text, v.seen_at, s.declared_modified from versions v
                left join snapshots s on s.id = v.snapshot_id
                where v.document_id = ? order by v.seen_at desc, v.id desc limit 1""",
                [document_id],
            )
            first = not existing["version_count"]
            diff = (
                None
                if first or previous is None
                else word_diff(
                    f"{previous['title'] or ''}\n\n{previous['text'] or ''}",
                    f"{doc.title or ''}\n\n{doc.text}",
                )
            )
            declared = None if first else _declared_change(doc, existing, snapshot, previous or {})
            fields.update(last_changed=seen_at, version_count=(existing["version_count"] or 0) + 1)
            update_row(db, "documents", document_id, fields)
            _insert_version(
                db,
                document_id,
                snapshot,
                doc,
                digest,
                diff,
                declared,
                rebuilt := _old_version(rebuilding, document_id, snapshot, digest),
            )
            if not first:
                detail = f"declared: {declared}" if declared else "undeclared edit"
                record_event(db, document_id, "edited", seen_at, snapshot["run_id"], detail)
            # A version rebuilt as it was is no news: `extract --all` reports it unchanged.
            outcome = "same" if rebuilt is not None else "new" if first else "changed"
        if existing["status"] == "removed" and seen_at > _removed_at(db, document_id):
            record_event(
                db,
                document_id,
                "restored",
                seen_at,
                snapshot["run_id"],
                "the page answers again",
                "live",
            )
    if doc.withdrawn:
        _mark_withdrawn(db, document_id, doc.withdrawn, snapshot)
    state = rebuilding.get(document_id)
    if state is not None:
        state = rebuilding[document_id] = state.copy()
    _replace_children(
        db,
        document_id,
        doc,
        replacing=existing is not None,
        retired=None if state is None else state.retired,
    )
    return outcome, document_id


def _publication_date(
    doc: Any, snapshot: dict, existing: dict | None
) -> tuple[str | None, str | None]:
    """A document's publication date and where it came from (see `Document.published_from`).

    What the document declares comes first; then the date a feed, sitemap or API gave it (see
    `_listed_date`), which beats htmldate's guess from the page ("Last modified: 20/03/2025" in
    a byline is not when it was published); for a PDF, last of all, its Last-Modified header,
    which the date of its publisher's page linking to it replaces once that is known
    (`date_pdfs_by_linking_pages`).
    """
    declared = doc.published_from or ("pdf metadata" if doc.content_type == "pdf" else "page")
    own = doc.published if _not_after_fetch(doc.published, snapshot) else None
    if own and declared != "page guess":
        return own, declared
    listed = _listed_date(snapshot, existing)
    if listed:
        return listed
    if own:
        return own, declared
    if doc.content_type == "pdf":
        modified = _http_date_iso(snapshot.get("last_modified"))
        if modified:
            return modified, "last-modified"
    return None, None


def _listed_date(snapshot: dict, existing: dict | None) -> tuple[str, str] | None:
    """The date feeds, sitemaps or APIs gave the document: this fetch's, or one an earlier fetch
    kept, whichever `preferred_listed_date` prefers.

    A listing's date outlives the listing: a page that drops out of its feed keeps the date the
    feed gave it. The `updated` of an Atom entry with no other date ("feed updated") ranks
    below a listing's publication date but above htmldate's guess: it is the publisher's own
    word on this entry, never earlier than publication and, for an entry seen while new, within
    hours of it, where a date read from the text may be any date the text mentions.
    """
    given = snapshot.get("linked_date")
    offered = None
    if _not_after_fetch(given, snapshot):
        offered = (given, snapshot.get("linked_date_from") or LISTING)
    held = None
    if (
        existing
        and existing["published_from"] in (LISTING, FEED_UPDATED)
        and _not_after_fetch(existing["published"], snapshot)
    ):
        held = (existing["published"], existing["published_from"])
    return preferred_listed_date(offered, held)


def _not_after_fetch(published: str | None, snapshot: dict) -> bool:
    """Whether a date is one at all and not after the fetch: a date after it is a mistake (a PDF
    made on a machine whose clock said 2099, an event's date taken for the page's, a feed
    writing US dates day first), not a publication date."""
    return bool(published) and published[:10] <= _day_after(snapshot)


def _day_after(snapshot: dict) -> str:
    """The day after the fetch, as YYYY-MM-DD: time zones put a fresh page's date up to a day
    ahead of the crawler's UTC clock."""
    fetched = snapshot.get("fetched_at") or now()
    try:
        day = datetime.fromisoformat(fetched).date()
    except ValueError:
        return "9999-12-31"
    return (day + timedelta(days=1)).isoformat()


def date_pdfs_by_linking_pages(db: sqlite_utils.Database) -> int:
    """Date PDFs that declare no date by their publisher's page that links to them.

    ARCHITECTURE.md: a PDF's date is its metadata's, else the linking page's, else its
    Last-Modified header. The linking page's own date is known only once it is extracted,
    perhaps after the PDF, so this runs after each extraction. Only pages of the PDF's own
    source count (the press release of the report): a news story linking a years-old report
    does not date it. The earliest such page wins.
    """
    with transaction(db):
        return db.execute(
            """update documents set published_from = 'linking page', published = (
                select min(page.published) from links l
                join documents page on page.id = l.document_id
                where l.target_document_id = documents.id and page.source_id = documents.source_id
                and page.content_type = 'html' and page.published is not null)
            where content_type = 'pdf'
            and (published is null or published_from in ('last-modified', 'linking page'))
            and exists (
                select 1 from links l join documents page on page.id = l.document_id
                where l.target_document_id = documents.id and page.source_id = documents.source_id
                and page.content_type = 'html' and page.published is not null)"""
        ).rowcount


def _old_version(rebuilding: Rebuild, document_id: int, snapshot: dict, digest: str) -> int | None:
    """The id a rebuilt version had before, when the same snapshot gave the same content."""
    rebuilt = rebuilding.get(document_id)
    return None if rebuilt is None else rebuilt.versions.get((snapshot["id"], digest))


def _insert_version(db, document_id, snapshot, doc, digest, diff, declared, version_id) -> None:
    insert_row(
        db,
        "versions",
        {
            # A rebuilt version keeps its id: saved links to it stay good.
            **({"id": version_id} if version_id is not None else {}),
            "document_id": document_id,
            "seen_at": snapshot["fetched_at"],
            "content_hash": digest,
            "title": doc.title,
            "text": doc.text,
            "snapshot_id": snapshot["id"],
            "run_id": snapshot["run_id"],
            "diff": diff,
            "declared_change": declared,
        },
    )


def _declared_change(doc: Any, existing: dict, snapshot: dict, previous: dict) -> str | None:
    """The publisher's own change note, when it declared a change since the stored version.

    The page's own update date (or GOV.UK's change notes) says so first; failing that, a
    modification date its sitemap, feed or API gave it that moved since the stored version was
    fetched (a sitemap `lastmod` or Atom `updated` a CMS bumps on every edit).
    """
    history = getattr(doc, "change_history", None) or []
    if doc.updated and doc.updated != existing.get("updated"):
        # Strictly later: a note dated at the stored update belongs to the stored version.
        notes = [
            h.get("note")
            for h in history
            if (h.get("public_timestamp") or "") > (existing.get("updated") or "")
        ]
        return "; ".join(n for n in notes if n) or f"publisher's update date moved to {doc.updated}"
    listed, was = snapshot.get("declared_modified"), previous.get("declared_modified")
    if listed and (listed != was if was else listed > (previous.get("seen_at") or "")):
        return f"its sitemap, feed or API entry was dated {listed}"
    return None


def _mark_withdrawn(db, document_id: int, notice: str, snapshot: dict) -> None:
    found = row(db, "select status from documents where id = ?", [document_id])
    if found and found["status"] == "withdrawn":
        return
    record_event(
        db,
        document_id,
        "withdrawn",
        snapshot["fetched_at"],
        snapshot["run_id"],
        notice,
        "withdrawn",
    )


#: A figure's columns; the first two, the number as written and its sentence, say which figure
#: it is (`CHILD_TABLES`).
FIGURE_COLUMNS = (
    "text",
    "sentence",
    "value",
    "value_min",
    "value_max",
    "unit",
    "kind",
    "denominator",
    "start",
    "end",
    "page",
    "qualifier",
    "period",
)


_figure_values = attrgetter(*FIGURE_COLUMNS)


@dataclass(frozen=True)
class ChildRows:
    """How a document's rows in one child table are told apart from one extraction to the next.

    Each of `identities` names columns that, all alike, make a stored row and a new one the
    same row; they are tried in turn on the rows not yet paired. A row paired keeps its id and
    takes the new values of the rest (a figure's offsets when text above it is edited).
    `order` is the document's order, so that rows alike (a sentence said twice) pair in turn.
    """

    columns: tuple[str, ...]
    identities: tuple[tuple[str, ...], ...]
    order: str

    def keys(self) -> list[Callable[[tuple], Any]]:
        return [itemgetter(*map(self.columns.index, names)) for names in self.identities]


#: The rows that describe a document's latest version (all but mentions have public ids).
CHILD_TABLES: dict[str, ChildRows] = {
    # A figure is a number as written in its sentence: an edit above it moves its offsets and
    # page, a better extractor may read its unit or period anew, and it is still the figure a
    # saved link names. So is the same number read alike in a sentence reworded around it (a
    # "more than double" after the sentence's other number was corrected). A changed number
    # is another figure.
    "figures": ChildRows(
        FIGURE_COLUMNS,
        (
            ("text", "sentence"),
            ("text", "value", "value_min", "value_max", "unit", "kind", "denominator", "qualifier"),
        ),
        "start",
    ),
    "links": ChildRows(
        ("url", "normalized_url", "anchor", "page"),
        (("url", "normalized_url", "anchor", "page"), ("url", "normalized_url", "anchor")),
        "rowid",
    ),
    "tables": ChildRows(
        ("caption", "header", "rows", "position"), (("caption", "header", "rows"),), "position"
    ),
    "images": ChildRows(("src", "alt", "caption"), (("src", "alt", "caption"),), "rowid"),
    "mentions": ChildRows(("entity_id", "count"), (("entity_id",),), "rowid"),
}


def _child_values(doc: Any) -> dict[str, list[tuple]]:
    from extract.links import normalize_url

    return {
        "figures": [_figure_values(f) for f in doc.figures],
        "links": [
            (link.url, normalize_url(link.url), link.anchor, link.page) for link in doc.links
        ],
        "tables": [
            (t.caption, to_json(t.header), to_json(t.rows), i) for i, t in enumerate(doc.tables)
        ],
        "images": [(im.src, im.alt, im.caption) for im in doc.images],
        "mentions": [(m.entity_id, m.count) for m in doc.mentions],
    }


def _insert_rows(
    db: sqlite_utils.Database,
    table: str,
    columns: tuple[str, ...],
    document_id: int,
    values: list[tuple],
    ids: list[int | None] | None = None,
) -> None:
    """Many child rows at once, each with the id given for it in `ids` (None: a new one).

    Plain `executemany` here: sqlite-utils' per-row type coercion costs more than the insert
    itself for the dozens of figures a report carries.
    """
    if not values:
        return
    names = ", ".join(f"[{c}]" for c in ("document_id", *columns))
    marks = ", ".join("?" for _ in range(len(columns) + 1))
    if ids and any(i is not None for i in ids):
        kept = [(i, document_id, *v) for i, v in zip(ids, values, strict=True) if i is not None]
        db.conn.executemany(f"insert into [{table}] (rowid, {names}) values (?, {marks})", kept)
        values = [v for i, v in zip(ids, values, strict=True) if i is None]
    if values:
        rows_ = [(document_id, *v) for v in values]
        db.conn.executemany(f"insert into [{table}] ({names}) values ({marks})", rows_)


def _replace_children(
    db: sqlite_utils.Database,
    document_id: int,
    doc: Any,
    replacing: bool,
    retired: dict[str, list[tuple[int, tuple]]] | None = None,
) -> None:
    """Figures, links, tables, images and mentions always describe the latest version.

    Each row still there after an edit or a re-extraction keeps its id (`_sync_rows`): a saved
    link to a figure stays good. A new document has none to compare: `replacing=False`.
    """
    for table, values in _child_values(doc).items():
        spec = CHILD_TABLES[table]
        if not replacing:
            _insert_rows(db, table, spec.columns, document_id, values)
            continue
        taken = None if retired is None else retired.setdefault(table, [])
        if not _sync_rows(db, table, spec, document_id, values, taken):
            continue
        if table in ("figures", "links"):
            # This document's checks of what it cites are made again after this extraction
            # (`citation_pairs_without_checks`), and, when its figures changed, the checks of
            # other documents' quotes against them.
            db.execute("delete from figure_checks where document_id = ?", [document_id])
        if table == "figures":
            db.execute("delete from figure_checks where cited_document_id = ?", [document_id])


def _sync_rows(
    db: sqlite_utils.Database,
    table: str,
    spec: ChildRows,
    document_id: int,
    values: list[tuple],
    retired: list[tuple[int, tuple]] | None,
) -> bool:
    """Bring a document's rows in `table` to `values`, keeping the id of each row still there.

    Only rows that went away are deleted and only new ones inserted; a row paired with a new
    one (`ChildRows`) is updated in place. `retired` (a full re-extraction, which replays a
    document's history oldest first) collects the rows taken away, and gives each id back to a
    later snapshot's row that pairs with it. Returns whether anything changed.
    """
    names = ", ".join(f"[{c}]" for c in spec.columns)
    found = db.execute(
        f"select rowid, {names} from [{table}] where document_id = ? order by {spec.order}, rowid",
        [document_id],
    ).fetchall()
    if len(found) == len(values) and all(r[1:] == v for r, v in zip(found, values, strict=True)):
        return False
    paired, gone, added = _pair([(r[0], r[1:]) for r in found], values, spec)
    ids: list[int | None] = [None] * len(added)
    if retired is not None:
        back, retired[:], _ = _pair(retired, [values[i] for i in added], spec)
        for position, rowid, _ in back:
            ids[position] = rowid
        retired.extend(gone)
    if gone:
        db.conn.executemany(f"delete from [{table}] where rowid = ?", [(r,) for r, _ in gone])
    changed = [(*values[i], rowid) for i, rowid, was in paired if was != values[i]]
    if changed:
        updates = ", ".join(f"[{c}] = ?" for c in spec.columns)
        db.conn.executemany(f"update [{table}] set {updates} where rowid = ?", changed)
    _insert_rows(db, table, spec.columns, document_id, [values[i] for i in added], ids)
    return bool(gone or changed or added)


def _pair(
    rows_: list[tuple[int, tuple]], values: list[tuple], spec: ChildRows
) -> tuple[list[tuple[int, int, tuple]], list[tuple[int, tuple]], list[int]]:
    """Pair stored rows (rowid, values) with new values, by each identity in turn, in order.

    Returns the pairs (index in `values`, rowid, stored values), the rows left over and the
    indexes of the values left over.
    """
    paired: list[tuple[int, int, tuple]] = []
    left = list(range(len(values)))
    for key in spec.keys():
        if not rows_ or not left:
            break
        waiting: dict[Any, deque[tuple[int, tuple]]] = {}
        for rowid, found in rows_:
            waiting.setdefault(key(found), deque()).append((rowid, found))
        unpaired = []
        for i in left:
            queue = waiting.get(key(values[i]))
            if queue:
                paired.append((i, *queue.popleft()))
            else:
                unpaired.append(i)
        left = unpaired
        still = {rowid for queue in waiting.values() for rowid, _ in queue}
        rows_ = [entry for entry in rows_ if entry[0] in still]
    return paired, rows_, left


def _http_date_iso(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError):
        return None


@dataclass
class Rebuilt:
    """A document a full re-extraction is rebuilding, from its first snapshot stored on.

    `versions` holds the ids its versions had, by (snapshot id, content hash), for the rebuilt
    versions to keep; `retired` the child rows (rowid, values) an earlier snapshot of the
    rebuild took away, by table (see `_sync_rows`), for the later one that brings them back.
    """

    versions: dict[tuple[int, str], int]
    retired: dict[str, list[tuple[int, tuple]]] = field(default_factory=dict)

    def copy(self) -> Rebuilt:
        """A copy to change: the document's savepoint may yet be rolled back."""
        return Rebuilt(self.versions, {t: list(rows_) for t, rows_ in self.retired.items()})


#: Documents a full re-extraction rebuilds: None until the first of its snapshots is stored.
Rebuild = MutableMapping[int, Rebuilt | None]


def documents_to_rebuild(db: sqlite_utils.Database) -> Rebuild:
    return {r[0]: None for r in db.execute("select id from documents")}


def resolve_links(db: sqlite_utils.Database) -> list[tuple[int, int]]:
    """Point links at archived documents (also those archived after the citing one).

    Returns the (citing, cited) document pairs newly connected, for figure checks.
    """
    with transaction(db):
        pending = list(
            db.execute(
                """select l.id, l.document_id, d.id from links l
                join documents d on d.url_key = l.normalized_url
                where l.target_document_id is null and d.id != l.document_id"""
            )
        )
        # A link to an address that redirects ("/download/summary" to the PDF): the crawl
        # recorded which document that address led to.
        pending += db.execute(
            """select l.id, l.document_id, d.id from links l
            join urls u on u.url = l.url join documents d on d.url = u.document_url
            where l.target_document_id is null and d.id != l.document_id
            and l.id not in (select value from json_each(?))""",
            [to_json([link_id for link_id, _, _ in pending])],
        ).fetchall()
        for link_id, _, target in pending:
            db.execute("update links set target_document_id = ? where id = ?", [target, link_id])
    return sorted({(citing, cited) for _, citing, cited in pending})


def figures_of(db: sqlite_utils.Database, document_id: int) -> list[dict]:
    return list(
        db.query("select * from figures where document_id = ? order by start", [document_id])
    )


def citation_pairs_without_checks(db: sqlite_utils.Database) -> list[tuple[int, int]]:
    """Citing and cited documents to compare: pairs never compared, and pairs whose checks name
    no version of the cited document that is still there (made before versions were compared,
    schema 9, or before a full re-extraction rebuilt its history)."""
    return [
        (a, b)
        for a, b in db.execute(
            """select distinct l.document_id, l.target_document_id from links l
            where l.target_document_id is not null and not exists (
              select 1 from figure_checks c join versions v on v.id = c.cited_version_id
              where c.document_id = l.document_id
              and c.cited_document_id = l.target_document_id)"""
        )
    ]


def citing_date(db: sqlite_utils.Database, document_id: int) -> str | None:
    """When a citing document said what it says: its publication date, else when first seen."""
    found = row(
        db,
        "select coalesce(published, first_seen) as at from documents where id = ?",
        [document_id],
    )
    return found["at"] if found else None


def versions_seen(db: sqlite_utils.Database, document_id: int) -> list[dict]:
    """A document's versions (id, seen_at), oldest first; the last is its current text."""
    return list(
        rows(
            db,
            "select id, seen_at from versions where document_id = ? order by seen_at, id",
            [document_id],
        )
    )


def version_text(db: sqlite_utils.Database, version_id: int) -> str:
    found = row(db, "select text from versions where id = ?", [version_id])
    return (found["text"] if found else None) or ""


def replace_figure_checks(
    db: sqlite_utils.Database,
    document_id: int,
    cited_document_id: int,
    checks: list[dict],
    cited_version_id: int | None,
) -> None:
    """Store the comparison of a citing document's figures with a version of a cited one.

    A pair compared with no match still gets one row (status 'none') so it is not compared again.
    """
    with transaction(db):
        db.execute(
            "delete from figure_checks where document_id = ? and cited_document_id = ?",
            [document_id, cited_document_id],
        )
        rows_ = checks or [
            {
                "figure_id": None,
                "cited_figure_id": None,
                "status": "none",
                "note": "no shared figures",
            }
        ]
        db["figure_checks"].insert_all(
            {
                **c,
                "document_id": document_id,
                "cited_document_id": cited_document_id,
                "cited_version_id": cited_version_id,
            }
            for c in rows_
        )


def mark_seen(db: sqlite_utils.Database, urls: list[str], at: str) -> None:
    """Documents still listed with an unchanged date were seen this run, though not fetched.

    A listed URL stands for the document it last led to (`urls.document_url`): the page it
    redirected to, or a GOV.UK Content API item's public page.
    """
    with transaction(db):
        db.conn.executemany(
            f"update documents set last_seen = ? where {_DOCUMENT_OF_URL}",
            [(at, url, url) for url in urls],
        )


def reconcile_sitemap_listing(
    db: sqlite_utils.Database, source_id: str, listed: set[str], run_id: int
) -> dict[str, int]:
    """After a complete read of a source's sitemaps: documents that left it are marked removed,
    those that came back are restored, each with a dated event. Nothing is deleted."""
    at = now()
    counts = {"removed": 0, "restored": 0}
    with transaction(db):
        previously = {
            url
            for (url,) in db.execute(
                "select url from urls where source_id = ? and listed_run_id is not null",
                [source_id],
            )
        }
        db.conn.executemany(
            """insert into urls (url, source_id, listed_run_id) values (?, ?, ?)
            on conflict(url) do update set listed_run_id = excluded.listed_run_id""",
            [(url, source_id, run_id) for url in listed],
        )
        for url in previously - listed:
            db.execute("update urls set listed_run_id = null where url = ?", [url])
            document = row(db, "select id from documents where url = ? and status = 'live'", [url])
            if document:
                record_event(
                    db,
                    document["id"],
                    "removed",
                    at,
                    run_id,
                    "no longer listed in the source's sitemap",
                    "removed",
                )
                counts["removed"] += 1
        for url in listed - previously:
            document = row(
                db, "select id from documents where url = ? and status = 'removed'", [url]
            )
            if document:
                record_event(
                    db,
                    document["id"],
                    "restored",
                    at,
                    run_id,
                    "listed in the source's sitemap again",
                    "live",
                )
                counts["restored"] += 1
    return counts


def sync_entities(db: sqlite_utils.Database, entities: Iterable[Any]) -> None:
    """Upsert the gazetteer into `entities`, so mentions facet and label by name."""
    with transaction(db):
        db["entities"].upsert_all(
            (
                {
                    "id": e.id,
                    "name": e.name,
                    "kind": e.kind,
                    "aliases": to_json(list(e.aliases)),
                    "former_names": to_json(list(e.former_names)),
                }
                for e in entities
            ),
            pk="id",
        )


def signatures(db: sqlite_utils.Database) -> Iterator[tuple[int, bytes]]:
    yield from db.execute(
        """select s.document_id, s.minhash from signatures s join documents d on d.id = s.document_id
        order by d.first_seen, d.id"""
    )


def store_signature(db: sqlite_utils.Database, document_id: int, minhash: bytes) -> None:
    upsert_row(db, "signatures", {"document_id": document_id, "minhash": minhash}, "document_id")


def set_duplicate_of(db: sqlite_utils.Database, pairs: list[tuple[int, int | None]]) -> None:
    with transaction(db):
        for document_id, original in pairs:
            db.execute(
                "update documents set duplicate_of = ? where id = ?", [original, document_id]
            )


# Reading: search and status


def search(db: sqlite_utils.Database, query: str, limit: int = 20) -> list[dict]:
    """Full-text search, best match first (a title match counts ten times a text match, as in
    Datasette's search query), with a highlighted snippet of the text and the same `relevance`
    the web shows (bm25 with its sign turned: higher is better).

    `query` is FTS5 syntax FTS5 accepts: the CLI repairs what a person types with the search
    plugin's `fts_query` first, as Datasette does.
    """
    sql = """select d.id, d.url, d.title, d.published, d.source_id, d.status, s.name as source_name,
        snippet(documents_fts, 1, '[', ']', ' … ', 24) as snippet,
        round(-documents_fts.rank, 3) as relevance
        from documents_fts join documents d on d.rowid = documents_fts.rowid
        left join sources s on s.id = d.source_id
        where documents_fts match ? and rank match 'bm25(10.0, 1.0)' and d.duplicate_of is null
        order by documents_fts.rank limit ?"""
    return list(db.query(sql, [query, limit]))


def counts_by_source(db: sqlite_utils.Database) -> list[dict]:
    return list(
        db.query(
            """select s.id, s.name, s.kind,
            (select count(*) from documents d where d.source_id = s.id) as documents,
            (select max(last_seen) from documents d where d.source_id = s.id) as last_seen
            from sources s order by s.id"""
        )
    )


def recent_runs(db: sqlite_utils.Database, limit: int = 5) -> list[dict]:
    return list(db.query("select * from runs order by id desc limit ?", [limit]))


def failures_of_run(db: sqlite_utils.Database, run_id: int, limit: int = 5) -> list[dict]:
    return list(
        db.query("select * from failures where run_id = ? order by id limit ?", [run_id, limit])
    )


def recent_failures(db: sqlite_utils.Database, limit: int = 10) -> list[dict]:
    return list(db.query("select * from failures order by id desc limit ?", [limit]))


def totals(db: sqlite_utils.Database) -> ArchiveCounts:
    def count(table: str) -> int:
        return db.execute(f"select count(*) from [{table}]").fetchone()[0]

    return ArchiveCounts(
        documents=count("documents"),
        versions=count("versions"),
        figures=count("figures"),
        snapshots=count("snapshots"),
        failures=count("failures"),
    )


@dataclass
class ArchiveCounts:
    documents: int
    versions: int
    figures: int
    snapshots: int
    failures: int


# Watches, alerts and source health


def documents_touched_in_run(db: sqlite_utils.Database, run_id: int) -> list[dict]:
    """Documents that run `run_id` added or changed, with their source and its kind.

    `reason` is 'new' when the document's first version came from this run, else 'changed'; a
    document both added and revised in one run counts once, as new. Near-duplicates
    (`duplicate_of` set) are left out so one syndicated story alerts once.
    """
    return list(
        db.query(
            f"""
            with touched as (
              select v.document_id,
                max(v.id = {_FIRST_VERSION}) as is_new
              from versions v join runs r on r.id = ? where {_VERSION_OF_RUN}
              group by v.document_id
            )
            select d.id as document_id, case when t.is_new then 'new' else 'changed' end as reason,
              d.source_id, s.kind as source_kind
            from touched t
            join documents d on d.id = t.document_id
            left join sources s on s.id = d.source_id
            where d.duplicate_of is null
            order by d.id
            """,
            [run_id],
        )
    )


#: Above this many candidates one full FTS match is cheaper than a lookup per document.
_FTS_LOOKUP_LIMIT = 1000


def documents_matching(db: sqlite_utils.Database, query: str, document_ids: list[int]) -> set[int]:
    """Which of `document_ids` match the FTS5 `query` (on their current title and text).

    The rowid constraint sits in the FTS query itself: written as a correlated EXISTS, SQLite ran
    the whole match once per document (minutes on a 50,000-document archive, not milliseconds).
    """
    if not document_ids:
        return set()
    if len(document_ids) > _FTS_LOOKUP_LIMIT:
        wanted = set(document_ids)
        found = db.execute("select rowid from documents_fts where documents_fts match ?", [query])
        return {r for (r,) in found if r in wanted}
    found = db.execute(
        """select rowid from documents_fts where documents_fts match ?
        and rowid in (select value from json_each(?))""",
        [query, to_json(document_ids)],
    )
    return {r for (r,) in found}


def insert_alerts(db: sqlite_utils.Database, alerts: list[dict]) -> None:
    """Insert alert rows, ignoring any already recorded for the same watch, document, reason and run."""
    with transaction(db):
        db["alerts"].insert_all(alerts, ignore=True)


_ALERT_COLUMNS = """a.id, a.watch, a.document_id, a.run_id, a.matched_at, a.reason, a.delivered_at,
  d.url, d.title, d.source_id, src.name as source_name, src.kind as source_kind, d.published,
  d.description"""


def alerts_of_run(db: sqlite_utils.Database, run_id: int, watches: list[str]) -> list[dict]:
    """The alerts of one run for the named watches, with the document fields a message needs."""
    return list(
        db.query(
            f"""select {_ALERT_COLUMNS} from alerts a
            join documents d on d.id = a.document_id left join sources src on src.id = d.source_id
            where a.run_id = ? and a.watch in (select value from json_each(?))
            order by a.watch, a.id""",
            [run_id, to_json(watches)],
        )
    )


def mark_alerts_delivered(db: sqlite_utils.Database, alert_ids: list[int], at: str) -> None:
    with transaction(db):
        db.execute(
            "update alerts set delivered_at = ? where id in (select value from json_each(?))",
            [at, to_json(alert_ids)],
        )


def query_alerts(
    db: sqlite_utils.Database, since: str | None = None, watch: str | None = None
) -> list[dict]:
    """Alerts newest first, optionally matched at or after `since` (ISO 8601) and for one watch."""
    return list(
        db.query(
            f"""select {_ALERT_COLUMNS} from alerts a
            join documents d on d.id = a.document_id left join sources src on src.id = d.source_id
            where (:since is null or a.matched_at >= :since) and (:watch is null or a.watch = :watch)
            order by a.matched_at desc, a.id desc""",
            {"since": since, "watch": watch},
        )
    )


def alerting_watches(db: sqlite_utils.Database) -> list[str]:
    """Names of the watches with at least one alert (read from the `(watch, matched_at)` index)."""
    return [name for (name,) in db.execute("select distinct watch from alerts order by watch")]


def sources_for_health(db: sqlite_utils.Database) -> list[dict]:
    """Every source the archive knows: the registry's rows, and any source id documents carry."""
    return list(
        db.query(
            """select id, name, kind from sources
            union select distinct source_id, null, null from documents
              where source_id is not null and source_id not in (select id from sources)
            order by id"""
        )
    )


def runs_newest_first(db: sqlite_utils.Database) -> list[dict]:
    return list(
        db.query(
            """select id, status, sources, started_at, finished_at, not_modified, skipped_unchanged
            from runs order by id desc"""
        )
    )


def source_run_activity(db: sqlite_utils.Database, run_ids: list[int]) -> dict[tuple, dict]:
    """What each source got back in each of the given runs, keyed by (run_id, source_id).

    pages: responses with a body (2xx snapshots); document_pages: those of document URLs;
    not_modified: 304s (from `run_sources`; for runs before it, the URLs whose latest answer,
    given in that run, was a 304), and document_not_modified those of document URLs; failures;
    new and changed documents.
    """
    ids = to_json(run_ids)
    activity: dict[tuple, dict] = {}

    def slot(run_id: int, source_id: str) -> dict:
        return activity.setdefault(
            (run_id, source_id),
            {
                "pages": 0,
                "document_pages": 0,
                "not_modified": 0,
                "document_not_modified": 0,
                "failures": 0,
                "new": 0,
                "changed": 0,
            },
        )

    for r in db.query(
        """select run_id, source_id, count(*) as pages,
          sum(role = 'document') as document_pages
        from snapshots where run_id in (select value from json_each(?))
          and status between 200 and 299
        group by run_id, source_id""",
        [ids],
    ):
        entry = slot(r["run_id"], r["source_id"])
        entry["pages"] = r["pages"]
        entry["document_pages"] = r["document_pages"] or 0
    for r in db.query(
        """select last_run_id as run_id, source_id, count(*) as n,
          sum(role = 'document') as documents from urls
        where last_status = 304 and last_run_id in (select value from json_each(?))
        group by last_run_id, source_id""",
        [ids],
    ):
        entry = slot(r["run_id"], r["source_id"])
        entry["not_modified"] = r["n"]
        entry["document_not_modified"] = r["documents"] or 0
    for r in db.query(
        """select run_id, source_id, not_modified, document_not_modified from run_sources
        where run_id in (select value from json_each(?))""",
        [ids],
    ):
        entry = slot(r["run_id"], r["source_id"])
        entry["not_modified"] = max(entry["not_modified"], r["not_modified"])
        entry["document_not_modified"] = max(
            entry["document_not_modified"], r["document_not_modified"]
        )
    for r in db.query(
        """select run_id, source_id, count(*) as n from failures
        where run_id in (select value from json_each(?)) group by run_id, source_id""",
        [ids],
    ):
        slot(r["run_id"], r["source_id"])["failures"] = r["n"]
    for r in db.query(
        f"""select v.run_id, d.source_id,
          sum(v.id = {_FIRST_VERSION}) as new,
          sum(v.id != {_FIRST_VERSION}) as changed
        from versions v join documents d on d.id = v.document_id
        where v.run_id in (select value from json_each(?))
        group by v.run_id, d.source_id""",
        [ids],
    ):
        entry = slot(r["run_id"], r["source_id"])
        entry["new"] = r["new"] or 0
        entry["changed"] = r["changed"] or 0
    return activity


def document_seen_since(db: sqlite_utils.Database, source_id: str, since: str) -> bool:
    """Whether any document of the source was fetched, re-checked (304) or changed since `since`."""
    found = db.execute(
        """select 1 from documents where source_id = ?
        and (last_seen >= ? or last_changed >= ?) limit 1""",
        [source_id, since, since],
    ).fetchone()
    return found is not None


def last_failure_by_source(db: sqlite_utils.Database) -> dict[str, dict]:
    return {
        r["source_id"]: r
        for r in db.query(
            """select source_id, run_id, url, status, reason, at from failures
            where id in (select max(id) from failures group by source_id)"""
        )
    }


def document_counts_by_source(db: sqlite_utils.Database) -> dict[str, int]:
    return {
        r["source_id"]: r["n"]
        for r in db.query("select source_id, count(*) as n from documents group by source_id")
    }


def version_changes_since(db: sqlite_utils.Database, since: str) -> dict[str, dict[str, int]]:
    """Per source, versions seen at or after `since`: first versions (new) and later ones (changed).

    Versions are reached through the runs that stored them (an index), not by scanning every
    version's text.
    """
    return {
        r["source_id"]: {"new": r["new"] or 0, "changed": r["changed"] or 0}
        for r in db.query(
            f"""select d.source_id,
              sum(v.id = {_FIRST_VERSION}) as new,
              sum(v.id != {_FIRST_VERSION}) as changed
            from versions v join documents d on d.id = v.document_id
            where v.run_id in (select id from runs where coalesce(finished_at, started_at) >= :since
                               or status = 'running')
              and v.seen_at >= :since
            group by d.source_id""",
            {"since": since},
        )
    }
