"""End-to-end: the real `oversight crawl` against the fixture web on loopback.

One crawl of the watchdog and news sites is shared by the module's read-only assertions; tests
that change the sites or crawl again build their own.
"""

from __future__ import annotations

import itertools
import json
import socket
import time
from collections import Counter
from pathlib import Path

import pytest

from crawler import archive
from crawler.siteserver import Site, serve_sites
from crawler.useragent import USER_AGENT
from tests.conftest import FIXTURE_WEB, SITES_ROOT, make_sources
from tests.helpers import crawl, make_pdfs, query, run_cli, scalar, write_sources


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """The fixture web crawled once: (sites, db path, CLI result)."""
    tmp = tmp_path_factory.mktemp("crawl")
    roots = {name: SITES_ROOT / name for name in FIXTURE_WEB}
    with serve_sites(roots, first_host=41) as sites:
        sources = make_sources(tmp, sites["watchdog"], sites["news"])
        db = tmp / "archive.db"
        result = crawl(sources, db)
        yield sites, db, result


def expected_documents(sites: dict[str, Site]) -> list[dict]:
    return [d for name in ("watchdog", "news") for d in sites[name].expected()["documents"]]


def test_every_document_is_archived_under_its_final_url(crawled):
    sites, db, _ = crawled
    urls = {r["url"] for r in query(db, "select url from documents")}
    for doc in expected_documents(sites):
        assert doc["url"] in urls
    for name in ("watchdog", "news"):
        for old, new in sites[name].expected()["redirects"].items():
            assert new in urls and old not in urls


def test_titles_dates_and_text_are_extracted_exactly(crawled):
    sites, db, _ = crawled
    for doc in expected_documents(sites):
        row = query(db, "select * from documents where url = ?", [doc["url"]])[0]
        assert row["title"] == doc["title"]
        assert (row["published"] or "")[:10] == doc["published"], doc["url"]
        assert row["content_type"] == doc["content_type"]
        text = " ".join(row["text"].split())  # PDF lines wrap mid-sentence
        for sentence in doc["key_sentences"]:
            assert sentence in text, (doc["url"], sentence)


def test_page_furniture_is_left_out(crawled):
    sites, db, _ = crawled
    texts = " ".join(r["text"] for r in query(db, "select text from documents"))
    for furniture in sites["watchdog"].expected()["furniture"]:
        assert furniture not in texts


def test_listing_and_home_pages_are_not_documents(crawled):
    sites, db, _ = crawled
    urls = {r["url"] for r in query(db, "select url from documents")}
    for name in ("watchdog", "news"):
        assert not urls & set(sites[name].expected()["not_documents"])


def test_pdf_report_is_archived_with_its_text_and_pages(crawled):
    sites, db, _ = crawled
    pdf = [d for d in expected_documents(sites) if d["content_type"] == "pdf"][0]
    row = query(db, "select * from documents where url = ?", [pdf["url"]])[0]
    assert len(json.loads(row["page_starts"])) == pdf["pages"]


def test_nothing_is_fetched_against_robots_or_outside_allowed_domains(crawled):
    sites, db, _ = crawled
    assert sites["offsite"].log == []
    for name in ("watchdog", "news"):
        paths = {r.path for r in sites[name].log}
        for path in sites[name].expected()["never_fetched"]:
            assert path not in paths
    reasons = [r["reason"] for r in query(db, "select reason from failures")]
    assert any("robots.txt" in r for r in reasons)


def test_no_url_is_fetched_twice_in_a_run(crawled):
    sites, _, _ = crawled
    for name in ("watchdog", "news"):
        repeats = [p for p, n in Counter(sites[name].paths()).items() if n > 1]
        assert repeats == []


def test_every_request_names_oversight_and_a_contact(crawled):
    sites, _, _ = crawled
    for name in ("watchdog", "news"):
        assert {r.user_agent for r in sites[name].log} == {USER_AGENT}
    assert "Oversight" in USER_AGENT and "+http" in USER_AGENT


def test_failures_are_rows_with_reasons_and_the_run_goes_on(crawled):
    sites, db, result = crawled
    rows = {r["url"]: r for r in query(db, "select * from failures")}
    for failure in sites["news"].expected()["failures"]:
        assert failure["url"] in rows, failure
    news = sites["news"].expected()
    by_url = {f["url"]: f for f in news["failures"]}
    for url, row in rows.items():
        if url in by_url and by_url[url]["status"] == 404:
            assert row["status"] == 404
    too_large = [r for r in rows.values() if "too large" in r["reason"]]
    assert len(too_large) == 2  # the 30 MB page and the gzip bomb
    assert "partial" in result.stdout


def test_an_error_response_is_kept_as_a_snapshot_and_not_extracted(crawled):
    sites, db, _ = crawled
    missing = sites["news"].url("/stories/police-pay-award-withdrawn/")
    (snapshot,) = query(db, "select * from snapshots where url = ?", [missing])
    assert snapshot["status"] == 404 and snapshot["body_size"] > 0
    assert archive.decompress(snapshot["body"]).strip()  # what the server said
    assert scalar(db, "select count(*) from documents where url = ?", [missing]) == 0
    state = query(db, "select * from urls where url = ?", [missing])[0]
    assert state["last_status"] == 404 and state["last_snapshot_id"] is None
    run = query(db, "select * from runs")[0]
    assert run["pages_fetched"] == scalar(db, "select count(*) from snapshots where status < 400")


def test_run_row_counts_and_run_folder(crawled):
    _, db, _ = crawled
    run = query(db, "select * from runs")[0]
    assert run["status"] == "partial" and run["finished_at"]
    assert run["documents_new"] == scalar(db, "select count(*) from documents")
    assert run["failures"] == scalar(db, "select count(*) from failures")
    assert run["pages_fetched"] > run["documents_new"]
    folder = Path(run["log_dir"])
    assert (folder / "log.txt").stat().st_size > 0
    assert json.loads((folder / "stats.json").read_text())["finish_reason"] == "finished"


