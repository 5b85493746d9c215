"""The extract stage: a pool that survives pathological documents and never duplicates rows."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from crawler.extracting import extract_pending
from crawler.siteserver import Site
from tests.helpers import (
    ROOT,
    make_pdfs,
    query,
    run_cli,
    scalar,
    store_snapshots,
    write_sources,
)

ARTICLE = (
    "<html><head><title>Referrals rise | Watchdog</title></head><body><article>"
    "<h1>Referrals rise</h1><p>The watchdog received 118 out of 490 referrals for abuse of "
    "position, more than double the number for theft.</p>{extra}</article></body></html>"
)


def test_a_pathological_document_fails_alone_and_the_rest_are_extracted(tmp_path):
    db = tmp_path / "a.db"
    farm = "".join(f'<a href="/p{i}">link {i}</a> ' for i in range(100_000))
    bodies = {f"http://127.0.0.1/news/{i}/": ARTICLE.format(extra="").encode() for i in range(6)}
    bodies["http://127.0.0.1/news/farm/"] = ARTICLE.format(extra=farm).encode()
    store_snapshots(db, bodies)
    report = extract_pending(db, time_limit=1)
    assert report.extracted == 6 and report.failed == 1
    failure = query(db, "select * from failures")[0]
    assert failure["url"] == "http://127.0.0.1/news/farm/"
    assert "longer than 1 s" in failure["reason"]
    assert failure["status"] == 200  # what the server answered; the extraction is what failed
    assert scalar(db, "select count(*) from snapshots where extracted_at is null") == 0


def test_extracting_twice_adds_no_rows(tmp_path):
    db = tmp_path / "a.db"
    store_snapshots(
        db,
        {
            "http://127.0.0.1/news/a/": ARTICLE.format(extra="").encode(),
            "http://127.0.0.1/news/b/": ARTICLE.format(extra="<p>And 12 more cases.</p>").encode(),
        },
    )
    extract_pending(db)
    counts = [scalar(db, f"select count(*) from {t}") for t in ("documents", "versions", "figures")]
    figures = query(db, "select id, document_id, text from figures order by id")
    versions = query(db, "select id, document_id, content_hash from versions order by id")
    report = extract_pending(db, everything=True)
    assert (report.new, report.changed, report.unchanged) == (0, 0, 2)
    again = [scalar(db, f"select count(*) from {t}") for t in ("documents", "versions", "figures")]
    assert counts == again and counts[2] >= 2
    # Versions and figures read again unchanged keep their ids: saved links to them stay good.
    assert query(db, "select id, document_id, text from figures order by id") == figures
    assert query(db, "select id, document_id, content_hash from versions order by id") == versions


STATEMENT = (
    "<html><head><title>Corruption referrals</title></head><body><article>"
    "<h1>Corruption referrals</h1><p>The watchdog received {n} out of 490 referrals for abuse of "
    "position for a sexual purpose in the year to March.</p></article></body></html>"
)
STORY = (
    "<html><head><title>Watchdog figures</title><meta property='article:published_time' "
    "content='2025-03-01'></head><body><article><h1>Watchdog figures</h1>"
    "<p>The <a href='http://127.0.0.1/statement/'>watchdog said</a> it received 118 out of 490 "
    "referrals for abuse of position for a sexual purpose last year.</p></article></body></html>"
)


def test_a_quote_is_checked_again_when_the_cited_document_changes(tmp_path):
    db = tmp_path / "a.db"
    statement, story = "http://127.0.0.1/statement/", "http://127.0.0.1/story/"
    store_snapshots(db, {statement: STATEMENT.format(n=118).encode(), story: STORY.encode()})
    extract_pending(db)
    sql = "select c.status from figure_checks c join documents d on d.id = c.document_id"
    assert [r["status"] for r in query(db, sql + " where d.url = ?", [story])] == ["quoted"]
    store_snapshots(db, {statement: STATEMENT.format(n=131).encode()})
    extract_pending(db)
    # Against the version the story was published from it is still a quote, and says so.
    [check] = query(db, "select status, note from figure_checks")
    assert check["status"] == "quoted" and check["note"].endswith(" to 131")
    dangling = (
        "select count(*) from figure_checks where cited_figure_id not in (select id from figures)"
    )
    assert scalar(db, dangling) == 0


def test_a_pdfs_links_are_stored_with_their_words_and_page_and_a_re_extraction_keeps_them(
    tmp_path,
):
    db = tmp_path / "a.db"
    report, annex = "http://127.0.0.1/reports/vetting.pdf", "http://127.0.0.1/reports/annex-a.pdf"
    builder = make_pdfs()
    store_snapshots(
        db,
        {
            report: builder.build_pdf(
                [["Vetting report: 118 of 490 files."], ["Tables in [Annex A](annex-a.pdf)."]]
            ),
            annex: builder.build_pdf([["Annex A: 37 officers were dismissed."]]),
        },
    )
    extract_pending(db)
    sql = (
        "select l.id, l.url, l.anchor, l.page, l.target_document_id from links l "
        "join documents d on d.id = l.document_id where d.url = ?"
    )
    links = query(db, sql, [report])
    annex_id = scalar(db, "select id from documents where url = ?", [annex])
    assert [(r["url"], r["anchor"], r["page"], r["target_document_id"]) for r in links] == [
        (annex, "Annex A", 2, annex_id)
    ]
    extract_pending(db, everything=True)
    assert query(db, sql, [report]) == links


def test_a_full_re_extraction_does_not_bring_back_a_removed_document(tmp_path):
    from crawler import archive

    db = tmp_path / "a.db"
    url = "http://127.0.0.1/news/a/"
    store_snapshots(db, {url: ARTICLE.format(extra="").encode()})
    extract_pending(db)
    archive_db = archive.open_archive(db)
    with archive.transaction(archive_db):
        archive.mark_gone(archive_db, url, 404, 1, archive.now())
    archive_db.conn.close()
    extract_pending(db, everything=True)
    assert scalar(db, "select status from documents where url = ?", [url]) == "removed"
    assert [r["kind"] for r in query(db, "select kind from events order by id")] == ["removed"]


def test_a_full_re_extraction_rebuilds_history_from_the_snapshots_it_can_store(
    tmp_path, monkeypatch
):
    """A snapshot whose document cannot be stored counts as one that could not be extracted:
    its rolled-back rows leave the document's next snapshot to start the rebuilt history, which
    keeps its version's id."""
    import dataclasses

    import extract

    db = tmp_path / "a.db"
    url = "http://127.0.0.1/news/a/"
    for page in ("one", "two"):
        store_snapshots(db, {url: ARTICLE.format(extra=f"<p>Page {page}.</p>").encode()})
        extract_pending(db)
    first, second = [r["id"] for r in query(db, "select id from versions order by id")]
    real = extract.extract_document

    def unstorable_first(body, url, content_type=None):
        doc = real(body, url, content_type)
        return dataclasses.replace(doc, author="\udfff") if b"Page one" in body else doc

    # The workers fork from this process, so they extract with the substitute too.
    monkeypatch.setattr(extract, "extract_document", unstorable_first)
    report = extract_pending(db, everything=True)
    assert (report.failed, report.extracted) == (1, 1)
    assert [r["id"] for r in query(db, "select id from versions")] == [second]
    assert "Page two." in scalar(db, "select text from documents")


