"""The fixture web server behaves like a real one: validators, conditional requests, a request log,
redirects, hostile behaviours, runtime changes, and sites on separate loopback addresses."""

from __future__ import annotations

import gzip
import html
import http.client
import io
import json
import re
import socket
import time
import tomllib
import urllib.error
import urllib.request
import urllib.robotparser
import zlib
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import brotli
import pypdf
import pytest

from crawler.demo import dump_sources, serve_demo_sites, sources_toml_for
from crawler.siteserver import HANDLERS, Site, SiteError
from crawler.sources import Source

SITES_ROOT = Path(__file__).parent / "sites"
UA = "Oversight-test/1.0 (+https://example.org/oversight)"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(url: str, headers: dict[str, str] | None = None, follow: bool = True):
    """(status, headers, body) for a GET, without raising on 3xx/4xx/5xx."""
    request = urllib.request.Request(url, headers={"User-Agent": UA, **(headers or {})})
    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def sitemap_lastmod(xml: bytes, loc: str) -> str:
    match = re.search(
        rb"<loc>" + re.escape(loc.encode()) + rb"</loc>\s*<lastmod>([^<]+)</lastmod>", xml
    )
    assert match, f"{loc} not in sitemap"
    return match.group(1).decode()


# ----------------------------------------------------------------------------- validators


def test_etag_revalidation_gets_304_with_no_body(watchdog_site):
    url = watchdog_site.url("/news/taser-discharges-review/")
    status, headers, body = get(url)
    assert status == 200 and b"1,147 Taser discharges" in body
    etag = headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")

    status, headers, body = get(url, {"If-None-Match": etag})
    assert status == 304
    assert body == b""
    assert headers["ETag"] == etag
    assert watchdog_site.log[-1].bytes_sent == 0


