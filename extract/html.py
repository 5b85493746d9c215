"""HTML pages to Documents: main text by trafilatura, metadata, links, tables and images.

trafilatura finds the article; this module decides what it is given (decoded text, links made
absolute against the page and its `<base href>`), what is kept of its output (no headline
repeated as the first line, no share prompts or trailing lists of related links), and reads the
metadata a newsroom or a watchdog actually publishes (Open Graph, JSON-LD, GOV.UK meta tags).
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from collections.abc import Iterator
from typing import Any

import trafilatura
from dateutil import parser as dateparser
from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.settings import Extractor, use_config
from trafilatura.xml import xmltotxt

from extract.encoding import charset_from_content_type, decode_html
from extract.links import absolute_url, dedupe_links, without_fragment
from extract.records import Document, ExtractionError, Image, Link, Table

# Precision mode keeps share bars and teaser lists out, but now and then settles on the wrong
# block of a page; a short result is checked against the balanced mode, which is kept when it
# finds three times as much or more.
_SHORT_TEXT = 1000
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

_WITHDRAWN = re.compile(
    r"^\s*this (?:[a-z]+ ){0,4}(?:was|has been|is) withdrawn\b(?P<dated> on\b)?", re.IGNORECASE
)
_NOTICE_MARKS = re.compile(r"notice|withdrawn|banner|alert|warning", re.IGNORECASE)

# trafilatura draws a Markdown rule under table headers; in plain text it is noise.
_TABLE_RULE = re.compile(r"^\|(?:-+\|)+[ \t]*\n", re.MULTILINE)

_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:·•»]\s+|\s*::\s*")

_ARTICLE_TYPES = re.compile(r"Article|BlogPosting|Report|PressRelease", re.IGNORECASE)

_FURNITURE_TAGS = {"nav", "header", "footer", "aside", "form"}
_FURNITURE_WORDS = re.compile(
    r"\b(?:nav|navigation|menu|sidebar|footer|header|breadcrumbs?|related|promo|share|social|"
    r"cookie|newsletter|comments?)\b",
    re.IGNORECASE,
)


def extract_html(body: bytes, url: str, content_type: str | None = None) -> Document:
    """The main text and metadata of an HTML page; ExtractionError when it is not HTML at all."""
    _refuse_binary(body)
    text, _codec = decode_html(body, charset_from_content_type(content_type))
    if not text.strip():
        raise ExtractionError("empty body: the page has no content")
    if len(_CONTROL.findall(text[:4096])) > 0.05 * min(len(text), 4096):
        raise ExtractionError("binary content served as text/html")

    tree = _parse(text)
    base = _base_url(tree, url) or ""
    meta = _meta_tags(tree)
    # The article's own JSON-LD object speaks for the page before breadcrumbs and site objects.
    ld = sorted(_json_ld(tree), key=lambda item: not _ARTICLE_TYPES.search(str(item.get("@type"))))
    result = _trafilatura(tree)

    site_name = _clean(
        meta.get("og:site_name")
        or _ld_value(ld, "publisher", "name")
        or meta.get("application-name")
        or _title_suffix(tree)
    )
    title = _title(tree, meta, site_name)

    main_text: str = ""
    links: list[Link] = []
    if result is not None and result.body is not None:
        main_text, links = _render(result.body, title, base)
        # In-page anchors ("#background", "back to top") cite nothing.
        links = [link for link in links if without_fragment(link.url) != without_fragment(url)]
    if not main_text:
        main_text = _visible_text(tree)
    if not main_text and not title:
        raise ExtractionError("HTML page has no readable text")

    return Document(
        url=url,
        content_type="html",
        title=title,
        text=main_text,
        published=_published(tree, meta, ld, url),
        updated=_updated(tree, meta, ld),
        author=_author(tree, meta, ld),
        description=_clean(
            meta.get("og:description") or meta.get("description") or meta.get("twitter:description")
        ),
        language=_language(tree, meta),
        site_name=site_name,
        links=links,
        tables=_tables(tree, main_text),
        images=_images(tree, main_text, base),
        withdrawn=_withdrawn(tree) if "withdrawn" in text.casefold() else None,
    )


def _refuse_binary(body: bytes) -> None:
    head = body.lstrip()[:8]
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise ExtractionError(f"binary content served as text/html: {what}")
    if body[:1024].count(b"\x00") > 16 and not body.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractionError("binary content served as text/html")


def _parse(text: str) -> HtmlElement:
    tree = trafilatura.load_html(text)
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
    return tree


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
    precise = _bare(tree, precision=True)
    if precise is None or len(precise.text or "") < _SHORT_TEXT:
        balanced = _bare(tree, precision=False)
        if balanced is not None and (
            precise is None or len(balanced.text or "") >= 3 * len(precise.text or "")
        ):
            return balanced
    return precise


def _bare(tree: HtmlElement, precision: bool) -> Any:
    # No URL is passed: trafilatura would resolve links against the site root only, ignoring
    # the page's path and <base href>; _render resolves them properly. Metadata is read here
    # rather than by trafilatura, whose byline and date searches cost more than its extraction.
    options = Extractor(
        config=_CONFIG,
        output_format="python",
        precision=precision,
        comments=False,
        links=True,
        tables=True,
    )
    try:
        return trafilatura.bare_extraction(tree, options=options)
    except (ValueError, TypeError, etree.LxmlError, RecursionError):
        return None


def _block_text(element: etree._Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _all_link(element: etree._Element) -> bool:
    text = _block_text(element)
    if not text:
        return True
    linked = sum(len(_block_text(ref)) for ref in element.iter("ref"))
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
        text = _block_text(element)
        if len(text) < 200 and _BOILERPLATE.match(text):
            body.remove(element)
    if (
        title
        and len(body)
        and _block_text(body[0]).casefold() == " ".join(title.split()).casefold()
    ):
        body.remove(body[0])

    links = []
    for ref in body.iter("ref"):
        target = absolute_url(ref.get("target") or "", base)
        if target:
            links.append(Link(url=target, anchor=_block_text(ref)))
    etree.strip_tags(body, "ref")
    text = _TABLE_RULE.sub("", xmltotxt(body, False))
    return text.strip(), dedupe_links(links)


def _visible_text(tree: HtmlElement) -> str:
    """Text of a page trafilatura found no article in (a short notice, a bare fragment)."""
    body = tree.find(".//body")
    root = copy.deepcopy(body if body is not None else tree)
    for element in root.xpath(".//script|.//style|.//noscript|.//template|.//nav|.//footer"):
        if element.getparent() is not None:
            element.drop_tree()
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


def _meta_tags(tree: HtmlElement) -> dict[str, str]:
    """First value of each <meta> name/property/itemprop, keys lower-cased."""
    found: dict[str, str] = {}
    for element in tree.iter("meta"):
        content = element.get("content")
        if content is None:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = element.get(attr)
            if key:
                found.setdefault(key.strip().lower(), content.strip())
    for element in tree.xpath("//*[@itemprop][@datetime or @content]"):
        key = element.get("itemprop", "").lower()
        found.setdefault(key, (element.get("datetime") or element.get("content") or "").strip())
    return found


def _json_ld(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object on the page, @graph members included; unreadable blocks skipped."""
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except (ValueError, RecursionError):
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if isinstance(item.get("@graph"), list):
                    stack.extend(item["@graph"])
                yield item


def _ld_value(ld: list[dict[str, Any]], key: str, subkey: str | None = None) -> Any:
    for item in ld:
        value = item.get(key)
        if isinstance(value, list) and value:
            value = value[0]
        if subkey and isinstance(value, dict):
            value = value.get(subkey)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _strip_site_suffix(title: str, site_name: str | None) -> str:
    """ "Officer dismissed | IOPC" -> "Officer dismissed"; a headline with a dash in it stays whole."""
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    site = (site_name or "").casefold()
    if site:
        kept = [p for p in parts if p.strip().casefold() not in site and site not in p.casefold()]
        return _rejoin(title, kept) if kept and len(kept) < len(parts) else title
    # Without a known site name, only a short last segment reads as a site name.
    if len(parts[-1].split()) <= 4 and len(parts[0]) > len(parts[-1]):
        return _rejoin(title, parts[:-1])
    return title


def _title_suffix(tree: HtmlElement) -> str | None:
    """ "Inspection finds ... – Example Inspectorate" -> "Example Inspectorate"."""
    title = _clean(tree.findtext(".//title")) or ""
    bare = _strip_site_suffix(title, None)
    if bare == title:
        return None
    return _TITLE_SEPARATORS.sub(" ", title[len(bare) :]).strip() or None


def _rejoin(title: str, kept: list[str]) -> str:
    start = title.find(kept[0])
    end = title.find(kept[-1], start) + len(kept[-1])
    return title[start:end].strip() if start >= 0 and end > start else kept[0].strip()


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _title(tree: HtmlElement, meta: dict[str, str], site_name: str | None) -> str | None:
    """The page's own headline: an <h1> or og:title that agrees with <title>, suffix removed."""
    title_tag = _clean(tree.findtext(".//title")) or ""
    og = _clean(meta.get("og:title") or meta.get("twitter:title")) or ""
    headings = [t for t in (_block_text(h) for h in tree.iter("h1")) if t][:5]
    bare_title = _strip_site_suffix(title_tag, site_name) if title_tag else ""
    bare_og = _strip_site_suffix(og, site_name) if og else ""

    for heading in headings:
        for full, bare in ((title_tag, bare_title), (og, bare_og)):
            if not full:
                continue
            if _same(heading, bare) or (
                len(heading) >= 0.6 * len(bare) and heading.casefold() in full.casefold()
            ):
                return heading
    if bare_og:
        return bare_og
    if len(headings) == 1:
        return headings[0]
    return bare_title or (headings[0] if headings else None)


