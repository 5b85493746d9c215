"""End-to-end: the discovery APIs (GOV.UK Search + Content API, WordPress REST) through the real CLI.

Each site is crawled several times in one module fixture, as a monitor would: a first crawl, an
unchanged re-crawl, then the publisher edits (declared, then silently). What the archive held
after each step is recorded for the tests, which only read it.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.siteserver import Site, serve_sites
from tests.conftest import SITES_ROOT, make_sources
from tests.helpers import crawl, query, scalar

NEWS = "/government/news/"
REVIEW = NEWS + "police-powers-review"
KNIFE = NEWS + "knife-crime-figures"
VISA = NEWS + "old-visa-guidance"
CONTENT = "/api/content"
SEARCH = "/api/search.json"
DECLARED_NOTE = "Updated the figures for the South West."


def _documents(db: Path) -> dict[str, dict]:
    return {r["url"]: r for r in query(db, "select * from documents")}


def _declare_edit(site: Site) -> None:
    """GOV.UK republishes the knife crime story with a change note and a new public date."""
    moved = "2024-03-10T08:00:00.000+00:00"
    item = json.loads(site.template(CONTENT + KNIFE))
    item["details"]["body"] = item["details"]["body"].replace("3%", "5%")
    item["public_updated_at"] = moved
    item["details"]["change_history"].insert(0, {"public_timestamp": moved, "note": DECLARED_NOTE})
    site.set_page(CONTENT + KNIFE, json.dumps(item), content_type="application/json")
    search = json.loads(site.template(SEARCH))
    for result in search["results"]:
        if result["link"] == KNIFE:
            result["public_timestamp"] = moved
    # Set at another path: a page set at the API's own path would be served whole whatever
    # `start` asks, an API that ignores its paging (which the crawl reports as a failure).
    site.set_page("/api/search-edited.json", json.dumps(search))
    site.set_route(SEARCH, "govuk_search", file="/api/search-edited.json")


def _silent_edit(site: Site) -> None:
    """The review's body changes with no new public date and no change note."""
    text = site.template(CONTENT + REVIEW).replace("4,200 searches", "4,900 searches")
    site.set_page(CONTENT + REVIEW, text, content_type="application/json")


@pytest.fixture(scope="module")
def govuk(tmp_path_factory):
    """The GOV.UK-like site crawled four times; yields a dict of what each step left behind."""
    tmp = tmp_path_factory.mktemp("govuk")
    with serve_sites({"govuk": SITES_ROOT / "govuk"}, first_host=61) as sites:
        site = sites["govuk"]
        sources = make_sources(tmp, site)
        recheck = make_sources(tmp, site, filename="recheck.toml", recheck_days=0)
        db = tmp / "archive.db"
        state: dict = {"site": site, "db": db, "base": site.base_url}
        crawl(sources, db)
        state["first"] = _documents(db)
        state["first_log"] = site.paths()
        site.reset_log()
        time.sleep(1)  # last_seen has whole seconds
        crawl(sources, db)
        state["second_log"] = site.paths()
        state["second"] = _documents(db)
        state["second_run"] = query(db, "select * from runs order by id desc limit 1")[0]
        _declare_edit(site)
        site.reset_log()
        crawl(sources, db)
        state["third_log"] = site.paths()
        _silent_edit(site)
        site.reset_log()
        crawl(recheck, db)
        state["fourth_log"] = site.paths()
        yield state


def test_govuk_search_pages_are_all_read(govuk):
    searches = [p for p in govuk["first_log"] if p.startswith(SEARCH)]
    assert len(searches) == 2
    assert "start=0" in searches[0] and "start=2" in searches[1]
    assert all("filter_organisations=home-office" in p for p in searches)
    for path in (REVIEW, KNIFE, VISA):
        assert govuk["first_log"].count(CONTENT + path) == 1


