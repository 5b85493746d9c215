"""Links on listing and document pages, and `<meta http-equiv="refresh">` targets.

The spider decides which links to follow (`follow`, `documents`, `exclude`, `allowed_domains`);
this module only reads them, in page order, so "newest first" listings stay newest first.
"""

from __future__ import annotations

from lxml import etree, html
from w3lib.encoding import html_to_unicode
from w3lib.html import get_meta_refresh

from crawler.discovery import Candidate, absolute_http_url

__all__ = ["extract_links", "meta_refresh_target"]

_LINK_TAGS = ("a", "area")


def extract_links(body: bytes, url: str, limit: int = 20000) -> list[Candidate]:
    """Every distinct http(s) link on the page, resolved against `<base href>` and `url`.

    Fragments are dropped (a link to `#comments` is the page itself) and at most `limit`
    links are returned: a page with 100,000 links costs one parse, not 100,000 candidates.
    """
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
    seen: set[str] = set()
    for element in root.iter(*_LINK_TAGS):
        link = absolute_http_url(element.get("href"), base)
        if link is None or link in seen:
            continue
        seen.add(link)
        anchor = " ".join(element.text_content().split()) or element.get("alt") or None
        links.append(Candidate(link, title=element.get("title") or None, anchor=anchor))
        if len(links) >= limit:
            break
    return links


def meta_refresh_target(body: bytes, url: str) -> str | None:
    """The absolute http(s) URL a `<meta http-equiv="refresh">` sends the reader to, if any."""
    _, text = html_to_unicode(None, body)
    _, target = get_meta_refresh(text, baseurl=url)
    return absolute_http_url(target, url) if target else None


def _parse(body: bytes) -> etree._Element | None:
    """Parse HTML bytes as UTF-8 after w3lib's encoding detection (BOM, `<meta>`, fallback)."""
    if not body.strip():
        return None
    _, text = html_to_unicode(None, body)
    parser = html.HTMLParser(encoding="utf-8", remove_comments=True, huge_tree=False)
    try:
        root = etree.fromstring(text.encode("utf-8", "replace"), parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None
    return root