def test_a_crawl_opens_no_control_channel(crawled):
    _, db, _ = crawled
    log = (Path(query(db, "select log_dir from runs")[0]["log_dir"]) / "log.txt").read_text()
    enabled = log[log.index("Enabled extensions:") :].split("]", 1)[0]
    assert "CoreStats" in enabled
    assert "RemoteControl" not in enabled and "TelnetConsole" not in enabled


def test_full_text_search_finds_documents(crawled):
    _, db, _ = crawled
    result = run_cli("search", "vetting failures", "--db", str(db), "--json")
    hits = json.loads(result.stdout)
    assert hits and "vetting" in hits[0]["title"].lower()
    assert "[" in hits[0]["snippet"]
    relevance = [hit["relevance"] for hit in hits]
    assert relevance[0] > 0 and relevance == sorted(relevance, reverse=True)  # as the web shows it


def test_archive_passes_integrity_check(crawled):
    _, db, _ = crawled
    assert scalar(db, "pragma integrity_check") == "ok"
    assert scalar(db, "pragma journal_mode") == "wal"


def test_status_reports_sources_and_runs(crawled):
    _, db, _ = crawled
    result = run_cli("status", "--db", str(db))
    assert result.returncode == 0
    assert "test-watchdog" in result.stdout and "#1" in result.stdout


def test_unchanged_recrawl_downloads_no_known_document_again(fixture_web, tmp_path):
    sources = make_sources(tmp_path, fixture_web["watchdog"], fixture_web["news"])
    db = tmp_path / "archive.db"
    crawl(sources, db)
    documents = {r["url"] for r in query(db, "select url from documents")}
    for site in fixture_web.values():
        site.reset_log()
    crawl(sources, db)
    for name in ("watchdog", "news"):
        site = fixture_web[name]
        refetched = [r for r in site.log if site.url(r.path) in documents and r.status == 200]
        assert refetched == []
    run = query(db, "select * from runs order by id desc limit 1")[0]
    assert run["documents_new"] == 0 and run["documents_changed"] == 0
    assert run["not_modified"] > 0
    assert scalar(db, "select count(*) from versions") == len(documents)
    # The feed, sitemaps and listings answered 304 this run (their stored copies were read again),
    # and their state says so: the source answered.
    feed = query(db, "select * from urls where url = ?", [fixture_web["watchdog"].url("/feed/")])
    assert feed[0]["last_status"] == 304 and feed[0]["last_run_id"] == run["id"]


def test_changed_article_gets_a_second_version(fixture_web, tmp_path):
    watchdog = fixture_web["watchdog"]
    sources = make_sources(tmp_path, watchdog)
    db = tmp_path / "archive.db"
    crawl(sources, db)
    crawl(sources, db)
    path = "/news/taser-discharges-review/"
    page = watchdog.render_text(
        (watchdog.root / "news/taser-discharges-review/index.html").read_text()
    )
    edited = page.replace("six forces", "seven forces")
    assert edited != page
    watchdog.set_page(path, edited)
    crawl(sources, db)
    doc = query(db, "select * from documents where url = ?", [watchdog.url(path)])[0]
    assert doc["version_count"] == 2 and "seven forces" in doc["text"]
    versions = query(db, "select * from versions where document_id = ? order by id", [doc["id"]])
    assert "six forces" in versions[0]["text"] and "seven forces" in versions[1]["text"]
    assert "six" in versions[1]["diff"] and "seven" in versions[1]["diff"]
    run = query(db, "select * from runs order by id desc limit 1")[0]
    assert run["documents_changed"] == 1 and run["documents_new"] == 0


REPORT = "/wp-content/uploads/2024/03/vetting-and-counter-corruption-inspection-2024.pdf"


def corrected_report() -> bytes:
    return make_pdfs().build_pdf(
        [["Corrected report: 131 of 490 referrals were for abuse of position."]],
        info={"Title": "Vetting and counter-corruption inspection (corrected)"},
    )


def test_a_report_replaced_behind_an_unchanged_press_release_is_found(fixture_web, tmp_path):
    watchdog = fixture_web["watchdog"]
    sources = make_sources(tmp_path, watchdog, recheck_days=0)
    db = tmp_path / "archive.db"
    crawl(sources, db)
    watchdog.reset_log()
    crawl(sources, db)
    # The press release answers 304; its stored copy still leads to the report, asked for
    # conditionally and unchanged.
    (release,) = watchdog.requests("/news/vetting-failures-inspection/")
    (report,) = watchdog.requests(REPORT)
    assert release.status == 304 and report.status == 304
    assert {"if-none-match", "if-modified-since"} & set(report.headers)
    watchdog.set_page(REPORT, corrected_report(), content_type="application/pdf")
    crawl(sources, db)
    doc = query(db, "select * from documents where url = ?", [watchdog.url(REPORT)])[0]
    assert doc["version_count"] == 2 and "131 of 490" in doc["text"]


def test_a_press_release_answering_304_leaves_a_recently_fetched_report_alone(
    fixture_web, tmp_path
):
    watchdog = fixture_web["watchdog"]
    # Listing pages only: no dates, so every known document is asked for again, conditionally.
    sources = make_sources(tmp_path, watchdog, feeds=[], sitemaps=[])
    db = tmp_path / "archive.db"
    crawl(sources, db)
    watchdog.reset_log()
    crawl(sources, db)
    (release,) = watchdog.requests("/news/vetting-failures-inspection/")
    assert release.status == 304
    assert watchdog.requests(REPORT) == []  # fetched minutes ago: not due for a re-check
    assert scalar(db, "select count(*) from documents where url = ?", [watchdog.url(REPORT)]) == 1


def one_source_site(root: Path, source_id: str, entry_points: str, *documents: str) -> None:
    """The files a fixture site in `root` needs besides its pages: routes, robots.txt and a
    source entry (`entry_points` is its TOML line of feeds or start_urls)."""
    patterns = ", ".join(f"'{pattern}'" for pattern in documents)
    (root / "routes.toml").write_text('[site]\nlast_modified = "2024-06-20T09:00:00Z"\n')
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    (root / "source.toml").write_text(
        f'[[sources]]\nid = "{source_id}"\nname = "{source_id}"\nkind = "news"\n'
        'homepage = "{{base}}/"\nallowed_domains = ["{{host}}"]\n'
        f"{entry_points}\ndocuments = [{patterns}]\ndelay = 0\n"
    )


