"""Security review, as tests: nothing listens, nothing goes where it must not, nothing writes.

- Scrapy's telnet console (and any remote-control web service) is off in every crawl's settings.
- Redirects from an allowed site to loopback, the cloud metadata address, another domain or a
  non-http scheme are refused and recorded; the targets are never contacted.
- A host name inside `allowed_domains` that resolves to a private address is refused for a
  public source (DNS rebinding, internal names), by `crawler.guards.refusal`.
- `oversight serve` (crawler.serve.make_datasette) answers every write attempt with an error and
  leaves the archive unchanged, and scraped markup is served escaped, never as markup.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import yaml
from scrapy.settings import Settings

from crawler import archive
from crawler.demo import sources_toml_for
from crawler.guards import refusal
from crawler.serve import CONFIG_DIR, make_datasette
from crawler.settings import BASE_SETTINGS, crawl_settings
from crawler.siteserver import serve_sites
from crawler.sources import Source
from tests.helpers import crawl, query

SITES = Path(__file__).parent / "sites"


# --------------------------------------------------------------------------- crawl settings


def test_telnet_console_is_off_in_every_crawl():
    settings = Settings(crawl_settings([]))
    assert settings.getbool("TELNETCONSOLE_ENABLED") is False
    assert BASE_SETTINGS["EXTENSIONS"].get("scrapy.extensions.telnet.TelnetConsole", 0) is None


def test_no_remote_control_extension_is_configured():
    """Old Scrapy's web service (scrapy-jsonrpc) was a remote-control server: none may be added."""
    settings = crawl_settings([])
    names = " ".join(
        str(k) for key in ("EXTENSIONS", "DOWNLOADER_MIDDLEWARES") for k in settings[key]
    )
    assert "webservice" not in names.lower() and "jsonrpc" not in names.lower()
    assert not settings.get("WEBSERVICE_ENABLED")
    # Scrapy 2.19's own remote control (a local server that executes Python) is off too.
    assert Settings(settings).getbool("REMOTE_CONTROL_ENABLED") is False
    assert settings["EXTENSIONS"]["scrapy.extensions.remote_control.RemoteControl"] is None


# --------------------------------------------------------------------------- where the crawler goes


def public_source(**extra) -> Source:
    return Source(
        id="public",
        name="A public site",
        kind="news",
        homepage="https://www.example.org/",
        allowed_domains=["example.org", "localhost"],
        start_urls=["https://www.example.org/news/"],
        **extra,
    )


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1/admin/", "outside allowed_domains"),
        ("http://169.254.169.254/latest/meta-data/", "outside allowed_domains"),
        ("http://[::1]/", "outside allowed_domains"),
        ("https://evil.example.net/", "outside allowed_domains"),
        ("file:///etc/passwd", "not an http(s) URL"),
        ("gopher://www.example.org/", "not an http(s) URL"),
        # A lone surrogate (from a JSON `\udc80` escape): no request or row can hold it.
        ("https://www.example.org/news/p\udc80/", "not a usable URL"),
        # Inside allowed_domains by name, but it resolves to loopback (from /etc/hosts).
        ("http://localhost/internal/", "resolves to a private or loopback address"),
    ],
)
def test_guard_refuses_private_and_foreign_targets(url, reason):
    found = refusal(url, public_source())
    assert found is not None and reason in found


def test_guard_allows_the_public_site_itself():
    assert refusal("https://www.example.org/news/a/", public_source()) is None


