"""RSS 0.9x/1.0/2.0 and Atom feeds to candidates, with feedparser.

Entity bombs are refused before feedparser sees the body; links are resolved against `xml:base`
and the feed's own URL. Atom `updated` is a modification date; RSS `pubDate` (and RSS 1.0
`dc:date`) are publication dates and never reach `Candidate.modified`. Dates are read from the
text the feed wrote (`read_date`), not from feedparser's reading of it.
"""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_tz
from xml.sax import SAXParseException

import feedparser
from dateutil import parser as dateparser
from dateutil import tz

from crawler.discovery import (
    FEED_UPDATED,
    Candidate,
    DiscoveryError,
    absolute_http_url,
    read_doctype,
)

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
    month_first = _writes_us_dates(parsed.get("feed") or {})
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for entry in entries:
        link = absolute_http_url(_entry_link(entry), url)
        if link is None or link in seen:
            continue
        seen.add(link)
        # dict.get: FeedParserDict.get("updated") silently falls back to the published date.
        published = read_date(dict.get(entry, "published"), month_first)
        updated = read_date(dict.get(entry, "updated"), month_first)
        title = _clean_title(entry.get("title"))
        if not is_atom:
            # feedparser files RSS 1.0's `dc:date` as `updated`: in RSS it is a publication date.
            candidates.append(Candidate(link, published or updated, None, title))
        elif published or not updated:
            candidates.append(Candidate(link, published, updated, title))
        else:
            candidates.append(Candidate(link, updated, updated, title, published_from=FEED_UPDATED))
        dated = candidates[-1]
        for enclosure in _document_enclosures(entry, url):
            if enclosure not in seen:
                seen.add(enclosure)
                candidates.append(
                    Candidate(
                        enclosure,
                        dated.published,
                        None,
                        title,
                        enclosure=True,
                        published_from=dated.published_from,
                    )
                )
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


def _writes_us_dates(feed: feedparser.FeedParserDict) -> bool:
    """Whether the feed declares US English (`<language>en-us</language>`, `xml:lang="en-US"`),
    whose numeric dates put the month first."""
    language = str(feed.get("language") or "").strip().lower().replace("_", "-")
    return language == "en-us" or language.startswith("en-us-")


# Zone names by their offset in hours: RFC 822's own, and those UK and European publishers write.
# IST is not one of them: Irish, Indian or Israeli time, it cannot be told which.
_ZONES = {"UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "BST": 1, "CET": 1, "CEST": 2}
_ZONES.update(EST=-5, EDT=-4, CST=-6, CDT=-5, MST=-7, MDT=-6, PST=-8, PDT=-7)
_UNKNOWN_ZONE = tz.tzoffset("unknown", 0)
_UK_TIME = tz.gettz("Europe/London")
_YEAR_FIRST = re.compile(r"\d{4}\D?\d")
# "GMT+1": people mean an hour ahead of GMT, POSIX (and dateutil) an hour behind.
_SIGNED_ZONE = re.compile(r"(?:GMT|UTC?)\s*[+-]\s*\d", re.IGNORECASE)
# RSS's own form with a numeric or UTC zone, nearly every date of most feeds: the standard library
# reads it as dateutil does, fifty times faster.
_RFC822 = re.compile(
    r"(?:[a-z]{3}, ?)?\d{1,2} [a-z]{3} \d{2,4} \d\d:\d\d(?::\d\d)? (?:[+-]\d{4}|gmt|utc?|z)",
    re.IGNORECASE,
)
# Two readings with different defaults show what the text left out.
_DEFAULTS = (datetime(1, 1, 1, 0, 0, 0), datetime(2, 2, 2, 1, 1, 1))
_YEARS = range(1900, 2201)


def read_date(text: str | None, month_first: bool = False) -> str | None:
    """A date a feed wrote, as ISO 8601 (a bare date, or a UTC datetime), or None.

    feedparser drops "04/03/2025" and "04.03.2025", makes "4 March 2025" midnight UTC and "2025"
    the first of January, and takes "BST", or any zone name it does not know, for UTC. Here
    every reading follows a rule, and what no rule settles is left out rather than guessed: a
    numeric date is day first (these are UK bodies) unless the feed declares US English, and
    year first when it starts with the year; a zone is read only when it is unambiguous, else
    only the date is kept; a time without a zone is UK time (a US feed's, which could be any of
    four zones, keeps only its date); and a date missing its year, month or day is no date.
    """
    text = " ".join((text or "").split())
    if not text or len(text) > 64:
        return None
    try:
        return _read(text, month_first)
    except (ValueError, OverflowError):  # an offset of a day or more
        return None


def _read(text: str, month_first: bool) -> str | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return day.isoformat() if day.year in _YEARS else None
    found = _parse(text, month_first)
    if found is None or found[0].year not in _YEARS:
        return None
    parsed, has_time = found
    unknown_zone = parsed.tzinfo is _UNKNOWN_ZONE or _SIGNED_ZONE.search(text)
    if not has_time or unknown_zone or (parsed.tzinfo is None and month_first):
        return parsed.date().isoformat()
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_UK_TIME)
    return parsed.astimezone(UTC).isoformat()


def _parse(text: str, month_first: bool) -> tuple[datetime, bool] | None:
    """`text` as a datetime, and whether it gives a time; None without a whole date."""
    try:
        return datetime.fromisoformat(text), True
    except ValueError:
        pass
    fields = parsedate_tz(text) if _RFC822.fullmatch(text) else None
    if fields and fields[9] is not None:
        return datetime(*fields[:6], tzinfo=timezone(timedelta(seconds=fields[9]))), True
    return _written(text, month_first)


def _written(text: str, month_first: bool) -> tuple[datetime, bool] | None:
    """dateutil's reading of `text`, by the rules of `read_date`."""
    day_first = not month_first and not _YEAR_FIRST.match(text)
    try:
        first, second = (
            dateparser.parse(text, default=d, dayfirst=day_first, tzinfos=_zone) for d in _DEFAULTS
        )
    except (dateparser.ParserError, ValueError, OverflowError, TypeError):
        return None
    if (first.year, first.month, first.day) != (second.year, second.month, second.day):
        return None
    return first, first.hour == second.hour


def _zone(name: str | None, offset: int | None) -> tz.tzoffset | None:
    """dateutil's hook for a zone in the text: a numeric offset as written, a name from `_ZONES`,
    and `_UNKNOWN_ZONE` for a name that is not there or that contradicts its offset."""
    if name is None:
        return None if offset is None else tz.tzoffset(None, offset)
    hours = _ZONES.get(name.upper())
    if hours is None:
        return _UNKNOWN_ZONE if offset is None else tz.tzoffset(None, offset)
    if offset is not None and offset != hours * 3600:
        return _UNKNOWN_ZONE
    return tz.tzoffset(name, hours * 3600)


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    text = " ".join(html.unescape(_TAG.sub("", title)).split())
    return text or None