def test_a_page_reached_by_a_link_does_not_take_the_linking_pages_date(tmp_path):
    root = tmp_path / "site"
    pages = {
        "news/a/index.html": "<h1>Referrals rise</h1><p>{text}</p><a href='/news/b/'>More</a>",
        "news/b/index.html": "<h1>Vetting review</h1><p>{text}</p>",
    }
    text = "Forces referred 490 matters to the watchdog, 118 of them for abuse of position. " * 5
    for path, body in pages.items():
        (root / path).parent.mkdir(parents=True)
        (root / path).write_text(
            f"<html><body><article>{body.format(text=text)}</article></body></html>"
        )
    one_source_site(root, "linked", 'feeds = ["{{base}}/feed.xml"]', "/news/[a-z]/$")
    (root / "feed.xml").write_text(
        "<?xml version='1.0'?><rss version='2.0'><channel><title>News</title>"
        "<item><title>Referrals rise</title><link>{{base}}/news/a/</link>"
        "<pubDate>Wed, 12 Jun 2024 09:00:00 +0000</pubDate></item></channel></rss>"
    )
    with Site(root, host="127.0.0.48") as site:
        sources = make_sources(tmp_path, site)
        crawl(sources, tmp_path / "archive.db")
        docs = {r["url"]: r for r in query(tmp_path / "archive.db", "select * from documents")}
        assert docs[site.url("/news/a/")]["published"][:10] == "2024-06-12"  # its feed entry's
        assert docs[site.url("/news/b/")]["published"] is None  # not its referrer's date


def test_a_sitemap_that_dates_a_change_ends_a_failing_pages_back_off(tmp_path):
    root = tmp_path / "site"
    text = "Forces referred 490 matters to the watchdog, 118 of them for abuse of position. " * 5
    for name in ("a", "b"):
        (root / "news" / name).mkdir(parents=True)
        (root / "news" / name / "index.html").write_text(
            f"<html><head><title>Report {name}</title></head><body><article>"
            f"<h1>Report {name}</h1><p>{text}</p></article></body></html>"
        )
    one_source_site(root, "mapped", 'sitemaps = ["{{base}}/sitemap.xml"]', "/news/[a-z]/$")
    namespace = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    (root / "sitemap.xml").write_text(  # an index that lists itself as well as its one sitemap
        f"<?xml version='1.0'?><sitemapindex {namespace}>"
        "<sitemap><loc>{{base}}/sitemap.xml</loc></sitemap>"
        "<sitemap><loc>{{base}}/pages.xml</loc></sitemap></sitemapindex>"
    )
    (root / "pages.xml").write_text(
        f"<?xml version='1.0'?><urlset {namespace}>"
        + "".join(
            f"<url><loc>{{{{base}}}}/news/{n}/</loc><lastmod>{{{{lastmod:/news/{n}/}}}}</lastmod></url>"
            for n in ("a", "b")
        )
        + "</urlset>"
    )
    with Site(root, host="127.0.0.47") as site:
        sources = make_sources(tmp_path, site)
        db = tmp_path / "archive.db"
        for path in ("/news/a/", "/news/b/"):
            site.set_route(path, "status", status=404)
        crawl(sources, db)
        crawl(sources, db)  # failing twice: both now wait out a back-off
        site.set_route("/news/b/", "file")  # back, but its sitemap date has not moved
        site.set_page("/news/a/", (root / "news" / "a" / "index.html").read_text())
        site.reset_log()
        crawl(sources, db)
        assert "/news/a/" in site.paths() and "/news/b/" not in site.paths()
    assert {r["title"] for r in query(db, "select title from documents")} == {"Report a"}
    loops = query(db, "select url, reason from failures where reason like 'sitemap index%'")
    assert (
        loops
        == [
            {
                "url": site.url("/sitemap.xml"),
                "reason": "sitemap index lists itself: that entry was ignored",
            }
        ]
        * 3
    )


def test_a_page_served_again_byte_for_byte_is_recorded_but_not_stored_again(tmp_path):
    root = tmp_path / "site"
    text = "Forces referred 490 matters to the watchdog, 118 of them for abuse of position. " * 5
    (root / "news" / "a").mkdir(parents=True)
    (root / "news" / "a" / "index.html").write_text(
        f"<html><head><title>Report a</title></head><body><article><h1>Report a</h1>"
        f"<p>{text}</p></article></body></html>"
    )
    (root / "news" / "index.html").write_text("<a href='/news/a/'>Report a</a>")
    one_source_site(root, "plain", 'start_urls = ["{{base}}/news/"]', "/news/[a-z]/$")
    with Site(root, host="127.0.0.46") as site:
        for path in ("/news/", "/news/a/"):  # no ETag, no Last-Modified: every answer is a 200
            site.set_route(path, "file", validators=False)
        sources = make_sources(tmp_path, site)
        db = tmp_path / "archive.db"
        crawl(sources, db)
        crawl(sources, db)
        assert [r.status for r in site.requests("/news/a/")] == [200, 200]
    fetches = query(
        db,
        "select run_id, body is not null as stored, extracted_at is not null as done,"
        " body_sha256, fetched_at from snapshots where url = ? order by id",
        [site.url("/news/a/")],
    )
    assert [(f["run_id"], f["stored"], f["done"]) for f in fetches] == [(1, 1, 1), (2, 0, 1)]
    assert fetches[0]["body_sha256"] == fetches[1]["body_sha256"]
    runs = query(db, "select pages_fetched from runs order by id")
    assert runs[0]["pages_fetched"] == runs[1]["pages_fetched"] == 2
    assert scalar(db, "select last_seen from documents") == fetches[1]["fetched_at"]
    assert scalar(db, "select count(*) from versions") == 1


def test_a_429_is_retried_no_sooner_than_its_retry_after(fixture_web, tmp_path):
    watchdog = fixture_web["watchdog"]
    path = "/news/taser-discharges-review/"
    watchdog.set_route(path, "fail_first", times=1, status=429, retry_after=1)
    crawl(make_sources(tmp_path, watchdog), tmp_path / "archive.db")
    first, second = watchdog.requests(path)
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 0.95