def test_govuk_items_are_archived_under_their_public_url(govuk):
    base, docs = govuk["base"], govuk["first"]
    assert {base + p for p in (REVIEW, KNIFE, VISA)} <= set(docs)
    assert not [url for url in docs if CONTENT in url]
    review = docs[base + REVIEW]
    assert review["title"] == "Review of police powers published"
    assert review["published"] == "2024-03-01T10:00:00+00:00"
    assert review["updated"] == "2024-03-01T10:00:00+00:00"
    assert review["text"] == (
        "The Home Office has published its review of police stop and search powers.\n\n"
        "The review found that 4,200 searches were recorded in the pilot areas."
    )
    knife = docs[base + KNIFE]
    assert knife["published"] == "2024-02-15T09:30:00+00:00"
    assert knife["updated"] == "2024-02-20T09:30:00+00:00"


def test_govuk_attachment_pdf_is_archived_with_the_items_date(govuk):
    pdf = govuk["first"].get(govuk["base"] + "/media/report.pdf")
    assert pdf is not None, sorted(govuk["first"])
    assert pdf["content_type"] == "pdf"
    assert "Complaints fell by 12% this year." in " ".join(pdf["text"].split())
    assert (pdf["published"] or "")[:10] == "2024-03-01"


def test_withdrawn_govuk_item_is_marked_and_has_an_event(govuk):
    db, url = govuk["db"], govuk["base"] + VISA
    doc = query(db, "select id, status from documents where url = ?", [url])[0]
    assert doc["status"] == "withdrawn"
    events = query(
        db, "select detail from events where document_id = ? and kind = 'withdrawn'", [doc["id"]]
    )
    assert len(events) == 1
    assert "replaced by the new student route rules" in events[0]["detail"]


def test_unchanged_govuk_recrawl_fetches_no_known_document(govuk):
    log = govuk["second_log"]
    searches = [p for p in log if p.startswith(SEARCH)]
    assert len(searches) == 2  # this server ignores the date filter: the spider must skip
    assert all("filter_public_timestamp=from" in p for p in searches)
    assert not [p for p in log if p.startswith(CONTENT) or p.startswith("/media/")]


def test_unchanged_govuk_items_are_still_seen(govuk):
    started = govuk["second_run"]["started_at"]
    for path in (REVIEW, KNIFE):
        assert govuk["second"][govuk["base"] + path]["last_seen"] >= started


def test_declared_govuk_edit_is_a_new_version_with_its_change_note(govuk):
    db, url = govuk["db"], govuk["base"] + KNIFE
    assert govuk["third_log"].count(CONTENT + KNIFE) == 1
    assert not [p for p in govuk["third_log"] if p in (CONTENT + REVIEW, CONTENT + VISA)]
    doc = query(db, "select * from documents where url = ?", [url])[0]
    assert doc["version_count"] == 2
    assert "rose by 5%" in doc["text"]
    assert doc["updated"] == "2024-03-10T08:00:00+00:00"
    versions = query(
        db, "select declared_change from versions where document_id = ? order by id", [doc["id"]]
    )
    assert versions[-1]["declared_change"] == DECLARED_NOTE
    edits = query(
        db, "select detail from events where document_id = ? and kind = 'edited'", [doc["id"]]
    )
    assert [e["detail"] for e in edits] == [f"declared: {DECLARED_NOTE}"]


def test_silent_govuk_edit_is_recorded_as_undeclared(govuk):
    db, url = govuk["db"], govuk["base"] + REVIEW
    assert govuk["fourth_log"].count(CONTENT + REVIEW) == 1
    doc = query(db, "select * from documents where url = ?", [url])[0]
    assert doc["version_count"] == 2
    assert "4,900 searches" in doc["text"]
    versions = query(
        db, "select declared_change from versions where document_id = ? order by id", [doc["id"]]
    )
    assert versions[-1]["declared_change"] is None
    edits = query(
        db, "select detail from events where document_id = ? and kind = 'edited'", [doc["id"]]
    )
    assert [e["detail"] for e in edits] == ["undeclared edit"]
    others = query(db, "select version_count from documents where url != ?", [url])
    assert [o["version_count"] for o in others if o["version_count"] != 1] == [2]  # knife crime


