"""Source health for `oversight status`: last success and failure, weekly changes, and the
flags for a source that stopped answering (failing) or answers but yields nothing (silent)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler import archive
from crawler.health import source_health

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


class Crawled:
    """An archive filled the way crawls fill it: runs, snapshots, 304s and failures written with
    `archive.write_crawl_batch`, documents and versions as the extract stage leaves them."""

    def __init__(self, path: Path, source_ids: list[str]) -> None:
        self.db = archive.open_archive(path)
        self.db["sources"].insert_all(
            [{"id": s, "name": s.title(), "kind": "watchdog"} for s in source_ids]
        )
        self.at = NOW - timedelta(days=3)

    def run(self, sources: list[str], status: str = "ok", **counts: int) -> int:
        self.at += timedelta(hours=6)
        return int(
            self.db["runs"]
            .insert(
                {
                    "started_at": iso(self.at),
                    "finished_at": iso(self.at + timedelta(minutes=10)),
                    "status": status,
                    "sources": json.dumps(sources),
                    **counts,
                }
            )
            .last_pk
        )

    def fetched(self, run_id: int, source: str, url: str, role: str = "listing") -> None:
        archive.write_crawl_batch(
            self.db,
            [
                {
                    "url": url,
                    "final_url": url,
                    "source_id": source,
                    "run_id": run_id,
                    "role": role,
                    "fetched_at": iso(self.at),
                    "status": 200,
                    "content_type": "text/html",
                    "etag": f'"{run_id}"',
                    "body": b"<html>listing</html>",
                }
            ],
            [],
            [],
        )

    def not_modified(self, run_id: int, source: str, url: str, role: str = "document") -> None:
        item = {"url": url, "source_id": source, "role": role, "at": iso(self.at)}
        archive.write_crawl_batch(self.db, [], [], [{**item, "run_id": run_id}])

    def failed(self, run_id: int, source: str, url: str, reason: str = "DNS lookup failed") -> None:
        archive.write_crawl_batch(
            self.db,
            [],
            [
                {
                    "run_id": run_id,
                    "source_id": source,
                    "url": url,
                    "status": None,
                    "reason": reason,
                    "at": iso(self.at),
                }
            ],
            [],
        )

    def document(self, run_id: int, source: str, url: str, seen: datetime | None = None) -> int:
        """A document page fetched and extracted as new in this run."""
        self.fetched(run_id, source, url, role="document")
        seen_at = iso(seen or self.at)
        doc_id = int(
            self.db["documents"]
            .insert(
                {
                    "url": url,
                    "source_id": source,
                    "title": url,
                    "text": "text",
                    "first_seen": seen_at,
                    "last_seen": seen_at,
                    "last_changed": seen_at,
                }
            )
            .last_pk
        )
        self.version(doc_id, run_id, seen_at)
        return doc_id

    def version(self, doc_id: int, run_id: int, seen_at: str) -> None:
        self.db["versions"].insert(
            {"document_id": doc_id, "run_id": run_id, "seen_at": seen_at, "text": "v"}
        )


def health_of(db, stale_runs: int = 3) -> dict:
    return {h.source_id: h for h in source_health(db, stale_runs=stale_runs, now=NOW)}


@pytest.fixture
def crawled(tmp_path: Path) -> Crawled:
    """Four runs of five sources. Run 1 goes well for all; in runs 2-4:
    steady answers 304 for its document; down fails outright; redesigned still serves its
    listing but reaches no document; flaky fails twice then answers; refetched serves its
    listing and documents again unchanged (a server without validators); quiet's listing
    answers 304 and leads nowhere."""
    everyone = ["steady", "down", "redesigned", "flaky", "refetched", "quiet"]
    c = Crawled(tmp_path / "a.db", everyone)
    first = c.run(everyone)
    for sid in everyone:
        c.fetched(first, sid, f"https://{sid}.example/news/")
        c.document(first, sid, f"https://{sid}.example/news/story-1")
    for n in (2, 3, 4):
        run = c.run(everyone, status="partial")
        c.fetched(run, "steady", "https://steady.example/news/")
        c.not_modified(run, "steady", "https://steady.example/news/story-1")
        c.failed(run, "down", "https://down.example/news/", reason=f"DNS lookup failed ({n})")
        c.fetched(run, "redesigned", "https://redesigned.example/news/")
        if n < 4:
            c.failed(run, "flaky", "https://flaky.example/news/", reason="timeout")
        else:
            c.fetched(run, "flaky", "https://flaky.example/news/")
        c.fetched(run, "refetched", "https://refetched.example/news/")
        c.fetched(run, "refetched", "https://refetched.example/news/story-1", role="document")
        c.not_modified(run, "quiet", "https://quiet.example/news/", role="listing")
    return c


def test_a_source_that_stops_answering_is_flagged_failing(crawled: Crawled) -> None:
    down = health_of(crawled.db)["down"]

    assert down.flags == ["failing"]
    assert "no answer in the last 3 runs, 3 failure(s)" in down.reasons["failing"]
    assert "DNS lookup failed (4)" in down.reasons["failing"]
    assert down.last_success_run == 1
    assert down.last_failure_reason == "DNS lookup failed (4)"
    assert down.last_failure_url == "https://down.example/news/"


def test_a_source_that_answers_but_reaches_no_document_is_flagged_silent(
    crawled: Crawled,
) -> None:
    redesigned = health_of(crawled.db)["redesigned"]

    assert redesigned.flags == ["silent"]
    assert "fetched or re-checked 3 page(s) but reached no document" in redesigned.reasons["silent"]
    assert redesigned.last_success_run == 4  # it answers: only the silent flag tells


def test_a_listing_answering_304_that_leads_nowhere_is_still_silent(crawled: Crawled) -> None:
    assert health_of(crawled.db)["quiet"].flags == ["silent"]


def test_healthy_sources_raise_no_flag(crawled: Crawled) -> None:
    health = health_of(crawled.db)

    # 304s, a recovery after failures, and documents served again unchanged are all healthy.
    assert health["steady"].flags == []
    assert health["flaky"].flags == []
    assert health["refetched"].flags == []
    assert health["flaky"].last_success_run == 4
    assert health["flaky"].last_failure_reason == "timeout"
    assert health["steady"].last_failure_at is None


def test_a_larger_window_needs_more_runs_before_flagging(crawled: Crawled) -> None:
    health = health_of(crawled.db, stale_runs=4)

    # Run 1 went well for everyone, so no source has four bad runs in a row.
    assert all(h.flags == [] for h in health.values())
    assert health["down"].runs_counted == 4


def test_fewer_runs_than_the_window_raise_no_flag(tmp_path: Path) -> None:
    c = Crawled(tmp_path / "a.db", ["down"])
    for _ in range(2):
        c.failed(c.run(["down"]), "down", "https://down.example/")

    [down] = source_health(c.db, stale_runs=3, now=NOW)

    assert down.flags == [] and down.runs_counted == 2 and down.last_success_at is None


def test_runs_that_left_a_source_out_or_never_reached_it_do_not_count(tmp_path: Path) -> None:
    c = Crawled(tmp_path / "a.db", ["down", "other"])
    for _ in range(3):
        c.failed(c.run(["down"]), "down", "https://down.example/")
    c.fetched(c.run(["other"]), "other", "https://other.example/")  # left "down" out
    c.run(["down", "other"], status="partial")  # stopped before reaching anything
    c.run(["down"], status="running")  # still going

    health = {h.source_id: h for h in source_health(c.db, now=NOW)}

    assert health["down"].flags == ["failing"]
    assert health["other"].flags == [] and health["other"].runs_counted == 1


def test_a_run_of_one_source_that_skipped_known_documents_is_not_silent(tmp_path: Path) -> None:
    c = Crawled(tmp_path / "a.db", ["dated"])
    c.document(c.run(["dated"]), "dated", "https://dated.example/story")
    for _ in range(3):
        # The sitemap answers; its lastmod dates show every document unchanged.
        c.fetched(
            c.run(["dated"], skipped_unchanged=1), "dated", "https://dated.example/sitemap.xml"
        )

    [dated] = source_health(c.db, now=NOW)

    assert dated.flags == []


def test_changes_this_week_count_new_and_changed_documents(tmp_path: Path) -> None:
    c = Crawled(tmp_path / "a.db", ["iopc", "npcc"])
    run = c.run(["iopc", "npcc"])
    old = c.document(run, "iopc", "https://iopc.example/old", seen=NOW - timedelta(days=30))
    c.document(run, "iopc", "https://iopc.example/new-1", seen=NOW - timedelta(days=2))
    c.document(run, "iopc", "https://iopc.example/new-2", seen=NOW - timedelta(hours=1))
    c.version(old, run, iso(NOW - timedelta(days=1)))  # an edit this week
    c.version(old, run, iso(NOW - timedelta(days=20)))  # an edit long ago

    health = {h.source_id: h for h in source_health(c.db, now=NOW)}

    iopc = health["iopc"]
    assert (iopc.new_this_week, iopc.changed_this_week, iopc.changes_this_week) == (2, 1, 3)
    assert iopc.documents == 3 and iopc.name == "Iopc" and iopc.kind == "watchdog"
    assert (health["npcc"].documents, health["npcc"].changes_this_week) == (0, 0)
