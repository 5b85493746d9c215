"""Context for Oversight's own pages (the home page summary and the document page), and the
answers Datasette's own routes get wrong: robots.txt, writes, malformed table parameters and the
old address of the alerts feed.

The templates only lay out what these queries return; all scraped text reaches them as plain
strings, which Jinja escapes.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.handle_exception import handle_exception as datasette_error_page
from datasette.utils.asgi import Response
from datasette.views.base import DatasetteError

DATABASE = "archive"


async def _rows(db, sql: str, params: dict | None = None) -> list[dict]:
    result = await db.execute(sql, params or {})
    return [dict(row) for row in result.rows]


async def home_context(datasette) -> dict:
    """Counts per source, totals and the last crawl, for the home page.

    Per-source figures are correlated subqueries so each uses an index: a `group by` over
    `documents` would read every row, text and all.
    """
    try:
        db = datasette.get_database(DATABASE)
    except KeyError:
        return {}
    try:
        return await _home_rows(datasette, db)
    except QueryInterrupted:
        # A cold cache on a large archive can make the counts slow; the home page must still
        # load, with its search box, rather than fail.
        return {"oversight_counts_unavailable": True}


async def _home_rows(datasette, db) -> dict:
    sources = await _rows(
        db,
        """
        select s.id, s.name, s.kind, s.homepage,
               (select count(*) from documents d where d.source_id = s.id) as documents,
               (select max(published) from documents d where d.source_id = s.id)
                   as latest_published,
               (select max(fetched_at) from snapshots where source_id = s.id) as last_fetched
        from sources s order by documents desc, s.name
        """,
    )
    totals = (
        await _rows(
            db,
            """
            select (select count(*) from documents) as documents,
                   (select count(*) from figures) as figures,
                   (select count(*) from versions) as versions,
                   (select count(*) from links where target_document_id is not null) as citations,
                   (select count(*) from alerts) as alerts
            """,
        )
    )[0]
    last_run = await _rows(
        db,
        """
        select id, started_at, finished_at, status, pages_fetched, documents_new,
               documents_changed, failures
        from runs order by coalesce(finished_at, started_at) desc limit 1
        """,
    )
    watches = await _rows(
        db, "select watch, count(*) as alerts from alerts group by watch order by watch"
    )
    for source in sources:
        source["url"] = (
            datasette.urls.table(DATABASE, "documents")
            + "?"
            + urlencode({"source_id": source["id"]})
        )
    return {
        "oversight_sources": sources,
        "oversight_totals": totals,
        "oversight_last_run": last_run[0] if last_run else None,
        "oversight_watches": watches,
    }


async def document_context(datasette, document_id: str) -> dict:
    """Everything the document page shows about one document, each as a list of dicts."""
    db = datasette.get_database(DATABASE)
    params = {"id": document_id}
    found = await _rows(
        db,
        """
        select d.*, s.name as source_name, s.kind as source_kind, s.homepage as source_homepage
        from documents d left join sources s on s.id = d.source_id where d.id = :id
        """,
        params,
    )
    if not found:
        return {}
    figures = await _rows(
        db,
        """
        select f.*, (select group_concat(fc.status, ', ') from figure_checks fc
                     where fc.figure_id = f.id) as checks
        from figures f where f.document_id = :id order by f.start, f.id
        """,
        params,
    )
    entities = await _rows(
        db,
        """
        select m.entity_id, m.count, coalesce(e.name, m.entity_id) as name, e.kind
        from mentions m left join entities e on e.id = m.entity_id
        where m.document_id = :id order by m.count desc, name
        """,
        params,
    )
    cites = await _rows(
        db,
        """
        select l.url, l.anchor, l.target_document_id, t.title as target_title,
               t.url as target_url, s.name as target_source
        from links l left join documents t on t.id = l.target_document_id
        left join sources s on s.id = t.source_id
        where l.document_id = :id order by l.target_document_id is null, l.id
        """,
        params,
    )
    cited_by = await _rows(
        db,
        """
        select l.document_id, l.anchor, d.title, d.url, d.published, s.name as source_name
        from links l join documents d on d.id = l.document_id
        left join sources s on s.id = d.source_id
        where l.target_document_id = :id and l.document_id != :id
        order by d.published desc
        """,
        params,
    )
    checks = await _rows(
        db,
        """
        select fc.status, fc.note, f.text as figure, cf.text as cited_figure,
               fc.cited_document_id, cd.title as cited_title, cd.url as cited_url
        from figure_checks fc left join figures f on f.id = fc.figure_id
        left join figures cf on cf.id = fc.cited_figure_id
        left join documents cd on cd.id = fc.cited_document_id
        where fc.document_id = :id and fc.status != 'none' order by fc.status, fc.id
        """,
        params,
    )
    versions = await _rows(
        db,
        """
        select id, seen_at, title, content_hash, diff, declared_change, run_id
        from versions where document_id = :id order by seen_at desc, id desc
        """,
        params,
    )
    events = await _rows(
        db,
        "select kind, at, detail, run_id from events where document_id = :id order by at desc",
        params,
    )
    tables = await _rows(
        db,
        "select id, caption, position from tables where document_id = :id order by position",
        params,
    )
    images = await _rows(
        db, "select id, src, alt, caption from images where document_id = :id", params
    )
    return {
        "document": found[0],
        "figures": figures,
        "entities": entities,
        "cites": cites,
        "cited_by": cited_by,
        "figure_checks": checks,
        "versions": versions,
        "events": events,
        "doc_tables": tables,
        "doc_images": images,
    }


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    async def inner():
        if template == "index.html":
            return await home_context(datasette)
        if view_name == "row" and database == DATABASE and table == "documents" and request:
            pks = request.url_vars.get("pks", "")
            return await document_context(datasette, pks.split(",")[0])
        return {}

    return inner


def _public(datasette) -> bool:
    return bool((datasette.plugin_config("oversight") or {}).get("block_robots"))


async def robots_txt(datasette):
    """Disallow everything on a public (`--public`) server; allow it otherwise."""
    if _public(datasette):
        return Response.text("User-agent: *\nDisallow: /\n")
    return Response.text("User-agent: *\nDisallow:\n")


async def moved_alerts_feed(datasette, request):
    """The per-watch feed was the `alerts` query, which hid the `alerts` table of the same name;
    it is now `alerts_feed`, and subscriptions to the old address follow it there."""
    target = datasette.urls.query(DATABASE, "alerts_feed", format="atom")
    query = request.query_string
    return Response.redirect(target + (f"?{query}" if query else ""), status=301)


@hookimpl
def register_routes():
    return [
        (r"^/robots\.txt$", robots_txt),
        (rf"^/{DATABASE}/alerts\.atom$", moved_alerts_feed),
    ]


#: How Datasette 0.65's messages begin for table parameters it cannot use (a sort column the
#: table lacks, `_sort=rank` on a search included; both sort orders at once; a `_through` naming
#: no foreign key). It raises them with status 500, as if the server were at fault.
BAD_PARAMETER_MESSAGES = (
    "Cannot sort table by",
    "Cannot use _sort and _sort_desc",
    "Invalid _through",
)
THROUGH_FORM = '_through must be JSON: {"table": "mentions", "column": "entity_id", "value": "…"}'
TIMELIMIT_FORM = "_timelimit must be a whole number of milliseconds"
RANK_HINT = "; table search keeps the table's order: the Search query ranks by relevance"


def bad_parameter_message(request, exception: BaseException) -> str | None:
    """What was wrong with the request, when `exception` came from a malformed parameter."""
    if isinstance(exception, DatasetteError) and exception.status == 500:
        message = str(exception.message)
        if message.startswith(BAD_PARAMETER_MESSAGES):
            return message + (RANK_HINT if message.endswith(" rank") else "")
    if not isinstance(exception, ValueError | KeyError | TypeError):
        return None
    # Datasette reads these two without checking them: a bare ValueError, KeyError or TypeError
    # from its own code, with the parameter in the request, is the parameter's fault.
    frames = [Path(frame.filename) for frame in traceback.extract_tb(exception.__traceback__)]
    if "_through" in request.args and any(f.match("datasette/filters.py") for f in frames):
        return THROUGH_FORM
    if not _is_integer(request.args.get("_timelimit")) and any(
        f.match("datasette/views/*.py") for f in frames
    ):
        return TIMELIMIT_FORM
    return None


def _is_integer(value: str | None) -> bool:
    try:
        int(value or 0)
    except ValueError:
        return False
    return True


@hookimpl
def handle_exception(datasette, request, exception):
    """A malformed table parameter is the request's fault: a 400 saying what is wrong, not a 500."""
    message = bad_parameter_message(request, exception)
    if message is None:
        return None
    error = DatasetteError(message, title="Invalid parameter", status=400)
    return datasette_error_page(datasette, request, error)


READ_METHODS = {"GET", "HEAD", "OPTIONS"}


async def _refuse(send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 405,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"allow", b"GET, HEAD")],
        }
    )
    await send({"type": "http.response.body", "body": b"This archive is read-only.\n"})


@hookimpl
def asgi_wrapper(datasette):
    """Refuse every request that is not a read, and mark pages `noindex` when robots are blocked.

    Datasette's write API already needs a root actor nobody is given, and the database is
    opened read-only; answering 405 to every POST, PUT and DELETE makes the archive read-only
    at the door too, including for plugins installed later.
    """

    def wrap(app):
        async def guard(scope, receive, send):
            if scope["type"] == "http" and scope.get("method", "GET").upper() not in READ_METHODS:
                await _refuse(send)
                return
            if scope["type"] != "http" or not _public(datasette):
                await app(scope, receive, send)
                return

            async def send_with_header(event):
                if event["type"] == "http.response.start":
                    headers = list(event.get("headers") or [])
                    headers.append((b"x-robots-tag", b"noindex, nofollow"))
                    event = {**event, "headers": headers}
                await send(event)

            await app(scope, receive, send_with_header)

        return guard

    return wrap
