"""Discovery parsers: feeds, sitemaps, listing pages and APIs, including hostile bodies."""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.discovery import FEED_UPDATED, LISTING, DiscoveryError
from crawler.discovery import sitemaps as sitemaps_module
from crawler.discovery.apis import (
    govuk_attachment_links,
    govuk_public_url,
    govuk_search_url,
    parse_govuk_search,
    parse_wordpress_posts,
    wordpress_posts_url,
)
from crawler.discovery.feeds import parse_feed
from crawler.discovery.listings import LinkScreen, extract_links, meta_refresh_target
from crawler.discovery.sitemaps import parse_sitemap, sitemaps_from_robots
from crawler.sources import Api

BILLION_LAUGHS_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""

# Feeds


def test_rss_091_with_netscape_doctype_is_read_with_its_dates_as_publication_dates():
    body = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
  "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Watchdog</title><link>https://w.example/</link>
<description>d</description><language>en-gb</language>
<item><title>Caf\xe9 inquiry report</title><link>https://w.example/news/cafe</link>
<description>x</description></item>
<item><title>Second</title><link>/news/second</link></item>
</channel></rss>"""
    entries = parse_feed(body, "https://w.example/feed.rss")
    assert [e.url for e in entries] == [
        "https://w.example/news/cafe",
        "https://w.example/news/second",
    ]
    assert entries[0].title == "Caf\u00e9 inquiry report"
    assert all(e.modified is None for e in entries)


def test_rss_10_rdf_dc_date_is_a_publication_date_not_a_modification_date():
    body = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://w.example/"><title>W</title><link>https://w.example/</link>
<description>d</description></channel>
<item rdf:about="https://w.example/releases/one"><title>One</title>
<link>https://w.example/releases/one</link><dc:date>2024-03-05T09:30:00+01:00</dc:date></item>
</rdf:RDF>"""
    (entry,) = parse_feed(body, "https://w.example/index.rdf")
    assert entry.url == "https://w.example/releases/one"
    assert entry.published == "2024-03-05T08:30:00+00:00"
    assert entry.modified is None


def test_rss_20_pubdate_never_becomes_a_modification_date_and_relative_links_resolve():
    body = b"""<rss version="2.0"><channel><title>x</title><link>https://w.example/</link>
<item><title>One &amp; only</title><link>../news/1</link>
<pubDate>Tue, 05 Mar 2024 10:00:00 +0000</pubDate></item>
<item><title>Guid only</title><guid isPermaLink="true">https://w.example/news/2</guid></item>
<item><title>Mail</title><link>mailto:press@w.example</link></item>
</channel></rss>"""
    entries = parse_feed(body, "https://w.example/feeds/all/")
    assert [e.url for e in entries] == [
        "https://w.example/feeds/news/1",
        "https://w.example/news/2",
    ]
    assert entries[0].published == "2024-03-05T10:00:00+00:00"
    assert entries[0].modified is None
    assert entries[0].title == "One & only"


def test_atom_links_resolve_against_xml_base_and_updated_is_the_modification_date():
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://news.example/section/">
<title>News</title><id>tag:news.example,2024:feed</id><updated>2024-03-03T10:00:00Z</updated>
<entry><title>First</title><link href="story-1"/><id>tag:news.example,2024:1</id>
<published>2024-03-01T09:00:00Z</published><updated>2024-03-02T10:00:00+01:00</updated></entry>
<entry xml:base="/other/"><title>Second</title><link rel="alternate" href="story-2#top"/>
<id>tag:news.example,2024:2</id><updated>2024-03-03T10:00:00Z</updated></entry>
</feed>"""
    first, second = parse_feed(body, "https://news.example/feed.atom")
    assert first.url == "https://news.example/section/story-1"
    assert first.published == "2024-03-01T09:00:00+00:00"
    assert first.modified == "2024-03-02T09:00:00+00:00"
    assert second.url == "https://news.example/other/story-2"
    assert second.modified == "2024-03-03T10:00:00+00:00"


def test_an_atom_entry_with_only_updated_offers_it_as_a_stand_in_for_its_publication_date():
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>GOV.UK</title>
<entry><title>Only updated</title><link href="https://w.example/a"/><id>a</id>
<updated>2025-03-04T10:00:00+00:00</updated>
<link rel="enclosure" type="application/pdf" href="https://w.example/a.pdf"/></entry>
<entry><title>Both</title><link href="https://w.example/b"/><id>b</id>
<published>2025-03-01T09:00:00Z</published><updated>2025-03-04T10:00:00Z</updated></entry>
<entry><title>Unreadable published</title><link href="https://w.example/c"/><id>c</id>
<published>soon</published><updated>2025-03-05T10:00:00Z</updated></entry>
</feed>"""
    found = [
        (c.url, c.published, c.published_from, c.modified)
        for c in parse_feed(body, "https://w.example/feed.atom")
    ]
    assert found == [
        (
            "https://w.example/a",
            "2025-03-04T10:00:00+00:00",
            FEED_UPDATED,
            "2025-03-04T10:00:00+00:00",
        ),
        ("https://w.example/a.pdf", "2025-03-04T10:00:00+00:00", FEED_UPDATED, None),
        ("https://w.example/b", "2025-03-01T09:00:00+00:00", LISTING, "2025-03-04T10:00:00+00:00"),
        (
            "https://w.example/c",
            "2025-03-05T10:00:00+00:00",
            FEED_UPDATED,
            "2025-03-05T10:00:00+00:00",
        ),
    ]


