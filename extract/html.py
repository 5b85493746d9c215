"""HTML pages to Documents: the article's text and links by trafilatura, plus what surrounds it.

trafilatura finds the article; this module decides what it is given (decoded text) and what is
kept of its output (links resolved against the page and its `<base href>`, no headline repeated
as the first line, no share prompts or trailing lists of related links). Metadata comes from
`extract.html_metadata`, tables, images and withdrawal notices from `extract.html_structure`.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from functools import cache
from typing import Any

import trafilatura
from lxml import etree
from lxml.html import HtmlElement, HTMLParser, fromstring
from trafilatura.settings import Extractor, use_config
from trafilatura.utils import HTML_PARSER
from trafilatura.xml import xmltotxt

from extract.encoding import charset_from_content_type, decode_html, wide_codec
from extract.html_metadata import read_metadata
from extract.html_structure import (
    MAX_COLUMNS,
    MAX_PADDING,
    block_text,
    find_images,
    find_tables,
    find_withdrawal_notice,
    in_furniture,
    row_cells,
    table_padding,
)
from extract.links import absolute_url, dedupe_links, without_fragment
from extract.records import Document, ExtractionError, Link

# Precision mode keeps share bars and teaser lists out, but now and then settles on the wrong
# block of a page; a short result is checked against the balanced mode, which is kept when it
# finds three times as much or more.
_SHORT_TEXT = 1000

# trafilatura's own fallbacks (readability, jusText) cost a third of its time and change the
# result only when its first pass found little: they run only below this length.
_CHECK_FALLBACKS = 2000

_CONFIG = use_config()

_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")

_BINARY_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"PK\x03\x04": "a ZIP archive (perhaps an Office document)",
    b"\x1f\x8b": "gzip-compressed data the server did not declare",
    b"\xd0\xcf\x11\xe0": "an old Microsoft Office document",
    b"RIFF": "a RIFF media file",
    b"\x00\x00\x01\x00": "an icon",
}

_BOILERPLATE = re.compile(
    r"^(?:"
    r"share(?: this(?: article| story| page| post)?| on \w+)?:?"
    r"|like this (?:story|article)\?.*"
    r"|tell us what you think.*"
    r"|(?:sign up|subscribe)\b.{0,160}\b(?:newsletter|inbox|e-?mail)\b.*"
    r"|(?:read more|read next|more on this story|related(?: articles| stories| content| posts)?"
    r"|recommended(?: for you)?|you may also like|most (?:popular|read)|advertisement|tags?"
    r"|topics?|follow us\b.*|also (?:read|see|on)\b.*)\W*"
    r"|\[/?\w+[^\]]*\](?:.*\[/\w+\])?"
    r"|(?:first |last )?(?:published|updated|posted)(?: on)?:? \d{1,2}(?:st|nd|rd|th)? \w+ \d{4}"
    r"(?:,? \d{1,2}[:.]\d{2}(?: ?[ap]m)?)?"
    r")$",
    re.IGNORECASE,
)

# trafilatura draws a Markdown rule under table headers; in plain text it is noise.
_TABLE_RULE = re.compile(r"^\|(?:-+\|)+[ \t]*\n", re.MULTILINE)


def extract_html(body: bytes, url: str, content_type: str | None = None) -> Document:
    """The main text and metadata of an HTML page; ExtractionError when it is not HTML at all."""
    charset = charset_from_content_type(content_type)
    _refuse_binary(body, charset)
    text, _codec = decode_html(body, charset)
    if not text.strip():
        raise ExtractionError("empty body: the page has no content")
    if len(_CONTROL.findall(text[:4096])) > 0.05 * min(len(text), 4096):
        raise ExtractionError("binary content served as text/html")

    tree, omissions = _parse(text)
    base = _base_url(tree, url) or ""
    about = read_metadata(tree, url)
    _drop_code(tree)
    if text.count("<p") + text.count("<P") > MANY_PARAGRAPHS:  # "<pre", "<path": no harm
        _one_text_per_paragraph(tree)
    result = _trafilatura(tree)

    main_text: str = ""
    links: list[Link] = []
    if result is not None and result.body is not None:
        main_text, links = _render(result.body, about.title, base)
    # A paragraph that is only a link ("Read the full report") is too link-dense for
    # trafilatura's precision mode: the press release's link to its report comes from the page.
    links = dedupe_links([*links, *_report_links(tree, base)])
    # In-page anchors ("#background", "back to top") cite nothing.
    links = [link for link in links if without_fragment(link.url) != without_fragment(url)]
    if not main_text:
        main_text = _visible_text(tree)
    if not main_text and not about.title:
        raise ExtractionError("HTML page has no readable text")
    tables, cut = find_tables(tree, main_text)

    return Document(
        url=url,
        content_type="html",
        title=about.title,
        text=main_text,
        published=about.published,
        published_from=about.published_from,
        updated=about.updated,
        author=about.author,
        description=about.description,
        language=about.language,
        site_name=about.site_name,
        links=links,
        tables=tables,
        images=find_images(tree, main_text, base),
        withdrawn=find_withdrawal_notice(tree) if _mentions_withdrawal(text) else None,
        omissions=[*omissions, *cut],
    )


def _mentions_withdrawal(text: str) -> bool:
    """Whether the page says "withdrawn" ("Withdrawn", "WITHDRAWN"): no notice without it.

    Plain substring tests: case-folding a whole page to look for the word cost more than finding
    the page's tables and images together.
    """
    return "ithdrawn" in text or "ITHDRAWN" in text


def _refuse_binary(body: bytes, charset: str | None) -> None:
    head = body.lstrip()[:8]
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise ExtractionError(f"binary content served as text/html: {what}")
    if (
        body[:1024].count(b"\x00") > 16
        and not wide_codec(charset)  # UTF-16 declared in the header: NULs are its ASCII
        and not body.startswith((b"\xff\xfe", b"\xfe\xff"))
    ):
        raise ExtractionError("binary content served as text/html")


def _parse(text: str) -> tuple[HtmlElement, list[str]]:
    """The page's tree, and what of it could not be kept (see `_cap_links`, `_parse_deep`)."""
    tree = trafilatura.load_html(text)
    omissions = []
    if _too_deep(HTML_PARSER):
        tree, omission = _parse_deep(text)
        if omission:
            omissions.append(omission)
    if tree is None:
        # trafilatura rejects fragments and plain text; lxml still gives them a body.
        try:
            tree = etree.fromstring(
                f"<html><body><div>{text}</div></body></html>", etree.HTMLParser()
            )
        except (etree.ParserError, ValueError) as err:
            raise ExtractionError(f"not HTML: the parser gave up ({err})") from err
        if tree is None:
            raise ExtractionError("not HTML: nothing could be parsed")
        tree = trafilatura.load_html(etree.tostring(tree, encoding="unicode"))
        if tree is None:
            raise ExtractionError("not HTML: nothing could be parsed")
    omissions.extend(_bound_markup(tree, text))
    capped = _cap_links(tree)
    if capped:
        omissions.append(
            f"page has {MAX_LINKS + capped:,} links: only the first {MAX_LINKS:,} were read as "
            "links (the words of the rest stay in the text)"
        )
    return tree, omissions


