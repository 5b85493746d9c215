"""`oversight`: archive, search and publish what UK police watchdogs and the press publish.

This module only parses options and calls functions that tests call directly.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from crawler import archive

DEFAULT_DB = Path("runs") / "archive.db"


def default_db() -> str:
    return os.environ.get("OVERSIGHT_DB") or str(DEFAULT_DB)


def default_sources() -> str | None:
    return os.environ.get("OVERSIGHT_SOURCES")


db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    default=default_db,
    show_default="$OVERSIGHT_DB, else runs/archive.db",
    help="The SQLite archive.",
)


def _named_watches_must_exist(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A watches file named on the command line that is not there is a mistake (a typo would
    otherwise pass for a quiet week); the default, `$OVERSIGHT_WATCHES` or ./watches.toml, is
    only read when present, so a crawl needs no watches file."""
    source = ctx.get_parameter_source(param.name or "")
    if source is ParameterSource.COMMANDLINE and value and not Path(value).exists():
        fail(f"{value}: no such watches file (--watches)")
    return value


watches_option = click.option(
    "--watches",
    "watches_path",
    type=click.Path(dir_okay=False),
    default=lambda: os.environ.get("OVERSIGHT_WATCHES") or "watches.toml",
    callback=_named_watches_must_exist,
    show_default="$OVERSIGHT_WATCHES, else ./watches.toml if present",
    help="Watches to match new and changed documents against (alerts); a file named here must"
    " exist.",
)
sources_option = click.option(
    "--sources",
    "sources_path",
    type=click.Path(dir_okay=False),
    default=default_sources,
    show_default="$OVERSIGHT_SOURCES, else the built-in crawler/sources.toml",
    help="The source registry (TOML).",
)


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def interactive() -> bool:
    return sys.stderr.isatty()