def write_redirect_site(root: Path) -> Path:
    root.mkdir(parents=True)
    targets = {
        "loopback": "http://127.0.0.1/admin/",
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "offsite": "{{base:offsite}}/stories/council-budget-vote-syndicated/",
        "scheme": "file:///etc/passwd",
        "javascript": "javascript:alert(1)",
    }
    links = "".join(f'<a href="/go/{name}/">{name}</a>' for name in targets)
    (root / "index.html").write_text(
        f"<!doctype html><html><head><title>Redirects</title></head><body>{links}</body></html>"
    )
    routes = ['[site]\nlast_modified = "2024-06-01T09:00:00Z"\n']
    for name, target in targets.items():
        routes.append(
            f'[routes."/go/{name}/"]\nhandler = "redirect"\nto = "{target}"\nstatus = 302\n'
        )
    (root / "routes.toml").write_text("\n".join(routes))
    (root / "source.toml").write_text(
        '[[sources]]\nid = "redirector"\nname = "Redirector"\nkind = "news"\n'
        'homepage = "{{base}}/"\nallowed_domains = ["{{host}}"]\n'
        "start_urls = [\"{{base}}/\"]\ndocuments = ['/go/']\ndelay = 0\n"
    )
    return root


def test_redirects_to_private_addresses_and_other_domains_are_refused_and_recorded(tmp_path):
    root = write_redirect_site(tmp_path / "redirector")
    roots = {"redirector": root, "offsite": SITES / "offsite"}
    with serve_sites(roots, first_host=101) as sites:
        sources = tmp_path / "sources.toml"
        sources.write_text(sources_toml_for([sites["redirector"]]))
        db = tmp_path / "archive.db"
        crawl(sources, db)
        base = sites["redirector"].base_url
        assert sites["offsite"].log == []
    reasons = {r["url"]: r["reason"] for r in query(db, "select url, reason from failures")}
    for name, needle in (
        ("loopback", "127.0.0.1"),
        ("metadata", "169.254.169.254"),
        ("offsite", "outside allowed_domains"),
        ("scheme", "not an http(s) URL"),
        ("javascript", "Location javascript:alert(1) is not an http(s) URL"),
    ):
        reason = reasons.get(f"{base}/go/{name}/", "")
        assert "redirect from" in reason and needle in reason, (name, reason)
    assert query(db, "select count(*) as n from documents")[0]["n"] == 0


# --------------------------------------------------------------------------- the published archive


HOSTILE_TITLE = "<script>alert('title')</script> Hostile markup"
HOSTILE_TEXT = "Escaped markup in text: <img src=x onerror=alert(1)> stays text."


@pytest.fixture
def served_archive(tmp_path) -> Path:
    db_path = tmp_path / "archive.db"
    db = archive.open_archive(db_path)
    with db.conn:
        db["sources"].insert({"id": "s", "name": "Source", "kind": "news", "homepage": "x"})
        db["documents"].insert(
            {
                "id": 1,
                "url": "http://127.0.0.1/hostile/",
                "source_id": "s",
                "content_type": "html",
                "title": HOSTILE_TITLE,
                "text": HOSTILE_TEXT,
                "published": "2024-06-01",
                "first_seen": "2024-06-01T09:00:00+00:00",
                "last_seen": "2024-06-01T09:00:00+00:00",
                "version_count": 1,
            }
        )
    db.conn.close()
    return db_path