def test_a_document_that_could_not_be_reached_is_tried_again_when_no_longer_listed(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.49", 0))
        closed = probe.getsockname()[1]
    root = tmp_path / "site"
    (root / "news").mkdir(parents=True)
    unreachable = f"http://127.0.0.49:{closed}/news/unreachable/"
    (root / "news" / "index.html").write_text(f"<a href='{unreachable}'>Report</a>")
    one_source_site(root, "down", 'start_urls = ["{{base}}/news/"]', "/news/[a-z]+/$")
    with Site(root, host="127.0.0.49") as site:
        sources = make_sources(tmp_path, site)
        db = tmp_path / "archive.db"
        crawl(sources, db)
        site.set_page("/news/", "<p>Nothing listed today.</p>")
        crawl(sources, db)
    reasons = [
        r["reason"] for r in query(db, "select reason from failures where url = ?", [unreachable])
    ]
    # The host is down, so its robots.txt cannot be read either: nothing on it is asked for,
    # and the document is tried again on the next run all the same.
    unreadable = f"robots.txt unreadable (connection refused): nothing on 127.0.0.49:{closed}"
    assert [reason.split(" is fetched")[0] for reason in reasons] == [unreadable] * 2


def test_a_listed_url_that_redirects_keeps_its_document_seen(fixture_web, tmp_path):
    news = fixture_web["news"]
    sources = make_sources(tmp_path, news)
    db = tmp_path / "archive.db"
    target = news.url("/stories/bridge-closure-extended/")
    crawl(sources, db)
    crawl(sources, db)  # by now the feed's old URL is known to lead to `target`
    seen = scalar(db, "select last_seen from documents where url = ?", [target])
    time.sleep(1)  # last_seen has whole seconds
    news.reset_log()
    crawl(sources, db)
    assert news.requests("/stories/old-bridge-closure/") == []  # skipped: its date is unchanged
    assert scalar(db, "select last_seen from documents where url = ?", [target]) > seen


def test_document_answering_404_is_marked_removed_then_restored_by_a_304(fixture_web, tmp_path):
    news = fixture_web["news"]
    sources = make_sources(tmp_path, news, recheck_days=0)
    db = tmp_path / "archive.db"
    crawl(sources, db)
    url = news.url("/stories/watchdog-vetting-failures/")
    news.remove_page("/stories/watchdog-vetting-failures/")
    crawl(sources, db)
    doc = query(db, "select * from documents where url = ?", [url])[0]
    assert doc["status"] == "removed" and doc["text"]
    events = query(db, "select kind from events where document_id = ?", [doc["id"]])
    assert [e["kind"] for e in events] == ["removed"]
    # Back as it was: the conditional request gets a 304, which is enough to restore it.
    news.reset_state()
    news.reset_log()
    crawl(sources, db)
    assert [r.status for r in news.requests("/stories/watchdog-vetting-failures/")] == [304]
    assert scalar(db, "select status from documents where id = ?", [doc["id"]]) == "live"
    events = query(db, "select kind from events where document_id = ? order by id", [doc["id"]])
    assert [e["kind"] for e in events] == ["removed", "restored"]


def test_bad_sources_file_is_refused_naming_file_source_and_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[sources]]\nid = "x"\nname = "X"\nkind = "watchdog"\nhomepage = "https://x.org/"\n'
        'allowed_domains = ["x.org"]\nfeeds = ["https://x.org/feed/"]\ndelay = "slow"\n'
    )
    result = run_cli("crawl", "--sources", str(bad), "--db", str(tmp_path / "a.db"))
    assert result.returncode != 0
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert str(bad) in message and "'x'" in message and "delay" in message


def test_unusable_database_is_refused_in_one_line(tmp_path, fixture_web):
    db = tmp_path / "not-a-db.db"
    db.write_bytes(b"this is not sqlite" * 100)
    sources = make_sources(tmp_path, fixture_web["news"])
    result = run_cli("crawl", "--sources", str(sources), "--db", str(db))
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and str(db) in result.stderr


def test_archives_sharing_a_folder_keep_their_runs_apart(tmp_path, fixture_web):
    sources = make_sources(tmp_path, fixture_web["news"])
    crawl(sources, tmp_path / "archive.db")
    crawl(sources, tmp_path / "demo.db")
    (main,) = query(tmp_path / "archive.db", "select log_dir from runs")
    (other,) = query(tmp_path / "demo.db", "select log_dir from runs")
    assert Path(main["log_dir"]) == tmp_path / "1"  # the default archive's runs/<run-id>/
    assert Path(other["log_dir"]) == tmp_path / "demo-1"
    assert (tmp_path / "1" / "log.txt").read_text().count("Spider opened") == 1
    # A rebuilt archive's run 1 replaces the old archive's run 1 files; it does not append.
    for path in tmp_path.glob("demo.db*"):
        path.unlink()
    crawl(sources, tmp_path / "demo.db")
    assert (tmp_path / "demo-1" / "log.txt").read_text().count("Spider opened") == 1


def test_a_second_crawl_of_the_same_archive_is_refused_while_one_runs(tmp_path, fixture_web):
    from crawler.runs import lock_for

    sources = make_sources(tmp_path, fixture_web["news"])
    db = tmp_path / "archive.db"
    lock = lock_for(db)
    lock.acquire()
    try:
        result = run_cli("crawl", "--sources", str(sources), "--db", str(db))
    finally:
        lock.release()
    assert result.returncode != 0 and "already" in result.stderr