def test_if_modified_since_gets_304_only_when_not_newer(watchdog_site):
    url = watchdog_site.url("/news/taser-discharges-review/")
    _, headers, _ = get(url)
    assert headers["Last-Modified"] == "Thu, 07 Dec 2023 11:00:00 GMT"  # the date in routes.toml
    assert get(url, {"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert get(url, {"If-Modified-Since": "Wed, 06 Dec 2023 11:00:00 GMT"})[0] == 200


def test_stale_etag_wins_over_a_matching_date(watchdog_site):
    url = watchdog_site.url("/news/taser-discharges-review/")
    _, headers, _ = get(url)
    status, _, body = get(
        url, {"If-None-Match": '"stale"', "If-Modified-Since": headers["Last-Modified"]}
    )
    assert status == 200 and body


def test_request_log_records_user_agent_and_conditional_headers(watchdog_site):
    url = watchdog_site.url("/news/?utm=x")
    get(url)
    get(url, {"If-None-Match": '"abc"', "If-Modified-Since": "Thu, 01 Feb 2024 00:00:00 GMT"})
    first, second = watchdog_site.requests("/news/")
    assert first.method == "GET" and first.path == "/news/?utm=x"
    assert first.user_agent == UA
    assert first.status == 200 and first.bytes_sent > 1000
    assert not first.conditional
    assert second.if_none_match == '"abc"'
    assert second.if_modified_since == "Thu, 01 Feb 2024 00:00:00 GMT"
    assert second.host == watchdog_site.host
    watchdog_site.reset_log()
    assert watchdog_site.log == []


def test_every_file_has_validators_and_site_files_are_hidden(watchdog_site):
    for path in ("/", "/robots.txt", "/feed/", "/sitemap_index.xml.gz", "/news/page/2/"):
        status, headers, _ = get(watchdog_site.url(path))
        assert status == 200, path
        assert headers["ETag"] and parsedate_to_datetime(headers["Last-Modified"]).year >= 2023
    for path in ("/routes.toml", "/source.toml", "/expected.json", "/../news/routes.toml"):
        assert get(watchdog_site.url(path))[0] == 404, path


# ----------------------------------------------------------------------------- redirects


def test_old_permalink_redirects_permanently_to_the_new_page(watchdog_site):
    status, headers, _ = get(watchdog_site.url("/2023/11/16/hearings-guidance/"), follow=False)
    assert status == 301
    assert headers["Location"] == watchdog_site.url("/news/misconduct-hearings-public-guidance/")
    status, _, body = get(watchdog_site.url("/2023/11/16/hearings-guidance/"))
    assert status == 200 and b"New guidance on holding misconduct hearings in public" in body


def test_directory_without_slash_redirects_and_clean_urls_serve_html_files(watchdog_site):
    status, headers, _ = get(watchdog_site.url("/news"), follow=False)
    assert status == 301 and headers["Location"] == "/news/"
    with serve_demo_sites(first_host=31) as demo:
        status, headers, body = get(
            demo.sites["news"].url("/news/article/policing-bill-second-reading")
        )
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"Policing bill clears Commons second reading" in body


def test_redirect_loops_and_chains_can_be_added_at_runtime(news_site):
    news_site.set_route("/loop/a", "redirect", to="/loop/b", status=302)
    news_site.set_route("/loop/b", "redirect", to="/loop/a", status=302)
    status, _, _ = get(news_site.url("/loop/a"))
    assert status == 302  # urllib gives up on the loop and hands back the last redirect
    assert news_site.paths()[:4] == ["/loop/a", "/loop/b", "/loop/a", "/loop/b"]


# ----------------------------------------------------------------------------- hostile behaviours


def test_gzip_bomb_is_small_on_the_wire_and_huge_when_decompressed(news_site):
    status, headers, body = get(news_site.url("/stories/interactive-crime-map/"))
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert len(body) < 300_000
    assert news_site.log[-1].bytes_sent == len(body)
    inflater = zlib.decompressobj(31)
    inflated = 0
    data = body
    while data:
        inflated += len(inflater.decompress(data, 1 << 20))
        data = inflater.unconsumed_tail
    assert inflated >= 200 * 1024 * 1024


def test_brotli_bomb_is_tiny_on_the_wire(news_site):
    news_site.set_route("/br/", "brotli_bomb", size_mb=50)
    status, headers, body = get(news_site.url("/br/"))
    assert status == 200 and headers["Content-Encoding"] == "br"
    assert len(body) < 10_000
    assert len(brotli.decompress(body)) == 50 * 1024 * 1024


def test_large_page_announces_30_mb_and_streams_it(news_site):
    conn = http.client.HTTPConnection(news_site.host, news_site.port, timeout=10)
    conn.request("GET", "/stories/live-coverage-archive/", headers={"User-Agent": UA})
    response = conn.getresponse()
    assert response.status == 200
    assert int(response.headers["Content-Length"]) == 30 * 1024 * 1024
    assert response.read(1 << 20).startswith(b"<!doctype html>")
    conn.close()
    conn = http.client.HTTPConnection(news_site.host, news_site.port, timeout=10)
    conn.request("HEAD", "/stories/live-coverage-archive/")
    assert conn.getresponse().headers["Content-Length"] == str(30 * 1024 * 1024)
    conn.close()


def test_intermittent_503_then_the_page(watchdog_site):
    watchdog_site.set_route("/news/taser-discharges-review/", "fail_first", times=2, status=503)
    url = watchdog_site.url("/news/taser-discharges-review/")
    assert [get(url)[0] for _ in range(3)] == [503, 503, 200]
    watchdog_site.reset_state()
    assert get(url)[0] == 200


def test_429_carries_retry_after(watchdog_site):
    watchdog_site.set_route("/news/", "fail_first", times=1, status=429, retry_after=2)
    status, headers, _ = get(watchdog_site.url("/news/"))
    assert status == 429 and headers["Retry-After"] == "2"
    assert get(watchdog_site.url("/news/"))[0] == 200


def test_fixed_status_answers_410(news_site):
    news_site.set_route("/gone/", "status", status=410)
    assert get(news_site.url("/gone/"))[0] == 410
    assert get(news_site.url("/stories/police-pay-award-withdrawn/"))[0] == 404


def test_stall_after_headers_times_the_client_out(news_site):
    news_site.set_route("/stall/", "stall", seconds=30)
    conn = http.client.HTTPConnection(news_site.host, news_site.port, timeout=0.5)
    conn.request("GET", "/stall/")
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises((TimeoutError, socket.timeout)):
        response.read()
    conn.close()


def test_endless_chunked_response_keeps_sending(news_site):
    news_site.set_route("/endless/", "endless", interval=0)
    conn = http.client.HTTPConnection(news_site.host, news_site.port, timeout=5)
    conn.request("GET", "/endless/")
    response = conn.getresponse()
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert len(response.read(2 << 20)) == 2 << 20
    conn.close()


def test_content_length_lie_leaves_the_body_short(watchdog_site):
    watchdog_site.set_route("/about/", "content_length_lie")
    conn = http.client.HTTPConnection(watchdog_site.host, watchdog_site.port, timeout=5)
    conn.request("GET", "/about/")
    response = conn.getresponse()
    declared = int(response.headers["Content-Length"])
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert len(caught.value.partial) == declared // 2
    conn.close()


def test_delay_handler_waits_before_answering(watchdog_site):
    watchdog_site.set_route("/about/", "delay", seconds=0.3)
    started = time.monotonic()
    assert get(watchdog_site.url("/about/"))[0] == 200
    assert time.monotonic() - started >= 0.3


def test_unknown_handler_is_refused_with_the_site_and_path(watchdog_site, tmp_path):
    with pytest.raises(SiteError, match="watchdog.*nope"):
        watchdog_site.set_route("/x/", "nope")
    (tmp_path / "routes.toml").write_text('[routes."/a/"]\nhandler = "nope"\n')
    with pytest.raises(SiteError, match=r"routes.toml: route /a/"):
        Site(tmp_path)
    assert {"file", "redirect", "gzip_bomb", "brotli_bomb", "large", "endless"} <= HANDLERS.keys()


# ----------------------------------------------------------------------------- runtime changes


def test_set_page_moves_etag_last_modified_sitemap_lastmod_and_feed_updated(
    news_site, watchdog_site
):
    path = "/news/complaint-handling-times/"
    url = watchdog_site.url(path)
    _, before, _ = get(url)
    child_before = gzip.decompress(get(watchdog_site.url("/post-sitemap.xml.gz"))[2])
    index_before = gzip.decompress(get(watchdog_site.url("/sitemap_index.xml.gz"))[2])
    assert sitemap_lastmod(child_before, url) == "2023-10-19T08:30:00Z"

    changed = watchdog_site.set_page(
        path, "<html><title>Changed</title><p>Revised text.</p></html>"
    )
    status, after, body = get(url, {"If-None-Match": before["ETag"]})
    assert status == 200 and b"Revised text." in body
    assert after["ETag"] != before["ETag"]
    assert parsedate_to_datetime(after["Last-Modified"]) == changed
    assert changed > parsedate_to_datetime(before["Last-Modified"])
    assert changed.year == datetime.now(UTC).year

    child_after = gzip.decompress(get(watchdog_site.url("/post-sitemap.xml.gz"))[2])
    assert sitemap_lastmod(child_after, url) == changed.isoformat().replace("+00:00", "Z")
    index_after = gzip.decompress(get(watchdog_site.url("/sitemap_index.xml.gz"))[2])
    child_loc = watchdog_site.url("/post-sitemap.xml.gz")
    assert sitemap_lastmod(index_after, child_loc) > sitemap_lastmod(index_before, child_loc)
    # an unchanged page keeps answering 304
    other = watchdog_site.url("/news/taser-discharges-review/")
    assert get(other, {"If-None-Match": get(other)[1]["ETag"]})[0] == 304

    story = "/stories/watchdog-vetting-failures/"
    feed_before = get(news_site.url("/feeds/latest.atom"))[2]
    news_site.set_page(
        story, "<html><title>Updated</title></html>", last_modified="2024-07-01T12:00:00Z"
    )
    feed_after = get(news_site.url("/feeds/latest.atom"))[2]
    assert b"<updated>2024-07-01T12:00:00Z</updated>" in feed_after
    assert b"<updated>2024-07-01T12:00:00Z</updated>" not in feed_before


def test_set_page_twice_in_one_second_still_moves_the_date(watchdog_site):
    first = watchdog_site.set_page("/new/", "<p>one</p>")
    second = watchdog_site.set_page("/new/", "<p>two</p>")
    assert second > first
    status, headers, body = get(watchdog_site.url("/new/"))
    assert (
        status == 200 and body == b"<p>two</p>" and headers["Content-Type"].startswith("text/html")
    )


def test_remove_page_gives_404_and_reset_state_restores_it(watchdog_site):
    url = watchdog_site.url("/news/taser-discharges-review/")
    watchdog_site.remove_page("/news/taser-discharges-review/")
    assert get(url)[0] == 404
    watchdog_site.reset_state()
    assert get(url)[0] == 200


# ----------------------------------------------------------------------------- several sites


def test_sites_on_separate_loopback_addresses_keep_their_own_routes_and_logs(fixture_web):
    watchdog, news, offsite = fixture_web["watchdog"], fixture_web["news"], fixture_web["offsite"]
    assert len({watchdog.host, news.host, offsite.host}) == 3
    assert all(site.host.startswith("127.0.0.") for site in fixture_web.values())
    # The same path means different things on each site.
    assert get(news.url("/stories/interactive-crime-map/"))[1]["Content-Encoding"] == "gzip"
    assert get(watchdog.url("/stories/interactive-crime-map/"))[0] == 404
    assert get(watchdog.url("/2023/11/16/hearings-guidance/"), follow=False)[0] == 301
    assert get(news.url("/2023/11/16/hearings-guidance/"), follow=False)[0] == 404
    assert [r.path for r in news.log] == [
        "/stories/interactive-crime-map/",
        "/2023/11/16/hearings-guidance/",
    ]
    assert offsite.log == []
    # Templates link across sites by name.
    body = get(news.url("/archive/2024/council-budget-vote/"))[2]
    assert offsite.url("/stories/council-budget-vote-syndicated/").encode() in body
    assert (
        watchdog.url("/news/vetting-failures-inspection/").encode()
        in get(news.url("/stories/watchdog-vetting-failures/"))[2]
    )


def test_explicit_site_without_a_group_serves_alone(tmp_path):
    (tmp_path / "index.html").write_text("<p>{{base}} on {{host}}</p>")
    with Site(tmp_path, host="127.0.0.99") as site:
        assert site.url("/").startswith("http://127.0.0.99:")
        assert get(site.url("/"))[2] == f"<p>{site.base_url} on 127.0.0.99</p>".encode()


# ----------------------------------------------------------------------------- the fixture content


def test_robots_disallows_a_page_the_sitemap_lists(watchdog_site):
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(get(watchdog_site.url("/robots.txt"))[2].decode().splitlines())
    draft = watchdog_site.url("/news/internal-review-draft/")
    assert not robots.can_fetch("Oversight", draft)
    assert robots.can_fetch("Oversight", watchdog_site.url("/news/taser-discharges-review/"))
    index = gzip.decompress(get(watchdog_site.url("/sitemap_index.xml.gz"))[2])
    children = re.findall(rb"<loc>([^<]+)</loc>", index)
    assert watchdog_site.url("/post-sitemap.xml.gz").encode() in children
    listed = gzip.decompress(get(watchdog_site.url("/post-sitemap.xml.gz"))[2])
    assert draft.encode() in listed
    for path in watchdog_site.expected()["never_fetched"]:
        assert not robots.can_fetch("Oversight", watchdog_site.url(path)), path


def test_windows_1252_page_declares_its_charset_only_in_meta(news_site):
    status, headers, body = get(news_site.url("/stories/custody-death-inquest-northfield/"))
    assert status == 200 and headers["Content-Type"] == "text/html"
    assert b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">' in body
    assert b"\xa325,000" in body and b"\x93serious failings\x94" in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


def test_atom_feed_uses_xml_base_and_relative_links(news_site):
    feed = get(news_site.url("/feeds/latest.atom"))[2]
    assert b'xml:base="/stories/"' in feed and b'xml:base="../archive/2024/"' in feed
    assert b'href="old-bridge-closure/"' in feed
    assert b'href="http' not in feed


@pytest.mark.parametrize("name", ["watchdog", "news"])
def test_expected_documents_are_served_with_their_titles_and_dates(fixture_web, name):
    site = fixture_web[name]
    expected = site.expected()
    assert expected["documents"]
    for doc in expected["documents"]:
        status, headers, body = get(doc["url"])
        assert status == 200, doc["url"]
        if doc["content_type"] == "pdf":
            reader = pypdf.PdfReader(io.BytesIO(body))
            assert reader.metadata.title == doc["title"]
            assert len(reader.pages) == doc["pages"]
            text = " ".join(page.extract_text() for page in reader.pages)
            assert all(" ".join(s.split()) in " ".join(text.split()) for s in doc["key_sentences"])
            continue
        charset = re.search(rb"charset=[\"']?([\w-]+)", body).group(1).decode()
        page = body.decode(charset)
        assert "<h1" in page and doc["title"] in html.unescape(page), doc["url"]
        assert doc["published"] in page
        for sentence in doc.get("key_sentences", []):
            assert sentence in re.sub(r"<[^>]+>", "", page), sentence
    for source, target in expected.get("redirects", {}).items():
        assert get(source, follow=False)[1]["Location"] in (
            target,
            target.removeprefix(site.base_url),
        )


def test_expected_failures_fail_as_described(news_site):
    statuses = {f["url"]: f["status"] for f in news_site.expected()["failures"]}
    assert statuses[news_site.url("/stories/police-pay-award-withdrawn/")] == 404
    assert get(news_site.url("/stories/police-pay-award-withdrawn/"))[0] == 404


def test_sources_for_fixture_sites_are_valid_and_point_at_them(
    tmp_path, watchdog_site, news_site, make_sources
):
    path = make_sources(
        tmp_path, watchdog_site, news_site, per_site={"news": {"exclude": ["/archive/"]}}
    )
    entries = tomllib.loads(path.read_text())["sources"]
    assert [e["id"] for e in entries] == ["test-watchdog", "test-news"]
    for entry in entries:
        source = Source(**entry)
        assert source.delay == 0
    watchdog, news = entries
    assert watchdog["allowed_domains"] == [watchdog_site.host]
    assert watchdog["sitemaps"] == [watchdog_site.url("/sitemap_index.xml.gz")]
    assert news["exclude"] == ["/archive/"]
    assert Source(**watchdog).is_document(watchdog_site.url("/news/taser-discharges-review/"))
    assert not Source(**watchdog).is_document(watchdog_site.url("/news/page/2/"))
    assert Source(**watchdog).is_listing(watchdog_site.url("/news/page/2/"))
    assert Source(**news).is_document(news_site.url("/stories/old-bridge-closure/"))


def test_dump_sources_round_trips_awkward_values():
    entries = [
        {
            "id": "x",
            "documents": [r"\.pdf$", "it's"],
            "delay": 0.5,
            "apis": [{"type": "wordpress", "url": "u"}],
        }
    ]
    assert tomllib.loads(dump_sources(entries))["sources"] == entries


def test_demo_sites_serve_their_documents_and_a_crawlable_sources_file(tmp_path):
    with serve_demo_sites(first_host=41) as demo:
        watchdog, news = demo.sites["watchdog"], demo.sites["news"]
        assert demo.base_urls == {"watchdog": watchdog.base_url, "news": news.base_url}
        entries = tomllib.loads(demo.write_sources(tmp_path / "s.toml").read_text())["sources"]
        assert {e["id"] for e in entries} == {"demo-watchdog", "demo-news"}
        assert all(Source(**e).delay == 0 for e in entries)
        for site in (watchdog, news):
            for doc in site.expected()["documents"]:
                assert get(doc["url"])[0] == 200, doc["url"]
        cites = news.expected()["citations"]
        for targets in cites.values():
            for target in targets:
                assert target.startswith(watchdog.base_url) and get(target)[0] == 200
        story = get(news.url("/news/article/stop-and-search-payouts-watchdog-review"))[2]
        release = get(watchdog.url("/news/stop-and-search-complaints-review/"))[2]
        assert "£1.5 million".encode() in story and "£1.2 million".encode() in release
        assert demo.sources_toml == sources_toml_for([watchdog, news])
    assert watchdog.stopping.is_set()


def test_fixture_sites_have_expectations_and_sources(tmp_path):
    for name in ("watchdog", "news"):
        root = SITES_ROOT / name
        assert json.loads((root / "expected.json").read_text())["documents"]
        assert "[[sources]]" in (root / "source.toml").read_text()
    assert json.loads((SITES_ROOT / "offsite" / "expected.json").read_text())[
        "must_receive_no_requests"
    ]


def test_wordpress_api_pages_posts_like_wordpress(watchdog_site):
    api = watchdog_site.expected()["apis"]["wordpress"]
    status, headers, body = get(api + "?per_page=3&page=1")
    assert status == 200
    assert headers["X-WP-Total"] == "7" and headers["X-WP-TotalPages"] == "3"
    first = json.loads(body)
    assert [p["slug"] for p in first][:1] == ["vetting-failures-inspection"]
    assert first[0]["link"] == watchdog_site.url("/news/vetting-failures-inspection/")
    assert first[0]["modified_gmt"] == "2024-03-14T10:00:00"
    last = json.loads(get(api + "?per_page=3&page=3")[2])
    assert [p["slug"] for p in last] == ["force-control-room-learning-report"]
    status, _, body = get(api + "?per_page=3&page=4")
    assert status == 400 and json.loads(body)["code"] == "rest_post_invalid_page_number"
    recent = json.loads(get(api + "?after=2024-01-01T00:00:00")[2])
    assert len(recent) == 3


def test_template_edit_keeps_sitemap_lastmod_live(watchdog_site):
    sitemap = "/post-sitemap.xml"
    dropped = watchdog_site.url("/news/taser-discharges-review/")
    text = watchdog_site.template(sitemap)
    assert "{{lastmod:/news/complaint-handling-times/}}" in text
    kept = [block for block in text.split("<url>") if "taser-discharges-review" not in block]
    watchdog_site.set_page(sitemap, "<url>".join(kept), content_type="application/xml")
    served = gzip.decompress(get(watchdog_site.url("/post-sitemap.xml.gz"))[2])
    assert dropped.encode() not in served
    changed = watchdog_site.set_page("/news/complaint-handling-times/", "<p>new</p>")
    served = gzip.decompress(get(watchdog_site.url("/post-sitemap.xml.gz"))[2])
    stamp = changed.isoformat().replace("+00:00", "Z")
    assert sitemap_lastmod(served, watchdog_site.url("/news/complaint-handling-times/")) == stamp


def test_lastmod_template_styles(tmp_path):
    (tmp_path / "routes.toml").write_text('[dates]\n"/a/" = "2024-03-14T10:00:00+01:00"\n')
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text("a")
    (tmp_path / "d.txt").write_text(
        "{{lastmod:/a/}} {{lastmod:/a/|date}} {{lastmod:/a/|naive}} {{lastmod:/a/|http}}"
    )
    with Site(tmp_path, host="127.0.0.98") as site:
        body = get(site.url("/d.txt"))[2].decode()
    assert body == (
        "2024-03-14T09:00:00Z 2024-03-14 2024-03-14T09:00:00 Thu, 14 Mar 2024 09:00:00 GMT"
    )