def _rss_20(date: str, language: str = "en-gb") -> bytes:
    return (
        f"<rss version='2.0'><channel><title>t</title><language>{language}</language>"
        f"<item><link>https://w.example/a</link><pubDate>{date}</pubDate></item></channel></rss>"
    ).encode()


def _rss_10(date: str, language: str = "en-gb") -> bytes:
    return (
        "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'"
        " xmlns='http://purl.org/rss/1.0/' xmlns:dc='http://purl.org/dc/elements/1.1/'>"
        f"<channel rdf:about='https://w.example/'><title>t</title><dc:language>{language}"
        "</dc:language></channel><item rdf:about='https://w.example/a'><title>A</title>"
        f"<link>https://w.example/a</link><dc:date>{date}</dc:date></item></rdf:RDF>"
    ).encode()


def _atom(date: str, language: str = "en-GB") -> bytes:
    return (
        f"<feed xmlns='http://www.w3.org/2005/Atom' xml:lang='{language}'><title>t</title>"
        "<entry><title>A</title><link href='https://w.example/a'/><id>a</id>"
        f"<published>{date}</published></entry></feed>"
    ).encode()


@pytest.mark.parametrize("feed", [_rss_20, _rss_10, _atom], ids=["rss-2.0", "rss-1.0", "atom"])
@pytest.mark.parametrize(
    ("written", "read"),
    [
        # Numeric dates are day first: these are UK bodies.
        ("04/03/2025", "2025-03-04"),
        ("04.03.2025", "2025-03-04"),
        ("4/3/25", "2025-03-04"),
        ("13/03/2025 14:30", "2025-03-13T14:30:00+00:00"),
        # Written out, or year first, whatever the order.
        ("4 March 2025", "2025-03-04"),
        ("Tuesday, 4th March 2025", "2025-03-04"),
        ("2025-03-04", "2025-03-04"),
        ("2025/03/04", "2025-03-04"),
        # A time without a zone is UK time: BST in summer.
        ("2024-07-04 10:00", "2024-07-04T09:00:00+00:00"),
        ("4 July 2024 10:00", "2024-07-04T09:00:00+00:00"),
        ("2025-03-04 10:00", "2025-03-04T10:00:00+00:00"),
        # Zone names feedparser takes for UTC.
        ("Thu, 4 Jul 2024 10:00:00 BST", "2024-07-04T09:00:00+00:00"),
        ("2024-07-04T10:00:00 BST", "2024-07-04T09:00:00+00:00"),
        ("Tue, 4 Mar 2025 10:00:00 CET", "2025-03-04T09:00:00+00:00"),
        # An unknown or ambiguous zone (Irish, Indian or Israeli?): the date, and no time.
        ("Tue, 4 Mar 2025 10:00:00 IST", "2025-03-04"),
        ("Tue, 4 Mar 2025 23:30:00 XYZ", "2025-03-04"),
        ("Tue, 4 Mar 2025 10:00:00 GMT+1", "2025-03-04"),
        # What feedparser already read, read the same.
        ("Tue, 04 Mar 2025 10:00:00 GMT", "2025-03-04T10:00:00+00:00"),
        ("Tue, 04 Mar 2025 10:00:00 +0100", "2025-03-04T09:00:00+00:00"),
        ("Tue, 04 Mar 2025 10:00:00 EST", "2025-03-04T15:00:00+00:00"),
        ("2025-03-04T10:00:00+01:00", "2025-03-04T09:00:00+00:00"),
        # Not a whole date, or no date at all: nothing, never a guess.
        ("March 2025", None),
        ("2025", None),
        ("10:00", None),
        ("31/02/2025", None),
        ("soon", None),
        ("Tue, 04 Mar 2025 10:00:00 +9999", None),
        ("4" * 200, None),
    ],
)
def test_feed_dates_are_read_by_stated_rules_and_never_guessed(feed, written, read):
    (entry,) = parse_feed(feed(written), "https://w.example/feed")
    assert entry.published == read