def test_govuk_runs_are_counted_and_archive_is_sound(govuk):
    db = govuk["db"]
    assert scalar(db, "pragma integrity_check") == "ok"
    runs = query(db, "select * from runs order by id")
    assert [r["status"] for r in runs] == ["ok"] * 4
    assert runs[0]["documents_new"] == 4  # three items and the PDF
    assert runs[0]["failures"] == 0
    assert runs[1]["documents_new"] == 0 and runs[1]["documents_changed"] == 0
    assert runs[2]["documents_changed"] == 1
    assert runs[3]["documents_changed"] == 1 and runs[3]["documents_new"] == 0


# --------------------------------------------------------------------------- WordPress

POSTS = (
    "/news/inspection-of-custody-suites/",
    "/news/misconduct-outcomes-2023/",
    "/news/response-times-review/",
)
WP_POSTS = "/wp-json/wp/v2/posts.json"


@pytest.fixture(scope="module")
def wordpress(tmp_path_factory):
    """The WordPress-like site crawled twice, unchanged."""
    tmp = tmp_path_factory.mktemp("wordpress")
    with serve_sites({"wordpress": SITES_ROOT / "wordpress"}, first_host=62) as sites:
        site = sites["wordpress"]
        # One post edited today, so the incremental query (modified_after) still returns it and
        # only its unchanged modified_gmt keeps the re-crawl from fetching it.
        posts = json.loads(site.template(WP_POSTS))
        posts[0]["modified_gmt"] = datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat()
        site.set_page(WP_POSTS, json.dumps(posts))
        sources = make_sources(tmp, site)
        db = tmp / "archive.db"
        crawl(sources, db)
        state: dict = {"db": db, "base": site.base_url, "first_log": site.paths()}
        state["first"] = _documents(db)
        site.reset_log()
        crawl(sources, db)
        state["second_log"] = site.paths()
        yield state


def test_wordpress_posts_from_every_api_page_are_archived(wordpress):
    api_pages = [p for p in wordpress["first_log"] if p.startswith("/wp-json/")]
    assert len(api_pages) == 2 and "page=2" in api_pages[1]
    docs = wordpress["first"]
    assert {wordpress["base"] + p for p in POSTS} == set(docs)
    custody = docs[wordpress["base"] + POSTS[0]]
    assert custody["title"] == "Inspection of custody suites"
    assert (custody["published"] or "")[:10] == "2024-03-05"
    assert "detainees waited too long" in custody["text"]


def test_unchanged_wordpress_recrawl_fetches_no_post_again(wordpress):
    log = wordpress["second_log"]
    api_pages = [p for p in log if p.startswith("/wp-json/")]
    assert len(api_pages) == 1 and "modified_after=" in api_pages[0]
    assert not [p for p in log if p.startswith("/news/")]
    db = wordpress["db"]
    assert scalar(db, "pragma integrity_check") == "ok"
    runs = query(db, "select * from runs order by id")
    assert [r["status"] for r in runs] == ["ok", "ok"]
    assert runs[0]["documents_new"] == 3 and runs[1]["documents_new"] == 0
    assert runs[1]["pages_fetched"] + runs[1]["not_modified"] <= 2  # robots.txt and the API


