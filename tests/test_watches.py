"""Watches: loading watches.toml, recording alerts from a run, delivering them to webhooks."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crawler.archive import open_archive
from crawler.sources import load_sources
from crawler.watches import (
    Watch,
    WatchesError,
    deliver_alerts,
    list_alerts,
    load_watches,
    parse_since,
    record_alerts,
)
from tests.helpers import run_cli

EXAMPLE = Path(__file__).resolve().parent.parent / "crawler" / "watches.example.toml"


# Archive fixtures: real SQLite files, rows written with sqlite-utils as the crawl would.


class ArchiveBuilder:
    def __init__(self, path: Path) -> None:
        self.db = open_archive(path)
        self.db["sources"].insert_all(
            [
                {"id": "iopc", "name": "IOPC", "kind": "watchdog"},
                {"id": "hmicfrs", "name": "HMICFRS", "kind": "inspectorate"},
                {"id": "paper", "name": "A newspaper", "kind": "news"},
            ]
        )

    def run(self) -> int:
        return int(
            self.db["runs"]
            .insert({"started_at": "2026-11-01T00:00:00+00:00", "status": "ok"})
            .last_pk
        )

    def add(self, run_id: int, source: str, title: str, text: str, duplicate_of=None) -> int:
        url = f"https://{source}.example/{title.lower().replace(' ', '-')}"
        doc_id = int(
            self.db["documents"]
            .insert(
                {
                    "url": url,
                    "source_id": source,
                    "title": title,
                    "text": text,
                    "duplicate_of": duplicate_of,
                    "version_count": 1,
                }
            )
            .last_pk
        )
        self._version(doc_id, run_id, title, text)
        return doc_id

    def change(self, doc_id: int, run_id: int, text: str) -> None:
        title = self.db["documents"].get(doc_id)["title"]
        self.db["documents"].update(doc_id, {"text": text})
        self._version(doc_id, run_id, title, text)

    def _version(self, doc_id: int, run_id: int, title: str, text: str) -> None:
        self.db["versions"].insert(
            {
                "document_id": doc_id,
                "run_id": run_id,
                "seen_at": "2026-11-01T00:00:00+00:00",
                "title": title,
                "text": text,
            }
        )


@pytest.fixture
def archive(tmp_path: Path) -> ArchiveBuilder:
    return ArchiveBuilder(tmp_path / "a.db")


def reasons(alerts) -> dict[str, str]:
    return {a.title: a.reason for a in alerts}


def test_new_and_changed_documents_that_match_become_alerts(archive: ArchiveBuilder) -> None:
    first = archive.run()
    statement = archive.add(first, "iopc", "Statement", "Officers face misconduct referrals.")
    archive.add(first, "iopc", "Annual report", "Our budget for the year.")
    second = archive.run()
    archive.change(statement, second, "Officers face gross misconduct referrals, the IOPC said.")
    archive.add(second, "hmicfrs", "Inspection", "A referral for misconduct was made.")
    archive.add(second, "hmicfrs", "Unrelated", "Nothing about it here.")
    watches = [Watch(name="misconduct", query="misconduct AND referral")]

    assert reasons(record_alerts(archive.db, watches, first)) == {"Statement": "new"}
    alerts = record_alerts(archive.db, watches, second)

    # "referral" also finds "referrals": the archive's FTS uses the porter stemmer.
    assert reasons(alerts) == {"Statement": "changed", "Inspection": "new"}
    assert {a.run_id for a in alerts} == {second}
    assert all(a.url.startswith("https://") and a.matched_at for a in alerts)


def test_recording_a_run_twice_adds_nothing_and_keeps_delivery_state(
    archive: ArchiveBuilder,
) -> None:
    run = archive.run()
    archive.add(run, "iopc", "Statement", "A misconduct hearing.")
    watches = [Watch(name="hearings", query="hearing")]
    first = record_alerts(archive.db, watches, run)
    archive.db["alerts"].update(first[0].id, {"delivered_at": "2026-11-01T01:00:00+00:00"})

    again = record_alerts(archive.db, watches, run)

    assert archive.db["alerts"].count == 1
    assert [a.id for a in again] == [first[0].id]
    assert again[0].delivered_at == "2026-11-01T01:00:00+00:00"


def test_a_document_added_and_revised_in_one_run_alerts_once_as_new(
    archive: ArchiveBuilder,
) -> None:
    run = archive.run()
    doc = archive.add(run, "iopc", "Statement", "A misconduct hearing.")
    archive.change(doc, run, "A misconduct hearing, updated.")

    alerts = record_alerts(archive.db, [Watch(name="w", query="hearing")], run)

    assert [(a.document_id, a.reason) for a in alerts] == [(doc, "new")]


def test_sources_and_kinds_narrow_a_watch(archive: ArchiveBuilder) -> None:
    run = archive.run()
    archive.add(run, "iopc", "IOPC custody", "Death in custody investigated.")
    archive.add(run, "hmicfrs", "HMICFRS custody", "Custody suites inspected.")
    archive.add(run, "paper", "Paper custody", "Custody death story.")
    watches = [
        Watch(name="by-source", query="custody", sources=["iopc", "paper"]),
        Watch(name="by-kind", query="custody", kinds=["inspectorate"]),
        Watch(name="both", query="custody", sources=["iopc"], kinds=["news"]),
    ]

    alerts = record_alerts(archive.db, watches, run)

    by_watch: dict[str, set[str]] = {}
    for a in alerts:
        by_watch.setdefault(a.watch, set()).add(a.source_id)
    assert by_watch == {"by-source": {"iopc", "paper"}, "by-kind": {"hmicfrs"}}


def test_near_duplicates_do_not_alert(archive: ArchiveBuilder) -> None:
    run = archive.run()
    original = archive.add(run, "iopc", "Original", "Taser use reviewed.")
    archive.add(run, "paper", "Syndicated copy", "Taser use reviewed.", duplicate_of=original)

    alerts = record_alerts(archive.db, [Watch(name="taser", query="taser")], run)

    assert [a.document_id for a in alerts] == [original]


def test_column_filters_in_a_query_search_only_that_column(archive: ArchiveBuilder) -> None:
    run = archive.run()
    archive.add(run, "iopc", "Vetting review", "A report.")
    archive.add(run, "iopc", "Another report", "It mentions vetting in passing.")

    alerts = record_alerts(archive.db, [Watch(name="t", query="title: vetting")], run)

    assert [a.title for a in alerts] == ["Vetting review"]


# Loading watches.toml


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watches.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_watches_file_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[watches]]
name = "referrals"
query = 'referral* AND "gross misconduct"'
sources = ["iopc"]
kinds = ["watchdog", "news"]
webhook = "https://hooks.example.org/abc"

[[watches]]
name = "tasers"
query = "taser OR conducted NEAR(energy device)"
""",
    )

    watches = load_watches(path, known_sources={"iopc", "hmicfrs"})

    assert watches == [
        Watch(
            name="referrals",
            query='referral* AND "gross misconduct"',
            sources=["iopc"],
            kinds=["watchdog", "news"],
            webhook="https://hooks.example.org/abc",
        ),
        Watch(name="tasers", query="taser OR conducted NEAR(energy device)"),
    ]