def counts(db_path: Path) -> dict[str, int]:
    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        return {t: conn.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()


def canned_queries() -> list[str]:
    metadata = yaml.safe_load((CONFIG_DIR / "metadata.yml").read_text(encoding="utf-8"))
    queries = metadata.get("databases", {}).get("archive", {}).get("queries", {})
    return list(queries)


def test_no_canned_query_is_a_write_query():
    metadata = yaml.safe_load((CONFIG_DIR / "metadata.yml").read_text(encoding="utf-8"))
    queries = metadata.get("databases", {}).get("archive", {}).get("queries", {})
    assert queries, "expected the canned queries of datasette_config/metadata.yml"
    for name, spec in queries.items():
        assert not (isinstance(spec, dict) and spec.get("write")), name


def test_serve_exposes_nothing_that_writes(served_archive):
    before = counts(served_archive)
    ds = make_datasette(served_archive)

    async def attempts() -> list[tuple[str, int, str]]:
        results = []
        row = {"row": {"url": "http://x/", "title": "written"}}
        posts = [
            ("/archive/-/insert", row),
            ("/archive/documents/-/insert", row),
            ("/archive/documents/-/upsert", row),
            ("/archive/documents/1/-/update", {"update": {"title": "changed"}}),
            ("/archive/documents/1/-/delete", {}),
            ("/archive/documents/-/drop", {"confirm": True}),
            ("/archive/-/create", {"table": "pwned", "columns": [{"name": "x"}]}),
            ("/-/create-token", {}),
        ]
        posts += [(f"/archive/{name}", {}) for name in canned_queries()]
        for path, body in posts:
            response = await ds.client.post(path, json=body)
            results.append((path, response.status_code, response.text[:200]))
        for sql in (
            "insert into documents (url, title) values ('http://x/', 'written')",
            "update documents set title = 'changed'",
            "delete from documents",
            "drop table documents",
            "attach database '/tmp/evil.db' as evil",
            "pragma journal_mode = delete",
        ):
            response = await ds.client.get("/archive.json", params={"sql": sql})
            results.append((sql, response.status_code, response.text[:200]))
        return results

    for what, status, text in asyncio.run(attempts()):
        assert status >= 400, (what, status, text)
    after = counts(served_archive)
    assert after == before
    conn = sqlite3.connect(served_archive)
    try:
        assert conn.execute("select title from documents").fetchall() == [(HOSTILE_TITLE,)]
    finally:
        conn.close()


def test_scraped_markup_is_served_escaped(served_archive):
    ds = make_datasette(served_archive)

    async def pages() -> list[str]:
        texts = []
        for path in (
            "/archive/documents/1",
            "/archive/documents",
            "/archive/documents?_search=hostile",
        ):
            response = await ds.client.get(path)
            assert response.status_code == 200, path
            texts.append(response.text)
        return texts

    for html in asyncio.run(pages()):
        assert "<script>alert('title')</script>" not in html
        assert "<img src=x onerror=alert(1)>" not in html
    assert "&lt;script&gt;" in asyncio.run(pages())[0]


@pytest.mark.parametrize(
    "target, refused",
    [
        ("http://169.254.169.254/latest/meta-data/robots.txt", True),  # cloud metadata
        ("http://127.0.0.1:9/robots.txt", True),
        ("ftp://files.watchdog.example/robots.txt", True),
        ("https://cdn.watchdog.example/robots.txt", False),  # RFC 9309: may cross hosts
    ],
)
def test_a_robots_txt_redirect_from_a_public_host_cannot_reach_private_addresses(target, refused):
    from scrapy import Request

    from crawler.middlewares import robots_redirect_refusal

    # .example names resolve nowhere, so the original host counts as public.
    request = Request(target, meta={"redirect_urls": ["https://www.watchdog.example/robots.txt"]})
    assert (robots_redirect_refusal(request) is not None) == refused


def test_two_sources_on_one_site_share_one_download_slot_at_the_politer_pace():
    def source(source_id: str, domains: list[str], delay: float, concurrency: int) -> Source:
        return Source(
            id=source_id,
            name=source_id,
            kind="government",
            homepage=f"https://{domains[0]}/",
            allowed_domains=domains,
            delay=delay,
            concurrency=concurrency,
        )

    sources = [
        source("home-office", ["www.gov.uk", "assets.publishing.service.gov.uk"], 2, 2),
        source("dfe", ["www.gov.uk"], 5, 1),
        source("iopc", ["www.policeconduct.gov.uk"], 10, 1),
    ]
    slots = crawl_settings(sources)["DOWNLOAD_SLOTS"]
    assert slots == {
        "home-office": {"concurrency": 1, "delay": 5, "jitter": 0},
        "iopc": {"concurrency": 1, "delay": 10, "jitter": 0},
    }


def test_a_dns_failure_is_said_once():
    from twisted.internet import error
    from twisted.python.failure import Failure

    from crawler.failures import describe_failure

    failure = Failure(error.DNSLookupError("no results for hostname lookup: www.gone.example"))
    assert describe_failure(failure) == (
        "DNS lookup failed: no results for hostname lookup: www.gone.example."
    )
