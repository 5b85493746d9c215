"""Links on listing and document pages (PDFs too), and `<meta http-equiv="refresh">` targets.

The spider decides which links to follow (`follow`, `documents`, `exclude`, `allowed_domains`);
this module only reads them, in page order, so "newest first" listings stay newest first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape

from lxml import etree
from w3lib.encoding import html_to_unicode
from w3lib.html import get_meta_refresh

from crawler.discovery import Candidate, absolute_http_url, origin

__all__ = [
    "LinkScreen",
    "extract_links",
    "extract_pdf_links",
    "meta_redirect_target",
    "meta_refresh_target",
]

_LINK_TAGS = ("a", "area")
#: How long the crawl may spend reading one PDF's pages for links, waiting while it does. A
#: report's take tens of milliseconds; opening the file is bounded only by the response size cap
#: (a 7 MB page of 90,000 annotations takes pypdf about 5 s).
PDF_LINK_SECONDS = 5.0


def extract_links(
    body: bytes,
    url: str,
    limit: int = 20000,
    screen: LinkScreen | None = None,
) -> list[Candidate]:
    """Every distinct http(s) link on the page, resolved against `<base href>` and `url`.

    Fragments are dropped (a link to `#comments` is the page itself) and at most `limit`
    links are returned: a page with 100,000 links costs one parse, not 100,000 candidates.
    With a `screen`, only links it wants are returned (and counted against `limit`), and a
    page whose raw hrefs hold nothing wanted is not parsed at all.
    """
    if screen is not None and not screen.may_link(body, url):
        return []
    root = _parse(body)
    if root is None:
        return []
    base = url
    for element in root.iter("base"):
        href = element.get("href")
        if href:
            base = absolute_http_url(href, url) or url
            break
    links: list[Candidate] = []
    hrefs: set[str] = set()
    seen: set[str] = set()
    for element in root.iter(*_LINK_TAGS):
        href = element.get("href")
        if href is None or href in hrefs:
            continue
        hrefs.add(href)
        link = absolute_http_url(href, base)
        if link is None or link in seen:
            continue
        seen.add(link)
        if screen is not None and not screen.wanted(link):
            continue
        anchor = " ".join("".join(element.itertext()).split()) or element.get("alt") or None
        links.append(Candidate(link, title=element.get("title") or None, anchor=anchor))
        if len(links) >= limit:
            break
    return links


def extract_pdf_links(body: bytes, url: str, limit: int = 20000) -> list[Candidate]:
    """Every distinct http(s) link of a PDF's link annotations, in page order, without
    fragments: a report's annex, its data tables, its press release. At most `limit`; a PDF
    that cannot be opened links nothing here (its extraction records why)."""
    # The PDF reader is loaded when a crawl first meets a PDF, not by every user of listings.
    from extract.pdf import read_links
    from extract.records import ExtractionError

    try:
        links = read_links(body, url, seconds=PDF_LINK_SECONDS)
    except ExtractionError:
        return []
    found: dict[str, Candidate] = {}
    for link in links:
        target = absolute_http_url(link.url, url)
        if target is not None and target not in found:
            found[target] = Candidate(target)
            if len(found) >= limit:
                break
    return list(found.values())


# Any `href=` in the page, in tags, comments or scripts alike: a superset of the parser's links.
_RAW_HREF = re.compile(rb"""href\s*=\s*("[^"]*"|'[^']*'|[^\s>"']+)""")


class LinkScreen:
    """A source's test for links worth a request, remembering the raw hrefs it refused.

    The spider reads every document page for links to more documents, and on most pages every
    link is a menu, a footer or an article already queued. Once a page's hrefs have been
    refused, the next page repeating them is settled by a byte scan and a set difference,
    without parsing. The screen only ever errs towards parsing: a page with `<base href>`, an
    upper-case `HREF`, a UTF-16/32 body or a non-ASCII href is parsed, and an href with
    character references is tried both as written and decoded.
    """

    def __init__(self, wanted: Callable[[str], bool], remember: int = 200_000):
        self.wanted = wanted
        self.remember = remember
        self.refused: dict[str, set[bytes]] = {}
        self.remembered = 0

    def may_link(self, body: bytes, url: str) -> bool:
        """False only when no href on the page, resolved against `url`, is wanted."""
        lowered = body.lower()
        if (
            b"\x00" in body[:512]
            or b"<base" in lowered
            or lowered.count(b"href") != body.count(b"href")
        ):
            return True
        if self.remembered > self.remember:
            self.refused.clear()
            self.remembered = 0
        refused = self.refused.setdefault(origin(url), set())
        for raw in set(_RAW_HREF.findall(body)) - refused:
            value = raw[1:-1] if raw[:1] in b"\"'" else raw
            if not value.isascii():
                return True
            href = value.decode("ascii")
            for variant in (href, unescape(href)) if "&" in href else (href,):
                link = absolute_http_url(variant, url)
                if link is not None and self.wanted(link):
                    return True
            if value[:1] == b"/" or value[:4] == b"http":
                refused.add(raw)  # resolves the same on every page of this origin
                self.remembered += 1
        return False


#: A refresh sooner than this is a redirect: the page is a stub ("Moved"), not a document.
IMMEDIATE_REFRESH_SECONDS = 5


def meta_refresh_target(body: bytes, url: str) -> str | None:
    """The absolute http(s) URL a `<meta http-equiv="refresh">` sends the reader to, if any."""
    found = _meta_refresh(body, url)
    return found[1] if found else None


def meta_redirect_target(body: bytes, url: str) -> str | None:
    """Where a page that sends its reader on at once (within IMMEDIATE_REFRESH_SECONDS) goes."""
    found = _meta_refresh(body, url)
    return found[1] if found and found[0] <= IMMEDIATE_REFRESH_SECONDS else None


def _meta_refresh(body: bytes, url: str) -> tuple[float, str] | None:
    if b"\x00" not in body[:512] and b"refresh" not in body.lower():
        # Decoding the whole page to find no refresh costs more than this scan; UTF-16 and
        # UTF-32 pages (NULs between the letters) are decoded as before.
        return None
    _, text = html_to_unicode(None, body)
    interval, target = get_meta_refresh(text, baseurl=url)
    absolute = absolute_http_url(target, url) if target else None
    return (interval or 0.0, absolute) if absolute and absolute != url else None


def _parse(body: bytes) -> etree._Element | None:
    """Parse HTML bytes as UTF-8 after w3lib's encoding detection (BOM, `<meta>`, fallback)."""
    if not body.strip():
        return None
    _, text = html_to_unicode(None, body)
    # lxml's plain HTML parser: the `lxml.html` one builds a Python element class per node.
    parser = etree.HTMLParser(encoding="utf-8", remove_comments=True, huge_tree=False)
    try:
        root = etree.fromstring(text.encode("utf-8", "replace"), parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None
    return root