@pytest.mark.parametrize("feed", [_rss_20, _rss_10, _atom], ids=["rss-2.0", "rss-1.0", "atom"])
def test_a_feed_in_us_english_has_its_numeric_dates_read_month_first(feed):
    (entry,) = parse_feed(feed("04/03/2025", language="en-US"), "https://w.example/feed")
    assert entry.published == "2025-04-03"
    # A day past 12 is a day in any order; a time without a zone could be any of four US zones.
    (entry,) = parse_feed(feed("03/14/2025 10:00", language="en-us"), "https://w.example/feed")
    assert entry.published == "2025-03-14"


def test_atom_relative_links_without_xml_base_resolve_against_the_feed_url():
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>A</title><link href="/articles/a"/><id>a</id><updated>2024-01-01T00:00:00Z</updated></entry>
</feed>"""
    (entry,) = parse_feed(body, "http://127.0.0.5:8001/feeds/atom.xml")
    assert entry.url == "http://127.0.0.5:8001/articles/a"


def test_a_report_attached_to_a_feed_entry_is_a_candidate_and_a_podcast_is_not():
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Report out</title><link>https://w.example/news/a</link>
<pubDate>Tue, 04 Mar 2025 09:00:00 GMT</pubDate>
<enclosure url="/files/report.pdf" type="application/pdf" length="100"/></item>
<item><title>Podcast</title><link>https://w.example/news/b</link>
<enclosure url="https://w.example/episode.mp3" type="audio/mpeg" length="1"/></item>
</channel></rss>"""
    found = [(c.url, c.published, c.enclosure) for c in parse_feed(body, "https://w.example/feed")]
    assert found == [
        ("https://w.example/news/a", "2025-03-04T09:00:00+00:00", False),
        ("https://w.example/files/report.pdf", "2025-03-04T09:00:00+00:00", True),
        ("https://w.example/news/b", None, False),
    ]


def test_billion_laughs_feed_is_refused_before_parsing():
    body = (
        BILLION_LAUGHS_DTD
        + b"""<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://w.example/a</link></item></channel></rss>"""
    )
    started = time.perf_counter()
    with pytest.raises(DiscoveryError, match="billion-laughs"):
        parse_feed(body, "https://w.example/feed/")
    assert time.perf_counter() - started < 1


def test_a_feed_that_mentions_entity_declarations_in_its_content_is_still_read():
    body = b"""<rss version="2.0"><channel><title>x</title>
<item><title>XML security</title><link>https://w.example/xml</link>
<description><![CDATA[<!DOCTYPE x [<!ENTITY a "b">]> is an attack]]></description></item>
</channel></rss>"""
    assert [e.url for e in parse_feed(body, "https://w.example/feed/")] == ["https://w.example/xml"]


def test_an_html_page_is_not_a_feed():
    body = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>"
    with pytest.raises(DiscoveryError, match="not a feed"):
        parse_feed(body, "https://w.example/feed/")


def test_a_feed_body_that_looks_like_a_file_path_is_never_opened_as_a_file(tmp_path):
    secret = tmp_path / "secret.xml"
    secret.write_text(
        '<rss version="2.0"><channel><item><link>https://evil.example/x</link></item></channel></rss>'
    )
    with pytest.raises(DiscoveryError):
        parse_feed(str(secret).encode(), "https://w.example/feed/")


def test_a_feed_cut_off_part_way_gives_its_entries_and_says_what_broke():
    feed = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>t</title><entry><title>a</title><link href='https://w.example/a'/></entry>"
        b"<entry><title>b</title><link href='https://w.example/b'/></entry><entry><title>c</ti"
    )
    problems: list[str] = []
    found = parse_feed(feed, "https://w.example/feed", problems)
    assert [c.url for c in found] == ["https://w.example/a", "https://w.example/b"]
    assert len(problems) == 1 and problems[0].startswith("feed is malformed XML")
    whole: list[str] = []
    parse_feed(feed[: feed.index(b"<entry><title>c")] + b"</feed>", "https://w.example/f", whole)
    assert whole == []


def test_an_empty_but_valid_feed_gives_no_candidates_and_no_error():
    body = b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    assert parse_feed(body, "https://w.example/feed/") == []


# Sitemaps

SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://w.example/post-sitemap.xml.gz</loc><lastmod>2024-03-01T10:00:00+01:00</lastmod></sitemap>
  <sitemap><loc>/page-sitemap.xml</loc></sitemap>