_DATE_SHAPE = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,}\.?,?\s+\d{4}"
    r"|[A-Za-z]{3,}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
)


def _iso(value: str | None) -> str | None:
    """An ISO 8601 date or datetime from what a page wrote, or None when it is not a date."""
    value = _clean(value)
    if not value or len(value) > 64 or not _DATE_SHAPE.search(value):
        return None
    try:
        with warnings.catch_warnings():  # "EST identified but not understood" on every US page
            warnings.simplefilter("ignore")
            parsed = dateparser.parse(value, fuzzy=False)
    except (ValueError, OverflowError, TypeError, dateparser.ParserError):
        return None
    if not 1900 <= parsed.year <= 2200:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) or not re.search(r"\d{1,2}:\d{2}", value):
        return parsed.date().isoformat()
    return parsed.isoformat()


_PUBLISHED_KEYS = (
    "article:published_time",
    "govuk:first-published-at",
    "datepublished",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.created",
    "og:published_time",
    "pubdate",
    "publishdate",
    "sailthru.date",
    "parsely-pub-date",
)
_UPDATED_KEYS = (
    "article:modified_time",
    "govuk:public-updated-at",
    "govuk:updated-at",
    "datemodified",
    "dcterms.modified",
    "og:updated_time",
)


_PUBLISHED_TIME_XPATH = (
    '//article//time[@datetime][not(contains(@class, "updated"))'
    ' and not(contains(@class, "modified")) and not(@itemprop="dateModified")]'
)


def _published(
    tree: HtmlElement, meta: dict[str, str], ld: list[dict[str, Any]], url: str
) -> str | None:
    """The publication date the page declares, else htmldate's reading of its text."""
    for candidate in (
        *(meta.get(key) for key in _PUBLISHED_KEYS),
        _ld_value(ld, "datePublished"),
        _ld_value(ld, "dateCreated"),
        *(t.get("datetime") for t in tree.xpath(_PUBLISHED_TIME_XPATH)[:1]),
    ):
        iso = _iso(candidate)
        if iso:
            return iso
    try:
        found = find_date(tree, extensive_search=False, original_date=True, url=url or None)
    except (ValueError, TypeError, OverflowError, etree.LxmlError):
        return None
    return _iso(found)


_UPDATED_TIME_XPATH = (
    '//article//time[@datetime][contains(@class, "updated") or contains(@class, "modified")'
    ' or @itemprop="dateModified"]'
)


def _updated(tree: HtmlElement, meta: dict[str, str], ld: list[dict[str, Any]]) -> str | None:
    for candidate in (
        *(meta.get(key) for key in _UPDATED_KEYS),
        _ld_value(ld, "dateModified"),
        *(t.get("datetime") for t in tree.xpath(_UPDATED_TIME_XPATH)[:1]),
    ):
        iso = _iso(candidate)
        if iso:
            return iso
    return None


_BYLINE_XPATH = (
    '//*[@rel="author"]|//*[@itemprop="author"]'
    '|//*[contains(concat(" ", normalize-space(@class), " "), " author ")'
    ' or contains(@class, "byline") or contains(@class, "author-name")]'
)
_BY_PREFIX = re.compile(r"^(?:by|written by|posted by|author:?)\s+", re.IGNORECASE)


def _byline(tree: HtmlElement) -> str | None:
    for element in tree.xpath(_BYLINE_XPATH)[:10]:
        if _in_furniture(element) and element.tag != "a":
            continue
        text = _BY_PREFIX.sub("", _block_text(element))
        if 2 < len(text) < 80 and len(text.split()) <= 8:
            return text
    return None


def _author(tree: HtmlElement, meta: dict[str, str], ld: list[dict[str, Any]]) -> str | None:
    for candidate in (
        _ld_value(ld, "author", "name"),
        meta.get("author"),
        meta.get("article:author"),
        meta.get("dc.creator"),
        meta.get("parsely-author"),
        meta.get("sailthru.author"),
        meta.get("govuk:primary-publishing-organisation"),
    ):
        value = _clean(candidate)
        if value and not absolute_url(value, "") and len(value) < 200:
            return value
    return _byline(tree)