def test_parallel_requests_to_a_site_reuse_their_connections(tmp_path):
    folder = tmp_path / "site"
    entries = []
    for n in range(60):
        page = folder / "reports" / f"r{n}" / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(f"<html><head><title>Report {n}</title></head><body><p>Report {n}.</p>")
        entries.append(f"<url><loc>{{{{base}}}}/reports/r{n}/</loc></url>")
    (folder / "robots.txt").write_text("User-agent: *\nDisallow:\n")
    (folder / "sitemap.xml").write_text(
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(entries)
        + "</urlset>"
    )
    with Site(folder, host="127.0.0.64") as site:
        sources = write_sources(
            tmp_path / "sources.toml",
            site,
            id="reports",
            kind="watchdog",
            sitemaps=[site.url("/sitemap.xml")],
            concurrency=4,
        )
        crawl(sources, tmp_path / "archive.db")
        requests = list(site.log)
    connections = {r.client_port for r in requests}
    assert len(requests) == 62
    # A keep-alive pool of one connection (Scrapy's default here) opens one for nearly every
    # request (54-56 of 62 measured); sized to the slot, about 40. Scrapy issues the next request
    # before a finished connection is back in the pool, so with pages this quick some new
    # connections remain either way.
    assert len(connections) <= 48, (len(connections), len(requests))


@pytest.mark.parametrize("answer", [{"status": 503}, {"status": 404}])
def test_an_unreadable_robots_txt_forbids_the_host_but_a_missing_one_does_not(tmp_path, answer):
    root = tmp_path / "site"
    (root / "news" / "a").mkdir(parents=True)
    (root / "news" / "a" / "index.html").write_text(
        "<html><head><title>Report a</title></head><body><article><h1>Report a</h1><p>"
        + "Forces referred 490 matters to the watchdog, 118 of them for abuse. " * 5
        + "</p></article></body></html>"
    )
    (root / "news" / "index.html").write_text("<a href='/news/a/'>Report a</a>")
    one_source_site(root, "shy", 'start_urls = ["{{base}}/news/"]', "/news/[a-z]/$")
    host = "127.0.0.45" if answer["status"] == 503 else "127.0.0.44"
    with Site(root, host=host) as site:
        site.set_route("/robots.txt", "status", **answer)
        db = tmp_path / "archive.db"
        crawl(make_sources(tmp_path, site), db)
        fetched = [p for p in site.paths() if p != "/robots.txt"]
    reasons = [r["reason"] for r in query(db, "select reason from failures")]
    if answer["status"] == 503:  # RFC 9309: a server error means complete disallow
        assert fetched == []
        assert reasons == [
            f"robots.txt unreadable (HTTP 503): nothing on {site.host}:{site.port} is fetched "
            "this run (RFC 9309)"
        ]
    else:  # no robots.txt: no rules
        assert fetched == ["/news/", "/news/a/"] and reasons == []


@pytest.mark.parametrize(
    "host, route, why",
    [
        (
            "127.0.0.236",
            {"handler": "redirect", "to": "javascript:alert(1)", "status": 302},
            "redirect from {robots} refused: Location javascript:alert(1) is not an http(s) URL",
        ),
        (
            "127.0.0.237",
            {"handler": "file", "headers": {"Content-Encoding": "gzip"}},
            "content could not be decompressed",
        ),
    ],
)
def test_a_robots_txt_that_cannot_be_read_is_one_readable_line(tmp_path, host, route, why):
    root = tmp_path / "site"
    (root / "news").mkdir(parents=True)
    (root / "news" / "index.html").write_text("<a href='/news/a/'>Report a</a>")
    one_source_site(root, "unreadable", 'start_urls = ["{{base}}/news/"]', "/news/[a-z]/$")
    with Site(root, host=host) as site:
        site.set_route("/robots.txt", **route)
        db = tmp_path / "archive.db"
        crawl(make_sources(tmp_path, site), db)
        fetched = [p for p in site.paths() if p != "/robots.txt"]
    # RFC 9309: rules that cannot be reached mean nothing on the host is fetched.
    assert fetched == []
    reasons = [r["reason"] for r in query(db, "select reason from failures")]
    reason = why.format(robots=site.url("/robots.txt"))
    assert len(reasons) == 1
    assert reasons[0].startswith(f"robots.txt unreadable ({reason}")
    assert reasons[0].endswith(f"nothing on {site.host}:{site.port} is fetched this run (RFC 9309)")
    log = (Path(scalar(db, "select log_dir from runs")) / "log.txt").read_text()
    assert "Traceback" not in log
    logged = [line for line in log.splitlines() if "robots.txt unreadable" in line]
    assert len(logged) == 1 and logged[0].endswith(reasons[0])


def test_retries_of_a_struggling_server_back_off(fixture_web, tmp_path):
    watchdog = fixture_web["watchdog"]
    path = "/news/taser-discharges-review/"
    watchdog.set_route(path, "fail_first", times=2, status=503)
    crawl(make_sources(tmp_path, watchdog, delay=0.2), tmp_path / "archive.db")
    first, second, third = watchdog.requests(path)
    assert (first.status, second.status, third.status) == (503, 503, 200)
    assert second.time - first.time >= 0.35  # the 0.2 s delay doubled
    assert third.time - second.time >= 0.75  # and doubled again


def test_a_source_with_no_delay_still_makes_one_request_at_a_time(tmp_path):
    root = tmp_path / "site"
    (root / "d").mkdir(parents=True)
    for n in range(1, 4):
        (root / "d" / f"{n}.html").write_text(f"<html><body><p>Page {n}.</p></body></html>")
    (root / "index.html").write_text("".join(f"<a href='/d/{n}'>{n}</a>" for n in range(1, 4)))
    one_source_site(root, "serial", 'start_urls = ["{{base}}/"]', "/d/[0-9]$")
    with Site(root, host="127.0.0.43") as site:
        for n in range(1, 4):
            site.set_route(f"/d/{n}", "delay", seconds=0.4)
        crawl(make_sources(tmp_path, site), tmp_path / "archive.db")  # delay 0, concurrency 1
        starts = sorted(r.time for r in site.log if r.path.startswith("/d/"))
    assert len(starts) == 3
    assert all(later - earlier >= 0.35 for earlier, later in itertools.pairwise(starts))