</sitemapindex>"""


def test_gzipped_sitemap_index_is_recognised_by_magic_bytes_and_lists_children_with_lastmod():
    result = parse_sitemap(gzip.compress(SITEMAP_INDEX), "https://w.example/sitemap_index.xml")
    assert result.urls == []
    assert [c.url for c in result.sitemaps] == [
        "https://w.example/post-sitemap.xml.gz",
        "https://w.example/page-sitemap.xml",
    ]
    assert result.sitemaps[0].modified == "2024-03-01T09:00:00+00:00"
    assert result.sitemaps[1].modified is None


def test_urlset_gives_page_urls_with_lastmod_and_news_dates_but_not_image_locations():
    body = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
  xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"
  xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><image:image><image:loc>https://w.example/i.png</image:loc><image:title>Pic</image:title></image:image>
<loc> https://w.example/news/a </loc><lastmod>2024-03-01</lastmod>
<news:news><news:publication_date>2024-02-01T10:00:00Z</news:publication_date>
<news:title>Force referred to watchdog</news:title></news:news></url>
<url><loc>https://w.example/news/b</loc><lastmod>2024-03-02T08:00:00Z</lastmod></url>
<url><loc>https://w.example/news/b</loc></url>
<url><loc>ftp://w.example/file</loc></url>
</urlset>"""
    result = parse_sitemap(body, "https://w.example/sitemap.xml")
    assert [c.url for c in result.urls] == ["https://w.example/news/a", "https://w.example/news/b"]
    first, second = result.urls
    assert (first.modified, first.published, first.title) == (
        "2024-03-01",
        "2024-02-01T10:00:00+00:00",
        "Force referred to watchdog",
    )
    assert second.modified == "2024-03-02T08:00:00+00:00"


def test_text_sitemap_lists_one_url_per_line():
    body = b"https://w.example/a\r\n\r\nhttps://w.example/b\nnot a url\n"
    result = parse_sitemap(body, "https://w.example/sitemap.txt")
    assert [c.url for c in result.urls] == ["https://w.example/a", "https://w.example/b"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"User-agent: *\nDisallow: /private/\n", "robots.txt"),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "HTML page"),
        (b"<html><body>Moved</body></html>", "HTML page"),
        (b"<error><code>404</code></error>", "root element is <error>"),
        (b"", "empty"),
        (b"Page not found", "neither XML nor a text list"),
        (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>x', "XML error"),
        (b"\x1f\x8b\x08\x00garbage", "broken gzip"),
    ],
)
def test_bodies_that_are_not_sitemaps_are_refused_with_a_reason(body, reason):
    with pytest.raises(DiscoveryError, match=reason):
        parse_sitemap(body, "https://w.example/sitemap.xml")


def test_billion_laughs_sitemap_is_refused_not_silently_empty():
    body = BILLION_LAUGHS_DTD + (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://w.example/&lol9;</loc></url></urlset>"
    )
    for served in (body, gzip.compress(body)):
        with pytest.raises(DiscoveryError, match="sitemap refused: XML entity"):
            parse_sitemap(served, "https://w.example/sitemap.xml")