#: A crawl whose extractor gives two pages values SQLite cannot take, as an extractor that let a
#: JSON `\udfff` escape or an absurd offset through would: the workers fork from this process, so
#: they run the substitute too.
UNSTORABLE_DRIVER = """
import dataclasses, sys
import extract
from crawler.crawl import crawl
from crawler.sources import load_sources

real = extract.extract_document

def unstorable_for_some(body, url, content_type=None):
    doc = real(body, url, content_type)
    if "/bad/" in url:
        return dataclasses.replace(doc, author="A \\udfff B")
    if "/huge/" in url:
        figure = dataclasses.replace(doc.figures[0], start=10**30)
        return dataclasses.replace(doc, figures=[figure])
    return doc

extract.extract_document = unstorable_for_some
print(crawl(load_sources(sys.argv[1]), sys.argv[2]).status)
"""


def test_a_document_the_archive_cannot_hold_fails_alone_and_later_crawls_go_on(tmp_path):
    root = tmp_path / "site"
    names = ["a", "bad", "huge", "c"]
    for name in names:
        page = root / "news" / name / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(ARTICLE.format(extra=f"<p>Page {name}.</p>"))
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    (root / "routes.toml").write_text('[site]\nlast_modified = "2024-06-20T09:00:00Z"\n')

    def feed(*items: str) -> str:
        entries = "".join(f"<item><link>{{{{base}}}}/news/{n}/</link></item>" for n in items)
        return f"<rss version='2.0'><channel><title>N</title>{entries}</channel></rss>"

    (root / "feed.xml").write_text(feed(*names))
    with Site(root, host="127.0.0.233") as site:
        sources = write_sources(tmp_path / "sources.toml", site, feeds=[site.url("/feed.xml")])
        db = tmp_path / "archive.db"
        child = subprocess.run(
            [sys.executable, "-c", UNSTORABLE_DRIVER, str(sources), str(db)],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=ROOT,
        )
        assert child.returncode == 0, child.stderr[-3000:]
        assert child.stdout.split()[-1] == "partial"
        urls = {r["url"] for r in query(db, "select url from documents")}
        assert urls == {site.url("/news/a/"), site.url("/news/c/")}
        failures = {r["url"]: r["reason"] for r in query(db, "select url, reason from failures")}
        assert set(failures) == {site.url("/news/bad/"), site.url("/news/huge/")}
        assert failures[site.url("/news/bad/")].startswith(
            "could not store: author holds text that is not valid Unicode"
        )
        assert failures[site.url("/news/huge/")] == (
            "could not store: OverflowError: Python int too large to convert to SQLite INTEGER"
        )
        # Each is done with, so no later run stumbles on it again.
        settled = query(db, "select url, extract_error from snapshots where role = 'document'")
        assert {r["url"]: r["extract_error"] for r in settled} == {
            site.url(f"/news/{n}/"): failures.get(site.url(f"/news/{n}/")) for n in names
        }
        run = query(db, "select status, finished_at, failures from runs")[0]
        assert (run["status"], run["failures"]) == ("partial", 2) and run["finished_at"]
        # A later crawl, with the real extractor, goes on: the new page is archived.
        (root / "news" / "d").mkdir()
        (root / "news" / "d" / "index.html").write_text(ARTICLE.format(extra="<p>Page d.</p>"))
        site.set_page("/feed.xml", site.render_text(feed(*names, "d")))
        later = run_cli("crawl", "--sources", str(sources), "--db", str(db))
    assert later.returncode == 0, later.stderr[-3000:]
    assert site.url("/news/d/") in {r["url"] for r in query(db, "select url from documents")}
    assert [r["status"] for r in query(db, "select status from runs order by id")] == [
        "partial",
        "ok",
    ]
    assert (
        scalar(
            db, "select count(*) from snapshots where extracted_at is null and role = 'document'"
        )
        == 0
    )
    assert scalar(db, "pragma integrity_check") == "ok"