def test_publication_dates_rank_declared_then_listed_then_guessed_then_linking_page(tmp_path):
    folder = tmp_path / "site"
    (folder / "news").mkdir(parents=True)
    (folder / "reports").mkdir()
    story = " ".join(f"The inspectorate found {n} forces needed to improve." for n in range(30))
    # A byline date htmldate reads, but the feed says when it was published.
    (folder / "news" / "bylined.html").write_text(
        "<html><head><title>Bylined</title></head><body><article><h1>Bylined</h1>"
        f"<p class='byline'>Last modified: 20/03/2025</p><p>{story}</p></article></body></html>"
    )
    # Declared in markup: that wins over the feed. It links the report, which has no date.
    (folder / "news" / "release.html").write_text(
        '<html><head><title>Release</title><meta property="article:published_time" '
        'content="2024-07-25T09:00:00+00:00"></head><body><article><h1>Release</h1>'
        f'<p>{story}</p><p><a href="/reports/workforce.pdf">Read the report</a>'
        '<a href="/reports/annex.pdf">Annex</a></p></article></body></html>'
    )
    builder = make_pdfs()
    # Made on a machine whose clock was wrong: no publication date at all.
    (folder / "reports" / "annex.pdf").write_bytes(
        builder.build_pdf([["Annex tables."]], info={"CreationDate": "D:20990101000000Z"})
    )
    items = "".join(
        f"<item><title>{slug}</title><link>{{{{base}}}}/news/{slug}.html</link>"
        "<pubDate>Wed, 15 Jan 2025 09:00:00 GMT</pubDate></item>"
        for slug in ("bylined", "release")
    )
    (folder / "feed.xml").write_text(f'<rss version="2.0"><channel>{items}</channel></rss>')
    one_source_site(
        folder, "office", 'feeds = ["{{base}}/feed.xml"]', "/news/[a-z]+\\.html$", "\\.pdf$"
    )
    with Site(folder, host="127.0.0.66") as site:
        site.set_page(
            "/reports/workforce.pdf",
            builder.build_pdf([["Police workforce report. 4,372 officers."]]),
            last_modified="2025-03-20T10:00:00Z",
            content_type="application/pdf",
        )
        db = tmp_path / "archive.db"
        crawl(make_sources(tmp_path, site), db)
    dates = {
        r["url"].rsplit("/", 1)[1]: (r["published"][:10], r["published_from"])
        for r in query(db, "select url, published, published_from from documents")
    }
    assert dates == {
        "bylined.html": ("2025-01-15", "listing"),
        "release.html": ("2024-07-25", "page"),
        "workforce.pdf": ("2024-07-25", "linking page"),
        "annex.pdf": ("2024-07-25", "linking page"),
    }


def _undated_page(title: str, byline: str = "", head: str = "") -> str:
    """A news page that states no date of its own (unless `head` or `byline` give one)."""
    story = " ".join(f"The inspectorate found {n} forces needed to improve." for n in range(30))
    return (
        f"<html><head><title>{title}</title>{head}</head><body><article><h1>{title}</h1>"
        f"{byline}<p>{story}</p></article></body></html>"
    )


def _atom_feed(entries: dict[str, tuple[str | None, str]]) -> str:
    """An Atom feed of /news/<slug>.html entries: {slug: (published or None, updated)}."""
    items = "".join(
        f"<entry><title>{slug}</title><link href='{{{{base}}}}/news/{slug}.html'/><id>{slug}</id>"
        + (f"<published>{published}</published>" if published else "")
        + f"<updated>{updated}</updated></entry>"
        for slug, (published, updated) in entries.items()
    )
    return f"<feed xmlns='http://www.w3.org/2005/Atom'><title>GOV.UK</title>{items}</feed>"


def test_an_atom_entry_with_only_updated_is_dated_by_the_first_updated_seen(tmp_path):
    folder = tmp_path / "site"
    (folder / "news").mkdir(parents=True)
    pages = {
        # htmldate reads the byline; the feed's updated ranks above that guess.
        "bylined": _undated_page("Bylined", "<p class='byline'>Last modified: 20/03/2025</p>"),
        # A date the page declares ranks above the feed's updated.
        "declared": _undated_page(
            "Declared",
            head='<meta property="article:published_time" content="2024-07-25T09:00:00+00:00">',
        ),
        "both": _undated_page("Both"),
        "also": _undated_page("Also"),
    }
    for slug, page in pages.items():
        (folder / "news" / f"{slug}.html").write_text(page)
    entries = {
        "bylined": (None, "2025-01-15T09:00:00Z"),
        "declared": (None, "2025-01-16T09:00:00Z"),
        "both": ("2025-01-10T09:00:00Z", "2025-01-20T09:00:00Z"),
        "also": (None, "2025-01-18T09:00:00Z"),
    }
    (folder / "atom.xml").write_text(_atom_feed(entries))
    # The RSS feed's publication date for the same page beats the Atom feed's updated.
    (folder / "rss.xml").write_text(
        "<rss version='2.0'><channel><item><title>Also</title>"
        "<link>{{base}}/news/also.html</link><pubDate>Sun, 12 Jan 2025 09:00:00 GMT</pubDate>"
        "</item></channel></rss>"
    )
    one_source_site(
        folder,
        "govuk",
        'feeds = ["{{base}}/atom.xml", "{{base}}/rss.xml"]',
        "/news/[a-z]+\\.html$",
    )
    db = tmp_path / "archive.db"
    sql = "select url, published, published_from from documents"

    def dates() -> dict[str, tuple[str, str]]:
        return {
            r["url"].rsplit("/", 1)[1]: (r["published"], r["published_from"])
            for r in query(db, sql)
        }

    with Site(folder, host="127.0.0.69") as site:
        crawl(make_sources(tmp_path, site), db)
        assert dates() == {
            "bylined.html": ("2025-01-15T09:00:00+00:00", "feed updated"),
            "declared.html": ("2024-07-25T09:00:00+00:00", "page"),
            "both.html": ("2025-01-10T09:00:00+00:00", "listing"),
            "also.html": ("2025-01-12T09:00:00+00:00", "listing"),
        }
        # Edits move the entries' updated: a modification date, never the publication date,
        # nor does a page's publication date go when the RSS feed that gave it drops the page.
        for slug in ("bylined", "also"):
            site.set_page(f"/news/{slug}.html", pages[slug].replace("improve", "change"))
            entries[slug] = (None, "2025-02-01T09:00:00Z")
        site.set_page("/atom.xml", _atom_feed(entries))
        site.set_page("/rss.xml", "<rss version='2.0'><channel></channel></rss>")
        crawl(make_sources(tmp_path, site), db)
    assert dates()["bylined.html"] == ("2025-01-15T09:00:00+00:00", "feed updated")
    assert dates()["also.html"] == ("2025-01-12T09:00:00+00:00", "listing")
    edited = query(
        db,
        """select d.version_count, s.declared_modified from documents d
        join snapshots s on s.id = d.snapshot_id where d.url like '%/bylined.html'""",
    )
    assert edited == [{"version_count": 2, "declared_modified": "2025-02-01T09:00:00+00:00"}]
    # Re-extracting the archive reads both fetches again, and keeps the first updated.
    assert run_cli("extract", "--all", "--db", str(db)).returncode == 0
    assert dates()["bylined.html"] == ("2025-01-15T09:00:00+00:00", "feed updated")