# libxml2 stops reading a page at 256 levels of nesting (generated markup that never closes its
# <div>s gets there), dropping the rest of the page; its "huge" mode reads to 2,048.
_DEEP_PARSER = HTMLParser(
    huge_tree=True,
    collect_ids=False,
    default_doctype=False,
    remove_comments=True,
    remove_pis=True,
)


def _too_deep(parser: HTMLParser) -> bool:
    # libxml2 stops at the depth limit, so its complaint is the parse's last (pages raise
    # hundreds of harmless errors; reading them all would cost more than this check is worth).
    last = parser.error_log.last_error
    return last is not None and "Excessive depth" in last.message


def _parse_deep(text: str) -> tuple[HtmlElement | None, str | None]:
    """A page past the parser's usual depth, read again in huge mode; an omission beyond that."""
    try:
        try:
            tree = fromstring(text, parser=_DEEP_PARSER)
        except ValueError:  # a str with an XML encoding declaration
            tree = fromstring(text.encode("utf-8", "surrogatepass"), parser=_DEEP_PARSER)
    except (ValueError, etree.ParserError, etree.LxmlError):
        return None, None
    if _too_deep(_DEEP_PARSER):
        return tree, (
            "HTML nested more than 2,048 elements deep: the parser stops there, so the text "
            "after that point is missing"
        )
    return tree, None