def statement(n: int, intro: str = "") -> bytes:
    """A watchdog statement with figures, a link and a table; `intro` is text added above them."""
    return (
        "<html><head><title>Corruption referrals</title></head><body><article>"
        f"<h1>Corruption referrals</h1>{intro}<p>The watchdog received {n} out of 490 referrals "
        "for abuse of position for a sexual purpose in the year to March.</p><p>Forces made "
        "1,250 referrals in total, around 15% more than the year before.</p><table><caption>"
        "Referrals by force</caption><tr><th>Force</th><th>Referrals</th></tr><tr><td>Kent "
        "Police</td><td>52</td></tr></table><p>Read <a href='https://www.gov.uk/report'>the "
        "report</a>.</p></article></body></html>"
    ).encode()


ADDED = "The Director General said 42 officers must act faster on the findings."
INTRO = f"<p>{ADDED}</p>"


def children(db, url: str) -> dict[str, list[dict]]:
    owned = "document_id = (select id from documents where url = ?)"
    return {
        "figures": query(
            db, f"select id, text, start from figures where {owned} order by id", [url]
        ),
        "links": query(db, f"select id, url from links where {owned} order by id", [url]),
        "tables": query(db, f"select id, caption from tables where {owned} order by id", [url]),
    }


def test_an_edit_keeps_the_ids_of_the_figures_links_and_tables_it_left_alone(tmp_path):
    db = tmp_path / "a.db"
    url = "http://127.0.0.1/statement/"
    store_snapshots(db, {url: statement(118), "http://127.0.0.1/other/": statement(300)})
    extract_pending(db)
    before = children(db, url)
    store_snapshots(db, {url: statement(121, INTRO)})
    extract_pending(db)
    after = children(db, url)
    was = {f["text"]: f for f in before["figures"]}
    now = {f["text"]: f for f in after["figures"]}
    for kept in ("1,250", "around 15%"):
        assert now[kept]["id"] == was[kept]["id"]
        assert now[kept]["start"] == was[kept]["start"] + len(ADDED) + 1  # and a line break
    assert "118 out of 490" not in now
    assert after["links"] == before["links"] and after["tables"] == before["tables"]


