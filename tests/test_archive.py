"""The archive's write path: every batch is one transaction, whole or not at all."""

from __future__ import annotations

import os
import sqlite3

import pytest

from crawler import archive
from tests.helpers import snapshot_record


def snapshot(url: str, body: bytes | None, run_id: int) -> dict:
    return snapshot_record(url, body, run_id, etag='"v1"')


@pytest.fixture
def db(tmp_path):
    db = archive.open_archive(tmp_path / "archive.db")
    archive.sync_sources(db, [])
    yield db
    db.conn.close()


def counts(db) -> tuple[int, int]:
    return (
        db.execute("select count(*) from snapshots").fetchone()[0],
        db.execute("select count(*) from urls").fetchone()[0],
    )


def test_a_crawl_batch_that_fails_halfway_stores_nothing(db):
    run_id = archive.start_run(db, ["test"], 1, "host")
    good = snapshot("https://w.example/a", b"<html>a</html>", run_id)
    broken = snapshot("https://w.example/b", None, run_id)  # compressing None raises
    with pytest.raises(TypeError):
        archive.write_crawl_batch(db, [good, broken], [], [])
    assert counts(db) == (0, 0)
    assert not db.conn.in_transaction
    archive.write_crawl_batch(
        db, [snapshot("https://w.example/a", b"<html>a</html>", run_id)], [], []
    )
    assert counts(db) == (1, 1)


def test_a_batch_is_one_transaction_that_other_connections_see_only_when_done(db, tmp_path):
    run_id = archive.start_run(db, ["test"], 1, "host")
    reader = sqlite3.connect(tmp_path / "archive.db")
    try:
        with archive.transaction(db):
            archive.insert_row(db, "failures", {"run_id": run_id, "url": "https://w.example/x"})
            assert db.conn.in_transaction
            with archive.transaction(db):  # a nested batch joins the outer one
                archive.insert_row(db, "failures", {"run_id": run_id, "url": "https://w.example/y"})
            assert reader.execute("select count(*) from failures").fetchone()[0] == 0
        assert reader.execute("select count(*) from failures").fetchone()[0] == 2
    finally:
        reader.close()


def test_upsert_row_updates_only_the_columns_given(db):
    archive.upsert_row(
        db, "urls", {"url": "https://w.example/a", "etag": '"1"', "fail_count": 3}, "url"
    )
    archive.upsert_row(db, "urls", {"url": "https://w.example/a", "fail_count": 0}, "url")
    row = archive.row(
        db, "select etag, fail_count from urls where url = ?", ["https://w.example/a"]
    )
    assert row == {"etag": '"1"', "fail_count": 0}


def test_error_pages_are_kept_without_resetting_a_failing_urls_back_off(db):
    url = "https://w.example/report"
    run_id = archive.start_run(db, ["test"], 1, "host")
    (good,) = archive.write_crawl_batch(
        db, [snapshot_record(url, b"<p>v1</p>", run_id, '"1"')], [], []
    )
    for attempt in (1, 2, 3):
        error = snapshot_record(url, b"<h1>Service unavailable</h1>", run_id) | {"status": 503}
        failure = {
            "url": url,
            "source_id": "test",
            "run_id": run_id,
            "status": 503,
            "role": "document",
            "reason": "HTTP 503",
            "at": f"2024-05-0{attempt}T10:00:00+00:00",
        }
        archive.write_crawl_batch(db, [error], [failure], [])
    state = archive.url_state(db, url)
    assert state["fail_count"] == 3 and state["next_try_at"] == "2024-05-03T12:00:00+00:00"
    assert state["last_snapshot_id"] == good and state["etag"] == '"1"'  # asked against v1
    statuses = [r[0] for r in db.execute("select status from snapshots order by id")]
    assert statuses == [200, 503, 503, 503]
    assert archive.pending_snapshot_ids(db) == [good]


def test_urls_of_an_older_schema_learn_which_document_they_led_to(db, tmp_path):
    snapshot_id = archive.insert_row(
        db,
        "snapshots",
        {"url": "https://example.org/old", "final_url": "https://example.org/new", "status": 200},
    )
    archive.insert_row(
        db, "documents", {"url": "https://example.org/new", "snapshot_id": snapshot_id}
    )
    archive.upsert_row(
        db, "urls", {"url": "https://example.org/old", "last_snapshot_id": snapshot_id}, "url"
    )
    archive.upsert_row(db, "meta", {"key": "schema_version", "value": "3"}, "key")
    db.conn.close()
    reopened = archive.open_archive(tmp_path / "archive.db")
    led = reopened.execute("select document_url from urls where url = 'https://example.org/old'")
    assert led.fetchone()[0] == "https://example.org/new"
    reopened.conn.close()


