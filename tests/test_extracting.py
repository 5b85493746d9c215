"""The extract stage: a pool that survives pathological documents and never duplicates rows."""

from __future__ import annotations

from crawler.extracting import extract_pending
from tests.helpers import query, scalar, store_snapshots

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
    "<html><head><title>Watchdog figures</title></head><body><article><h1>Watchdog figures</h1>"
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
    assert [r["status"] for r in query(db, sql + " where d.url = ?", [story])] == ["check"]
    dangling = (
        "select count(*) from figure_checks where cited_figure_id not in (select id from figures)"
    )
    assert scalar(db, dangling) == 0


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