def test_a_figure_edited_away_never_lends_its_id_to_another(tmp_path):
    db = tmp_path / "a.db"
    url = "http://127.0.0.1/statement/"
    store_snapshots(db, {url: statement(118)})
    extract_pending(db)
    ids_before = {f["id"] for f in children(db, url)["figures"]}
    store_snapshots(db, {url: statement(121)})
    extract_pending(db)
    [new] = [f for f in children(db, url)["figures"] if f["text"] == "121 out of 490"]
    assert new["id"] > max(ids_before)
    assert scalar(db, "select count(*) from figures where text = '118 out of 490'") == 0


def test_a_full_re_extraction_keeps_the_ids_of_documents_with_two_versions(tmp_path):
    db = tmp_path / "a.db"
    url, story = "http://127.0.0.1/statement/", "http://127.0.0.1/story/"
    store_snapshots(db, {url: statement(118), story: STORY.encode()})
    extract_pending(db)
    # Another document's figures come after the edited ones, as in any archive that grows.
    store_snapshots(db, {url: statement(121, INTRO), "http://127.0.0.1/other/": statement(300)})
    extract_pending(db)
    checks_sql = (
        "select figure_id, cited_figure_id, status, note, cited_version_id, cited_edited_at "
        "from figure_checks order by figure_id"
    )
    rows = [children(db, url), children(db, story), query(db, checks_sql)]
    report = extract_pending(db, everything=True)
    assert (report.new, report.changed, report.unchanged) == (0, 0, 4)
    assert [children(db, url), children(db, story), query(db, checks_sql)] == rows


def test_checks_made_before_versions_were_compared_are_made_again(tmp_path):
    db = tmp_path / "a.db"
    url, story = "http://127.0.0.1/statement/", "http://127.0.0.1/story/"
    store_snapshots(db, {url: statement(118), story: STORY.encode()})
    extract_pending(db)
    conn = sqlite3.connect(db)
    with conn:  # as schema 8 left them: no version named
        conn.execute("update figure_checks set cited_version_id = null, note = 'stale'")
    conn.close()
    extract_pending(db)
    checks = query(db, "select status, note, cited_version_id from figure_checks")
    version = scalar(
        db,
        "select v.id from versions v join documents d on d.id = v.document_id where d.url = ?",
        [url],
    )
    assert checks == [{"status": "quoted", "note": "", "cited_version_id": version}]


def test_an_extract_that_cannot_write_the_archive_ends_in_one_error_line_and_exit_2(tmp_path):
    db = tmp_path / "a.db"
    store_snapshots(db, {"http://127.0.0.1/news/a/": ARTICLE.format(extra="").encode()})
    conn = sqlite3.connect(db)
    with conn:  # damaged: storing a version fails inside SQLite, whatever the document holds
        conn.execute(
            "create trigger damaged after insert on versions begin insert into gone values (1); end"
        )
    conn.close()

    result = run_cli("extract", "--db", str(db))

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: archive write failed, extraction stopped: ")
    assert len(result.stderr.splitlines()) == 1


def test_an_extract_started_while_a_crawl_writes_is_refused_as_a_second_crawl_is(
    tmp_path, fixture_web
):
    from crawler.runs import lock_for
    from tests.conftest import make_sources

    db = tmp_path / "a.db"
    store_snapshots(db, {"http://127.0.0.1/news/a/": ARTICLE.format(extra="").encode()})
    sources = make_sources(tmp_path, fixture_web["news"])
    crawling = lock_for(db)
    crawling.acquire()
    try:
        extract = run_cli("extract", "--db", str(db))
        crawl = run_cli("crawl", "--sources", str(sources), "--db", str(db))
    finally:
        crawling.release()

    assert (extract.returncode, crawl.returncode) == (2, 2)
    assert extract.stderr == crawl.stderr and len(extract.stderr.splitlines()) == 1
    assert "already writing this archive" in extract.stderr and "oversight crawl" in extract.stderr
    assert scalar(db, "select count(*) from snapshots where extracted_at is null") == 1
    assert fixture_web["news"].log == []
    # Released when the crawl ends: the extract then runs.
    assert run_cli("extract", "--db", str(db)).returncode == 0
    assert scalar(db, "select count(*) from snapshots where extracted_at is null") == 0
