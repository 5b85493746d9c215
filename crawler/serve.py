"""Publishing: Datasette over the archive, live (`serve`) or as a frozen copy (`publish`).

The database is always served under the name `archive`, whatever its file is called, with the
metadata, templates, plugins and static files in `datasette_config/`. Nothing served writes:
the live archive is opened read-only by Datasette (mutable, so a crawl can write alongside it in
WAL mode), no write plugin is installed, and the write API needs a root actor nobody gets.
"""

from __future__ import annotations

import argparse
import errno
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from datasette.app import Datasette
from datasette.database import Database

from crawler.plugins import CONFIG_DIR

DATABASE_NAME = "archive"

#: Datasette settings for an archive of a few hundred thousand documents: arbitrary SQL stays
#: allowed (the dashboard needs it) but read-only and time-limited; facet suggestions, which
#: run a query per column on every table page, are off.
SETTINGS: dict[str, Any] = {
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 500,
    "facet_suggest_time_limit_ms": 50,
    "suggest_facets": False,
    "default_facet_size": 10,
    "max_returned_rows": 1000,
    "default_page_size": 50,
    "truncate_cells_html": 300,
    "allow_download": False,
    "default_cache_ttl": 5,
    "num_sql_threads": 3,
}


class ServeError(Exception):
    """The archive cannot be served or published; the message names the file."""


def load_metadata(public: bool = False) -> dict:
    """`datasette_config/metadata.yml`, plus the robots switch the plugins read."""
    metadata = yaml.safe_load((CONFIG_DIR / "metadata.yml").read_text(encoding="utf-8"))
    plugins = metadata.setdefault("plugins", {})
    plugins["oversight"] = {"block_robots": public}
    return metadata


def _require_archive(db_path: Path) -> bool:
    """Check the archive can be served; False when only as it stands (immutable).

    A WAL archive in a folder this user cannot write cannot be read live (SQLite needs to make
    its -shm file there); with no pending -wal file it is served immutable, as `publish` does.
    """
    if not db_path.is_file():
        raise ServeError(f"{db_path}: no archive here (run `oversight crawl` or `oversight demo`)")
    try:
        _count_documents(db_path, "mode=ro")
        return True
    except sqlite3.DatabaseError as exc:
        wal = db_path.with_name(db_path.name + "-wal")
        if not (wal.exists() and wal.stat().st_size):
            try:
                _count_documents(db_path, "immutable=1")
                return False
            except sqlite3.DatabaseError:
                pass
        raise ServeError(f"{db_path}: not an Oversight archive ({exc})") from exc


def _count_documents(db_path: Path, mode: str) -> None:
    conn = sqlite3.connect(f"{db_path.as_uri()}?{mode}", uri=True)
    try:
        conn.execute("select count(*) from documents").fetchone()
    finally:
        conn.close()


def make_datasette(
    db_path: str | Path, public: bool = False, settings: dict[str, Any] | None = None
) -> Datasette:
    """A Datasette app serving the live archive at `db_path` as `archive`.

    The database is added as mutable, so Datasette notices a crawl's writes and opens it with
    `mode=ro`; `public=True` answers robots.txt with `Disallow: /` and adds `X-Robots-Tag`.
    `settings` override `SETTINGS` (e.g. `{"default_allow_sql": False}` for a locked-down server).
    """
    db_path = Path(db_path).resolve()
    live = _require_archive(db_path)
    ds = Datasette(
        metadata=load_metadata(public),
        template_dir=str(CONFIG_DIR / "templates"),
        plugins_dir=str(CONFIG_DIR / "plugins"),
        static_mounts=[("static", str(CONFIG_DIR / "static"))],
        settings={**SETTINGS, **(settings or {})},
    )
    ds.add_database(Database(ds, path=str(db_path), is_mutable=live), name=DATABASE_NAME)
    # Datasette adds an in-memory database when constructed without files; it has no use here.
    if "_memory" in ds.databases:
        ds.remove_database("_memory")
    return ds


