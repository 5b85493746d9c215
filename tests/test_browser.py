"""Debian's Chromium, driven by Playwright, against `python -m crawler.serve` on the fixture archive.

Run with `pytest -m browser` (deselected by default). Never downloads a browser: without
/usr/bin/chromium the tests skip and say why.
"""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.archive_factory import (
    HOSTILE_DOC,
    IOPC_DOC,
    NEWS_DOC,
    VETTING_DOC,
    WORKFORCE_DOC,
    build_archive,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parent.parent
#: One title in Arabic (the fixture's workforce statistics), for the page's reading direction.
RTL_TITLE = "إحصاءات القوى العاملة في الشرطة"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]

sync_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer at {url} within {timeout}s")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    archive = build_archive(tmp_path_factory.mktemp("browser") / "archive.db")
    with sqlite3.connect(archive) as db:
        db.execute("update documents set title = ? where id = ?", [RTL_TITLE, WORKFORCE_DOC])
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler.serve", str(archive), "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base + "/", process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server)
    page = context.new_page()
    page.set_default_timeout(15000)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()
    assert not dialogs, f"a page opened a dialog: {dialogs}"


def test_search_from_the_home_page_and_open_the_top_result(page):
    page.goto("/")
    page.fill("#oversight-q", "vetting")
    page.press("#oversight-q", "Enter")
    page.wait_for_url(re.compile(r"/archive/search\?q=vetting"))
    first = page.locator("a.document-title").first
    assert "inspection of vetting" in first.inner_text()
    assert page.locator("td mark").first.inner_text().lower() == "vetting"
    first.click()
    page.wait_for_url(re.compile(rf"/archive/documents/{VETTING_DOC}$"))
    assert "inspection of vetting" in page.locator("h1.document-title").inner_text()


def test_figures_are_highlighted_on_the_document_page(page):
    page.goto(f"/archive/documents/{IOPC_DOC}")
    marks = page.locator(".document-text mark.figure")
    assert marks.count() == 6
    assert marks.first.inner_text() == "118 referrals"
    assert marks.first.is_visible()
    background = marks.first.evaluate("m => getComputedStyle(m).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    marks.first.click()
    page.wait_for_url(re.compile(r"/archive/figures/1$"))
    assert "118 referrals" in page.content()


def test_a_chart_renders_on_the_dashboard(page):
    page.goto("/")
    page.locator(".oversight-explore").get_by_role("link", name="Dashboard", exact=True).click()
    page.wait_for_url(re.compile(r"/-/dashboards/oversight"))
    chart = page.locator("#chart-documents_per_month canvas, #chart-documents_per_month svg")
    chart.first.wait_for(state="visible")
    box = chart.first.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 50
    page.locator("#chart-top_entities canvas, #chart-top_entities svg").first.wait_for()


def test_follow_a_facet(page):
    page.goto("/archive/documents")
    facet = page.locator("#facet-source")
    facet.get_by_role("link", name="news", exact=True).click()
    page.wait_for_url(re.compile(r"_source_kind=news"))
    links = page.locator("table.rows-and-columns tbody tr")
    assert links.count() == 2
    text = page.locator("table.rows-and-columns").inner_text()
    assert "Police corruption referrals have doubled" in text


def test_the_table_search_box_reads_a_query_as_the_search_page_does(page):
    page.goto("/archive/documents")
    page.fill("input[name=_search]", "refer*")
    page.press("input[name=_search]", "Enter")
    page.wait_for_url(re.compile(r"_search=refer"))
    rows = page.locator("table.rows-and-columns tbody tr")
    assert rows.count() == 2
    assert (
        "Police corruption referrals have doubled"
        in page.locator("table.rows-and-columns").inner_text()
    )
    page.fill("input[name=_search]", '"')
    page.press("input[name=_search]", "Enter")
    page.wait_for_url(re.compile(r"_search=%22"))
    assert page.locator("h1").first.inner_text() == "Documents"


def test_a_right_to_left_title_reads_right_to_left(page):
    page.goto(f"/archive/documents/{WORKFORCE_DOC}")
    heading = page.locator("h1.document-title")
    assert heading.inner_text() == RTL_TITLE
    assert heading.evaluate("h => getComputedStyle(h).direction") == "rtl"
    page.goto(f"/archive/documents/{IOPC_DOC}")
    assert page.locator("h1.document-title").evaluate("h => getComputedStyle(h).direction") == "ltr"


def test_an_atom_feed_loads(page):
    response = page.goto("/archive/new_documents.atom")
    assert response.status == 200
    assert "xml" in response.headers["content-type"]
    body = response.text()
    assert body.count("<entry>") == 6
    assert "tag:oversight,2024:document/" in body


def test_hostile_markup_fires_no_dialog(page):
    for path in [
        f"/archive/documents/{HOSTILE_DOC}",
        f"/archive/documents/{NEWS_DOC}",
        "/archive/documents?_search=hostile",
        "/archive/search?q=officers",
        "/archive/changed_documents",
        "/archive/figures_to_check",
        "/archive/alerts",
        "/archive/citations",
        "/archive/figures",
        "/archive/tables",
        "/archive/images",
        "/",
    ]:
        page.goto(path)
        page.wait_for_load_state("load")
    page.goto(f"/archive/documents/{HOSTILE_DOC}")
    title = page.locator("h1.document-title").inner_text()
    assert "<script>alert(1)</script>" in title
    assert page.locator(".document-text img, .document-text script").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []
