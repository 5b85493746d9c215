"""Display helpers for scraped text: figure highlighting, readable diffs, search snippets and
what an untitled document is called.

Everything here escapes the scraped text first and only then adds Oversight's own markup, so a
page that says `<script>` shows those characters and runs nothing. The helpers the canned
queries need are SQL functions too, so a page and a feed say the same thing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping

from datasette import hookimpl
from markupsafe import Markup, escape

#: `[-removed-]` and `{+added+}`, the word-diff markers in `versions.diff`.
DIFF_MARKERS = re.compile(r"\[-(.*?)-\]|\{\+(.*?)\+\}", re.DOTALL)

#: The highlight markers around matches in the `search` canned query's (escaped) snippets.
SNIPPET_OPEN, SNIPPET_CLOSE = "<mark>", "</mark>"
SNIPPET_MARKERS = re.compile(r"(</?mark>)")

#: Statuses of a document its publisher no longer shows, marked wherever it is listed.
GONE_STATUSES = {"removed", "withdrawn"}

CSS_CLASS = re.compile(r"[^a-z0-9-]")


def highlight_figures(
    text: str | None, figures: Iterable[Mapping], figure_url_prefix: str
) -> Markup:
    """The document text, escaped, with each figure wrapped in a `<mark>` linked to its row.

    Offsets come from the extractor; when a stored offset no longer points at the figure's text
    (the text was re-extracted since), the figure is looked for after the previous one instead,
    and left unmarked if it is not there, rather than marking the wrong words.
    """
    text = text or ""
    pieces: list[str] = []
    cursor = 0
    ordered = sorted(figures, key=lambda f: (f.get("start") is None, f.get("start") or 0))
    for figure in ordered:
        span = figure.get("text") or ""
        start = figure.get("start")
        if not span:
            continue
        if start is None or text[start : start + len(span)] != span:
            start = text.find(span, cursor)
            if start < 0:
                continue
        end = start + len(span)
        if start < cursor:
            continue
        kind = CSS_CLASS.sub("", str(figure.get("kind") or "figure").lower())
        title = describe_figure(figure)
        pieces.append(str(escape(text[cursor:start])))
        pieces.append(
            f'<a class="figure-link" href="{escape(figure_url_prefix)}/{int(figure["id"])}">'
            f'<mark class="figure figure-{kind}" data-figure-id="{int(figure["id"])}" '
            f'title="{escape(title)}">{escape(span)}</mark></a>'
        )
        cursor = end
    pieces.append(str(escape(text[cursor:])))
    return Markup("".join(pieces))


def describe_figure(figure: Mapping) -> str:
    """A short plain-text reading of a figure for tooltips: "count: 118 referral (of 490)"."""
    parts = [str(figure.get("kind") or "figure") + ":"]
    if figure.get("qualifier"):
        parts.append(str(figure["qualifier"]))
    if figure.get("value") is not None or figure.get("value_min") is not None:
        parts.append(figure_value(figure))
    if figure.get("unit"):
        parts.append(str(figure["unit"]))
    if figure.get("denominator") is not None:
        parts.append(f"(of {format_number(figure['denominator'])})")
    if figure.get("period"):
        parts.append(f"[{figure['period']}]")
    return " ".join(parts)


def figure_value(figure: Mapping) -> str:
    """A figure's value as the text wrote it: years and dates as such ("2023/24" is 2023–2024,
    "March 2023" 2023-03), not as the numbers they are stored as (2023.0, 20230300.0)."""
    value, low, high = figure.get("value"), figure.get("value_min"), figure.get("value_max")
    kind = figure.get("kind")
    if kind == "year" and isinstance(value, int | float):
        span = isinstance(high, int | float) and int(high) != int(value)
        return f"{int(value)}–{int(high)}" if span else str(int(value))
    if kind == "date" and isinstance(value, int | float):
        year, month, day = int(value) // 10000, int(value) // 100 % 100, int(value) % 100
        return "-".join(
            [f"{year:04d}"] + ([f"{month:02d}"] if month else []) + ([f"{day:02d}"] if day else [])
        )
    if value is not None:
        return format_number(value)
    if low is not None or high is not None:
        return f"{format_number(low)}–{format_number(high)}"
    return ""


def format_number(value: object) -> str:
    """Numbers as people write them: 1200000.0 -> "1,200,000", 3.5 -> "3.5"."""
    if value is None:
        return "?"
    if isinstance(value, int | float):
        if float(value).is_integer():
            return f"{int(value):,}"
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)


def render_diff(diff: str | None) -> Markup:
    """A stored word diff as HTML: removals in `<del>`, additions in `<ins>`, the rest escaped."""
    return Markup(_diff_html(diff, "<del>{}</del>", "<ins>{}</ins>"))


def feed_diff_html(diff: str | None) -> str:
    """A stored word diff for an Atom entry, as one paragraph.

    datasette-atom lets only a few tags through to feed readers, `<del>` and `<ins>` not among
    them, so an addition is bold and a removal is named in brackets.
    """
    return "<p>" + _diff_html(diff, "<em>[removed: {}]</em> ", "<strong>{}</strong>") + "</p>"


def _diff_html(diff: str | None, removed_html: str, added_html: str) -> str:
    diff = diff or ""
    pieces: list[str] = []
    cursor = 0
    for match in DIFF_MARKERS.finditer(diff):
        pieces.append(str(escape(diff[cursor : match.start()])))
        removed, added = match.group(1), match.group(2)
        if removed is not None:
            pieces.append(removed_html.format(escape(removed)))
        else:
            pieces.append(added_html.format(escape(added)))
        cursor = match.end()
    pieces.append(str(escape(diff[cursor:])))
    return "".join(pieces)


def render_snippet(snippet: str | None) -> Markup:
    """A search snippet as HTML: only its `<mark>` markers kept as markup.

    The `search` query already escapes the text around the markers. The text is unescaped and
    escaped again rather than trusted, so a `snippet` column from anyone's own SQL cannot put
    markup on the page, and properly escaped text comes out as it went in.
    """
    pieces: list[str] = []
    open_marks = 0
    for piece in SNIPPET_MARKERS.split(snippet or ""):
        if piece == SNIPPET_OPEN:
            open_marks += 1
        elif piece == SNIPPET_CLOSE:
            if not open_marks:
                continue
            open_marks -= 1
        else:
            piece = str(escape(html.unescape(piece)))
        pieces.append(piece)
    return Markup("".join(pieces) + SNIPPET_CLOSE * open_marks)


def document_title(title: str | None, url: str | None) -> str:
    """What a document is called wherever it is listed: its title, else its address.

    One rule for search results, the document page, citations and feeds, so an untitled
    document is recognisable from one place to the next.
    """
    return (title or "").strip() or (url or "")


def escape_html(text: str | None) -> str:
    """Text as HTML for the feeds' `atom_content_html`; NULL is empty, not a NULL entry."""
    return str(escape(text or ""))