def serve(
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    public: bool = False,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Run Datasette with uvicorn until interrupted.

    `public` binds every interface unless another `host` than the loopback default is given.
    The socket is bound before uvicorn starts, so a port in use is a `ServeError`, and
    `on_listening` hears the address (with the port the system chose, for port 0) only once
    requests can reach it.
    """
    import uvicorn

    ds = make_datasette(db_path, public=public)
    bind = "0.0.0.0" if public and host == "127.0.0.1" else host
    sock = listen(bind, port)
    if on_listening:
        shown = f"[{bind}]" if ":" in bind else bind
        on_listening(f"http://{shown}:{sock.getsockname()[1]}/")
    uvicorn.Server(uvicorn.Config(ds.app(), log_level="warning")).run(sockets=[sock])


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on `host`:`port`, or a ServeError saying why there cannot be one."""
    if not 0 <= port <= 65535:
        # getaddrinfo would quietly take port 70000 as 4464.
        raise ServeError(f"cannot listen on port {port}: ports run from 0 to 65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        in_use = exc.errno == errno.EADDRINUSE
        hint = " (another server is using it: pick another --port)" if in_use else ""
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from exc
    return sock


def publish(db_path: str | Path, out_dir: str | Path, keep_snapshots: bool = False) -> Path:
    """Write a frozen copy of the archive with everything `datasette` needs to serve it.

    The copy is checkpointed and written by `VACUUM INTO` (a consistent snapshot even while a
    crawl writes), switched out of WAL so it can be opened immutable, and stripped of the raw
    snapshot bodies, which are never served. Beside it: `counts.json` from `datasette inspect`,
    and `metadata.yml`, `templates/`, `plugins/` and `static/`. Returns the copy's path.
    """
    db_path = Path(db_path).resolve()
    _require_archive(db_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{DATABASE_NAME}.db"
    for stale in (out, out.with_name(out.name + "-wal"), out.with_name(out.name + "-shm")):
        stale.unlink(missing_ok=True)

    source = sqlite3.connect(str(db_path), timeout=30, isolation_level=None)
    try:
        source.execute("PRAGMA busy_timeout = 30000")
        source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        source.execute("VACUUM INTO ?", (str(out),))
    finally:
        source.close()

    copy = sqlite3.connect(str(out), isolation_level=None)
    try:
        copy.execute("PRAGMA journal_mode = DELETE")
        if not keep_snapshots:
            copy.execute("UPDATE snapshots SET body = NULL")
            copy.execute("VACUUM")
        check = copy.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        copy.close()
    if check != "ok":
        raise ServeError(f"{out}: integrity check of the published copy failed ({check})")

    for name in ("templates", "plugins", "static"):
        target = out_dir / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(
            CONFIG_DIR / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    metadata = load_metadata(public=False)
    (out_dir / "metadata.yml").write_text(
        yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    _write_inspect(out, out_dir / "counts.json")
    return out


def _write_inspect(db: Path, target: Path) -> None:
    """`datasette inspect` the copy, renamed to `archive`, so counts load without a table scan."""
    result = subprocess.run(
        [sys.executable, "-m", "datasette", "inspect", str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ServeError(f"{db}: datasette inspect failed: {result.stderr.strip()[-500:]}")
    data = json.loads(result.stdout)
    if db.stem != DATABASE_NAME and db.stem in data:
        data[DATABASE_NAME] = data.pop(db.stem)
    target.write_text(json.dumps(data, indent=2), encoding="utf-8")


def serve_command_for(out_dir: str | Path) -> str:
    """The command that serves a `publish` folder with Datasette alone (no Oversight needed),
    with the live server's settings (`SETTINGS`)."""
    out_dir = Path(out_dir)
    return (
        f"datasette serve -i {out_dir / 'archive.db'} --inspect-file {out_dir / 'counts.json'}"
        f" --metadata {out_dir / 'metadata.yml'} --template-dir {out_dir / 'templates'}"
        f" --plugins-dir {out_dir / 'plugins'} --static static:{out_dir / 'static'}"
        + "".join(f" --setting {name} {_setting(value)}" for name, value in SETTINGS.items())
    )


def _setting(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def main(argv: list[str] | None = None) -> None:
    """`python -m crawler.serve DB [--host] [--port] [--public]`, for tests and quick use."""
    parser = argparse.ArgumentParser(prog="python -m crawler.serve", description=__doc__)
    parser.add_argument("db")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--public", action="store_true")
    args = parser.parse_args(argv)
    try:
        serve(
            args.db,
            host=args.host,
            port=args.port,
            public=args.public,
            on_listening=lambda url: print(f"serving {args.db} at {url}", file=sys.stderr),
        )
    except ServeError as exc:
        raise SystemExit(f"oversight serve: {exc}") from exc


if __name__ == "__main__":
    main()
