"""End-to-end: which URLs a crawl asks for and what it tells the user about the ones it will not.

Tracking-parameter copies, listing pages walked incrementally, feed, sitemap and API entries
refused by a source's rules, and WordPress sites without pretty permalinks. Each test serves its
own site on loopback (127.0.0.200 onwards) and runs the real `oversight crawl`.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from crawler.siteserver import Site
from tests.conftest import SITES_ROOT
from tests.helpers import crawl, query, run_cli, scalar, write_sources

TEXT = "Forces referred {n} matters to the watchdog, 118 of them for abuse of position. " * 5


def article(title: str, n: int = 490) -> str:
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{TEXT.format(n=n)}</p></article></body></html>"
    )


def write_site(root: Path, files: dict[str, str]) -> None:
    """A site's files (paths as served: "/news/a/" is news/a/index.html) and a robots.txt."""
    for path, body in {"/robots.txt": "User-agent: *\nAllow: /\n", **files}.items():
        target = root / (path.lstrip("/") + ("index.html" if path.endswith("/") else ""))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body)
    (root / "routes.toml").write_text('[site]\nlast_modified = "2024-06-20T09:00:00Z"\n')


def rss(items: list[tuple[str, str]]) -> str:
    entries = "".join(
        f"<item><title>{link}</title><link>{link}</link><pubDate>{date}</pubDate></item>"
        for link, date in items
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>N</title>{entries}</channel></rss>"


def urlset(urls: list[str]) -> str:
    entries = "".join(f"<url><loc>{u}</loc><lastmod>2024-06-01</lastmod></url>" for u in urls)
    return (
        "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        f"{entries}</urlset>"
    )


def links(*hrefs: str) -> str:
    return "<html><body>" + "".join(f"<a href='{h}'>{h}</a> " for h in hrefs) + "</body></html>"


# Tracking parameters


def test_tracking_parameter_copies_are_fetched_once_and_archived_under_the_clean_url(tmp_path):
    root = tmp_path / "site"
    write_site(
        root,
        {
            "/news/": links(
                "/news/a/",
                "/news/a/?utm_source=twitter&amp;utm_medium=social",
                "/news/a/?fbclid=IwAR0abc",
                "/news/?page=2&amp;utm_source=x",
                "/news/?page=2",
                "/news/item/?id=7&amp;utm_campaign=spring",
                "/news/promo/",
            ),
            "/page2.html": links("/news/b/?gclid=xyz", "/news/?page=2&amp;fbclid=1"),
            "/feed.xml": rss(
                [
                    (
                        "{{base}}/news/track/?utm_source=rss&amp;utm_medium=rss&amp;utm_campaign=feed",
                        "Wed, 12 Jun 2024 09:00:00 +0000",
                    ),
                    ("{{base}}/r/1", "Thu, 13 Jun 2024 09:00:00 +0000"),
                ]
            ),
            "/sitemap.xml": urlset(["{{base}}/news/track/", "{{base}}/news/fb/"]),
            **{
                f"/news/{name}/": article(f"Report {name}", n)
                for n, name in enumerate(["a", "b", "item", "track", "fb", "promo"], start=400)
            },
        },
    )
    with Site(root, host="127.0.0.200") as site:
        site.set_route("/news/?page=2", file="/page2.html")
        to = "/news/fb/?utm_source=feedburner&utm_medium=feed"
        site.set_route("/r/1", "redirect", to=to, status=302)
        # A server that insists on its tracking copy is followed there, not sent round a loop.
        site.set_route("/news/promo/", "redirect", to="/news/promo/?utm_source=site", status=302)
        site.set_route("/news/promo/?utm_source=site")
        base = re.escape(site.base_url)
        sources = write_sources(
            tmp_path / "sources.toml",
            site,
            feeds=[site.url("/feed.xml")],
            sitemaps=[site.url("/sitemap.xml")],
            start_urls=[site.url("/news/")],
            follow=[f"^{base}/news/\\?page=\\d+$"],
            documents=[f"^{base}/news/[a-z]+/(\\?.*)?$"],
        )
        db = tmp_path / "archive.db"
        crawl(sources, db)
        paths = site.paths()
    assert [p for p, n in Counter(paths).items() if n > 1] == []
    tracking = [p for p in paths if re.search(r"utm_|fbclid|gclid", p)]
    assert tracking == ["/news/promo/?utm_source=site"]
    assert "/news/?page=2" in paths and "/news/item/?id=7" in paths
    docs = {r["url"]: r for r in query(db, "select url, published from documents")}
    assert set(docs) == {
        site.url(p)
        for p in (
            "/news/a/",
            "/news/b/",
            "/news/item/?id=7",
            "/news/track/",
            "/news/fb/",
            "/news/promo/?utm_source=site",
        )
    }
    assert docs[site.url("/news/track/")]["published"][:10] == "2024-06-12"  # the feed's date
    assert docs[site.url("/news/fb/")]["published"][:10] == "2024-06-13"  # through its redirect
    assert scalar(db, "select count(*) from failures") == 0


# Listing pages


def listing_page(*hrefs: str) -> str:
    return links(*hrefs)


def test_an_incremental_run_stops_walking_a_listing_at_the_first_page_with_nothing_new(tmp_path):
    root = tmp_path / "site"
    write_site(
        root,
        {
            "/list/": listing_page("/news/d5/", "/news/d4/", "/list/page/2/"),
            "/list/page/2/": listing_page("/news/d3/", "/news/d2/", "/list/page/3/"),
            "/list/page/3/": listing_page("/news/d1/", "/news/d0/"),
            **{f"/news/d{n}/": article(f"Report {n}", 400 + n) for n in range(8)},
        },
    )
    with Site(root, host="127.0.0.201") as site:
        for path in ("/list/", "/list/page/2/", "/list/page/3/"):
            site.set_route(path, validators=False)  # every answer a 200, as the tester's site
        sources = write_sources(
            tmp_path / "sources.toml",
            site,
            start_urls=[site.url("/list/")],
            follow=["/list/page/\\d+/$"],
            documents=["/news/d\\d+/$"],
        )
        db = tmp_path / "archive.db"

        def listing_pages_of_a_run() -> list[str]:
            site.reset_log()
            crawl(sources, db)
            return [p for p in site.paths() if p.startswith("/list/")]

        # A first run walks as far as the listing goes.
        assert listing_pages_of_a_run() == ["/list/", "/list/page/2/", "/list/page/3/"]
        # Nothing new on page 1: the walk stops there.
        assert listing_pages_of_a_run() == ["/list/"]
        # One new report, newest first: page 1 has it, page 2 nothing new.
        site.set_page("/list/", listing_page("/news/d6/", "/news/d5/", "/list/page/2/"))
        site.set_page("/list/page/2/", listing_page("/news/d4/", "/news/d3/", "/list/page/3/"))
        site.set_page("/list/page/3/", listing_page("/news/d2/", "/news/d1/"))
        assert listing_pages_of_a_run() == ["/list/", "/list/page/2/"]
        assert scalar(db, "select count(*) from documents where url = ?", [site.url("/news/d6/")])
        # A walk cut short by a failing page is followed by one that walks as far as it goes.
        site.set_page("/list/", listing_page("/news/d7/", "/news/d6/", "/list/page/2/"))
        page_2 = site.template("/list/page/2/")
        site.remove_page("/list/page/2/")
        assert listing_pages_of_a_run() == ["/list/", "/list/page/2/"]
        site.set_page("/list/page/2/", page_2)
        assert listing_pages_of_a_run() == ["/list/", "/list/page/2/", "/list/page/3/"]
    runs = query(db, "select status from runs order by id")
    assert [r["status"] for r in runs] == ["ok", "ok", "ok", "partial", "ok"]
    failures = query(db, "select run_id, url, reason from failures")
    assert failures == [{"run_id": 4, "url": site.url("/list/page/2/"), "reason": "HTTP 404"}]


def test_a_listing_cut_at_max_pages_is_not_walked_again_until_max_pages_is_raised(tmp_path):
    root = tmp_path / "site"
    pages = {f"/list/{n}/": listing_page(f"/news/d{n}/", f"/list/{n + 1}/") for n in range(1, 7)}
    write_site(root, {**pages, **{f"/news/d{n}/": article(f"Report {n}", n) for n in range(1, 7)}})
    with Site(root, host="127.0.0.202") as site:
        for path in pages:
            site.set_route(path, validators=False)
        fields = {
            "start_urls": [site.url("/list/1/")],
            "follow": ["/list/\\d+/$"],
            "documents": ["/news/d\\d+/$"],
        }
        db = tmp_path / "archive.db"
        walked = []
        for max_pages in (2, 2, 3):
            sources = write_sources(tmp_path / "sources.toml", site, max_pages=max_pages, **fields)
            site.reset_log()
            crawl(sources, db)
            walked.append([p for p in site.paths() if p.startswith("/list/")])
    assert walked == [["/list/1/", "/list/2/"], ["/list/1/"], ["/list/1/", "/list/2/", "/list/3/"]]
    limits = query(
        db, "select run_id from failures where reason like 'listing page limit reached%'"
    )
    assert [r["run_id"] for r in limits] == [1, 3]  # never on the run that stopped by design
    assert [r["status"] for r in query(db, "select status from runs order by id")] == [
        "partial",
        "ok",
        "partial",
    ]
    assert scalar(db, "select count(*) from documents") == 3


# Refused entries


def test_feed_sitemap_and_api_entries_refused_are_named_in_the_log_and_counted(tmp_path):
    root = tmp_path / "site"
    elsewhere = "http://127.0.0.204"  # nothing listens there: a request would fail loudly
    write_site(
        root,
        {
            "/news/": links(f"{elsewhere}/news/linked/", "/news/fine/"),
            "/feed.xml": rss(
                [
                    ("{{base}}/news/fine/", "Wed, 12 Jun 2024 09:00:00 +0000"),
                    (f"{elsewhere}/news/elsewhere/", "Wed, 12 Jun 2024 09:00:00 +0000"),
                    ("{{base}}/news/private-x/", "Wed, 12 Jun 2024 09:00:00 +0000"),
                ]
            ),
            "/sitemap.xml": urlset(
                [
                    f"{elsewhere}/news/moved/",
                    "{{base}}/news/private-y/",
                    "{{base}}/about/",  # not a document: no news
                    f"{elsewhere}/about/",
                ]
            ),
            "/posts.json": (
                '[{"id": 1, "date_gmt": "2024-06-01T10:00:00", "modified_gmt": "2024-06-01T10:00:00",'
                f' "link": "{elsewhere}/news/from-api/", "title": {{"rendered": "Off"}}}}]'
            ),
            "/news/fine/": article("Fine"),
        },
    )
    with Site(root, host="127.0.0.203") as site:
        site.set_route("/wp-json/wp/v2/posts", "wordpress_posts", file="/posts.json")
        sources = write_sources(
            tmp_path / "sources.toml",
            site,
            feeds=[site.url("/feed.xml")],
            sitemaps=[site.url("/sitemap.xml")],
            start_urls=[site.url("/news/")],
            apis=[{"type": "wordpress", "url": site.url("/wp-json/wp/v2/posts")}],
            documents=["/news/[a-z-]+/$"],
            exclude=["/private-"],
        )
        db = tmp_path / "archive.db"
        result = crawl(sources, db)
        status = run_cli("status", "--db", str(db)).stdout
    log = (tmp_path / "1" / "log.txt").read_text()
    warnings = [line for line in log.splitlines() if "entry refused" in line]
    assert all("WARNING" in line for line in warnings)
    named = {re.search(r"entry refused: (\S+)", line).group(1): line for line in warnings}
    assert set(named) == {
        f"{elsewhere}/news/elsewhere/",
        f"{elsewhere}/news/moved/",
        f"{elsewhere}/news/from-api/",
        site.url("/news/private-x/"),
        site.url("/news/private-y/"),
    }
    assert "outside allowed_domains" in named[f"{elsewhere}/news/moved/"]
    assert "sitemap entry" in named[f"{elsewhere}/news/moved/"]
    assert "api entry" in named[f"{elsewhere}/news/from-api/"]
    assert "matches an exclude pattern" in named[site.url("/news/private-x/")]
    assert "feed entry" in named[site.url("/news/private-x/")]
    assert scalar(db, "select entries_refused from runs") == 5
    assert "5 feed, sitemap or API entries refused" in result.stdout
    assert "5 feed, sitemap or API entries refused in run #1" in status
    assert [r.path for r in site.requests("/news/fine/")] == ["/news/fine/"]


# WordPress without pretty permalinks


def test_a_wordpress_api_missing_at_wp_json_is_read_through_rest_route(tmp_path):
    with Site(SITES_ROOT / "wordpress", host="127.0.0.205") as site:
        site.set_route("/wp-json/wp/v2/posts", "status", status=404)
        site.set_route("/", "wordpress_posts", file="/wp-json/wp/v2/posts.json")
        sources = write_sources(
            tmp_path / "sources.toml",
            site,
            apis=[{"type": "wordpress", "url": site.url("/wp-json/wp/v2/posts")}],
            documents=["/news/[a-z0-9-]+/$"],
        )
        db = tmp_path / "archive.db"
        crawl(sources, db)
        asked = [r.path for r in site.requests("/")]
        site.set_route("/", "status", status=404)
        crawl(sources, db)
    assert asked and all(p.startswith("/?rest_route=/wp/v2/posts&") for p in asked)
    assert scalar(db, "select count(*) from documents") == 3
    runs = query(db, "select status from runs order by id")
    assert [r["status"] for r in runs] == ["ok", "partial"]
    (failure,) = query(db, "select url, reason from failures")
    assert "?rest_route=/wp/v2/posts" in failure["url"]
    assert failure["reason"].startswith("HTTP 404 here and at " + site.url("/wp-json/wp/v2/posts?"))
    assert "no WordPress REST API in either form" in failure["reason"]


# APIs that misbehave

GOVUK_ITEM = (
    '{"base_path": "/government/news/b", "title": "Vetting review", "document_type": "news_story",'
    ' "first_published_at": "2024-06-01T10:00:00.000+00:00",'
    ' "details": {"body": "<p>Forces referred 490 matters to the watchdog, 118 of them for abuse'
    ' of position, in the year to March.</p>"%s}}'
)


def api_sources(tmp_path: Path, site: Site, **fields: object) -> Path:
    """A source read only through a WordPress posts API and a GOV.UK Search API on `site`."""
    return write_sources(
        tmp_path / "sources.toml",
        site,
        apis=[
            {"type": "wordpress", "url": site.url("/wp-json/wp/v2/posts")},
            {"type": "govuk-search", "url": site.url("/api/search.json")},
        ],
        **fields,
    )


def test_an_api_that_ignores_its_page_parameter_is_read_no_further_than_its_first_repeat(
    tmp_path,
):
    root = tmp_path / "site"
    write_site(
        root,
        {
            "/posts.json": (
                '[{"link": "{{base}}/news/a/", "date_gmt": "2024-06-01T10:00:00",'
                ' "modified_gmt": "2024-06-01T10:00:00", "title": {"rendered": "A"}}]'
            ),
            # A total past any integer SQLite or a page count could hold.
            "/search.json": (
                '{"results": [{"link": "/government/news/b", "title": "B",'
                ' "public_timestamp": "2024-06-01T10:00:00Z"}], "total": 1000000000000000000000000000000, "start": 0}'
            ),
            "/news/a/": article("Report a"),
            "/api/content/government/news/b": GOVUK_ITEM % "",
        },
    )
    with Site(root, host="127.0.0.230") as site:
        json_type = {"content_type": "application/json"}
        # Every page is the first, whatever ?page= or ?start= asks, and more are always promised.
        site.set_route(
            "/wp-json/wp/v2/posts",
            file="/posts.json",
            headers={"X-WP-TotalPages": "999999999"},
            **json_type,
        )
        site.set_route("/api/search.json", file="/search.json", **json_type)
        site.set_route("/api/content/government/news/b", **json_type)
        sources = api_sources(tmp_path, site)
        db = tmp_path / "archive.db"
        crawl(sources, db)
        first = [p for p in site.paths() if p.startswith(("/wp-json/", "/api/search"))]
        site.reset_log()
        crawl(sources, db)
        second = [p for p in site.paths() if p.startswith("/wp-json/")]
    assert len(first) == 4
    assert len([p for p in first if "page=2" in p or "start=100" in p]) == 2
    assert {r["url"] for r in query(db, "select url from documents")} == {
        site.url("/news/a/"),
        site.url("/government/news/b"),
    }
    failures = query(db, "select url, reason from failures where run_id = 1 order by url")
    assert [("start=100" in f["url"], "page=2" in f["url"]) for f in failures] == [
        (True, False),
        (False, True),
    ]
    assert all(
        "ignores its page parameter or overstates its total" in f["reason"] for f in failures
    )
    assert scalar(db, "select status from runs where id = 1") == "partial"
    # The listing was not read whole, so the next run reads it from the start again.
    assert second and "modified_after=" not in second[0]


def test_api_pages_past_max_pages_are_not_asked_for_and_the_limit_is_a_failure(tmp_path):
    with Site(SITES_ROOT / "wordpress", host="127.0.0.231") as site:
        sources = write_sources(
            tmp_path / "sources.toml",
            site,
            apis=[
                {
                    "type": "wordpress",
                    "url": site.url("/wp-json/wp/v2/posts"),
                    "params": {"per_page": "2"},
                }
            ],
            documents=["/news/[a-z0-9-]+/$"],
            max_pages=1,
        )
        db = tmp_path / "archive.db"
        crawl(sources, db)
        asked = [p for p in site.paths() if p.startswith("/wp-json/")]
    assert len(asked) == 1 and "page=1" in asked[0]
    assert scalar(db, "select count(*) from documents") == 2  # the first page's two posts
    (failure,) = query(db, "select url, reason from failures")
    assert "page=2" in failure["url"]
    assert failure["reason"] == (
        "API page limit reached (1 pages this run; raise max_pages in sources.toml if the site "
        "really lists that many)"
    )


def test_an_api_entry_that_cannot_be_fetched_is_refused_and_the_rest_of_its_page_is_read(
    tmp_path,
):
    root = tmp_path / "site"
    write_site(
        root,
        {
            # Lone surrogate escapes: in one post's link, and in fields that are only read.
            "/posts.json": (
                '[{"link": "{{base}}/news/p\\udc802/", "date_gmt": "2024-06-02T10:00:00",'
                ' "modified_gmt": "\\ud800"},'
                ' {"link": "{{base}}/news/a/", "date_gmt": "2024-06-01T10:00:00",'
                ' "modified_gmt": "2024-06-01T10:00:00", "title": {"rendered": "T \\ud800 x"}}]'
            ),
            "/search.json": (
                '{"results": [{"link": "/government/news/b", "title": "\\ud800",'
                ' "public_timestamp": "\\udfff"}], "total": 1}'
            ),
            "/news/a/": article("Report a"),
            "/api/content/government/news/b": GOVUK_ITEM % "",
        },
    )
    with Site(root, host="127.0.0.232") as site:
        json_type = {"content_type": "application/json"}
        site.set_route("/wp-json/wp/v2/posts", "wordpress_posts", file="/posts.json")
        site.set_route("/api/search.json", "govuk_search", file="/search.json")
        site.set_route("/api/content/government/news/b", **json_type)
        db = tmp_path / "archive.db"
        crawl(api_sources(tmp_path, site), db)
    assert {r["url"] for r in query(db, "select url from documents")} == {
        site.url("/news/a/"),
        site.url("/government/news/b"),
    }
    assert query(db, "select url, reason from failures") == []
    assert scalar(db, "select entries_refused from runs") == 1
    log = (tmp_path / "1" / "log.txt").read_text()
    (refused,) = [line for line in log.splitlines() if "entry refused" in line]
    assert f"api entry refused: {site.url('/news/p')}\\udc802/" in refused
    assert "not a usable URL" in refused