def _language(tree: HtmlElement, meta: dict[str, str]) -> str | None:
    for value in (
        tree.get("lang"),
        tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
        meta.get("content-language"),
        meta.get("og:locale"),
        meta.get("language"),
    ):
        value = (value or "").strip().replace("_", "-")
        if re.fullmatch(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*", value):
            primary, *rest = value.split("-")
            return "-".join([primary.lower(), *[r.upper() if len(r) == 2 else r for r in rest]])
    return None


def _in_furniture(element: etree._Element) -> bool:
    """Whether an element sits in navigation, a sidebar, a promo or the site header/footer.

    The walk stops at the article (or <main>): an article's own header and footer hold its
    byline and date, not site furniture.
    """
    in_article = any(ancestor.tag == "article" for ancestor in element.iterancestors())
    for ancestor in element.iterancestors():
        if ancestor.tag in ("article", "main", "body"):
            return False
        if in_article and ancestor.tag in ("header", "footer"):
            continue
        if ancestor.tag in _FURNITURE_TAGS:
            return True
        role = (ancestor.get("role") or "").lower()
        if role in ("navigation", "banner", "contentinfo", "complementary"):
            return True
        marks = f"{ancestor.get('class') or ''} {ancestor.get('id') or ''}"
        words = {
            w.lower() for w in _FURNITURE_WORDS.findall(marks.replace("-", " ").replace("_", " "))
        }
        if in_article:
            words -= {"header", "footer"}
        if words:
            return True
    return False


def _main_scope(tree: HtmlElement) -> etree._Element:
    """<main>, else the single <article>, else the whole page."""
    for path in ("//main", '//*[@role="main"]', "//article"):
        found = tree.xpath(path)
        if len(found) == 1:
            return found[0]
    return tree


def _tables(tree: HtmlElement, text: str) -> list[Table]:
    """Data tables whose cells made it into the main text; layout tables are left out."""
    tables = []
    haystack = " ".join(text.split())
    for table in _main_scope(tree).iter("table"):
        if table.find(".//table") is not None or _in_furniture(table):
            continue
        rows = [[_block_text(cell) for cell in row.xpath("./th|./td")] for row in table.iter("tr")]
        rows = [row for row in rows if any(row)]
        if len(rows) < 2 or max(len(row) for row in rows) < 2:
            continue
        cells = [cell for row in rows for cell in row if cell][:20]
        if sum(cell in haystack for cell in cells) < max(1, len(cells) // 2):
            continue
        first = table.xpath(".//tr")[0]
        header: list[str] = []
        if (first.xpath("./th") and not first.xpath("./td")) or first.getparent().tag == "thead":
            header, rows = rows[0], rows[1:]
        caption = table.find("caption")
        tables.append(
            Table(
                caption=_block_text(caption) or None if caption is not None else None,
                header=header,
                rows=rows,
            )
        )
    return tables


def _images(tree: HtmlElement, text: str, base: str) -> list[Image]:
    """Images inside <figure> in the article (not in navigation, promos or footers)."""
    images = []
    haystack = " ".join(text.split()).casefold()
    scope = _main_scope(tree)
    for figure in scope.iter("figure"):
        if _in_furniture(figure):
            continue
        img = figure.find(".//img")
        if img is None:
            continue
        src = absolute_url(img.get("src") or img.get("data-src") or "", base)
        if not src:
            continue
        caption_el = figure.find(".//figcaption")
        caption = _block_text(caption_el) if caption_el is not None else ""
        alt = _clean(img.get("alt")) or ""
        if scope is tree and not (
            (caption and caption.casefold() in haystack) or (alt and alt.casefold() in haystack)
        ):
            # No <main>/<article> to vouch for it: keep only if the article text mentions it.
            continue
        images.append(Image(src=src, alt=alt, caption=caption))
    return images


def _withdrawn(tree: HtmlElement) -> str | None:
    """The page's withdrawal notice ("This publication was withdrawn on 3 May 2021 ..."), if any."""
    for element in tree.xpath("//body//*[not(self::script) and not(self::style)]"):
        match = _WITHDRAWN.match(element.text or "")
        if not match:
            continue
        marked = any(
            _NOTICE_MARKS.search(f"{e.get('class') or ''} {e.get('id') or ''}")
            for e in (element, *element.iterancestors())
        )
        if not (match.group("dated") or marked):
            continue  # "This policy was withdrawn last year" in an article is not a notice
        notice = element
        for ancestor in element.iterancestors():
            if len(_block_text(ancestor)) > 600 or ancestor.tag in ("body", "main", "article"):
                break
            notice = ancestor
        return _block_text(notice) or None
    return None
