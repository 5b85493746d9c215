"""Small helpers the end-to-end tests share: run the real CLI, read the archive."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 240, env: dict | None = None) -> subprocess.CompletedProcess:
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