# trafilatura's table handling grows with the cube of tables' nesting (1,000 tables inside one
# another took it 30 s), and its search for outermost articles with the square of theirs. No
# page lays either out 20 deep: the inner ones become plain blocks, which keep their words.
MAX_NESTING = 20
_NESTED_PARTS = {
    "table": ("table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td"),
    "article": ("article",),
}
# trafilatura walks each element many times: a page of 250,000 <br>s took it 30 s. Runs longer
# than this are cut to it; blank lines, however many, read the same.
MAX_BREAKS = 20
# Fewer rows than this cannot pad a table past MAX_PADDING, so most pages skip the count.
_FEW_ROWS = MAX_PADDING // MAX_COLUMNS
# trafilatura's test for paragraph text (`//p//text()`) takes time with the square of the text
# pieces inside paragraphs: 20,000 paragraphs of two <span>s each took it 8.6 s, and of plain
# text 1.1 s. Past this many paragraphs, inline wrappers that only style text are dropped (their
# words stay, joined as a browser shows them), so each paragraph is one piece of text. The
# page's metadata is read first: a byline's <span class="author"> is still there for it.
MANY_PARAGRAPHS = 5_000
_STYLE_ONLY = ("span", "font", "b", "strong", "i", "em", "u", "small", "mark", "abbr")
_BOUNDED_TAG = re.compile(r"<(table|article|br|tr)\b", re.IGNORECASE)


def _bound_markup(tree: HtmlElement, text: str) -> list[str]:
    """Deep nesting, long runs of <br> and huge tables cut down before trafilatura sees them;
    returns what a reader should know was changed.

    The tags are counted in the text first, in one pass: almost every page has too few of them
    for either to matter, and is left as it is without a walk of its tree.
    """
    counts = Counter(tag.lower() for tag in _BOUNDED_TAG.findall(text))
    for tag, parts in _NESTED_PARTS.items():
        if counts[tag] > MAX_NESTING:
            _flatten_deep_nesting(tree, tag, parts)
    if counts["br"] > MAX_BREAKS:
        _cut_break_runs(tree)
    return _tables_as_text(tree) if counts["tr"] > _FEW_ROWS else []


def _one_text_per_paragraph(tree: HtmlElement) -> None:
    """Style-only wrappers dropped, and each paragraph's pieces of text joined into one node
    (libxml2 keeps a stripped tag's text as a node of its own)."""
    etree.strip_tags(tree, *_STYLE_ONLY)
    for paragraph in tree.iter("p"):
        if len(paragraph) == 0 and paragraph.text:
            paragraph.text = paragraph.text


def _tables_as_text(tree: HtmlElement) -> list[str]:
    """Tables that trafilatura's padding would grow past MAX_PADDING cells made plain
    paragraphs, one per row with its cells' words."""
    omissions = []
    for table in list(tree.iter("table")):
        rows, columns, padding = table_padding(table)
        if padding <= MAX_PADDING:
            continue
        for row in list(table.iter("tr")):
            words = " ".join(block_text(cell) for cell in row_cells(row))
            for child in list(row):
                row.remove(child)
            row.tag, row.text = "p", words
        for part in table.iter("table", "caption", "thead", "tbody", "tfoot"):
            part.tag = "p" if part.tag == "caption" else "div"
        omissions.append(
            f"a table of {rows:,} rows and up to {columns} columns is read as text: as a table "
            f"its rows would be padded with {padding:,} empty cells"
        )
    return omissions