def test_a_schema_5_archive_gains_the_snapshots_declared_date_when_it_opens(db, tmp_path):
    db.execute("alter table snapshots drop column declared_modified")
    archive.upsert_row(db, "meta", {"key": "schema_version", "value": "5"}, "key")
    db.conn.close()
    reopened = archive.open_archive(tmp_path / "archive.db")
    assert "declared_modified" in {c.name for c in reopened["snapshots"].columns}
    reopened.conn.close()


@pytest.mark.parametrize("table", ["figures", "versions"])
def test_an_older_archive_keeps_its_rows_and_never_reuses_their_ids_once_opened(
    db, tmp_path, table
):
    # Made as schema 8 (figures) or 10 (versions) made it: by sqlite-utils, whose tables give a
    # deleted id to the next row.
    db.execute(f"drop table {table}")
    db[table].create(archive.TABLES[table]["columns"], pk="id")
    db[table].insert_all({"document_id": 1, "text": str(n)} for n in (118, 490, 52))
    archive.upsert_row(db, "meta", {"key": "schema_version", "value": "8"}, "key")
    db.conn.close()
    reopened = archive.open_archive(tmp_path / "archive.db")
    assert [tuple(r) for r in reopened.execute(f"select id, text from {table} order by id")] == [
        (1, "118"),
        (2, "490"),
        (3, "52"),
    ]
    indexed = {tuple(index.columns) for index in reopened[table].indexes}
    assert {tuple(columns) for name, columns, _ in archive.INDEXES if name == table} <= indexed
    reopened.execute(f"delete from {table} where id = 3")
    new_id = archive.insert_row(reopened, table, {"document_id": 1, "text": "121"})
    assert new_id == 4
    assert reopened.execute("pragma integrity_check").fetchone()[0] == "ok"
    reopened.conn.close()


def test_signatures_of_an_older_schema_are_recomputed_when_the_archive_opens(db, tmp_path):
    from extract.similarity import signature

    text = " ".join(f"word{n % 97} sentence{n % 13}" for n in range(200))
    document_id = archive.insert_row(
        db, "documents", {"url": "https://example.org/a", "text": text, "first_seen": "2024"}
    )
    archive.store_signature(db, document_id, b"\x01" + bytes(512))  # made by the SHA-1 version
    archive.upsert_row(db, "meta", {"key": "schema_version", "value": "2"}, "key")
    db.conn.close()
    reopened = archive.open_archive(tmp_path / "archive.db")
    stored = reopened.execute("select minhash from signatures").fetchone()[0]
    version = reopened.execute("select value from meta where key = 'schema_version'").fetchone()
    assert stored == signature(text) and stored[:1] == b"\x02"
    assert version[0] == str(archive.SCHEMA_VERSION)
    reopened.conn.close()


def test_a_damaged_archive_is_one_line_of_error_not_a_traceback(tmp_path):
    from tests.archive_factory import build_archive
    from tests.helpers import run_cli

    path = build_archive(tmp_path / "archive.db")
    with open(path, "r+b") as file:  # pages past the header overwritten, as a bad disk does
        file.seek(150_000)
        file.write(bytes(range(256)) * 80)
    for command in ("status", "search"):
        result = run_cli(command, *(["police"] if command == "search" else []), "--db", str(path))
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert "malformed" in result.stderr


def test_status_shows_a_run_whose_process_is_gone_as_killed(tmp_path):
    import socket
    import subprocess

    from tests.helpers import run_cli

    gone = subprocess.Popen(["true"])
    gone.wait()
    db = archive.open_archive(tmp_path / "archive.db")
    archive.start_run(db, ["iopc"], gone.pid, socket.gethostname())
    archive.start_run(db, ["iopc"], os.getpid(), socket.gethostname())
    result = run_cli("status", "--db", str(tmp_path / "archive.db"))
    runs = [line.split()[2] for line in result.stdout.splitlines() if line.startswith("  #")]
    assert runs == ["running", "killed"]


def test_a_link_to_an_address_that_redirects_resolves_to_the_document_it_led_to(db):
    release = "https://w.example/news/report-published/"
    summary = "https://w.example/files/summary.pdf"
    for url in (release, summary):
        db["documents"].insert({"url": url, "url_key": url, "source_id": "test", "status": "live"})
    db["links"].insert(
        {"document_id": 1, "url": "https://w.example/download/summary", "normalized_url": "x"}
    )
    archive.upsert_row(
        db,
        "urls",
        {"url": "https://w.example/download/summary", "document_url": summary},
        "url",
    )
    assert archive.resolve_links(db) == [(1, 2)]
    assert archive.row(db, "select target_document_id from links")["target_document_id"] == 2