def test_an_incomplete_api_listing_is_read_whole_again_and_failed_posts_are_retried(tmp_path):
    with serve_sites({"wordpress": SITES_ROOT / "wordpress"}, first_host=63) as sites:
        site = sites["wordpress"]
        sources = make_sources(tmp_path, site)
        db = tmp_path / "archive.db"
        api = "/wp-json/wp/v2/posts"
        # Runs 1 and 2: the API's second page fails, so its listing is incomplete.
        site.set_route(api, "wordpress_posts", file=WP_POSTS, broken_page=2)
        crawl(sources, db)
        crawl(sources, db)
        assert {site.url(p) for p in POSTS[:2]} == set(_documents(db))
        # Run 3 asks for everything again (no modified_after), page 2 too though it failed
        # twice (API pages never back off), but one post answers 503.
        site.set_route(api, "wordpress_posts", file=WP_POSTS)
        site.set_route(POSTS[2], "status", status=503)
        site.reset_log()
        crawl(sources, db)
        pages = [p for p in site.paths() if p.startswith(api)]
        assert len(pages) == 2 and "page=2" in pages[1]
        assert not [p for p in pages if "modified_after" in p]
        assert site.url(POSTS[2]) not in _documents(db)
        # Run 4 is incremental: the API no longer lists the old post, which is fetched anyway.
        site.set_route(POSTS[2], "file")
        site.reset_log()
        crawl(sources, db)
        assert "modified_after=" in [p for p in site.paths() if p.startswith(api)][0]
        assert {site.url(p) for p in POSTS} == set(_documents(db))
        statuses = [r["status"] for r in query(db, "select status from runs order by id")]
        assert statuses == ["partial", "partial", "partial", "ok"]


def test_a_post_a_link_reached_first_keeps_the_date_the_api_gave_it(tmp_path):
    with serve_sites({"wordpress": SITES_ROOT / "wordpress"}, first_host=66) as sites:
        site = sites["wordpress"]
        post = POSTS[2]  # dated 2024-01-22 by the API only, once its page loses its own date
        page = re.sub(r"<meta property=.article:published_time[^>]*>", "", site.template(post))
        site.set_page(post, page)
        site.set_page("/", f"<html><body><a href='{post}'>Response times</a></body></html>")
        site.set_route("/wp-json/wp/v2/posts", "wordpress_posts", file=WP_POSTS, delay=1)
        sources = make_sources(tmp_path, site, start_urls=[site.url("/")], concurrency=2)
        db = tmp_path / "archive.db"
        crawl(sources, db)
        first_api_answer = next(r.time for r in site.log if r.path.startswith("/wp-json/")) + 1
        assert site.requests(post)[0].time < first_api_answer
        assert _documents(db)[site.url(post)]["published"][:10] == "2024-01-22"


def test_an_unreadable_govuk_item_is_one_failure(tmp_path):
    with serve_sites({"govuk": SITES_ROOT / "govuk"}, first_host=67) as sites:
        site = sites["govuk"]
        site.set_page(CONTENT + REVIEW, "{not json", content_type="application/json")
        db = tmp_path / "archive.db"
        crawl(make_sources(tmp_path, site), db)
        failures = query(
            db, "select reason from failures where url = ?", [site.url(CONTENT + REVIEW)]
        )
        assert [f["reason"] for f in failures] == [
            "extraction failed: JSON that is not a GOV.UK Content API item: no document to extract"
        ]


def test_govuk_documents_may_be_written_for_the_public_addresses(tmp_path):
    with serve_sites({"govuk": SITES_ROOT / "govuk"}, first_host=64) as sites:
        site = sites["govuk"]
        patterns = ["^" + re.escape(site.url(NEWS)), r"\.pdf$"]
        sources = make_sources(tmp_path, site, documents=patterns)
        crawl(sources, tmp_path / "archive.db")
        docs = _documents(tmp_path / "archive.db")
        assert {site.url(p) for p in (REVIEW, KNIFE, VISA, "/media/report.pdf")} <= set(docs)


def test_a_govuk_item_whose_content_answers_404_is_marked_removed(tmp_path):
    with serve_sites({"govuk": SITES_ROOT / "govuk"}, first_host=65) as sites:
        site = sites["govuk"]
        sources = make_sources(tmp_path, site, recheck_days=0)
        db = tmp_path / "archive.db"
        crawl(sources, db)
        site.remove_page(CONTENT + REVIEW)
        crawl(sources, db)
        doc = _documents(db)[site.url(REVIEW)]
        assert doc["status"] == "removed" and doc["text"]
