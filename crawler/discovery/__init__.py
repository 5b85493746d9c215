"""Discovery: response bytes in, candidate URLs with dates out.

Pure functions, no network and no Scrapy, so the spider, `oversight sources --check` and the tests
all read feeds, sitemaps, listing pages and APIs the same way. Anything that cannot be read raises
`DiscoveryError` with a reason a person can act on; the spider stores it as a `failures` row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from urllib.parse import urldefrag, urljoin, urlsplit

__all__ = ["FEED_UPDATED", "LISTING", "Candidate", "DiscoveryError", "preferred_listed_date"]

#: `Candidate.published_from` of a publication date a feed, sitemap or API gave.
LISTING = "listing"
#: `Candidate.published_from` of the `<updated>` of an Atom entry that gives no `<published>`:
#: an edit date, but the first one seen is the nearest stand-in for publication there is.
FEED_UPDATED = "feed updated"


@dataclass(slots=True)
class Candidate:
    """A URL worth fetching, with what its referrer declared about it.

    `published` is a publication date (RSS pubDate, WP date_gmt), or, when `published_from` is
    `FEED_UPDATED`, the `<updated>` standing in for one. `modified` is only ever a declared
    modification date (sitemap lastmod, Atom updated, WP modified_gmt, GOV.UK public_updated_at):
    the spider may skip a known URL when `modified` shows no change, which a publication date never
    can. Both are ISO 8601 strings: a bare date, or a UTC datetime with its offset.
    """

    url: str
    published: str | None = None
    modified: str | None = None
    title: str | None = None
    anchor: str | None = None
    # A file a feed entry attaches (a report's PDF): fetched only when it matches `documents`,
    # unlike the entry itself.
    enclosure: bool = False
    published_from: str = LISTING


ListedDate = tuple[str, str]  # (ISO 8601 date, `Candidate.published_from`)


def preferred_listed_date(first: ListedDate | None, second: ListedDate | None) -> ListedDate | None:
    """Of two dates feeds, sitemaps or APIs gave one document, the one that dates it.

    A publication date beats the `FEED_UPDATED` stand-in, and of two publication dates the first
    is kept. Of two stand-ins the earlier is kept: an entry's `updated` moves only with edits, so
    the first seen is the nearest to publication, and a later edit never moves it.
    """
    if first is None or second is None:
        return first or second
    if first[1] != second[1]:
        return first if first[1] != FEED_UPDATED else second
    return min(first, second) if first[1] == FEED_UPDATED else first


class DiscoveryError(Exception):
    """A feed, sitemap, listing or API answer that could not (or must not) be read."""


_PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9.-]+(:\d+)?(/[^\s\\]*)?$")
_DATE_ONLY = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def iso_datetime(value: str | None) -> str | None:
    """Normalise a W3C/ISO 8601 date or datetime to ISO 8601, UTC when it has a time.

    Bare dates (sitemap `lastmod` may be "2024-03-01", or even "2024-03") stay dates; a datetime
    without an offset is taken as UTC, which is what sitemaps and WordPress `*_gmt` fields mean.
    Unparseable values give None rather than an error: a bad date must not lose the URL.
    """
    if not value:
        return None
    text = value.strip()
    if _DATE_ONLY.match(text):
        parts = [int(p) for p in text.split("-")]
        while len(parts) < 3:
            parts.append(1)
        try:
            return date(*parts).isoformat()
        except ValueError:
            return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()


def absolute_http_url(href: str | None, base: str) -> str | None:
    """`href` resolved against `base`, without its fragment; None unless it is http(s)."""
    if href is None:
        return None
    # Browsers strip surrounding whitespace and drop tabs and newlines inside an href.
    href = href.strip()
    if "\t" in href or "\n" in href or "\r" in href:
        href = re.sub(r"[\t\n\r]", "", href)
    if not href:
        return None
    if _PLAIN_ABSOLUTE.match(href):
        # The common case (sitemaps, most links) without urljoin's cost: a million-URL sitemap
        # spends most of its time here.
        return href.split("#", 1)[0]
    if href.startswith("/") and not href.startswith("//"):
        # Site-relative links repeat on every page of a site (navigation, footers): resolve each
        # once per origin.
        return _resolve(origin(base) + "/", href)
    return _resolve(base, href)


def origin(url: str) -> str:
    """`scheme://host:port` of an absolute URL (the whole URL when it has no path)."""
    scheme_end = url.find("://")
    path_start = url.find("/", scheme_end + 3) if scheme_end > 0 else -1
    return url if path_start < 0 else url[:path_start]


@lru_cache(maxsize=65536)
def _resolve(base: str, href: str) -> str | None:
    try:
        url = urldefrag(urljoin(base, href))[0]
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url


def _prologue_text(head: bytes) -> str:
    """The start of an XML body as text, whatever its byte encoding, for the DTD check."""
    for bom, codec in (
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\xfe\xff", "utf-16-be"),
        (b"\xff\xfe", "utf-16-le"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, "ignore")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if head[:4] == b"\x00<\x00?":
        return head.decode("utf-16-be", "ignore")
    if head[:4] == b"<\x00?\x00":
        return head.decode("utf-16-le", "ignore")
    return head.decode("latin-1")


@dataclass
class Doctype:
    """What an XML prologue declares before its root element."""

    name: str | None = None
    internal_subset: bool = False  # `<!DOCTYPE x [ ... ]>`: where entity bombs live
    root: str | None = None  # local name of the root element, when the scanned head reaches it
    truncated: bool = False  # the prologue runs past the scanned head: nothing is known of it


def read_doctype(head: bytes) -> Doctype:
    """Scan the XML prologue (declaration, comments, PIs, DOCTYPE) of the first bytes of a body.

    Entity bombs (billion laughs, quadratic blow-up) need entity declarations, and those can only
    sit in a DOCTYPE's internal subset, which comes before the root element. Scanning the prologue
    with quoted literals and comments respected finds it without parsing a single entity, and
    without refusing a document that merely mentions "<!ENTITY" in its content.
    """
    text = _prologue_text(head).lstrip("\ufeff")
    found = Doctype()
    pos, end = 0, len(text)
    while pos < end:
        while pos < end and text[pos].isspace():
            pos += 1
        if text.startswith("<?", pos):
            close = text.find("?>", pos)
            pos = end if close < 0 else close + 2
        elif text.startswith("<!--", pos):
            close = text.find("-->", pos)
            pos = end if close < 0 else close + 3
        elif text[pos : pos + 9].upper() == "<!DOCTYPE":
            match = re.match(r"\s*([^\s\[>]+)", text[pos + 9 : pos + 200])
            found.name = match.group(1).lower() if match else None
            close = _doctype_end(text, pos + 9)
            if close < 0:
                found.internal_subset = True
                return found
            pos = close + 1
        else:
            match = _ROOT_TAG.match(text, pos)
            if match:
                found.root = match.group(1).rsplit(":", 1)[-1].lower()
            return found
    found.truncated = True
    return found


_ROOT_TAG = re.compile(r"<([A-Za-z_][\w.:-]*)")


def _doctype_end(text: str, pos: int) -> int:
    """Index of the `>` closing a DOCTYPE without an internal subset; -1 for a subset or no end.

    A DOCTYPE that never closes in the scanned head is treated as the worst case.
    """
    quote = ""
    for index in range(pos, len(text)):
        char = text[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "[":
            return -1
        elif char == ">":
            return index
    return -1