def load_registry(sources_path: str | None, ids: tuple[str, ...] = ()):
    from crawler.sources import SourcesError, load_sources

    try:
        sources = load_sources(sources_path)
    except SourcesError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{sources_path}: cannot read ({exc.strerror or exc})")
    if ids:
        known = {s.id for s in sources}
        unknown = [i for i in ids if i not in known]
        if unknown:
            fail(f"unknown source id(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        sources = [s for s in sources if s.id in ids]
    return sources


def open_db(db_path: str, create: bool = True):
    try:
        return archive.open_archive(db_path, create=create)
    except archive.ArchiveError as exc:
        demo = DEFAULT_DB.with_name("demo.db")
        hint = ""
        if not Path(db_path).exists() and Path(db_path) == DEFAULT_DB and demo.exists():
            hint = f"; the demo's archive is {demo}: add --db {demo}"
        fail(f"{exc}{hint}")


class _Commands(click.Group):
    """Commands whose storage fails them (a damaged archive, a full disk, a folder they may not
    write) end with one line saying so, as a bad sources file does, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader stopped (`oversight status | head`): nothing is wrong, and nothing more
            # can be written, not even this.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed pipe
            sys.exit(0)
        except sqlite3.DatabaseError as exc:
            fail(
                f"the archive could not be read or written ({exc}); if it is damaged, "
                "`sqlite3 ARCHIVE 'PRAGMA integrity_check'` says where"
            )
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{exc.strerror or exc}")
        return None


@click.group(cls=_Commands)
@click.version_option(package_name="oversight")
def cli() -> None:
    """Archive, search and publish what UK police watchdogs and the press publish.

    \b
    Quick start (offline):   oversight demo
    Crawl the real sources:  oversight crawl
    Explore in a browser:    oversight serve

    --db defaults to $OVERSIGHT_DB, else runs/archive.db; --sources to $OVERSIGHT_SOURCES, else
    the built-in registry. `oversight COMMAND --help` describes each command, with examples.
    """


@cli.command()
@click.argument("source_ids", nargs=-1)
@sources_option
@db_option
@watches_option
@click.option(
    "--no-extract", is_flag=True, help="Only fetch; leave extraction for `oversight extract`."
)
def crawl(source_ids, sources_path, db_path, watches_path, no_extract) -> None:
    """Crawl SOURCE_IDS (all sources when none are named), then extract what was fetched.

    Exits 0 when the run finished, even if some URLs failed (see `oversight status` and the
    `failures` table); 2, with a one-line error, on a bad sources or watches file, an unusable
    archive, or a crawl or extract already writing to the archive.

    \b
    Examples:
      oversight crawl                    # every source in the registry
      oversight crawl iopc hmicfrs       # these two only
      oversight crawl --sources my-sources.toml --db /srv/archive.db
    """
    from crawler.crawl import CrawlError
    from crawler.crawl import crawl as run_crawl
    from crawler.runs import LockedError

    sources = load_registry(sources_path, source_ids)
    if watches_path and Path(watches_path).exists():
        from crawler.watches import WatchesError, load_watches

        try:
            load_watches(watches_path)
        except WatchesError as exc:
            fail(str(exc))
    open_db(db_path).conn.close()
    try:
        result = run_crawl(
            sources,
            db_path,
            progress=interactive(),
            extract=not no_extract,
            watches_path=watches_path,
        )
    except (LockedError, CrawlError, archive.ArchiveError) as exc:
        fail(str(exc))
    c = result.counts
    click.echo(
        f"run {result.run_id} {result.status}: {c['pages_fetched']} pages fetched, "
        f"{c['not_modified']} not modified, {c['skipped_unchanged']} skipped as unchanged, "
        f"{c['documents_new']} new and {c['documents_changed']} changed documents, "
        f"{c['failures']} failures"
        + (f", {result.alerts} alerts" if result.alerts else "")
        + (
            f", {c['entries_refused']} feed, sitemap or API entries refused (named in"
            f" {result.log_dir / 'log.txt'})"
            if c["entries_refused"] and result.log_dir
            else ""
        )
    )


@cli.command()
@click.option(
    "--all", "everything", is_flag=True, help="Re-extract every snapshot, not only pending ones."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: one per core).",
)
@db_option
def extract(everything, workers, db_path) -> None:
    """Extract pending snapshots into documents, versions and figures (no network).

    Pending snapshots are those a crawl fetched but did not extract (`crawl --no-extract`, or a
    crawl stopped before its extract stage). --all re-extracts the whole archive with the current
    extractor; what comes out unchanged keeps its ids. Exits 2, with a one-line error, when a
    crawl (or another extract) is writing the archive, or the archive cannot be written.

    \b
    Examples:
      oversight extract                  # what is pending
      oversight extract --all            # everything, after upgrading Oversight
    """
    from crawler.crawl import _bar
    from crawler.extracting import extract_pending
    from crawler.runs import LockedError, lock_for

    open_db(db_path, create=False).conn.close()
    try:
        with lock_for(Path(db_path), "oversight extract"):
            report = extract_pending(
                db_path,
                everything=everything,
                workers=workers,
                progress=_bar("extracting") if interactive() else None,
            )
    except (LockedError, archive.ArchiveError) as exc:
        fail(str(exc))
    click.echo(
        f"extracted {report.extracted} snapshots ({report.new} new, {report.changed} changed, "
        f"{report.unchanged} unchanged documents), {report.failed} failed, in {report.seconds:.1f} s"
    )


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    default=8001,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free one).",
)
@click.option(
    "--public",
    is_flag=True,
    help="Listen on every interface (unless --host names one) and ask robots to stay away.",
)
def serve(db_path, host, port, public) -> None:
    """Serve the archive with Datasette (read-only) at http://HOST:PORT/ until Ctrl-C.

    The archive is served as `archive` (/archive/documents, /archive/search?q=...) while crawls
    go on writing to it. The address is printed once the server answers; a port in use is an
    error (exit 2).

    \b
    Examples:
      oversight serve                      # http://127.0.0.1:8001/
      oversight serve --db runs/demo.db --port 0
      oversight serve --public --port 8080 # every interface; no robots
    """
    from crawler.serve import ServeError
    from crawler.serve import serve as run_server

    open_db(db_path, create=False).conn.close()

    def announce(url: str) -> None:
        click.echo(f"serving {db_path} at {url} (Ctrl-C stops)", err=True)

    try:
        run_server(db_path, host=host, port=port, public=public, on_listening=announce)
    except ServeError as exc:
        fail(str(exc))


@cli.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@db_option
def publish(out_dir, db_path) -> None:
    """Write a frozen, checkpointed copy of the archive to OUT_DIR for an immutable deployment.

    OUT_DIR gets archive.db (without the raw snapshot bodies), counts.json and the Datasette
    configuration; the command prints the `datasette serve` line that serves them without
    Oversight. Safe while a crawl writes.

    \b
    Example:
      oversight publish site/ --db runs/archive.db
    """
    from crawler.serve import publish as run_publish
    from crawler.serve import serve_command_for

    open_db(db_path, create=False).conn.close()
    path = run_publish(db_path, out_dir)
    click.echo(f"published {path}; serve it (Datasette alone will do) with:")
    click.echo(serve_command_for(out_dir))


@cli.command()
@click.argument("query")
@db_option
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Show at most this many results.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON array.")
def search(query, db_path, limit, as_json) -> None:
    """Full-text search, best match first (a title match counts most).

    Anything can be typed: FTS5 syntax (words, "phrases", OR, NOT, NEAR(...), prefix*, title:)
    keeps its meaning, and what FTS5 would refuse (stop-and-search, £1.2m) is searched as words.
    Syndicated copies of a story are left out.

    \b
    Examples:
      oversight search vetting
      oversight search '"abuse of position" OR misconduct' --limit 5
      oversight search 'title: referral*' --json
    """
    from crawler.plugins import fts_query, load_plugin

    if not query.strip():
        raise click.UsageError(
            "QUERY is empty: give the words to search for (oversight search vetting)"
        )
    db = open_db(db_path, create=False)
    results = archive.search(db, fts_query(query), limit)
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
        return
    if not results:
        click.echo("no matches")
    title = load_plugin("oversight_display").document_title
    for r in results:
        gone = f" ({r['status']})" if r["status"] in ("removed", "withdrawn") else ""
        click.echo(
            f"{r['published'] or '          '}  [{r['source_id']}] {title(r['title'], r['url'])}"
            f"{gone}\n    {r['url']}"
        )
        click.echo(f"    {' '.join(r['snippet'].split())}\n")


@cli.command()
@db_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print the status as one JSON object, for scripts."
)
def status(db_path, as_json) -> None:
    """Sources, document counts, recent runs, recent failures and sources that need a look.

    A source is flagged `failing` when its last three counted runs got no answer from it, and
    `silent` when they reached it but nothing came of its documents (docs/scheduling.md).

    \b
    Examples:
      oversight status
      oversight status --json
    """
    from crawler.health import source_health

    db = open_db(db_path, create=False)
    totals = archive.totals(db)
    health = source_health(db)
    refused = archive.entries_refused_by_source(db)
    runs = [{**r, "status": _run_status(r)} for r in archive.recent_runs(db)]
    failures = archive.recent_failures(db)
    if as_json:
        report = {
            "db": db_path,
            "totals": dataclasses.asdict(totals),
            "sources": [_source_status(h, refused.get(h.source_id)) for h in health],
            "runs": [{**r, "sources": _json_list(r["sources"])} for r in runs],
            "failures": failures,
        }
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"{db_path}: {totals.documents} documents, {totals.versions} versions, "
        f"{totals.figures} figures, {totals.failures} failures recorded"
    )
    click.echo("\nsources:")
    for h in health:
        click.echo(
            f"  {h.source_id:<20} {h.documents:>6} docs  last ok {h.last_success_at or '-'}  "
            f"last failure {h.last_failure_at or '-'}  changes this week {h.changes_this_week}"
        )
        for flag in h.flags:
            click.echo(f"  {'':<20} !! {flag}: {h.reasons.get(flag, '')}")
        last = refused.get(h.source_id)
        if last and last["entries_refused"]:
            click.echo(
                f"  {'':<20} {last['entries_refused']} feed, sitemap or API entries refused in run"
                f" #{last['run_id']} (outside allowed_domains or excluded; named in its log)"
            )
    click.echo("\nlast runs:")
    for r in runs:
        click.echo(
            f"  #{r['id']} {r['started_at']} {r['status']:<8} pages {r['pages_fetched']} "
            f"304 {r['not_modified']} new {r['documents_new']} changed {r['documents_changed']} "
            f"failures {r['failures']}"
            + (f" refused {r['entries_refused']}" if r.get("entries_refused") else "")
        )
    click.echo("\nrecent failures:")
    for f in failures:
        click.echo(f"  run {f['run_id']} [{f['source_id']}] {f['url']}\n      {f['reason']}")


def _run_status(run: dict) -> str:
    """A run's status, except that a `running` run whose process is gone shows as `killed`: the
    next crawl marks it failed; until then, say what is known."""
    if run["status"] == "running" and not _alive(run["pid"], run["host"]):
        return "killed"
    return run["status"]


def _source_status(health, refused: dict | None) -> dict:
    """One source of `oversight status --json`: its health, flags and last refused entries."""
    return {
        **dataclasses.asdict(health),
        "changes_this_week": health.changes_this_week,
        "entries_refused": refused["entries_refused"] if refused else None,
        "entries_refused_run": refused["run_id"] if refused else None,
    }


def _json_list(value: str | None) -> list | None:
    try:
        return json.loads(value) if value else None
    except ValueError:
        return None


def _alive(pid: int | None, host: str | None) -> bool:
    """Whether a run's crawl process still runs (assumed so when it ran on another host)."""
    import socket

    if not pid or host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@cli.command()
@sources_option
@click.option(
    "--check",
    is_flag=True,
    help="Probe every endpoint once, politely (needs internet); exit 1 if any failed.",
)
def sources(sources_path, check) -> None:
    """List and validate the source registry.

    A mistake is refused naming the file, the source id and the field (exit 2). --check then
    asks every endpoint once and exits 1 if any did not answer as expected.

    \b
    Examples:
      oversight sources
      oversight sources --sources my-sources.toml --check
    """
    registry = load_registry(sources_path)
    for s in registry:
        parts = [
            f"{len(s.feeds)} feeds",
            f"{len(s.sitemaps)} sitemaps",
            f"{len(s.start_urls)} listings",
            f"{len(s.apis)} apis",
        ]
        click.echo(f"{s.id:<20} {s.kind:<13} {s.name}  ({', '.join(parts)}; delay {s.delay:g} s)")
        if s.unverified:
            click.echo(f"{'':<20} unverified: {', '.join(s.unverified)}")
    click.echo(f"{len(registry)} sources ok")
    if check:
        from crawler.checking import check_sources

        results = check_sources(registry, on_result=lambda result: click.echo(str(result)))
        failed = sum(not result.ok for result in results)
        click.echo(f"{len(results) - failed} of {len(results)} endpoints answered as expected")
        if failed:
            sys.exit(1)  # so a scheduled check shows up as failed


@cli.command()
@db_option
@click.option(
    "--since",
    default=None,
    help="Only alerts since an ISO date (2025-01-31) or an age (30m, 24h, 7d, 2w); default: all.",
)
@click.option("--watch", default=None, help="Only this watch.")
@watches_option
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as one JSON array.")
def alerts(db_path, since, watch, watches_path, as_json) -> None:
    """List alerts: new and changed documents that matched a watch, newest first.

    A --watch that is neither in the watches file nor in the archive's alerts is an error
    (exit 2) naming the watches there are, so a typo is not mistaken for a quiet week; so is a
    --watches file that is not there.

    \b
    Examples:
      oversight alerts --since 7d
      oversight alerts --watch deaths-in-custody --since 2025-01-01 --json
    """
    from crawler.watches import WatchesError, known_watches, list_alerts

    db = open_db(db_path, create=False)
    try:
        found = list_alerts(db, since=since, watch=watch)
    except ValueError as exc:
        fail(str(exc))
    if watch and not found:
        try:
            known = known_watches(db, watches_path)
        except WatchesError as exc:
            fail(str(exc))
        if watch not in known:
            fail(f"unknown watch {watch!r} (known: {', '.join(known) or 'none yet'})")
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    for a in found:
        click.echo(
            f"{a['matched_at']}  {a['watch']:<20} {a['reason']:<8} {a.get('title') or ''}\n    {a.get('url') or ''}"
        )
    if not found:
        click.echo("no alerts")


@cli.command()
@click.option(
    "--every",
    "every",
    default="6h",
    show_default=True,
    help='An interval ("90s", "30m", "6h", "1d", "1w", "1h30m") or a cron expression in local'
    ' time ("0 */6 * * *", "@daily").',
)
@sources_option
@db_option
@click.option(
    "--max-runs", type=int, default=None, help="Stop after this many crawls (for testing)."
)
def watch(every, sources_path, db_path, max_runs) -> None:
    """Crawl on a schedule until stopped (SIGTERM/Ctrl-C finish the current crawl first).

    Sources with their own `every` in sources.toml are crawled on that schedule instead. Each
    crawl starts up to a tenth of its interval late (jitter), and the sources file is read again
    after every crawl. Cron and systemd alternatives: docs/scheduling.md.

    \b
    Examples:
      oversight watch                          # every six hours, starting now
      oversight watch --every "0 */6 * * *"    # at 00:00, 06:00, 12:00 and 18:00
    """
    import subprocess

    from crawler.schedule import parse_every, run_forever

    registry = load_registry(sources_path)
    try:
        schedule = parse_every(every)
    except ValueError as exc:
        fail(f"--every: {exc}")

    def crawl_children(ids: list[str]) -> int:
        command = [sys.executable, "-m", "crawler.cli", "crawl", *ids, "--db", db_path]
        if sources_path:
            command += ["--sources", sources_path]
        # A session of its own: Ctrl-C in the terminal reaches the scheduler alone, which lets
        # the crawl finish; a second one stops it as SIGTERM does (in-flight writes kept).
        child = subprocess.Popen(command, start_new_session=True)
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.terminate()
            child.wait()
            raise

    def registry_now() -> list:
        from crawler.sources import load_sources

        return load_sources(sources_path)

    from crawler.schedule import ScheduleError

    try:
        run_forever(crawl_children, registry, schedule, max_runs=max_runs, reload=registry_now)
    except ScheduleError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        sys.exit(130)


@cli.command()
@click.option(
    "--port",
    default=8001,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port for the serve command it prints.",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to build the demo archive (default: runs/demo.db, rebuilt each time).",
)
def demo(port, db_path) -> None:
    """Offline: serve the bundled demo sites on loopback, crawl them into a fresh archive.

    It prints what it found and the command that serves the result. The archive is deleted and
    built again each time. Its one failure is on purpose: a demo page robots.txt forbids.

    \b
    Example:
      oversight demo && oversight serve --db runs/demo.db
    """
    import tempfile

    from crawler.crawl import crawl as run_crawl
    from crawler.demo import serve_demo_sites
    from crawler.sources import load_sources

    db = Path(db_path) if db_path else DEFAULT_DB.with_name("demo.db")
    for leftover in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        leftover.unlink(missing_ok=True)
    with serve_demo_sites() as sites, tempfile.TemporaryDirectory() as tmp:
        registry = Path(tmp) / "sources.toml"
        registry.write_text(sites.sources_toml)
        click.echo("demo sites on loopback: " + ", ".join(sites.base_urls.values()))
        result = run_crawl(load_sources(registry), db, progress=interactive(), watches_path=None)
    c = result.counts
    archive_db = open_db(str(db), create=False)
    totals = archive.totals(archive_db)
    click.echo(
        f"crawled into {db}: {c['pages_fetched']} pages, {totals.documents} documents, "
        f"{totals.figures} figures, {c['failures']} failures (run {result.run_id}: {result.status})"
    )
    for failure in archive.failures_of_run(archive_db, result.run_id):
        # The demo sites hold a page robots.txt forbids, so a run ends `partial` on purpose.
        click.echo(f"  failure, on purpose: {failure['reason']}  ({failure['url']})")
    for r in archive.search(archive_db, "referrals", limit=3):
        click.echo(f"  search 'referrals': {r['title']}  ({r['url']})")
    command = sys.argv[0] if Path(sys.argv[0]).name == "oversight" else "oversight"
    click.echo(
        f"\nExplore it:  {command} serve --db {db} --port {port}"
        + ("   (or: make serve)" if not db_path else "")
        + "\n"
        f"then open   http://127.0.0.1:{port}/"
    )


if __name__ == "__main__":
    cli(prog_name="oversight")