def _flatten_deep_nesting(tree: HtmlElement, tag: str, parts: tuple[str, ...]) -> None:
    """Elements `tag` nested more than MAX_NESTING deep, and their `parts`, made <div>s."""
    depths: dict[HtmlElement, int] = {}
    for element in tree.iter(tag):
        outer = next(element.iterancestors(tag), None)
        depths[element] = depths[outer] + 1 if outer is not None else 1
    for element, depth in depths.items():
        if depth == MAX_NESTING + 1:
            for part in element.iter(*parts):
                part.tag = "div"


def _cut_break_runs(tree: HtmlElement) -> None:
    """Drop each <br> that follows MAX_BREAKS others with nothing but white space between."""
    run = 0
    for element in tree.iter("br"):
        before = element.getprevious()
        if (
            before is not None
            and before.tag in ("br", "oversight-cut-break")
            and not (before.tail or "").strip()
        ):
            run += 1
        else:
            run = 1
        if run > MAX_BREAKS:
            element.tag = "oversight-cut-break"
    # One C-level pass, which keeps their tails (removing them one by one is quadratic).
    etree.strip_tags(tree, "oversight-cut-break")


MAX_LINKS = 5000


def _cap_links(tree: HtmlElement) -> int:
    """Keep the text of links past the first MAX_LINKS but not the links themselves; how many.

    trafilatura's link-density checks grow much faster than the page: a page of 100,000 links
    takes it minutes. No article cites that many pages, and the words stay in the text.
    """
    anchors = tree.xpath("//a")[MAX_LINKS:]
    if not anchors:
        return 0
    for anchor in anchors:
        anchor.tag = "oversight-capped-link"
    # One C-level pass merges their text into the parents: 195,000 fewer elements for trafilatura
    # to walk (removing them one by one from Python is quadratic).
    etree.strip_tags(tree, "oversight-capped-link")
    return len(anchors)


def _drop_code(tree: HtmlElement) -> None:
    """Empty scripts and style sheets, which trafilatura discards too, before it copies the tree.

    They are half of a typical page's bytes, and trafilatura copies the tree it is given three
    times before cleaning it. Emptied, not removed: their tails are page text. JSON-LD stays:
    trafilatura reads an article body from it when it finds none in the page.
    """
    for element in tree.iter("script", "style"):
        if element.tag == "style" or element.get("type") != "application/ld+json":
            element.text = None


def _base_url(tree: HtmlElement, url: str) -> str | None:
    base = url if absolute_url(url, "") else None
    for element in tree.iter("base"):
        href = element.get("href")
        if href:
            resolved = absolute_url(href, base or "")
            if resolved:
                return resolved
    return base


def _trafilatura(tree: HtmlElement) -> Any:
    precise = _bare(tree, precision=True, fast=True)
    if precise is None or len(precise.text or "") < _CHECK_FALLBACKS:
        precise = _bare(tree, precision=True)
    if precise is None or len(precise.text or "") < _SHORT_TEXT:
        balanced = _bare(tree, precision=False)
        if balanced is not None and (
            precise is None or len(balanced.text or "") >= 3 * len(precise.text or "")
        ):
            return balanced
    return precise


def _bare(tree: HtmlElement, precision: bool, fast: bool = False) -> Any:
    try:
        return trafilatura.bare_extraction(tree, options=_options(precision, fast))
    except (ValueError, TypeError, etree.LxmlError, RecursionError):
        return None


