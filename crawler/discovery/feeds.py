"""RSS 0.9x/1.0/2.0 and Atom feeds to candidates, with feedparser.

Entity bombs are refused before feedparser sees the body; links are resolved against `xml:base`
and the feed's own URL. Atom `updated` is a modification date; RSS `pubDate` (and RSS 1.0
`dc:date`) are publication dates and never reach `Candidate.modified`.
"""

from __future__ import annotations

import calendar
import html
import io
import re
import time
from datetime import UTC, datetime
from xml.sax import SAXParseException

import feedparser

from crawler.discovery import Candidate, DiscoveryError, absolute_http_url, read_doctype

__all__ = ["parse_feed"]

_PROLOGUE_BYTES = 64 * 1024
_TAG = re.compile(r"<[^>]*>")


def parse_feed(body: bytes, url: str, problems: list[str] | None = None) -> list[Candidate]:
    """Every entry of the feed at `url` that links to an http(s) page, in feed order.

    A feed broken part-way (truncated, or bad XML after some entries) still gives the entries
    read before the break; when `problems` is given, what broke is appended to it, so the
    caller can record it.
    """
    doctype = read_doctype(body[:_PROLOGUE_BYTES])
    if doctype.internal_subset:
        raise DiscoveryError(
            "feed refused: XML entity declarations in its DOCTYPE (billion-laughs protection)"
        )
    if doctype.truncated and len(body) > _PROLOGUE_BYTES:
        raise DiscoveryError("feed refused: no root element in its first 64 KB")
    # A BytesIO, never the bytes themselves: feedparser treats a string argument as a path or URL.
    try:
        parsed = feedparser.parse(
            io.BytesIO(body),
            # The body's own XML declaration decides its encoding; without a content type
            # feedparser flags every feed as suspect ("no Content-type specified").
            response_headers={"content-location": url, "content-type": "application/xml"},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except (UnicodeError, ValueError) as error:  # a garbled encoding declaration, a NUL in it
        raise DiscoveryError(f"not a feed: its encoding cannot be read ({error})") from None
    version = parsed.get("version") or ""
    entries = parsed.get("entries") or []
    if not entries and (parsed.get("bozo") or not version):
        reason = parsed.get("bozo_exception") or "no RSS or Atom root element"
        raise DiscoveryError(f"not a feed: {reason}")
    is_atom = version.startswith("atom")
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for entry in entries:
        link = absolute_http_url(_entry_link(entry), url)
        if link is None or link in seen:
            continue
        seen.add(link)
        # dict.get: FeedParserDict.get("updated_parsed") silently falls back to the published date.
        published = dict.get(entry, "published_parsed")
        updated = dict.get(entry, "updated_parsed")
        title = _clean_title(entry.get("title"))
        if is_atom:
            candidates.append(Candidate(link, _iso(published), _iso(updated), title))
        else:
            candidates.append(Candidate(link, _iso(published or updated), None, title))
        for enclosure in _document_enclosures(entry, url):
            if enclosure not in seen:
                seen.add(enclosure)
                published_at = candidates[-1].published
                candidates.append(Candidate(enclosure, published_at, None, title, enclosure=True))
    broken = parsed.get("bozo_exception")
    if not candidates and parsed.get("bozo"):
        # A broken feed that yields no link at all must say so, not pass as an empty feed.
        raise DiscoveryError(f"not a feed (malformed XML): {broken}")
    if problems is not None and isinstance(broken, SAXParseException):
        problems.append(
            f"feed is malformed XML, read only the {len(candidates)} entries before: {broken}"[:500]
        )
    return candidates


# Files a feed entry attaches that are documents (a report's PDF, its data), not media.
_DOCUMENT_TYPES = ("pdf", "msword", "officedocument", "opendocument", "ms-excel", "csv")
_DOCUMENT_SUFFIXES = (".pdf", ".doc", ".docx", ".odt", ".xls", ".xlsx", ".ods", ".csv")


def _document_enclosures(entry: feedparser.FeedParserDict, url: str) -> list[str]:
    """An entry's enclosures (RSS `<enclosure>`, Atom `rel="enclosure"`) that are documents:
    a watchdog's feed may attach the report to the press release. Podcasts and images are not."""
    found = []
    for enclosure in entry.get("enclosures") or []:
        href = absolute_http_url(enclosure.get("href"), url)
        kind = str(enclosure.get("type") or "").lower()
        path = (href or "").split("?", 1)[0].lower()
        if href and (any(t in kind for t in _DOCUMENT_TYPES) or path.endswith(_DOCUMENT_SUFFIXES)):
            found.append(href)
    return found


def _entry_link(entry: feedparser.FeedParserDict) -> str | None:
    link = entry.get("link")
    if link:
        return str(link)
    for candidate in entry.get("links") or []:
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return str(candidate["href"])
    guid = entry.get("id")
    if guid and str(guid).startswith(("http://", "https://")):
        return str(guid)
    return None


def _iso(value: time.struct_time | None) -> str | None:
    """feedparser's parsed dates are UTC struct_times."""
    if not value:
        return None
    return datetime.fromtimestamp(calendar.timegm(value), tz=UTC).isoformat()


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    text = " ".join(html.unescape(_TAG.sub("", title)).split())
    return text or None
