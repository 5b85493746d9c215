"""The source registry: the real file loads, bad files are refused by file, source and field,
and `oversight sources --check` probes endpoints politely on a real loopback server."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crawler.checking import check_sources
from crawler.sources import (
    DEFAULT_SOURCES,
    KINDS,
    SourcesError,
    domain_allowed,
    load_sources,
)
from crawler.useragent import USER_AGENT

GOOD = """
[[sources]]
id = "iopc"
name = "Independent Office for Police Conduct"
kind = "watchdog"
homepage = "https://www.policeconduct.gov.uk/"
allowed_domains = ["policeconduct.gov.uk"]
start_urls = ["https://www.policeconduct.gov.uk/news"]
follow = ['/news\\?page=\\d+$']
documents = ['/news/[a-z0-9-]+$']
delay = 10
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text)
    return path


def test_the_real_sources_file_loads_and_covers_every_watchdog():
    sources = load_sources()
    ids = {s.id for s in sources}
    assert {"home-office", "hmicfrs", "iopc", "npcc", "college-of-policing", "politicshome"} <= ids
    assert all(s.kind in KINDS for s in sources)
    by_id = {s.id: s for s in sources}
    assert by_id["iopc"].delay >= 10
    assert [a.type for a in by_id["home-office"].apis] == ["govuk-search"]
    assert by_id["home-office"].apis[0].params["filter_organisations"] == "home-office"
    assert "wordpress" in [a.type for a in by_id["hmicfrs"].apis]
    assert load_sources(DEFAULT_SOURCES) == sources


def test_the_real_sources_file_keeps_politicshome_to_policing_articles():
    politics = {s.id: s for s in load_sources()}["politicshome"]
    assert politics.is_document(
        "https://www.politicshome.com/news/article/iopc-criticises-met-police-response"
    )
    assert not politics.is_document("https://www.politicshome.com/news/article/budget-tax-rises")
    assert not politics.is_document("https://www.politicshome.com/news/article/new-housing-policy")


def test_the_real_sources_file_accepts_hmicfrs_report_pdfs_on_the_assets_host():
    hmicfrs = {s.id: s for s in load_sources()}["hmicfrs"]
    pdf = "https://assets-hmicfrs.justiceinspectorates.gov.uk/uploads/peel-2023-kent.pdf"
    assert domain_allowed(pdf, hmicfrs.allowed_domains)
    assert hmicfrs.matches_document(pdf)


