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
    assert scalar(db, "select count(*) from snapshots where extracted_at is null") == 0


def test_extracting_twice_adds_no_rows(tmp_path):
    db = tmp_path / "a.db"
    store_snapshots(db, {"http://127.0.0.1/news/a/": ARTICLE.format(extra="").encode()})
    extract_pending(db)
    counts = [scalar(db, f"select count(*) from {t}") for t in ("documents", "versions", "figures")]
    extract_pending(db, everything=True)
    again = [scalar(db, f"select count(*) from {t}") for t in ("documents", "versions", "figures")]
    assert counts == again and counts[2] >= 2