@cache
def _options(precision: bool, fast: bool) -> Extractor:
    """trafilatura's settings for one pass, built once: building them reads its config file's
    values each time, a twentieth of the pass. trafilatura copies before it changes them.

    No URL is given: trafilatura would resolve links against the site root only, ignoring the
    page's path and <base href>; _render resolves them properly. Metadata is read by
    `extract.html_metadata`, not trafilatura, whose byline and date searches cost more than
    its extraction.
    """
    return Extractor(
        config=_CONFIG,
        output_format="python",
        precision=precision,
        comments=False,
        links=True,
        tables=True,
        fast=fast,
    )


def _all_link(element: etree._Element) -> bool:
    text = block_text(element)
    if not text:
        return True
    linked = sum(len(block_text(ref)) for ref in element.iter("ref"))
    return linked >= 0.9 * len(text)


def _render(body: etree._Element, title: str | None, base: str) -> tuple[str, list[Link]]:
    """Plain text and links of trafilatura's XML body, after dropping page furniture it kept."""
    body = copy.deepcopy(body)
    blocks = list(body)
    # A trailing run of link-only blocks is a "related stories" list, not the article; a single
    # closing link ("Read the full report") is a citation and stays.
    tail = 0
    while tail < len(blocks) - 1 and _all_link(blocks[-1 - tail]):
        tail += 1
    if tail >= 2 or (tail == 1 and blocks[-1].tag == "list" and len(blocks[-1]) > 1):
        for element in blocks[len(blocks) - tail :]:
            body.remove(element)
    for element in list(body):
        text = block_text(element)
        if len(text) < 200 and _BOILERPLATE.match(text):
            body.remove(element)
    if title and len(body) and block_text(body[0]).casefold() == " ".join(title.split()).casefold():
        body.remove(body[0])

    links = []
    for ref in body.iter("ref"):
        target = absolute_url(ref.get("target") or "", base)
        if target:
            links.append(Link(url=target, anchor=block_text(ref)))
    etree.strip_tags(body, "ref")
    text = _TABLE_RULE.sub("", xmltotxt(body, False))
    return text.strip(), dedupe_links(links)


_FILE_HREF = re.compile(r"\.(?:pdf|docx?|xlsx?|csv|ods|odt|pptx?)(?:$|[?#])", re.IGNORECASE)
_REPORT_ANCHOR = re.compile(
    r"\b(?:full report|the report|read the report|report \(pdf|download the)\b", re.IGNORECASE
)


_ANCHORS = etree.XPath("//body//a[@href]")


def _report_links(tree: HtmlElement, base: str) -> list[Link]:
    """Links to reports and data files outside the page's furniture: any link to a PDF, Word,
    Excel, CSV or slide file, and, in the article or <main>, one saying it is the report."""
    links = []
    for anchor in _ANCHORS(tree):
        href = anchor.get("href", "")
        if _FILE_HREF.search(href):
            wanted = True
        else:
            # Its own text first: a plain substring test spares the rest of the page's links.
            words = (anchor.text or "").lower()
            wanted = (
                ("report" in words or "download" in words)
                and _REPORT_ANCHOR.search(block_text(anchor)) is not None
                and any(a.tag in ("article", "main") for a in anchor.iterancestors())
            )
        if wanted and not in_furniture(anchor):
            target = absolute_url(href, base)
            if target:
                links.append(Link(url=target, anchor=block_text(anchor)))
    return links


# Read, not removed: dropping a <script> moves its tail onto the element before it, and lxml
# refuses to set a string holding a control character ("<script>x</script>&#1;tail").
_VISIBLE_TEXT = etree.XPath(
    ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript"
    " or ancestor::template or ancestor::nav or ancestor::footer)]",
    smart_strings=False,
)


def _visible_text(tree: HtmlElement) -> str:
    """Text of a page trafilatura found no article in (a short notice, a bare fragment)."""
    body = tree.find(".//body")
    pieces = _VISIBLE_TEXT(body if body is not None else tree)
    lines = (" ".join(line.split()) for line in "".join(pieces).splitlines())
    return "\n".join(line for line in lines if line)