def _gzip_of_zeros(megabytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    return b"".join(packer.compress(block) for _ in range(megabytes)) + packer.flush()


def test_100_mb_gzipped_sitemap_is_refused_fast_and_small():
    bomb = _gzip_of_zeros(100)
    assert len(bomb) < 200_000
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with pytest.raises(DiscoveryError, match="too large after decompression"):
            parse_sitemap(bomb, "https://w.example/sitemap.xml.gz")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1
    assert peak < 5_000_000


def test_gzip_bomb_with_a_lying_size_trailer_stops_at_the_cap_while_streaming():
    # An XML comment keeps the parser happy, so only the decompression cap can stop it.
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><!--']
    parts += [b"x" * (1 << 20)] * 60
    bomb = b"".join(packer.compress(p) for p in parts) + packer.flush()
    bomb = bomb[:-4] + (1000).to_bytes(4, "little")
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with pytest.raises(DiscoveryError, match="too large after decompression"):
            parse_sitemap(bomb, "https://w.example/sitemap.xml.gz")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 5
    assert peak < 20_000_000


def test_sitemap_with_more_entries_than_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(sitemaps_module, "MAX_SITEMAP_URLS", 1000)
    body = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    body += b"<url><loc>https://w.example/same</loc></url>" * 1001 + b"</urlset>"
    with pytest.raises(DiscoveryError, match="more than 1,000 entries"):
        parse_sitemap(body, "https://w.example/sitemap.xml")


def test_a_feed_given_as_a_sitemap_is_read_as_a_feed():
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>A</title><link href="https://w.example/a"/><id>a</id><updated>2024-01-01T00:00:00Z</updated></entry>
</feed>"""
    result = parse_sitemap(body, "https://w.example/atom.xml")
    assert [(c.url, c.modified) for c in result.urls] == [
        ("https://w.example/a", "2024-01-01T00:00:00+00:00")
    ]


def test_robots_txt_sitemap_lines_are_found():
    body = b"User-agent: *\nDisallow: /x\nSitemap: https://w.example/sitemap_index.xml\nsitemap: /news.xml\n"
    assert sitemaps_from_robots(body, "https://w.example/robots.txt") == [
        "https://w.example/sitemap_index.xml",
        "https://w.example/news.xml",
    ]


# Listing pages


def test_links_resolve_against_base_href_drop_fragments_and_other_schemes_and_keep_page_order():
    body = b"""<html><head><base href="/news/"></head><body>
<a href="story-2#comments">Second <b>story</b></a>
<a href="https://other.example/x" title="Elsewhere">Other</a>
<a href="story-1">First</a>
<a href="story-2">Second again</a>
<a href="mailto:press@w.example">Mail</a><a href="javascript:void(0)">JS</a>
<a href="data:text/html,hi">Data</a><a href="#top">Top</a><a>No href</a>
<a href="  /reports/r.pdf
">Report</a>
</body></html>"""
    links = extract_links(body, "https://w.example/listing?page=2")
    assert [(c.url, c.anchor) for c in links] == [
        ("https://w.example/news/story-2", "Second story"),
        ("https://other.example/x", "Other"),
        ("https://w.example/news/story-1", "First"),
        ("https://w.example/news/", "Top"),
        ("https://w.example/reports/r.pdf", "Report"),
    ]
    assert links[1].title == "Elsewhere"


def test_links_are_read_in_the_charset_declared_in_meta():
    body = b'<html><head><meta charset="windows-1252"></head><body><a href="/a">\x93Quoted\x94</a></body></html>'
    (link,) = extract_links(body, "https://w.example/")
    assert link.anchor == "\u201cQuoted\u201d"


def test_a_page_with_100000_links_is_capped_quickly():
    body = b"<html><body>" + b"".join(
        b'<p><a href="/item-%d">Item %d</a></p>' % (i, i) for i in range(100_000)
    )
    started = time.perf_counter()
    links = extract_links(body, "https://w.example/all")
    elapsed = time.perf_counter() - started
    assert len(links) == 20_000
    assert links[-1].url == "https://w.example/item-19999"
    assert elapsed < 5
    assert len(extract_links(body, "https://w.example/all", limit=10)) == 10


def test_unreadable_pages_give_no_links():
    assert extract_links(b"", "https://w.example/") == []
    assert extract_links(b"\x00\x01\x02\x03", "https://w.example/") == []


def test_meta_refresh_target_is_absolute():
    body = b"""<html><head><meta http-equiv="Refresh" content="0; URL='../moved/here'"></head></html>"""
    assert meta_refresh_target(body, "https://w.example/a/b") == "https://w.example/moved/here"
    assert (
        meta_refresh_target(b"<html><head></head><body>x</body></html>", "https://w.example/")
        is None
    )
    js = b'<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'
    assert meta_refresh_target(js, "https://w.example/") is None


# GOV.UK Search and Content APIs

SEARCH = Api(
    "govuk-search", "https://www.gov.uk/api/search.json", {"filter_organisations": "home-office"}
)


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_govuk_search_url_asks_newest_first_and_from_the_day_before_since():
    query = _query(govuk_search_url(SEARCH, "2024-03-05T06:00:00+00:00", start=200))
    assert query["filter_organisations"] == ["home-office"]
    assert query["order"] == ["-public_timestamp"]
    assert query["filter_public_timestamp"] == ["from:2024-03-04"]
    assert query["start"] == ["200"]
    assert query["count"] == ["100"]
    assert "public_timestamp" in query["fields"][0].split(",")
    assert "filter_public_timestamp" not in _query(govuk_search_url(SEARCH, None))


def test_govuk_search_floor_in_params_applies_until_since_is_later():
    floored = Api(
        SEARCH.type, SEARCH.url, {**SEARCH.params, "filter_public_timestamp": "from:2020-01-01"}
    )
    assert _query(govuk_search_url(floored, None))["filter_public_timestamp"] == ["from:2020-01-01"]
    assert _query(govuk_search_url(floored, "2019-06-01"))["filter_public_timestamp"] == [
        "from:2020-01-01"
    ]
    assert _query(govuk_search_url(floored, "2024-06-01"))["filter_public_timestamp"] == [
        "from:2024-05-31"
    ]


def _search_page(start: int, count: int, total: int) -> bytes:
    results = [
        {
            "link": f"/government/news/item-{i}",
            "title": f"Item {i}",
            "public_timestamp": "2024-03-01T10:00:00.000+00:00",
            "format": "press_release",
        }
        for i in range(start, min(start + count, total))
    ]
    results.append({"link": "https://elsewhere.example/x", "title": "External"})
    return json.dumps({"results": results, "total": total, "start": start}).encode()


def test_govuk_search_pages_until_the_total_and_points_at_the_content_api():
    url = "http://127.0.0.5:8001/api/search.json?filter_organisations=home-office&count=2&start=0"
    candidates, following = parse_govuk_search(_search_page(0, 2, 5), url)
    assert [c.url for c in candidates] == [
        "http://127.0.0.5:8001/api/content/government/news/item-0",
        "http://127.0.0.5:8001/api/content/government/news/item-1",
    ]
    assert candidates[0].modified == "2024-03-01T10:00:00+00:00"
    assert candidates[0].title == "Item 0"
    assert _query(following)["start"] == ["2"]
    assert _query(following)["filter_organisations"] == ["home-office"]
    _, following = parse_govuk_search(_search_page(2, 2, 5), following)
    assert _query(following)["start"] == ["4"]
    candidates, following = parse_govuk_search(_search_page(4, 2, 5), following)
    assert len(candidates) == 1
    assert following is None


def test_govuk_search_error_answers_raise():
    with pytest.raises(DiscoveryError, match="not JSON"):
        parse_govuk_search(b"<html>", "https://www.gov.uk/api/search.json")
    with pytest.raises(DiscoveryError, match="results"):
        parse_govuk_search(b'{"error": "bad filter"}', "https://www.gov.uk/api/search.json")


def test_govuk_public_url_drops_the_content_api_prefix_and_keeps_the_host():
    assert (
        govuk_public_url("https://www.gov.uk/api/content/government/news/x")
        == "https://www.gov.uk/government/news/x"
    )
    assert govuk_public_url("http://127.0.0.5:8001/api/content/a/b") == "http://127.0.0.5:8001/a/b"


def test_govuk_attachment_links_are_the_pdfs_of_attachments_and_documents():
    item = {
        "base_path": "/government/publications/report",
        "first_published_at": "2024-02-01T10:00:00.000+00:00",
        "details": {
            "attachments": [
                {
                    "url": "https://assets.publishing.service.gov.uk/media/abc/report.pdf",
                    "title": "The report",
                    "content_type": "application/pdf",
                },
                {
                    "url": "https://assets.publishing.service.gov.uk/media/def/data.csv",
                    "content_type": "text/csv",
                },
                {
                    "url": "https://assets.publishing.service.gov.uk/media/ghi/download",
                    "title": "Annex",
                    "content_type": "application/pdf",
                },
            ],
            "documents": [
                '<section class="attachment"><h3><a href="/media/old/annex-b.pdf">Annex B</a></h3>'
                '<a href="/government/publications/other">Other page</a></section>'
            ],
        },
    }
    links = govuk_attachment_links(json.dumps(item).encode())
    assert [(c.url, c.title) for c in links] == [
        ("https://assets.publishing.service.gov.uk/media/abc/report.pdf", "The report"),
        ("https://assets.publishing.service.gov.uk/media/ghi/download", "Annex"),
        ("https://www.gov.uk/media/old/annex-b.pdf", "Annex B"),
    ]
    assert links[0].published == "2024-02-01T10:00:00+00:00"


def test_govuk_attachments_of_the_wrong_json_type_are_none_and_the_rest_is_read():
    item = {
        "details": {
            "attachments": 5,
            "documents": ['<a href="/media/annex.pdf">Annex</a>'],
        }
    }
    links = govuk_attachment_links(json.dumps(item).encode())
    assert [c.url for c in links] == ["https://www.gov.uk/media/annex.pdf"]
    item["details"] = {"attachments": [{"url": "/media/r.pdf"}], "documents": {"a": 1}}
    links = govuk_attachment_links(json.dumps(item).encode())
    assert [c.url for c in links] == ["https://www.gov.uk/media/r.pdf"]


# WordPress REST


def test_wordpress_posts_url_from_site_root_or_endpoint_orders_by_modification():
    root = Api("wordpress", "https://w.example/")
    query = _query(wordpress_posts_url(root, page=3, since="2024-03-05"))
    assert urlsplit(wordpress_posts_url(root)).path == "/wp-json/wp/v2/posts"
    assert query["per_page"] == ["100"]
    assert query["page"] == ["3"]
    assert query["orderby"] == ["modified"]
    assert query["modified_after"] == ["2024-03-04T00:00:00"]
    endpoint = Api("wordpress", "https://w.example/wp-json/wp/v2/publication", {"categories": "7"})
    url = wordpress_posts_url(endpoint)
    assert urlsplit(url).path == "/wp-json/wp/v2/publication"
    assert _query(url)["categories"] == ["7"]
    assert "modified_after" not in _query(url)


def _posts(n: int) -> bytes:
    return json.dumps(
        [
            {
                "link": f"https://w.example/news/post-{i}/",
                "date_gmt": "2024-03-01T10:00:00",
                "modified_gmt": "2024-03-04T12:30:00",
                "title": {"rendered": "Report &#8216;finds&#8217; <em>gaps</em>"},
            }
            for i in range(n)
        ]
    ).encode()


def test_wordpress_posts_page_via_x_wp_totalpages():
    url = "https://w.example/wp-json/wp/v2/posts?per_page=2&page=1&orderby=modified"
    candidates, following = parse_wordpress_posts(_posts(2), url, {"X-WP-TotalPages": "3"})
    assert candidates[0].url == "https://w.example/news/post-0/"
    assert candidates[0].published == "2024-03-01T10:00:00+00:00"
    assert candidates[0].modified == "2024-03-04T12:30:00+00:00"
    assert candidates[0].title == "Report \u2018finds\u2019 gaps"
    assert _query(following)["page"] == ["2"]
    assert _query(following)["orderby"] == ["modified"]
    _, following = parse_wordpress_posts(_posts(2), following, {b"x-wp-totalpages": b"3"})
    assert _query(following)["page"] == ["3"]
    _, following = parse_wordpress_posts(_posts(1), following, {"x-wp-totalpages": "3"})
    assert following is None


def test_wordpress_error_answers_raise_with_their_code():
    body = b'{"code":"rest_no_route","message":"No route was found","data":{"status":404}}'
    with pytest.raises(DiscoveryError, match="rest_no_route"):
        parse_wordpress_posts(body, "https://w.example/wp-json/wp/v2/posts", {})
    with pytest.raises(DiscoveryError, match="not JSON"):
        parse_wordpress_posts(b"<html>", "https://w.example/wp-json/wp/v2/posts", {})
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(DiscoveryError):
        parse_wordpress_posts(deep, "https://w.example/wp-json/wp/v2/posts", {})


def test_a_feed_whose_prologue_hides_past_the_scanned_head_is_refused():
    body = b"<?xml version='1.0'?><!--" + b"x" * 70_000 + b"--><rss version='2.0'></rss>"
    with pytest.raises(DiscoveryError, match="no root element"):
        parse_feed(body, "https://w.example/feed/")


def test_utf16_sitemap_is_read():
    text = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://w.example/caf%C3%A9</loc></url></urlset>"
    )
    result = parse_sitemap(b"\xff\xfe" + text.encode("utf-16-le"), "https://w.example/s.xml")
    assert [c.url for c in result.urls] == ["https://w.example/caf%C3%A9"]


# Arbitrary bytes: a Candidate list or a DiscoveryError, never anything else


def _mutated(seed: bytes, cut: int, noise: bytes) -> bytes:
    at = cut % (len(seed) + 1)
    return seed[:at] + noise + seed[at:]


SEEDS = [
    SITEMAP_INDEX,
    gzip.compress(SITEMAP_INDEX),
    b'<rss version="2.0"><channel><item><link>/a</link><pubDate>x</pubDate></item></channel></rss>',
    b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><link href="b"/></entry></feed>',
    b'<html><head><base href="x"></head><body><a href="/a">a</a></body></html>',
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    cut=st.integers(0, 10_000),
    noise=st.binary(max_size=64),
    parser=st.sampled_from(["feed", "sitemap", "links", "refresh"]),
)
def test_discovery_parsers_never_raise_anything_but_discovery_errors(seed, cut, noise, parser):
    body = _mutated(seed, cut, noise)
    url = "https://w.example/x"
    try:
        if parser == "feed":
            found = parse_feed(body, url)
        elif parser == "sitemap":
            result = parse_sitemap(body, url)
            found = result.urls + result.sitemaps
        elif parser == "links":
            found = extract_links(body, url)
        else:
            target = meta_refresh_target(body, url)
            found = []
            assert target is None or target.startswith(("http://", "https://"))
    except DiscoveryError as error:
        assert str(error)
        return
    assert all(c.url.startswith(("http://", "https://")) for c in found)


def test_sitemap_and_feed_with_a_utf8_byte_order_mark_are_read():
    sitemap = b"\xef\xbb\xbf" + SITEMAP_INDEX
    assert len(parse_sitemap(sitemap, "https://w.example/s.xml").sitemaps) == 2
    feed = b'\xef\xbb\xbf<?xml version="1.0"?><rss version="2.0"><channel><item><link>/a</link></item></channel></rss>'
    assert [c.url for c in parse_feed(feed, "https://w.example/feed/")] == ["https://w.example/a"]


def test_sitemap_with_blank_lines_before_the_xml_declaration_is_forgiven():
    body = b"\n\n  " + SITEMAP_INDEX
    assert len(parse_sitemap(body, "https://w.example/s.xml").sitemaps) == 2


# The link screen: skipping the parse must never lose a wanted link

SCREEN_PAGES = [
    b'<a href="/reports/a.pdf">A</a><a href="/menu/1">Menu</a>',
    b'<A HREF="/reports/upper.pdf">Upper</A>',
    b'<a href="/r&#101;ports/entity.pdf">Entity</a><a href="/x?a=1&amp;b=2">q</a>',
    b"<a href='/reports/single.pdf'>Single</a><a href=/reports/bare.pdf>Bare</a>",
    b'<head><base href="https://w.example/deep/"></head><a href="reports/based.pdf">Based</a>',
    b'<!-- <a href="/reports/commented.pdf">old</a> --><a href="/menu/2">Menu</a>',
    b'<a href="/reports/caf\xc3\xa9.pdf">Caf\xc3\xa9</a>',
    '<a href="/reports/utf16.pdf">UTF-16</a>'.encode("utf-16"),
    b'<a title=">" href="/reports/tricky.pdf">Tricky</a>',
    b'<a\nhref\n=\n"/reports/spaced.pdf">Spaced</a>',
]


def _is_report(url: str) -> bool:
    return "/reports/" in url and url.endswith(".pdf")


@pytest.mark.parametrize("body", SCREEN_PAGES)
def test_screened_links_are_exactly_the_wanted_links_of_a_full_parse(body):
    url = "https://w.example/news/story"
    expected = [c.url for c in extract_links(body, url) if _is_report(c.url)]
    screen = LinkScreen(_is_report)
    for _ in range(2):  # the second time the screen remembers what it refused
        assert [c.url for c in extract_links(body, url, screen=screen)] == expected


def test_a_page_of_links_already_refused_is_settled_without_parsing():
    screen = LinkScreen(_is_report)
    menu = b"".join(b'<a href="/topics/%d/">Topic</a>' % n for n in range(50))
    assert not screen.may_link(menu, "https://w.example/a")
    remembered = screen.remembered
    assert remembered == 50
    assert not screen.may_link(menu + b'<a href="/topics/1/">again</a>', "https://w.example/b")
    assert screen.remembered == remembered
    assert screen.may_link(menu + b'<a href="/reports/new.pdf">New</a>', "https://w.example/c")


@settings(max_examples=80, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(
            [
                '<a href="/reports/{n}.pdf">r</a>',
                "<a href='/topics/{n}'>t</a>",
                '<A HREF="reports/{n}.pdf">u</A>',
                '<a href="/reports/{n}.pdf#p2">f</a>',
                '<a href="https://w.example/reports/{n}.pdf?a=1&amp;b=2">q</a>',
                '<area href="/reports/{n}.pdf">',
                '<link href="/reports/{n}.pdf" rel="alternate">',
                "<script>var u = 'href=\"/reports/{n}.pdf\"';</script>",
                '<base href="/other/">',
                "<p>{n} words</p>",
            ]
        ),
        max_size=12,
    ),
    numbers=st.lists(st.integers(0, 5), min_size=12, max_size=12),
)
def test_the_screen_agrees_with_a_full_parse_on_generated_pages(parts, numbers):
    body = "".join(p.format(n=n) for p, n in zip(parts, numbers, strict=False)).encode()
    screen = LinkScreen(_is_report)
    url = "https://w.example/news/story"
    expected = [c.url for c in extract_links(body, url) if _is_report(c.url)]
    assert [c.url for c in extract_links(body, url, screen=screen)] == expected
    assert [c.url for c in extract_links(body, url, screen=screen)] == expected


@pytest.mark.parametrize("noise", [b"\x80", b"\x00"])
def test_a_feed_whose_encoding_declaration_is_garbled_is_a_discovery_error(noise):
    body = b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel/></rss>'
    with pytest.raises(DiscoveryError, match="encoding cannot be read"):
        parse_feed(body[:30] + noise + body[30:], "https://w.example/feed")
