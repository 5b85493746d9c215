"""Small helpers the end-to-end tests share: run the real CLI, read the archive."""

from __future__ import annotations

import importlib.util
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from crawler.demo import dump_sources
from crawler.siteserver import Site

ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, timeout: float = 240, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run `oversight ARGS` as a user would, in its own process (Scrapy's reactor runs once)."""
    import os

    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "OVERSIGHT_WATCHES": "/nonexistent/watches.toml", **(env or {})},
    )


def crawl(sources: Path, db: Path, *ids: str, check: bool = True) -> subprocess.CompletedProcess:
    result = run_cli("crawl", *ids, "--sources", str(sources), "--db", str(db))
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def query(db: Path, sql: str, params: tuple | list = ()) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def scalar(db: Path, sql: str, params: tuple | list = ()):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


def snapshot_record(url: str, body: bytes | None, run_id: int, etag: str | None = None) -> dict:
    """A document snapshot as the crawl pipeline hands it to `archive.write_crawl_batch`."""
    from crawler import archive

    return {
        "url": url,
        "final_url": url,
        "source_id": "test",
        "run_id": run_id,
        "role": "document",
        "status": 200,
        "content_type": "text/html",
        "etag": etag,
        "last_modified": None,
        "headers": "{}",
        "body": body,
        "fetched_at": archive.now(),
        "linked_date": None,
    }


def store_snapshots(db_path: Path, bodies: dict[str, bytes]) -> None:
    """An archive holding one pending document snapshot per URL, as a crawl without extraction
    leaves it."""
    from crawler import archive

    db = archive.open_archive(db_path)
    archive.sync_sources(db, [])
    run_id = archive.start_run(db, ["test"], 1, "host")
    archive.write_crawl_batch(
        db, [snapshot_record(url, body, run_id) for url, body in bodies.items()], [], []
    )
    db.conn.close()


def make_pdfs() -> ModuleType:
    """The fixture PDF builder (tests/fixtures/extract/make_pdfs.py), loaded as a module."""
    spec = importlib.util.spec_from_file_location(
        "make_pdfs", ROOT / "tests/fixtures/extract/make_pdfs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_sources(path: Path, site: Site, **fields: object) -> Path:
    """A sources.toml at `path` with one source for `site` (no delay), plus `fields`."""
    entry = {
        "id": "site",
        "name": "Site",
        "kind": "news",
        "homepage": site.url("/"),
        "allowed_domains": [site.host],
        "delay": 0,
        **fields,
    }
    path.write_text(dump_sources([entry]))
    return path