def test_a_valid_file_gives_sources_with_defaults(tmp_path):
    (source,) = load_sources(write(tmp_path, GOOD))
    assert source.id == "iopc"
    assert source.delay == 10.0
    assert source.feeds == []
    assert source.is_listing("https://www.policeconduct.gov.uk/news?page=3")


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (("delay = 10", "delay = -1"), "delay", "must be a number >= 0"),
        (("delay = 10", 'delay = "slow"'), "delay", "must be a number >= 0"),
        (("delay = 10", "delay = true"), "delay", "must be a number >= 0"),
        (('kind = "watchdog"', 'kind = "blog"'), "kind", "must be one of"),
        (
            ('allowed_domains = ["policeconduct.gov.uk"]', "allowed_domains = []"),
            "allowed_domains",
            "at least one",
        ),
        (
            (
                'allowed_domains = ["policeconduct.gov.uk"]',
                'allowed_domains = ["https://policeconduct.gov.uk/"]',
            ),
            "allowed_domains",
            "bare host name",
        ),
        (
            ("documents = ['/news/[a-z0-9-]+$']", "documents = ['/news/[a-z']"),
            "documents",
            "does not compile",
        ),
        (
            ("documents = ['/news/[a-z0-9-]+$']", "documents = '/news/'"),
            "documents",
            "list of non-empty strings",
        ),
        (
            (
                'start_urls = ["https://www.policeconduct.gov.uk/news"]',
                'start_urls = ["https://evil.example/news"]',
            ),
            "start_urls",
            "outside allowed_domains",
        ),
        (
            ('start_urls = ["https://www.policeconduct.gov.uk/news"]', 'start_urls = ["/news"]'),
            "start_urls",
            "absolute http(s) URL",
        ),
        (
            (
                'start_urls = ["https://www.policeconduct.gov.uk/news"]',
                'start_urls = ["ftp://www.policeconduct.gov.uk/"]',
            ),
            "start_urls",
            "absolute http(s) URL",
        ),
        (
            ('start_urls = ["https://www.policeconduct.gov.uk/news"]', "start_urls = []"),
            "start_urls",
            "nothing to crawl",
        ),
        (("delay = 10", "dealy = 10"), "dealy", "unknown field"),
        (("delay = 10", 'every = "often"'), "every", "expected an interval"),
        (("delay = 10", "max_pages = 0"), "max_pages", "whole number >= 1"),
        (("delay = 10", "max_pages = 2.5"), "max_pages", "whole number >= 1"),
        (
            ("delay = 10", 'unverified = ["https://www.policeconduct.gov.uk/feed"]'),
            "unverified",
            "not one of",
        ),
        (
            ('name = "Independent Office for Police Conduct"', 'name = ""'),
            "name",
            "non-empty string",
        ),
        (
            (
                'homepage = "https://www.policeconduct.gov.uk/"',
                'homepage = "https://iopc.example/"',
            ),
            "homepage",
            "outside",
        ),
        (
            (
                "delay = 10",
                'apis = [{ type = "rss", url = "https://www.policeconduct.gov.uk/api" }]',
            ),
            "apis[0].type",
            "must be one of govuk-search, wordpress",
        ),
        (
            (
                "delay = 10",
                'apis = [{ type = "wordpress", url = "https://wp.example/wp-json/wp/v2/posts" }]',
            ),
            "apis[0].url",
            "outside allowed_domains",
        ),
        (
            (
                "delay = 10",
                'apis = [{ type = "wordpress", url = "https://www.policeconduct.gov.uk/", key = "x" }]',
            ),
            "apis[0].key",
            "unknown key",
        ),
        (
            (
                "delay = 10",
                'apis = [{ type = "wordpress", url = "https://www.policeconduct.gov.uk/", params = { a = true } }]',
            ),
            "apis[0].params.a",
            "must be a string",
        ),
    ],
)
def test_a_bad_field_is_refused_naming_the_file_the_source_and_the_field(
    tmp_path, change, field, problem
):
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(SourcesError) as caught:
        load_sources(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: source 'iopc': field '{field}': ")
    assert problem in message


def test_a_missing_required_field_is_named(tmp_path):
    path = write(tmp_path, GOOD.replace('kind = "watchdog"\n', ""))
    with pytest.raises(SourcesError, match=r"source 'iopc': field 'kind': missing"):
        load_sources(path)


def test_a_bad_id_is_named_by_the_sources_position(tmp_path):
    path = write(tmp_path, GOOD.replace('id = "iopc"', 'id = "IOPC Watch"'))
    with pytest.raises(SourcesError) as caught:
        load_sources(path)
    assert str(caught.value).startswith(f"{path}: source 'IOPC Watch': field 'id': must be a slug")


def test_two_sources_with_one_id_are_refused(tmp_path):
    path = write(tmp_path, GOOD + GOOD)
    with pytest.raises(SourcesError, match=r"source 'iopc': field 'id': used by two sources"):
        load_sources(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[[sources]\nid = 1", "not valid TOML"),
        ("title = 'x'\n" + GOOD, "unknown top-level key"),
        ("", "no [[sources]] tables"),
    ],
)
def test_a_broken_file_is_refused_naming_the_file(tmp_path, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(SourcesError) as caught:
        load_sources(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)


def test_a_file_not_saved_as_utf8_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_bytes(GOOD.replace("name = ", "notes = 'caf\xe9'\nname = ", 1).encode("latin-1"))
    with pytest.raises(SourcesError, match=r"sources\.toml: not UTF-8 text"):
        load_sources(path)


def test_a_missing_file_is_a_sources_error(tmp_path):
    with pytest.raises(SourcesError, match="cannot read"):
        load_sources(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("url", "domains", "allowed"),
    [
        ("https://www.policeconduct.gov.uk/news", ["policeconduct.gov.uk"], True),
        ("https://policeconduct.gov.uk/", ["policeconduct.gov.uk"], True),
        ("https://notpoliceconduct.gov.uk/", ["policeconduct.gov.uk"], False),
        ("https://policeconduct.gov.uk.evil.example/", ["policeconduct.gov.uk"], False),
        ("https://WWW.Gov.UK:443/x", ["www.gov.uk"], True),
        ("https://assets.publishing.service.gov.uk/a.pdf", ["www.gov.uk"], False),
        ("http://127.0.0.5:8123/feed/", ["127.0.0.5"], True),
        ("http://127.0.0.6:8123/feed/", ["127.0.0.5"], False),
        ("http://1.127.0.0.5/", ["127.0.0.5"], False),
        ("http://[::1]:8000/", ["::1"], True),
        ("https://www.gov.uk./x", ["gov.uk"], True),
        ("mailto:x@gov.uk", ["gov.uk"], False),
        ("not a url", ["gov.uk"], False),
    ],
)
def test_domain_allowed_matches_hosts_and_their_subdomains_only(url, domains, allowed):
    assert domain_allowed(url, domains) is allowed


# `oversight sources --check` against a real loopback server

ATOM = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>Report</title><link href="/news/report-one"/><id>1</id><updated>2024-01-01T00:00:00Z</updated></entry>
<entry><title>Other</title><link href="/news/report-two"/><id>2</id><updated>2024-01-02T00:00:00Z</updated></entry>
</feed>"""
SITEMAP = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{base}/news/report-one</loc></url><url><loc>{base}/about</loc></url></urlset>"""
LISTING = (
    b'<html><body><a href="/news/report-one">One</a><a href="/news?page=2">Next</a></body></html>'
)
ROBOTS = b"User-agent: *\nDisallow: /private/\nSitemap: /sitemap.xml.gz\n"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        self.server.log.append((self.path, self.headers.get("User-Agent")))  # type: ignore[attr-defined]
        base = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}".encode()
        pages = {
            "/robots.txt": (200, "text/plain", ROBOTS),
            "/feed/": (200, "application/atom+xml", ATOM),
            "/sitemap.xml.gz": (
                200,
                "application/octet-stream",
                gzip.compress(SITEMAP.replace(b"{base}", base)),
            ),
            "/news": (200, "text/html", LISTING),
            "/old-news": (301, "text/html", b""),
            "/offsite": (302, "text/html", b""),
            "/broken-feed/": (200, "text/html", b"<html><body>Not a feed</body></html>"),
            "/private/feed/": (200, "application/atom+xml", ATOM),
        }
        path = self.path.split("?")[0]
        if path == "/wp-json/wp/v2/posts":
            status, kind = 200, "application/json"
            body = json.dumps(
                [
                    {
                        "link": base.decode() + "/news/report-one",
                        "modified_gmt": "2024-01-01T00:00:00",
                    }
                ]
            ).encode()
            extra = {"X-WP-Total": "1", "X-WP-TotalPages": "1"}
        else:
            status, kind, body = pages.get(path, (404, "text/html", b"missing"))
            extra = {}
            if path == "/old-news":
                extra = {"Location": "/news"}
            if path == "/offsite":
                extra = {"Location": "http://elsewhere.example/x"}
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture
def probe_server() -> Iterator[tuple[str, list]]:
    server = ThreadingHTTPServer(("127.0.0.61", 0), _Handler)
    server.log = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.61:{server.server_address[1]}", server.log  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def test_check_probes_each_endpoint_once_and_says_what_it_parsed_as(tmp_path, probe_server):
    base, log = probe_server
    path = write(
        tmp_path,
        f"""
[[sources]]
id = "loop"
name = "Loopback watchdog"
kind = "watchdog"
homepage = "{base}/"
allowed_domains = ["127.0.0.61"]
feeds = ["{base}/feed/", "{base}/broken-feed/", "{base}/private/feed/"]
sitemaps = ["{base}/sitemap.xml.gz", "{base}/missing.xml"]
start_urls = ["{base}/old-news", "{base}/offsite"]
follow = ['/news\\?page=\\d+$']
documents = ['/news/[a-z0-9-]+$']
apis = [{{ type = "wordpress", url = "{base}/wp-json/wp/v2/posts" }}]
delay = 0
unverified = ["{base}/sitemap.xml.gz"]
""",
    )
    sources = load_sources(path)
    seen = []
    results = check_sources(sources, timeout=5, pause=0, on_result=seen.append)
    assert seen == results
    by_url = {r.url.split("?")[0]: r for r in results}

    robots = by_url[f"{base}/robots.txt"]
    assert robots.ok and f"{base}/sitemap.xml.gz" in robots.detail
    assert by_url[f"{base}/feed/"].ok
    assert by_url[f"{base}/feed/"].detail.startswith("feed with 2 entries")
    assert not by_url[f"{base}/broken-feed/"].ok
    assert "not a feed" in by_url[f"{base}/broken-feed/"].detail
    private = by_url[f"{base}/private/feed/"]
    assert not private.ok and "disallowed by robots.txt" in private.detail
    sitemap = by_url[f"{base}/sitemap.xml.gz"]
    assert sitemap.ok and sitemap.unverified
    assert sitemap.detail == "sitemap with 2 URLs, 1 match documents"
    missing = by_url[f"{base}/missing.xml"]
    assert (missing.ok, missing.status, missing.detail) == (False, 404, "HTTP 404")
    moved = by_url[f"{base}/old-news"]
    assert moved.ok and moved.final_url == f"{base}/news"
    assert moved.detail == "listing with 2 links: 1 documents, 1 pages to follow"
    offsite = by_url[f"{base}/offsite"]
    assert not offsite.ok and "outside allowed_domains" in offsite.detail
    wordpress = by_url[f"{base}/wp-json/wp/v2/posts"]
    assert wordpress.ok and "1 posts on page 1" in wordpress.detail
    assert "FAIL" in str(missing) and "ok" in str(wordpress)

    paths = [p.split("?")[0] for p, _ in log]
    assert paths.count("/robots.txt") == 1
    assert "/private/feed/" not in paths
    assert not any(p.startswith("/x") for p in paths)
    assert all(agent == USER_AGENT for _, agent in log)


def test_check_reports_an_unreachable_host_without_raising(tmp_path):
    path = write(
        tmp_path,
        """
[[sources]]
id = "gone"
name = "Gone"
kind = "news"
homepage = "http://127.0.0.62:9/"
allowed_domains = ["127.0.0.62"]
feeds = ["http://127.0.0.62:9/feed/"]
delay = 0
""",
    )
    results = check_sources(load_sources(path), timeout=2, pause=0)
    assert [r.role for r in results] == ["robots", "feed"]
    assert all(not r.ok for r in results)
    assert "no answer" in results[0].detail
    assert "not fetched" in results[1].detail