def test_the_documented_example_file_loads_against_the_real_registry() -> None:
    watches = load_watches(EXAMPLE, known_sources={s.id for s in load_sources()})

    assert len(watches) >= 3
    assert any(w.webhook for w in watches) and any(w.kinds for w in watches)


@pytest.mark.parametrize(
    "body, field, words",
    [
        ('name = "bad"\nquery = "-- * ()"', "query", "no word to search for"),
        ('name = "bad"\nquery = ""', "query", "required"),
        ('name = "bad"\nquery = "x"\nkinds = ["tabloid"]', "kinds", "tabloid"),
        ('name = "bad"\nquery = "x"\nsources = []', "sources", "non-empty"),
        ('name = "bad"\nquery = "x"\nwebhook = "file:///etc/passwd"', "webhook", "http"),
        ('name = "bad"\nquery = "x"\nsource = ["iopc"]', "source", "unknown field"),
        ('name = "bad"\nquery = "x"\nsources = ["nope"]', "sources", "no such source: nope"),
    ],
)
def test_a_bad_watch_is_refused_naming_file_watch_and_field(
    tmp_path: Path, body: str, field: str, words: str
) -> None:
    path = write(tmp_path, f'[[watches]]\nname = "fine"\nquery = "fine"\n\n[[watches]]\n{body}\n')

    with pytest.raises(WatchesError) as caught:
        load_watches(path, known_sources={"iopc"})

    message = str(caught.value)
    assert str(path) in message
    assert "watch 'bad'" in message
    assert f"field '{field}'" in message
    assert words in message


SEARCHED = {
    "Stop and search review": "Officers used stop-and-search 1,200 times; £1.2m; misconduct found.",
    "Corruption in stop and search": "Corruption and stop and search: unterminated inquiries.",
    "Re-vetting of officers": "Vetting failures led to re-vetting.",
}


