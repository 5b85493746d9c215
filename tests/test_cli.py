"""The `oversight` commands that read and serve an archive, run as a user runs them."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from crawler.cli import cli
from tests.archive_factory import NEWS_DOC, build_archive
from tests.helpers import ROOT, run_cli


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return build_archive(tmp_path_factory.mktemp("cli") / "archive.db")


@pytest.mark.parametrize("query", ["", "   "])
def test_a_blank_search_is_a_usage_error(archive, query):
    result = run_cli("search", query, "--db", str(archive))
    assert result.returncode == 2
    assert "Usage:" in result.stderr and "QUERY is empty" in result.stderr
    assert result.stdout == ""


def test_search_names_an_untitled_document_by_its_address_and_marks_it_removed(tmp_path):
    path = build_archive(tmp_path / "archive.db")
    with sqlite3.connect(path) as db:
        db.execute("update documents set title = null, status = 'removed' where id = ?", [NEWS_DOC])
    result = run_cli("search", "campaigners", "--db", str(path))
    address = "https://www.politicshome.com/news/article/police-corruption-referrals-doubled"
    assert result.returncode == 0, result.stderr
    assert f"[politicshome] {address} (removed)\n" in result.stdout
    assert "None" not in result.stdout


def test_status_json_has_sources_counts_runs_and_failures(archive):
    result = run_cli("status", "--db", str(archive), "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["totals"]["documents"] == 6
    sources = {s["source_id"]: s for s in status["sources"]}
    assert sources["home-office"]["documents"] == 2
    assert sources["iopc"]["last_failure_url"] == "https://www.policeconduct.gov.uk/gone"
    assert {"flags", "last_success_at", "changes_this_week"} <= set(sources["iopc"])
    assert [(r["id"], r["status"]) for r in status["runs"]] == [(2, "partial"), (1, "ok")]
    assert [f["reason"] for f in status["failures"]] == ["HTTP 404 Not Found after 0 retries"]


def test_serve_on_a_busy_port_fails_without_claiming_to_serve(archive):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("serve", "--db", str(archive), "--port", str(port), timeout=60)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
        " (another server is using it: pick another --port)\n"
    )


def test_serve_says_where_it_serves_once_it_answers_there(archive):
    server = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "serve", "--db", str(archive), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stderr.readline()
        url = re.fullmatch(r"serving \S+ at (http://127\.0\.0\.1:\d+/) \(Ctrl-C stops\)\n", line)
        assert url, line
        with urllib.request.urlopen(url.group(1) + "archive/documents.json", timeout=10) as page:
            assert page.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_help_is_titled_oversight_and_shows_an_example(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: oversight {command} ")
    assert re.search(rf"^  Examples?:\n    oversight {command}\b", result.stdout, re.MULTILINE)


@pytest.mark.parametrize("port", ["0", "70000"])
def test_demo_refuses_a_port_its_serve_command_could_not_use(tmp_path, port):
    result = run_cli("demo", "--db", str(tmp_path / "demo.db"), "--port", port)
    assert result.returncode == 2
    assert "Invalid value for '--port'" in result.stderr
    assert not (tmp_path / "demo.db").exists()