def test_feed_dates_feedparser_drops_are_read_day_first_unless_the_feed_is_us_english(tmp_path):
    uk, us = tmp_path / "uk", tmp_path / "us"
    written = {
        "numeric": "04/03/2025",
        "summer": "Thu, 4 Jul 2024 10:00:00 BST",
        "future": "Thu, 31 Dec 2099 09:00:00 GMT",
        "unreadable": "sometime soon",
    }
    for folder, slugs in ((uk, [*written, "dotted"]), (us, ["numeric"])):
        (folder / "news").mkdir(parents=True)
        for slug in slugs:
            (folder / "news" / f"{slug}.html").write_text(_undated_page(slug.title()))
    items = "".join(
        f"<item><title>{slug}</title><link>{{{{base}}}}/news/{slug}.html</link>"
        f"<pubDate>{date}</pubDate></item>"
        for slug, date in written.items()
    )
    (uk / "rss.xml").write_text(
        f"<rss version='2.0'><channel><language>en-gb</language>{items}</channel></rss>"
    )
    (uk / "rdf.xml").write_text(
        "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'"
        " xmlns='http://purl.org/rss/1.0/' xmlns:dc='http://purl.org/dc/elements/1.1/'>"
        "<channel rdf:about='{{base}}/'><title>UK</title></channel>"
        "<item rdf:about='{{base}}/news/dotted.html'><title>Dotted</title>"
        "<link>{{base}}/news/dotted.html</link><dc:date>04.03.2025</dc:date></item></rdf:RDF>"
    )
    (us / "rss.xml").write_text(
        "<rss version='2.0'><channel><language>en-us</language><item><title>n</title>"
        "<link>{{base}}/news/numeric.html</link><pubDate>04/03/2025</pubDate></item>"
        "</channel></rss>"
    )
    one_source_site(
        uk, "uk", 'feeds = ["{{base}}/rss.xml", "{{base}}/rdf.xml"]', "/news/[a-z]+\\.html$"
    )
    one_source_site(us, "us", 'feeds = ["{{base}}/rss.xml"]', "/news/[a-z]+\\.html$")
    db = tmp_path / "archive.db"
    with Site(uk, host="127.0.0.70") as uk_site, Site(us, host="127.0.0.71") as us_site:
        crawl(make_sources(tmp_path, uk_site, us_site), db)
    found = query(db, "select source_id, url, published, published_from from documents")
    dates = {
        (r["source_id"], r["url"].rsplit("/", 1)[1]): (r["published"], r["published_from"])
        for r in found
    }
    assert dates == {
        ("uk", "numeric.html"): ("2025-03-04", "listing"),
        ("uk", "summer.html"): ("2024-07-04T09:00:00+00:00", "listing"),
        ("uk", "future.html"): (None, None),  # read, but after the fetch: no publication date
        ("uk", "unreadable.html"): (None, None),
        ("uk", "dotted.html"): ("2025-03-04", "listing"),  # RSS 1.0's dc:date
        ("us", "numeric.html"): ("2025-04-03", "listing"),
    }


def test_a_feed_entry_s_attached_report_is_archived_when_it_matches_documents(tmp_path):
    folder = tmp_path / "site"
    (folder / "news").mkdir(parents=True)
    (folder / "files").mkdir()
    (folder / "news" / "release.html").write_text(
        "<html><head><title>Release</title></head><body><article><h1>Release</h1>"
        "<p>The inspectorate published its report on vetting today.</p></article></body></html>"
    )
    (folder / "files" / "report.pdf").write_bytes(
        make_pdfs().build_pdf([["Vetting report. 118 of 490 referrals."]])
    )
    (folder / "files" / "notes.docx").write_bytes(b"PK\x03\x04 not fetched")
    (folder / "feed.xml").write_text(
        '<rss version="2.0"><channel><item><title>Release</title>'
        "<link>{{base}}/news/release.html</link><pubDate>Tue, 04 Mar 2025 09:00:00 GMT</pubDate>"
        '<enclosure url="{{base}}/files/report.pdf" type="application/pdf" length="1"/>'
        '<enclosure url="{{base}}/files/notes.docx" type="application/msword" length="1"/>'
        "</item></channel></rss>"
    )
    one_source_site(folder, "office", 'feeds = ["{{base}}/feed.xml"]', "/news/", "\\.pdf$")
    with Site(folder, host="127.0.0.67") as site:
        db = tmp_path / "archive.db"
        crawl(make_sources(tmp_path, site), db)
        paths = [r.path for r in site.log]
    assert "/files/report.pdf" in paths and "/files/notes.docx" not in paths
    found = query(db, "select url, published, published_from from documents order by url")
    assert [(r["url"].rsplit("/", 1)[1], r["published"], r["published_from"]) for r in found] == [
        ("report.pdf", "2025-03-04T09:00:00+00:00", "listing"),
        ("release.html", "2025-03-04T09:00:00+00:00", "listing"),
    ]