@pytest.mark.parametrize(
    "query",
    [
        "stop-and-search",
        "£1.2m",
        "misconduct AND",
        '"unterminated',
        "stop-and-search NOT corruption",
        "(re-vetting OR vetting*) AND",
    ],
)
def test_a_watch_finds_what_oversight_search_finds_for_its_query(
    archive: ArchiveBuilder, tmp_path: Path, query: str
) -> None:
    run = archive.run()
    for title, text in SEARCHED.items():
        archive.add(run, "iopc", title, text)
    path = write(tmp_path, f"[[watches]]\nname = \"w\"\nquery = '{query}'\n")

    alerts = record_alerts(archive.db, load_watches(path), run)
    searched = run_cli("search", query, "--db", str(tmp_path / "a.db"), "--json")

    assert searched.returncode == 0, searched.stderr
    found = {r["title"] for r in json.loads(searched.stdout)}
    assert found and {a.title for a in alerts} == found


def test_a_watch_without_a_name_is_named_by_position(tmp_path: Path) -> None:
    path = write(tmp_path, '[[watches]]\nname = "a"\nquery = "x"\n\n[[watches]]\nquery = "y"\n')

    with pytest.raises(WatchesError, match=r"watch #2: field 'name'"):
        load_watches(path)


def test_two_watches_with_one_name_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[[watches]]\nname = "a"\nquery = "x"\n[[watches]]\nname = "a"\nquery = "y"\n'
    )

    with pytest.raises(WatchesError, match=r"watch 'a': field 'name': used twice"):
        load_watches(path)


