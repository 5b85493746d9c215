"""Sitemaps (urlset and index, plain or gzipped, XML or text) to candidates.

Sitemaps are where hostile input is cheapest to send, so this module streams: gzip is inflated in
small chunks straight into lxml's incremental parser, each parsed element is dropped once read, and
more than 50 MB of XML (the sitemap protocol's own limit) is refused. A gzip bomb costs at most a
chunk of memory and stops at the cap; an entity bomb is refused before parsing starts.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from crawler.discovery import (
    Candidate,
    DiscoveryError,
    absolute_http_url,
    iso_datetime,
    read_doctype,
)

__all__ = [
    "MAX_SITEMAP_BYTES",
    "MAX_SITEMAP_URLS",
    "Sitemap",
    "parse_sitemap",
    "sitemaps_from_robots",
]

MAX_SITEMAP_BYTES = 50 * 1024 * 1024
# The protocol allows 50,000 entries per file; twice that is tolerated, more is refused so that a
# sitemap of tiny entries cannot hold millions of candidates in memory.
MAX_SITEMAP_URLS = 100_000
_MAX_LINE = 64 * 1024
_CHUNK = 256 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_FEED_ROOTS = {"rss", "feed", "rdf"}
_ROBOTS_LINE = re.compile(rb"^\s*(user-agent|disallow|allow|crawl-delay|sitemap)\s*:", re.I | re.M)


@dataclass
class Sitemap:
    """A parsed sitemap: page URLs (`urls`) and, for an index, child sitemaps (`sitemaps`)."""

    urls: list[Candidate] = field(default_factory=list)
    sitemaps: list[Candidate] = field(default_factory=list)


def parse_sitemap(body: bytes, url: str) -> Sitemap:
    """Read a sitemap or sitemap index; gzip is recognised by its magic bytes, not its headers.

    `lastmod` goes to `Candidate.modified`; a Google News sitemap's `publication_date` and `title`
    go to `published` and `title`. RSS and Atom feeds, which search engines accept as sitemaps,
    are read as feeds.
    """
    chunks = _decompressed_chunks(body)
    first = b""
    for chunk in chunks:
        first += chunk
        if first.strip() or len(first) > _CHUNK:
            break
    head = first.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise DiscoveryError("not a sitemap: the body is empty")
    if head.startswith(b"<"):
        # Leading blank lines (a common WordPress plugin fault) would make the XML declaration
        # illegal; browsers and search engines forgive them, so do we.
        return _parse_xml(head, chunks, url)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return _parse_xml(first, chunks, url)
    return _parse_text(first, chunks, url)


def sitemaps_from_robots(body: bytes, url: str) -> list[str]:
    """The `Sitemap:` URLs a robots.txt declares, resolved against its URL."""
    found: list[str] = []
    for line in body.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "sitemap":
            resolved = absolute_http_url(value.strip(), url)
            if resolved and resolved not in found:
                found.append(resolved)
    return found


# Deflate's best case, a run of one byte, shrinks about 1,032 to 1.
_MAX_DEFLATE_RATIO = 1100


def _decompressed_chunks(body: bytes) -> Iterator[bytes]:
    if not body.startswith(_GZIP_MAGIC):
        if len(body) > MAX_SITEMAP_BYTES:
            raise _too_large()
        for start in range(0, len(body), _CHUNK):
            yield body[start : start + _CHUNK]
        return
    # The gzip trailer declares the inflated size (mod 2**32): an honest big file is refused at
    # once. It can lie, so the running count below is the real guard; and a size deflate cannot
    # reach from this many bytes is a truncated or corrupt file, left for inflating to name.
    declared = int.from_bytes(body[-4:], "little")
    if len(body) >= 18 and MAX_SITEMAP_BYTES < declared <= len(body) * _MAX_DEFLATE_RATIO:
        raise _too_large()
    total = 0
    pending = body
    while pending:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = pending
        while data and not inflater.eof:
            try:
                out = inflater.decompress(data, _CHUNK)
            except zlib.error as error:
                raise DiscoveryError(f"not a sitemap: broken gzip data ({error})") from None
            total += len(out)
            if total > MAX_SITEMAP_BYTES:
                raise _too_large()
            if out:
                yield out
            data = inflater.unconsumed_tail
        if not inflater.eof:
            raise DiscoveryError("not a sitemap: broken gzip data (truncated)")
        # Concatenated gzip members are one stream; anything else after the end is ignored.
        pending = inflater.unused_data if inflater.unused_data.startswith(_GZIP_MAGIC) else b""


def _too_many() -> DiscoveryError:
    return DiscoveryError(
        f"sitemap has more than {MAX_SITEMAP_URLS:,} entries (the protocol allows 50,000 a file)"
    )


def _too_large() -> DiscoveryError:
    return DiscoveryError(
        f"sitemap too large after decompression (> {MAX_SITEMAP_BYTES // (1024 * 1024)} MB)"
    )


def _parse_xml(first: bytes, rest: Iterator[bytes], url: str) -> Sitemap:
    doctype = read_doctype(first[:_CHUNK])
    if doctype.name == "html" or doctype.root == "html":
        raise DiscoveryError("not a sitemap: got an HTML page")
    if doctype.internal_subset:
        raise DiscoveryError(
            "sitemap refused: XML entity declarations in its DOCTYPE (billion-laughs protection)"
        )
    if doctype.root is None:
        raise DiscoveryError("not a sitemap: no XML root element in the first 256 KB")
    if doctype.root in _FEED_ROOTS:
        from crawler.discovery.feeds import parse_feed

        return Sitemap(urls=parse_feed(b"".join(_chain(first, rest)), url))
    if doctype.root not in ("urlset", "sitemapindex"):
        raise DiscoveryError(
            f"not a sitemap: root element is <{doctype.root}>, expected <urlset> or <sitemapindex>"
        )
    parser = etree.XMLPullParser(
        events=("end",),
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )
    sitemap = Sitemap()
    seen: set[str] = set()
    counter = [0]
    try:
        for chunk in _chain(first, rest):
            parser.feed(chunk)
            for _event, element in parser.read_events():
                _take(element, url, sitemap, seen, counter)
        parser.close()
    except etree.XMLSyntaxError as error:
        raise DiscoveryError(f"not a sitemap: XML error ({error})") from None
    return sitemap


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _take(
    element: etree._Element, base: str, sitemap: Sitemap, seen: set[str], counter: list[int]
) -> None:
    """Read a finished <url> or <sitemap> element, then free it and what came before it."""
    parent = element.getparent()
    # Only direct children of the root count: a <loc> inside <image:image> is not a page.
    if parent is None or parent.getparent() is not None:
        return
    kind = _local(element.tag)
    if kind in ("url", "sitemap"):
        # Entries are counted, not unique URLs: one URL repeated a million times costs as much.
        counter[0] += 1
        if counter[0] > MAX_SITEMAP_URLS:
            raise _too_many()
        values: dict[str, str] = {}
        for child in element.iter():
            name = _local(child.tag)
            own = name in ("loc", "lastmod") and child.getparent() is element
            news = name in ("publication_date", "title") and "sitemap-news" in str(child.tag)
            if (own or news) and name not in values:
                values[name] = (child.text or "").strip()
        loc = absolute_http_url(values.get("loc"), base)
        if loc and loc not in seen:
            seen.add(loc)
            candidate = Candidate(
                loc,
                published=iso_datetime(values.get("publication_date")),
                modified=iso_datetime(values.get("lastmod")),
                title=values.get("title") or None,
            )
            (sitemap.urls if kind == "url" else sitemap.sitemaps).append(candidate)
    element.clear()
    while element.getprevious() is not None:
        del parent[0]


def _parse_text(first: bytes, rest: Iterator[bytes], url: str) -> Sitemap:
    """A text sitemap: one absolute URL per line, UTF-8."""
    if _ROBOTS_LINE.search(first):
        raise DiscoveryError("not a sitemap: this is a robots.txt file")
    if b"\x00" in first:
        raise DiscoveryError("not a sitemap: binary data, neither XML nor a text list of URLs")
    sitemap = Sitemap()
    seen: set[str] = set()
    bad = 0
    tail = b""
    for chunk in _chain(first, rest):
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        if len(tail) > _MAX_LINE:
            raise DiscoveryError("not a sitemap: a line longer than 64 KB, not a list of URLs")
        bad += _take_lines(lines, url, sitemap, seen)
        if len(seen) > MAX_SITEMAP_URLS:
            raise _too_many()
    bad += _take_lines([tail], url, sitemap, seen)
    if not sitemap.urls:
        raise DiscoveryError(
            "not a sitemap: neither XML nor a text list of URLs"
            + (f" ({bad} lines that are not URLs)" if bad else "")
        )
    return sitemap


def _take_lines(lines: list[bytes], base: str, sitemap: Sitemap, seen: set[str]) -> int:
    bad = 0
    for raw in lines:
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        if not line.lower().startswith(("http://", "https://")):
            bad += 1
            continue
        loc = absolute_http_url(line, base)
        if loc and loc not in seen:
            seen.add(loc)
            sitemap.urls.append(Candidate(loc))
    return bad