def safe_href(url: str | None) -> str | None:
    """The URL when it is http(s), else None: scraped `javascript:` links are never made links."""
    if url and re.match(r"(?i)^https?://", url.strip()):
        return url.strip()
    return None


@hookimpl
def prepare_connection(conn):
    conn.create_function("oversight_title", 2, document_title, deterministic=True)
    conn.create_function("oversight_escape", 1, escape_html, deterministic=True)
    conn.create_function("oversight_diff_html", 1, feed_diff_html, deterministic=True)


@hookimpl
def prepare_jinja2_environment(env):
    env.globals["highlight_figures"] = highlight_figures
    env.globals["document_title"] = document_title
    env.filters["render_diff"] = render_diff
    env.filters["describe_figure"] = describe_figure
    env.filters["format_number"] = format_number
    env.filters["figure_value"] = figure_value
    env.filters["safe_href"] = safe_href


def _document_link_column(column: str) -> str | None:
    """For a query column `title` / `cited_title`, the column holding that document's id."""
    if column.endswith("title"):
        return column[: -len("title")] + "document_id"
    return None


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if database != "archive":
        return None
    if table is None and column.endswith("document_id") and isinstance(value, int):
        href = datasette.urls.row(database, "documents", value)
        return Markup(f'<a href="{escape(href)}">{value}</a>')
    if not isinstance(value, str):
        return None
    id_column = _document_link_column(column)
    if table is None and id_column and id_column in row.keys() and row[id_column] is not None:
        href = datasette.urls.row(database, "documents", int(row[id_column]))
        return Markup(
            f'<a class="document-title" dir="auto" href="{escape(href)}">{escape(value)}</a>'
        )
    if table is None and column == "snippet":
        return render_snippet(value)
    if table is None and column == "status" and value in GONE_STATUSES:
        return Markup(f'<strong class="document-status">{escape(value)}</strong>')
    if column == "diff" and table in (None, "versions"):
        return Markup('<div class="diff">') + render_diff(value) + Markup("</div>")
    return None