def test_broken_toml_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[[watches]\nname = ")

    with pytest.raises(WatchesError, match=r"watches\.toml: not valid TOML"):
        load_watches(path)


# Delivery to webhooks: a real HTTP server on loopback.


class Hooks:
    """A webhook receiver: /ok answers 200, /flaky 503 twice then 200, /down always 503,
    /rejects 400. Every request is logged with its decoded JSON body."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict]] = []
        self.flaky_failures = 0
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                hooks.requests.append((self.path, body))
                status = 200
                if self.path == "/down":
                    status = 503
                elif self.path == "/rejects":
                    status = 400
                elif self.path == "/flaky" and hooks.flaky_failures < 2:
                    hooks.flaky_failures += 1
                    status = 503
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def posts_to(self, path: str) -> list[dict]:
        return [body for p, body in self.requests if p == path]


@pytest.fixture
def hooks():
    server = Hooks()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def recorded(archive: ArchiveBuilder):
    """One run with two documents matching every watch below."""
    run = archive.run()
    archive.add(run, "iopc", "Custody death", "An investigation into a death in custody.")
    archive.add(run, "hmicfrs", "Custody inspection", "Custody suites were inspected.")
    return archive, run


def watches_for(hooks: Hooks, *paths: str) -> list[Watch]:
    return [Watch(name=p.strip("/"), query="custody", webhook=hooks.url + p) for p in paths]


def test_a_webhook_that_fails_twice_then_succeeds_gets_the_alerts(recorded, hooks) -> None:
    archive, run = recorded
    watches = watches_for(hooks, "/flaky")
    alerts = record_alerts(archive.db, watches, run)

    report = deliver_alerts(alerts, watches, retries=3, db=archive.db, backoff=0.01)

    assert report.ok and sorted(report.delivered) == sorted(a.id for a in alerts)
    posts = hooks.posts_to("/flaky")
    assert len(posts) == 3
    assert posts[-1]["watch"] == "flaky"
    assert {a["title"] for a in posts[-1]["alerts"]} == {"Custody death", "Custody inspection"}
    assert all(a["reason"] == "new" and a["url"] for a in posts[-1]["alerts"])
    stored = list(archive.db["alerts"].rows)
    assert all(r["delivered_at"] for r in stored)
    assert all(a.delivered_at for a in alerts)


def test_a_webhook_that_always_fails_is_reported_and_never_raises(recorded, hooks) -> None:
    archive, run = recorded
    watches = watches_for(hooks, "/down", "/ok")
    alerts = record_alerts(archive.db, watches, run)

    report = deliver_alerts(alerts, watches, retries=2, db=archive.db, backoff=0.01)

    assert len(hooks.posts_to("/down")) == 3  # the first try and two retries
    assert not report.ok
    [failure] = report.failed
    assert failure.watch == "down" and failure.attempts == 3 and "503" in failure.error
    assert "not delivered" in report.summary()
    delivered = {r["watch"]: r["delivered_at"] for r in archive.db["alerts"].rows}
    assert delivered["ok"] is not None and delivered["down"] is None
    # The next run's delivery tries the undelivered ones again, and only those.
    hooks.requests.clear()
    again = record_alerts(archive.db, watches, run)
    deliver_alerts(again, watches, retries=0, db=archive.db, backoff=0.01)
    assert hooks.posts_to("/ok") == [] and len(hooks.posts_to("/down")) == 1


def test_a_webhook_that_rejects_the_request_is_not_retried(recorded, hooks) -> None:
    archive, run = recorded
    watches = watches_for(hooks, "/rejects")
    alerts = record_alerts(archive.db, watches, run)

    report = deliver_alerts(alerts, watches, retries=3, backoff=0.01)

    assert len(hooks.posts_to("/rejects")) == 1
    assert report.failed[0].error.startswith("HTTP 400")


def test_an_unreachable_webhook_is_reported_not_raised(recorded) -> None:
    archive, run = recorded
    watches = [Watch(name="nowhere", query="custody", webhook="http://127.0.0.1:9/hook")]
    alerts = record_alerts(archive.db, watches, run)

    report = deliver_alerts(alerts, watches, timeout=2, retries=1, backoff=0.01)

    assert report.delivered == [] and report.failed[0].attempts == 2


def test_watches_without_a_webhook_are_left_alone(recorded, hooks) -> None:
    archive, run = recorded
    watches = [Watch(name="quiet", query="custody")]
    alerts = record_alerts(archive.db, watches, run)

    report = deliver_alerts(alerts, watches, db=archive.db)

    assert report.ok and report.delivered == [] and report.skipped == len(alerts) == 2
    assert hooks.requests == []


# Listing alerts


def test_alerts_are_listed_newest_first_and_filtered(archive: ArchiveBuilder) -> None:
    run = archive.run()
    archive.add(run, "iopc", "Old custody", "custody")
    archive.add(run, "iopc", "New custody", "custody")
    record_alerts(archive.db, [Watch(name="a", query="custody"), Watch(name="b", query="x")], run)
    old = (datetime.now(UTC) - timedelta(days=10)).isoformat(timespec="seconds")
    archive.db.execute(
        "update alerts set matched_at = ? where document_id = "
        "(select id from documents where title = 'Old custody')",
        [old],
    )

    everything = list_alerts(archive.db)
    recent = list_alerts(archive.db, since="7d")
    by_date = list_alerts(archive.db, since=old[:10])

    assert [r["title"] for r in everything] == ["New custody", "Old custody"]
    assert [r["title"] for r in recent] == ["New custody"]
    assert len(by_date) == 2
    assert list_alerts(archive.db, watch="b") == []
    assert {"watch", "reason", "matched_at", "url", "source_name"} <= set(everything[0])


def test_since_accepts_ages_and_iso_dates() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    assert parse_since("7d", now) == "2026-11-21T12:00:00+00:00"
    assert parse_since("24h", now) == "2026-11-27T12:00:00+00:00"
    assert parse_since("2026-11-01") == "2026-11-01T00:00:00+00:00"
    assert parse_since("2026-11-01T10:00:00+01:00") == "2026-11-01T09:00:00+00:00"
    with pytest.raises(ValueError, match="--since 'last week'"):
        parse_since("last week")


def test_alerts_for_an_unknown_watch_are_an_error_naming_the_known_ones(
    archive: ArchiveBuilder, tmp_path: Path
) -> None:
    run = archive.run()
    archive.add(run, "iopc", "Custody deaths", "custody")
    record_alerts(archive.db, [Watch(name="custody", query="custody")], run)
    watches = tmp_path / "watches.toml"
    watches.write_text('[[watches]]\nname = "vetting"\nquery = "vetting"\n')
    db = str(tmp_path / "a.db")

    typo = run_cli("alerts", "--db", db, "--watches", str(watches), "--watch", "custodi")
    quiet = run_cli("alerts", "--db", db, "--watches", str(watches), "--watch", "vetting")
    alerted = run_cli("alerts", "--db", db, "--watch", "custody")

    assert typo.returncode == 2
    assert typo.stderr == "error: unknown watch 'custodi' (known: custody, vetting)\n"
    assert quiet.returncode == 0 and quiet.stdout == "no alerts\n"
    assert alerted.returncode == 0 and "Custody deaths" in alerted.stdout


def test_a_watches_file_named_on_the_command_line_must_exist(
    archive: ArchiveBuilder, tmp_path: Path
) -> None:
    db = str(tmp_path / "a.db")
    missing = tmp_path / "watchs.toml"

    named = run_cli("alerts", "--db", db, "--watches", str(missing))
    # The defaults are read only when present: $OVERSIGHT_WATCHES (run_cli names a missing
    # file), else ./watches.toml (none in the checkout).
    from_env = run_cli("alerts", "--db", db)
    from_cwd = run_cli("alerts", "--db", db, env={"OVERSIGHT_WATCHES": ""})

    assert named.returncode == 2
    assert named.stderr == f"error: {missing}: no such watches file (--watches)\n"
    assert (from_env.returncode, from_env.stdout) == (0, "no alerts\n")
    assert (from_cwd.returncode, from_cwd.stdout) == (0, "no alerts\n")