def test_a_page_that_refreshes_at_once_to_another_is_a_stub_not_a_document(tmp_path):
    folder = tmp_path / "site"
    (folder / "news").mkdir(parents=True)
    story = " ".join(f"The inspectorate found {n} forces needed to improve." for n in range(30))
    (folder / "news" / "moved.html").write_text(
        '<html><head><title>Moved</title><meta http-equiv="refresh" content="0; url=/news/real.html">'
        "</head><body><p>This page has moved.</p></body></html>"
    )
    (folder / "news" / "live.html").write_text(
        '<html><head><title>Live blog</title><meta http-equiv="refresh" content="300">'
        f"</head><body><article><h1>Live blog</h1><p>{story}</p></article></body></html>"
    )
    (folder / "news" / "real.html").write_text(
        "<html><head><title>Real story</title></head><body><article><h1>Real story</h1>"
        f"<p>{story}</p></article></body></html>"
    )
    (folder / "sitemap.xml").write_text(
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>{{base}}/news/moved.html</loc></url>"
        "<url><loc>{{base}}/news/live.html</loc></url></urlset>"
    )
    one_source_site(folder, "office", 'sitemaps = ["{{base}}/sitemap.xml"]', "/news/")
    with Site(folder, host="127.0.0.68") as site:
        db = tmp_path / "archive.db"
        crawl(make_sources(tmp_path, site), db)
    titles = [r["title"] for r in query(db, "select title from documents order by title")]
    assert titles == ["Live blog", "Real story"]
    stub = query(db, "select role from snapshots where url like '%/moved.html'")
    assert [s["role"] for s in stub] == ["page"]


REPORT_PDF = "/reports/2024/vetting.pdf"
ANNEX_PDF = "/reports/2024/annex-a.pdf"
REFUSED = ("/drafts/vetting-draft.pdf", "/private/vetting.pdf", "/data/vetting.csv")


def press_release_with_report(folder: Path) -> None:
    """A press release whose report PDF links its annex (linked from nowhere else), the press
    release itself, a draft `exclude` refuses, a copy robots.txt forbids and its data as CSV
    (not a document); the report is set on the running site (`report_linking_annex`)."""
    (folder / "news").mkdir(parents=True)
    (folder / "news" / "release.html").write_text(
        "<html><head><title>Vetting release</title></head><body><article><h1>Vetting release"
        "</h1><p>The inspectorate found 118 of 490 vetting files incomplete in its inspection "
        f'of forces this spring.</p><p><a href="{REPORT_PDF}">Read the report</a></p>'
        "</article></body></html>"
    )
    builder = make_pdfs()
    for path in (ANNEX_PDF, *REFUSED):
        (folder / path[1:]).parent.mkdir(parents=True, exist_ok=True)
        (folder / path[1:]).write_bytes(builder.build_pdf([[f"Annex tables for {path}."]]))
    (folder / "feed.xml").write_text(
        '<rss version="2.0"><channel><item><title>Release</title>'
        "<link>{{base}}/news/release.html</link></item></channel></rss>"
    )
    one_source_site(
        folder, "office", 'feeds = ["{{base}}/feed.xml"]', "/news/[a-z]+\\.html$", "\\.pdf$"
    )
    (folder / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")


def report_linking_annex(offsite: Site) -> bytes:
    return make_pdfs().build_pdf(
        [
            ["Vetting report: 118 of 490 files were incomplete.", "See [Annex A](annex-a.pdf)."],
            [
                "[The draft](/drafts/vetting-draft.pdf), [a copy](/private/vetting.pdf),",
                "[the data](/data/vetting.csv), [the release](/news/release.html),",
                f"[a regional copy]({offsite.url('/reports/vetting.pdf')}) and",
                "[Annex A again](annex-a.pdf).",
            ],
        ]
    )


def test_a_report_pdf_leads_to_its_annex_and_nowhere_the_source_may_not_go(offsite_site, tmp_path):
    folder = tmp_path / "site"
    press_release_with_report(folder)
    with Site(folder, host="127.0.0.71") as site:
        site.set_page(REPORT_PDF, report_linking_annex(offsite_site))
        db = tmp_path / "archive.db"
        crawl(make_sources(tmp_path, site, exclude=["/drafts/"]), db)
        paths = [r.path for r in site.log]
    assert paths.count(ANNEX_PDF) == 1 and paths.count("/news/release.html") == 1
    assert not set(REFUSED) & set(paths)
    assert offsite_site.log == []
    annex = query(db, "select id from documents where url = ?", [site.url(ANNEX_PDF)])
    links = query(
        db,
        "select l.anchor, l.page, l.target_document_id from links l join documents d "
        "on d.id = l.document_id where d.url = ? and l.url = ? order by l.id",
        [site.url(REPORT_PDF), site.url(ANNEX_PDF)],
    )
    assert links == [
        {"anchor": "Annex A", "page": 1, "target_document_id": annex[0]["id"]},
        {"anchor": "Annex A again", "page": 2, "target_document_id": annex[0]["id"]},
    ]


def test_a_report_answering_304_still_leads_to_its_annex(offsite_site, tmp_path):
    folder = tmp_path / "site"
    press_release_with_report(folder)
    with Site(folder, host="127.0.0.72") as site:
        site.set_page(REPORT_PDF, report_linking_annex(offsite_site))
        sources = make_sources(tmp_path, site, recheck_days=0)
        db = tmp_path / "archive.db"
        crawl(sources, db)
        site.reset_log()
        crawl(sources, db)
        (report,) = site.requests(REPORT_PDF)
        (annex,) = site.requests(ANNEX_PDF)
    # The report's stored copy is read again for the documents it links to, due a re-check.
    assert report.status == 304 and annex.status == 304 and annex.conditional


def test_each_source_row_holds_the_registry_entry_it_was_crawled_by(crawled):
    sites, db, _ = crawled
    configs = {r["id"]: json.loads(r["config"]) for r in query(db, "select * from sources")}
    assert set(configs) == {"test-watchdog", "test-news"}
    watchdog = configs["test-watchdog"]
    assert watchdog["homepage"] == sites["watchdog"].base_url + "/"
    assert watchdog["delay"] == 0 and watchdog["max_pages"] == 500
    assert watchdog["documents"] and watchdog["sitemaps"]
