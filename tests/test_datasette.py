"""The published archive, through a real Datasette app built by `crawler.serve.make_datasette`."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from datasette.app import Datasette

from crawler.archive import TABLES, open_archive, replace_figure_checks
from crawler.plugins import load_plugin
from crawler.serve import load_metadata, make_datasette, publish
from tests.archive_factory import (
    HOSTILE_DOC,
    IOPC_DOC,
    NEWS_DOC,
    STOP_SEARCH_DOC,
    VETTING_DOC,
    WORKFORCE_DOC,
    build_archive,
)
from tests.helpers import run_cli

ATOM = "{http://www.w3.org/2005/Atom}"
HIDDEN = {"snapshots", "urls", "api_listings", "run_sources", "meta", "signatures"}
RAW_HOSTILE = ["<script>alert(1)", "<img src=x onerror", "<img src=x onerror=alert(1)>"]
FEEDS = [
    "/archive/new_documents.atom",
    "/archive/alerts_feed.atom?watch=anything",
    "/archive/changed_documents.atom",
    "/archive/figures_to_check.atom",
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return build_archive(tmp_path_factory.mktemp("archive") / "fixture.db")


@pytest.fixture(scope="module")
def empty_archive(tmp_path_factory) -> Path:
    return build_archive(tmp_path_factory.mktemp("empty") / "empty.db", empty=True)


@pytest.fixture
def ds(archive) -> Datasette:
    return make_datasette(archive)


async def get_json(ds: Datasette, path: str):
    response = await ds.client.get(path)
    assert response.status_code == 200, (path, response.text[:500])
    return response.json()


def edited_copy(archive: Path, folder: Path, sql: str, params: list) -> Path:
    """A copy of the fixture archive with one change made to it, for a test of its own."""
    copy = folder / "copy.db"
    with sqlite3.connect(archive) as source, sqlite3.connect(copy) as target:
        source.backup(target)
        target.execute(sql, params)
    return copy


def atom_entries(xml_text: str) -> list[ET.Element]:
    feed = ET.fromstring(xml_text.encode("utf-8"))
    assert feed.tag == ATOM + "feed"
    assert feed.find(ATOM + "title").text
    assert feed.find(ATOM + "updated").text
    return feed.findall(ATOM + "entry")


def assert_entry_is_valid(entry: ET.Element) -> None:
    assert entry.find(ATOM + "id").text.startswith("tag:oversight,2024:")
    assert entry.find(ATOM + "title").text
    updated = entry.find(ATOM + "updated").text
    assert re.search(r"T\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)$", updated), updated
    assert entry.find(ATOM + "link").get("href", "").startswith("https://")


async def test_database_is_served_as_archive_whatever_the_file_is_called(ds, archive):
    assert archive.name == "fixture.db"
    data = await get_json(ds, "/archive/documents.json?_shape=array&_size=100")
    assert {row["id"] for row in data} == {1, 2, 3, 4, 5, 6}


async def test_database_page_is_titled_and_described(ds):
    response = await ds.client.get("/archive")
    assert response.status_code == 200
    assert "Oversight archive" in response.text
    assert "police watchdogs, inspectorates and the press" in response.text


def test_every_visible_table_and_column_is_described():
    tables = load_metadata()["databases"]["archive"]["tables"]
    for name, spec in TABLES.items():
        if name in HIDDEN:
            assert tables[name]["hidden"] is True
            continue
        assert tables[name].get("title"), name
        assert tables[name].get("description"), name
        described = tables[name].get("columns", {})
        missing = [column for column in spec["columns"] if not described.get(column)]
        assert not missing, f"{name}: no description for {missing}"


def test_every_canned_query_has_a_title_and_description():
    queries = load_metadata()["databases"]["archive"]["queries"]
    expected = {"search", "new_documents", "figures_search", "alerts_feed", "changed_documents"}
    assert expected | {"citations", "figures_to_check"} <= set(queries)
    assert not set(queries) & set(TABLES), "a canned query would hide the table of its name"
    for name, query in queries.items():
        assert query.get("title") and query.get("description"), name
        assert not query.get("write"), name


async def test_snapshots_and_internal_tables_are_hidden(ds):
    data = await get_json(ds, "/archive.json")
    visible = {t["name"] for t in data["tables"] if not t["hidden"]}
    hidden = {t["name"] for t in data["tables"] if t["hidden"]}
    assert HIDDEN <= hidden
    assert not visible & HIDDEN
    assert {"documents", "figures", "versions", "alerts"} <= visible
    page = (await ds.client.get("/archive")).text
    assert 'href="/archive/snapshots"' not in page
    home = (await ds.client.get("/")).text
    assert "/archive/snapshots" not in home


async def test_snapshot_bodies_read_as_null_however_they_are_asked_for(ds):
    rows = await get_json(ds, "/archive/snapshots.json?_shape=array")
    assert rows and all(row["body"] is None for row in rows)
    assert [row["status"] for row in rows] == [200]  # the rest of the row is still there
    rows = await get_json(ds, "/archive.json?_shape=array&sql=select+body,+url+from+snapshots")
    assert rows[0]["body"] is None and rows[0]["url"]
    blob = await ds.client.get("/archive/snapshots/1.blob?_blob_column=body")
    assert blob.content == b""


async def test_home_page_offers_search_first_and_counts_per_source(ds):
    page = (await ds.client.get("/")).text
    search_form = page.index('action="/archive/search"')
    assert search_form < page.index("What the archive holds")
    for name, count in [("Home Office", 2), ("PoliticsHome", 1), ("Independent Office", 1)]:
        row = re.search(rf"{name}[^<]*</a></td>\s*<td>[^<]*</td>\s*<td[^>]*>(\d+)</td>", page)
        assert row and int(row.group(1)) == count, name
    assert "6 documents" in page
    assert "Last crawl: run 2, partial" in page
    assert "/-/dashboards/oversight" in page
    assert "/archive/new_documents.atom" in page


async def test_search_query_ranks_the_most_relevant_document_first(ds):
    rows = await get_json(ds, "/archive/search.json?q=vetting&_shape=array")
    assert [row["document_id"] for row in rows][:2] == [VETTING_DOC, 3]
    assert "<mark>vetting</mark>" in rows[0]["snippet"].lower()
    rows = await get_json(ds, "/archive/search.json?q=stop+and+search&_shape=array")
    assert rows[0]["document_id"] == STOP_SEARCH_DOC


async def test_search_page_shows_highlighted_snippets_and_links_to_documents(ds):
    page = (await ds.client.get("/archive/search?q=vetting")).text
    assert "<mark>vetting</mark>" in page.lower()
    assert "&lt;mark&gt;vetting" not in page.lower()
    assert f'href="/archive/documents/{VETTING_DOC}"' in page


async def test_search_options_filter_and_may_be_left_blank(ds):
    base = "/archive/search.json?_shape=array&q=referrals"
    everything = await get_json(ds, base + "&source=&kind=&date_from=&date_to=")
    assert {row["document_id"] for row in everything} == {IOPC_DOC, NEWS_DOC}
    news = await get_json(ds, base + "&kind=news")
    assert [row["document_id"] for row in news] == [NEWS_DOC]
    iopc = await get_json(ds, base + "&source=iopc")
    assert [row["document_id"] for row in iopc] == [IOPC_DOC]
    late = await get_json(ds, base + "&date_from=2023-10-13")
    assert [row["document_id"] for row in late] == [NEWS_DOC]
    early = await get_json(ds, base + "&date_to=2023-10-12")
    assert [row["document_id"] for row in early] == [IOPC_DOC]


async def test_search_leaves_out_syndicated_copies(archive, tmp_path):
    sql = "update documents set duplicate_of = ? where id = ?"
    copy = edited_copy(archive, tmp_path, sql, [IOPC_DOC, NEWS_DOC])
    rows = await get_json(make_datasette(copy), "/archive/search.json?_shape=array&q=referrals")
    assert [row["document_id"] for row in rows] == [IOPC_DOC]


async def test_search_snippets_escape_the_page_text_around_the_highlights(ds):
    rows = await get_json(ds, "/archive/search.json?_shape=array&q=officers")
    hostile = next(row["snippet"] for row in rows if row["document_id"] == HOSTILE_DOC)
    assert "<mark>officers</mark>" in hostile
    assert "complaints &lt;img src=x onerror=alert(1)&gt; about" in hostile
    assert "&amp; &quot;quotes&quot;" in hostile or '&amp; "quotes"' in hostile
    assert "<img" not in hostile and "<a " not in hostile
    page = (await ds.client.get("/archive/search?q=officers")).text
    cells = " ".join(re.findall(r'<td class="col-snippet[^"]*">(.*?)</td>', page, re.DOTALL))
    assert "complaints &lt;img src=x onerror=alert(1)&gt; about" in cells
    assert "&amp;lt;" not in cells  # escaped once, not twice
    assert cells.count("<mark>officers</mark>") == 4
    # A `snippet` column of anyone's own SQL gets no more trust than the search query's.
    own = await ds.client.get(
        "/archive",
        params={"sql": "select '<img src=x onerror=alert(1)><mark>hit</mark>' as snippet"},
    )
    assert "<mark>hit</mark>" in own.text and "<img src=x" not in own.text


async def test_an_untitled_document_is_called_by_its_address_everywhere(archive, tmp_path):
    copy = edited_copy(
        archive, tmp_path, "update documents set title = ' ' where id = ?", [NEWS_DOC]
    )
    served = make_datasette(copy)
    address = "https://www.politicshome.com/news/article/police-corruption-referrals-doubled"
    rows = await get_json(served, "/archive/search.json?_shape=array&q=campaigners")
    assert [row["title"] for row in rows] == [address]
    page = (await served.client.get(f"/archive/documents/{NEWS_DOC}")).text
    assert f'<h1 class="document-title" dir="auto">{address}</h1>' in page
    assert f"<title>{address} · " in page
    cited = (await served.client.get(f"/archive/documents/{IOPC_DOC}")).text
    assert f'href="/archive/documents/{NEWS_DOC}">{address}</a>' in cited
    feed = atom_entries((await served.client.get("/archive/new_documents.atom")).text)
    entry = next(e for e in feed if e.find(ATOM + "id").text.endswith(f"/{NEWS_DOC}"))
    assert entry.find(ATOM + "title").text == address
    for query in ["figures_search.json?words=referrals", "citations.json", "figures_to_check.json"]:
        rows = await get_json(served, f"/archive/{query}&_shape=array".replace(".json&", ".json?"))
        titles = {row.get("title") or row.get("citing_title") for row in rows}
        assert address in titles and None not in titles and "" not in titles, query


async def test_a_document_title_reads_in_its_own_direction(ds):
    page = (await ds.client.get(f"/archive/documents/{VETTING_DOC}")).text
    assert '<h1 class="document-title" dir="auto">' in page
    results = (await ds.client.get("/archive/search?q=vetting")).text
    assert (
        f'<a class="document-title" dir="auto" href="/archive/documents/{VETTING_DOC}">' in results
    )


async def test_a_removed_document_is_marked_in_search_results(archive, tmp_path):
    copy = edited_copy(
        archive, tmp_path, "update documents set status = 'removed' where id = ?", [VETTING_DOC]
    )
    served = make_datasette(copy)
    rows = await get_json(served, "/archive/search.json?_shape=array&q=vetting")
    assert {row["document_id"]: row["status"] for row in rows} == {
        VETTING_DOC: "removed",
        WORKFORCE_DOC: None,
    }
    page = (await served.client.get("/archive/search?q=vetting")).text
    assert '<strong class="document-status">removed</strong>' in page


@pytest.mark.parametrize(
    "query", ["stop-and-search", '"unbalanced', "£1.2 million", "OR", "(x", "*", "* police"]
)
async def test_search_accepts_any_text_without_a_syntax_error(ds, query):
    response = await ds.client.get("/archive/search.json", params={"q": query})
    assert response.status_code == 200, response.text[:300]


async def test_a_hyphenated_word_keeps_the_or_beside_it(ds):
    rows = await get_json(ds, "/archive/search.json?_shape=array&q=re-vetting+OR+stop-and-search")
    assert {row["document_id"] for row in rows} == {VETTING_DOC, STOP_SEARCH_DOC}


async def test_table_search_api_finds_documents(ds):
    rows = await get_json(ds, "/archive/documents.json?_search=misogyny&_shape=array")
    assert [row["id"] for row in rows] == [VETTING_DOC]


@pytest.mark.parametrize(
    "query, found",
    [
        ("refer*", {IOPC_DOC, NEWS_DOC}),
        ("corruption OR stop", {IOPC_DOC, VETTING_DOC, NEWS_DOC, STOP_SEARCH_DOC}),
        ("NEAR(corruption referrals, 3)", {IOPC_DOC, NEWS_DOC}),
        ("title:vetting", {VETTING_DOC}),
        ("vetting NOT misogyny", {WORKFORCE_DOC}),
        ("stop-and-search", {STOP_SEARCH_DOC}),
        ('"', set()),
        ("", set()),
    ],
)
async def test_table_search_reads_a_query_as_the_search_query_does(ds, query, found):
    table = await get_json(ds, f"/archive/documents.json?_shape=array&_search={quote(query)}")
    search = await get_json(ds, f"/archive/search.json?_shape=array&q={quote(query)}")
    assert {row["id"] for row in table} == {row["document_id"] for row in search} == found
    page = await ds.client.get(f"/archive/documents?_search={quote(query)}")
    assert page.status_code == 200, page.text[:300]
    column = await ds.client.get(f"/archive/documents.json?_search_title={quote(query)}")
    assert column.status_code == 200, column.text[:300]


@pytest.mark.parametrize(
    "parameters, says",
    [
        ("_sort_desc=nonexistent", "Cannot sort table by nonexistent"),
        ("_search=vetting&_sort=rank", "the Search query ranks by relevance"),
        ("_sort=id&_sort_desc=id", "Cannot use _sort and _sort_desc"),
        ("_through=%7Bbad", "_through must be JSON"),
        ("_timelimit=soon", "_timelimit must be a whole number of milliseconds"),
        ("_through=" + quote('{"table": "mentions"}'), "_through must be JSON"),
        (
            "_through=" + quote('{"table": "sources", "column": "id", "value": 1}'),
            "Invalid _through",
        ),
    ],
)
async def test_a_malformed_table_parameter_is_a_400_that_says_what_is_wrong(ds, parameters, says):
    for path in ["/archive/documents.json", "/archive/documents"]:
        response = await ds.client.get(f"{path}?{parameters}")
        assert response.status_code == 400, (path, response.status_code)
        assert says in response.text, path


async def test_the_alerts_table_is_browsable_with_its_facets(ds):
    data = await get_json(ds, "/archive/alerts.json?_shape=objects")
    assert len(data["rows"]) == 4
    facets = data["facet_results"]
    assert {r["value"]: r["count"] for r in facets["watch"]["results"]} == {
        "corruption": 3,
        "vetting": 1,
    }
    assert {r["value"] for r in facets["reason"]["results"]} == {"new", "changed"}
    vetting = await get_json(ds, "/archive/alerts.json?_shape=array&watch=vetting")
    assert [row["id"] for row in vetting] == [3]


async def test_the_old_alerts_feed_address_leads_to_the_feed(ds):
    response = await ds.client.get("/archive/alerts.atom?watch=vetting")
    assert response.status_code == 301
    assert response.headers["location"] == "/archive/alerts_feed.atom?watch=vetting"


async def test_home_page_links_the_alerts_table_and_every_feed(ds):
    page = (await ds.client.get("/")).text
    assert 'href="/archive/alerts"' in page
    for feed in ["new_documents", "changed_documents", "figures_to_check"]:
        assert f'href="/archive/{feed}.atom"' in page, feed
    for watch in ["corruption", "vetting"]:
        assert f'href="/archive/alerts_feed.atom?watch={watch}"' in page


async def test_new_documents_feed_is_valid_atom_with_entries(ds):
    response = await ds.client.get("/archive/new_documents.atom")
    assert response.status_code == 200
    entries = atom_entries(response.text)
    assert len(entries) == 6
    for entry in entries:
        assert_entry_is_valid(entry)
    ids = [entry.find(ATOM + "id").text for entry in entries]
    assert ids[0] == f"tag:oversight,2024:document/{STOP_SEARCH_DOC}"
    assert len(set(ids)) == len(ids)


async def test_feeds_are_valid_on_an_empty_archive(empty_archive):
    ds = make_datasette(empty_archive)
    for path in FEEDS:
        response = await ds.client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        entries = atom_entries(response.text)
        assert len(entries) == 1
        assert_entry_is_valid(entries[0])


async def test_alerts_feed_lists_one_watch(ds):
    response = await ds.client.get("/archive/alerts_feed.atom?watch=vetting")
    entries = atom_entries(response.text)
    assert [e.find(ATOM + "id").text for e in entries] == ["tag:oversight,2024:alert/3"]
    corruption = atom_entries(
        (await ds.client.get("/archive/alerts_feed.atom?watch=corruption")).text
    )
    assert len(corruption) == 3
    assert all(e.find(ATOM + "title").text.startswith("[corruption]") for e in corruption)


async def test_document_page_highlights_figures_and_lists_them_with_kinds(ds):
    page = (await ds.client.get(f"/archive/documents/{IOPC_DOC}")).text
    marks = re.findall(
        r'<a class="figure-link" href="/archive/figures/(\d+)"><mark[^>]*>([^<]*)</mark>', page
    )
    assert [text for _, text in marks] == [
        "118 referrals",
        "490 overall referrals",
        "more than double",
        "Around 40%",
        "31 referrals",
        "139 days",
    ]
    assert [int(figure_id) for figure_id, _ in marks] == [1, 2, 3, 4, 5, 6]
    kinds = re.findall(r'<td class="figure-kind">([^<]+)</td>', page)
    assert kinds == ["count", "count", "change", "percent", "count", "duration"]
    assert "Read the original" in page


async def test_document_page_shows_entities_citations_and_a_readable_diff(ds):
    page = (await ds.client.get(f"/archive/documents/{IOPC_DOC}")).text
    assert "Metropolitan Police Service" in page
    assert f'href="/archive/documents/{NEWS_DOC}"' in page
    assert "Police corruption referrals have doubled" in page
    assert "<del>117</del><ins>118</ins>" in page
    assert "No change note was published with this edit." in page
    news = (await ds.client.get(f"/archive/documents/{NEWS_DOC}")).text
    assert f'href="/archive/documents/{IOPC_DOC}"' in news
    assert "check" in news and "500 here, 490 in the cited statement" in news


HOSTILE_PAGES = [
    "/",
    "/archive",
    f"/archive/documents/{HOSTILE_DOC}",
    "/archive/documents",
    "/archive/documents?_search=hostile",
    "/archive/figures",
    "/archive/figures/19",
    "/archive/versions",
    "/archive/versions/4",
    "/archive/links",
    "/archive/tables",
    "/archive/images",
    "/archive/events",
    "/archive/entities",
    "/archive/sources",
    "/archive/search?q=officers",
    "/archive/changed_documents",
    "/archive/citations",
    "/archive/figures_search?words=officers",
    "/archive/alerts",
    "/archive/alerts_feed",
    "/archive/figures_to_check",
    "/archive/new_documents",
    "/-/search?q=hostile",
    f"/archive/documents/{VETTING_DOC}",
]


@pytest.mark.parametrize("path", HOSTILE_PAGES)
async def test_hostile_markup_is_escaped_on_every_page(ds, path):
    response = await ds.client.get(path)
    assert response.status_code == 200
    for raw in RAW_HOSTILE:
        assert raw not in response.text, (path, raw)
    assert 'href="javascript:' not in response.text


async def test_hostile_markup_shows_as_text_on_the_document_page(ds):
    page = (await ds.client.get(f"/archive/documents/{HOSTILE_DOC}")).text
    assert "Hostile &lt;script&gt;alert(1)&lt;/script&gt; headline" in page
    assert (
        "<ins>&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt;</ins>"
        in page
    )


async def test_edits_feed_has_an_entry_per_edit_with_its_diff(ds):
    response = await ds.client.get("/archive/changed_documents.atom")
    assert response.status_code == 200, response.text[:300]
    entries = atom_entries(response.text)
    for entry in entries:
        assert_entry_is_valid(entry)
    ids = [entry.find(ATOM + "id").text for entry in entries]
    assert ids == ["tag:oversight,2024:version/4", "tag:oversight,2024:version/2"]
    iopc = entries[1]
    assert iopc.find(ATOM + "title").text.startswith("Edited: Corruption referrals")
    content = iopc.find(ATOM + "content").text
    assert "no change note was published" in content
    assert "<em>[removed: 117]</em> <strong>118</strong>" in content
    narrowed = atom_entries(
        (await ds.client.get("/archive/changed_documents.atom?source=iopc")).text
    )
    assert [entry.find(ATOM + "id").text for entry in narrowed] == ids[1:]


async def test_figures_to_check_feed_keeps_its_entry_ids_when_checks_are_made_again(
    archive, tmp_path
):
    path = edited_copy(archive, tmp_path, "update figure_checks set id = id + 100", [])
    url = "/archive/figures_to_check.atom"
    before = atom_entries((await make_datasette(path).client.get(url)).text)
    assert len(before) == 1  # the near miss; the quoted figure is no misquote
    assert_entry_is_valid(before[0])
    assert "nearly 500 referrals" in before[0].find(ATOM + "title").text
    assert "500 here, 490 in the cited statement" in before[0].find(ATOM + "content").text
    db = open_archive(path)
    checks = list(
        db.query(
            "select figure_id, cited_figure_id, status, note, cited_edited_at from figure_checks"
        )
    )
    version = db.execute("select cited_version_id from figure_checks").fetchone()[0]
    replace_figure_checks(db, NEWS_DOC, IOPC_DOC, checks, version)  # as a re-extraction does
    assert db.execute("select max(id) from figure_checks").fetchone()[0] < 100  # new row ids
    db.conn.close()
    after = atom_entries((await make_datasette(path).client.get(url)).text)
    assert [e.find(ATOM + "id").text for e in after] == [e.find(ATOM + "id").text for e in before]


async def test_hostile_markup_stays_escaped_in_feeds(ds):
    feeds = ["/archive/new_documents.atom", "/archive/alerts_feed.atom"]
    for path in feeds + ["/archive/changed_documents.atom"]:
        entries = atom_entries((await ds.client.get(path)).text)
        contents = [e.find(ATOM + "content").text for e in entries]
        hostile = [c for c in contents if "alert(1)" in c]
        assert hostile, path
        for content in hostile:
            assert "<script>" not in content and "<img" not in content


async def test_documents_have_the_default_facets_and_a_facet_can_be_followed(ds):
    data = await get_json(ds, "/archive/documents.json")
    facets = data["facet_results"]
    assert {"source_id", "content_type", "published", "source", "mentions"} <= set(facets)
    assert facets["published"]["type"] == "year" and facets["source"]["type"] == "kind"
    entity = facets["mentions"]["results"]
    assert entity[0]["label"] == "Metropolitan Police Service" and entity[0]["count"] == 3
    news = next(r for r in facets["source"]["results"] if r["value"] == "news")
    followed = await get_json(
        ds, news["toggle_url"].replace("http://localhost", "") + "&_shape=array"
    )
    assert {row["id"] for row in followed} == {NEWS_DOC, HOSTILE_DOC}
    met = await get_json(
        ds, entity[0]["toggle_url"].replace("http://localhost", "") + "&_shape=array"
    )
    assert {row["id"] for row in met} == {IOPC_DOC, 3, NEWS_DOC}
    year = next(r for r in facets["published"]["results"] if r["value"] == "2022")
    assert year["count"] == 1


#: What each default documents facet counts, as a direct query over the matching documents.
FACET_SQL = {
    "source_id": "select source_id, count(*) from matches group by source_id",
    "content_type": "select content_type, count(*) from matches group by content_type",
    "published": "select substr(published, 1, 4), count(*) from matches group by 1",
    "source": "select s.kind, count(*) from matches m join sources s on s.id = m.source_id"
    " group by s.kind",
    "mentions": "select entity_id, count(*) from mentions"
    " where document_id in (select id from matches) group by entity_id",
}


@pytest.mark.parametrize("word", ["police", "officers"])
async def test_facet_counts_of_a_search_equal_direct_sql_counts(ds, archive, word):
    data = await get_json(ds, f"/archive/documents.json?_search={word}")
    facets = data["facet_results"]
    conn = sqlite3.connect(archive)
    conn.execute(
        "create temp view matches as select * from documents where id in"
        f" (select rowid from documents_fts where documents_fts match '{word}')"
    )
    for name, sql in FACET_SQL.items():
        expected = dict(conn.execute(sql).fetchall())
        assert len(expected) >= 2, (name, expected)
        counted = {r["value"]: r["count"] for r in facets[name]["results"]}
        assert counted == expected, name
    conn.close()
    assert facets["source_id"]["type"] == "column"
    labels = {r["value"]: r["label"] for r in facets["source_id"]["results"]}
    assert labels["home-office"] == "Home Office"
    top = await get_json(ds, f"/archive/documents.json?_search={word}&_facet_size=1")
    for name, facet in top["facet_results"].items():
        assert len(facet["results"]) == 1 and facet["truncated"], name
        assert facet["results"][0] == facets[name]["results"][0] | {
            "toggle_url": facet["results"][0]["toggle_url"]
        }


async def test_a_searched_page_counts_its_five_facets_in_two_queries(archive):
    traced = make_datasette(archive, settings={"trace_debug": True})
    data = await get_json(traced, "/archive/documents.json?_search=police&_trace=1")
    assert len(data["facet_results"]) == 5
    matching = [t["sql"] for t in data["_trace"]["traces"] if "documents_fts match" in t["sql"]]
    # The page's rows, its count, and the two facet queries (grouped keys; mentions by id).
    assert len(matching) == 4, matching
    assert sum("oversight_facet" in sql for sql in matching) == 2


async def test_archive_connections_read_through_a_memory_map(ds):
    connections = load_plugin("oversight_connections")
    rows = (await ds.execute("archive", "pragma mmap_size")).rows
    assert rows[0][0] == connections.MMAP_SIZE > 0


async def test_a_large_archive_gets_statistics_and_counts_searches_from_an_index(tmp_path):
    db = open_archive(tmp_path / "large.db")
    rows = [
        {"id": i, "url": f"https://x.example/{i}", "source_id": "iopc", "title": "Vetting"}
        for i in range(1, 1001)
    ]
    db["documents"].insert_all(rows)
    db.conn.close()
    db = open_archive(tmp_path / "large.db")
    plan = " ".join(
        row[3]
        for row in db.execute(
            "explain query plan select count(*) from documents where rowid in"
            " (select rowid from documents_fts where documents_fts match 'vetting')"
        )
    )
    db.conn.close()
    assert "COVERING INDEX idx_documents_id_source_id_content_type_published" in plan


async def test_documents_are_newest_first(ds):
    rows = await get_json(ds, "/archive/documents.json?_shape=array")
    published = [row["published"] for row in rows]
    assert published == sorted(published, reverse=True)


async def test_figures_facet_by_kind_unit_and_source(ds):
    data = await get_json(ds, "/archive/figures.json")
    facets = data["facet_results"]
    assert {"kind", "unit", "document"} <= set(facets)
    by_source = {r["value"]: r["count"] for r in facets["document"]["results"]}
    assert by_source["iopc"] == 6
    iopc = await get_json(ds, "/archive/figures.json?_source=iopc&_shape=array")
    assert {row["document_id"] for row in iopc} == {IOPC_DOC}


async def test_figures_search_finds_words_in_any_order(ds):
    rows = await get_json(
        ds, "/archive/figures_search.json?words=corruption+referrals&_shape=array"
    )
    assert {(row["document_id"], row["figure"]) for row in rows} == {
        (IOPC_DOC, "118 referrals"),
        (IOPC_DOC, "490 overall referrals"),
        (IOPC_DOC, "Around 40%"),
        (IOPC_DOC, "31 referrals"),
        (NEWS_DOC, "118 referrals"),
        (NEWS_DOC, "nearly 500 referrals"),
    }
    money = await get_json(ds, "/archive/figures_search.json?kind=money&_shape=array")
    assert [row["value"] for row in money] == [1200000]


def test_a_hyphenated_word_in_figures_search_matches_the_words_apart():
    matches = load_plugin("oversight_search").matches_all_words
    assert matches("Stop and search powers were used 529,474 times.", "stop-and-search")
    assert not matches("Searches rose.", "stop-and-search")


def test_figures_search_reads_or_not_and_accents_as_full_text_search_does():
    matches = load_plugin("oversight_search").matches_all_words
    sentence = "The café owner reported 12 thefts to the force."
    assert matches(sentence, "cafe thefts") and matches(sentence.replace("é", "e"), "café")
    assert matches(sentence, "corruption OR theft")
    assert matches(sentence, "corruption officers OR owner thefts")
    assert not matches(sentence, "corruption OR custody")
    assert matches(sentence, "theft NOT corruption")
    assert not matches(sentence, "theft NOT owner")


async def test_changed_documents_shows_recent_edits_with_diffs(ds):
    rows = await get_json(ds, "/archive/changed_documents.json?_shape=array")
    assert [row["document_id"] for row in rows] == [HOSTILE_DOC, IOPC_DOC]
    assert rows[1]["change_note"] == "none declared"
    page = (await ds.client.get("/archive/changed_documents")).text
    assert "<del>117</del><ins>118</ins>" in page


async def test_citations_lists_news_citing_archived_documents(ds):
    rows = await get_json(ds, "/archive/citations.json?_shape=array")
    pairs = {(row["citing_document_id"], row["cited_document_id"]) for row in rows}
    assert pairs == {(NEWS_DOC, IOPC_DOC), (HOSTILE_DOC, VETTING_DOC)}
    news = next(row for row in rows if row["citing_document_id"] == NEWS_DOC)
    assert (news["figures_quoted"], news["figures_to_check"]) == (1, 1)


async def test_dashboard_renders_and_its_chart_queries_run(ds):
    page = await ds.client.get("/-/dashboards/oversight")
    assert page.status_code == 200
    for chart in ["documents_per_month", "figures_per_month", "top_entities"]:
        assert f"chart-{chart}" in page.text
    charts = load_metadata()["plugins"]["datasette-dashboards"]["oversight"]["charts"]
    for name, chart in charts.items():
        response = await ds.client.get("/archive.json", params={"sql": chart["query"]})
        assert response.status_code == 200, (name, response.text[:300])
        assert response.json()["rows"], name


async def test_nothing_served_can_write(ds, archive):
    before = sqlite3.connect(archive).execute("select count(*) from documents").fetchone()[0]
    attempts = [
        ("/archive/search", {"q": "x"}),
        ("/archive/new_documents", {}),
        ("/archive/documents/-/insert", {"row": {"title": "x"}}),
        ("/archive/-/create", {"table": "x", "row": {"a": 1}}),
        ("/archive/documents/1/-/delete", {}),
        ("/archive/documents/1/-/update", {"update": {"title": "x"}}),
        ("/archive/documents/-/drop", {}),
    ]
    for path, body in attempts:
        response = await ds.client.post(path, json=body)
        assert response.status_code == 405, (path, response.status_code)
    for sql in ["delete from documents", "update documents set title = 'x'", "drop table runs"]:
        response = await ds.client.get("/archive.json", params={"sql": sql})
        assert response.status_code in (400, 403), sql
    after = sqlite3.connect(archive).execute("select count(*) from documents").fetchone()[0]
    assert before == after == 6


async def test_database_is_opened_read_only(ds):
    database = ds.get_database("archive")
    assert database.is_mutable
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await database.execute_fn(lambda conn: conn.execute("delete from documents"))


async def test_public_mode_blocks_robots(archive):
    public = make_datasette(archive, public=True)
    robots = await public.client.get("/robots.txt")
    assert "Disallow: /" in robots.text
    page = await public.client.get("/")
    assert page.headers["x-robots-tag"].startswith("noindex")
    private = make_datasette(archive)
    assert "Disallow: /" not in (await private.client.get("/robots.txt")).text


def test_missing_archive_is_refused_with_its_path(tmp_path):
    from crawler.serve import ServeError

    with pytest.raises(ServeError, match="nothing.db"):
        make_datasette(tmp_path / "nothing.db")


async def test_published_copy_opens_immutable_with_inspect_counts(archive, tmp_path):
    out = publish(archive, tmp_path / "site")
    assert out == tmp_path / "site" / "archive.db"
    conn = sqlite3.connect(out)
    assert conn.execute("pragma journal_mode").fetchone()[0] == "delete"
    assert conn.execute("select count(*) from snapshots where body is not null").fetchone()[0] == 0
    conn.close()
    assert not out.with_name("archive.db-wal").exists()
    counts = json.loads((tmp_path / "site" / "counts.json").read_text())
    assert counts["archive"]["tables"]["documents"]["count"] == 6
    for name in ["templates", "plugins", "static"]:
        assert any((tmp_path / "site" / name).iterdir())
    metadata = yaml.safe_load((tmp_path / "site" / "metadata.yml").read_text())
    site = Datasette(
        immutables=[str(out)],
        inspect_data=counts,
        metadata=metadata,
        template_dir=str(tmp_path / "site" / "templates"),
        plugins_dir=str(tmp_path / "site" / "plugins"),
    )
    assert not site.get_database("archive").is_mutable
    rows = await get_json(site, "/archive/search.json?q=vetting&_shape=array")
    assert rows[0]["document_id"] == VETTING_DOC
    entries = atom_entries((await site.client.get("/archive/new_documents.atom")).text)
    assert len(entries) == 6


def test_figure_highlighting_survives_stale_offsets_and_escapes_text():
    display = load_plugin("oversight_display")
    figures = [
        {"id": 1, "text": "12 <b>cases</b>", "start": 99, "kind": "count"},
        {"id": 2, "text": "missing", "start": 0, "kind": "count"},
        {"id": 3, "text": "5%", "start": 0, "kind": 'percent" onmouseover=x'},
    ]
    html = str(display.highlight_figures("Up 5% to 12 <b>cases</b>.", figures, "/archive/figures"))
    assert "<b>" not in html
    assert html.count("<mark") == 2
    assert 'class="figure figure-percentonmouseoverx"' in html
    assert "12 &lt;b&gt;cases&lt;/b&gt;</mark>" in html


@pytest.mark.parametrize(
    "figure, shown",
    [
        ({"kind": "date", "value": 20230300.0}, "date: 2023-03"),
        ({"kind": "date", "value": 20240312.0}, "date: 2024-03-12"),
        ({"kind": "year", "value": 2023.0, "value_max": 2024.0}, "year: 2023–2024"),
        ({"kind": "year", "value": 2019.0, "value_max": 2019.0}, "year: 2019"),
        ({"kind": "count", "value": 1200.0, "unit": "officer"}, "count: 1,200 officer"),
    ],
)
def test_dates_and_years_are_shown_as_written_not_as_stored(figure, shown):
    assert load_plugin("oversight_display").describe_figure(figure) == shown


def test_fts_queries_are_made_safe_but_keep_their_syntax():
    search = load_plugin("oversight_search")
    assert search.fts_query('"stop and search" OR vetting*') == '"stop and search" OR vetting*'
    assert search.fts_query("stop-and-search") == '"stop-and-search"'
    assert search.fts_query('say "hi') == 'say "hi"'
    # Only what FTS5 cannot read is quoted: the operators around it keep their meaning.
    assert search.fts_query("stop-and-search NOT corruption") == '"stop-and-search" NOT corruption'
    assert search.fts_query("(re-vetting OR vetting*) AND") == '( "re-vetting" OR vetting* )'
    assert search.fts_query("* police") == "police"
    assert search.fts_query("NEAR(vetting failures, 3)") == "NEAR(vetting failures, 3)"
    assert search.fts_query("") == '""'
    assert search.atom_time("2023-10-12") == "2023-10-12T00:00:00+00:00"
    assert search.atom_time("2023-10-12 09:00:00") == "2023-10-12T09:00:00+00:00"
    assert search.atom_time("2023-10-12T09:00:00Z") == "2023-10-12T09:00:00Z"


async def test_locked_down_server_keeps_pages_and_canned_queries_but_not_sql(archive):
    locked = make_datasette(archive, settings={"default_allow_sql": False})
    for path in [
        "/archive/search.json?q=vetting",
        "/archive/new_documents.atom",
        "/archive/figures_search.json?words=officers",
        "/archive/documents.json?_source_kind=news",
        f"/archive/documents/{IOPC_DOC}",
        "/archive/documents?_search=vetting",
        "/archive/alerts.json?watch=vetting",
        "/archive/alerts_feed.atom?watch=vetting",
        "/archive/changed_documents.atom",
        "/archive/figures_to_check.atom",
    ]:
        assert (await locked.client.get(path)).status_code == 200, path
    assert (await locked.client.get("/archive.json?sql=select+1")).status_code == 403
    assert (await locked.client.get("/-/dashboards/oversight")).status_code == 403


@pytest.fixture
def read_only_archive(archive, tmp_path) -> Iterator[Path]:
    """The fixture archive seen through a read-only bind mount: a user who may read the archive
    and its folder but write neither (a colleague's crawl, a shared drive)."""
    shared, view = tmp_path / "shared", tmp_path / "view"
    shared.mkdir()
    view.mkdir()
    source, target = sqlite3.connect(archive), sqlite3.connect(shared / "archive.db")
    source.backup(target)
    source.close()
    target.close()
    mounted = os.geteuid() == 0 and all(
        subprocess.run(command, capture_output=True).returncode == 0
        for command in (
            ["mount", "--bind", str(shared), str(view)],
            ["mount", "-o", "remount,ro,bind", str(view)],
        )
    )
    if not mounted:
        subprocess.run(["umount", "-l", str(view)], capture_output=True)
        pytest.skip("needs root to bind-mount a read-only folder")
    try:
        yield view / "archive.db"
    finally:
        subprocess.run(["umount", "-l", str(view)], capture_output=True)


async def test_an_archive_that_may_only_be_read_is_searched_and_served_unchanged(
    read_only_archive,
):
    result = run_cli("search", "vetting", "--db", str(read_only_archive))
    assert result.returncode == 0, result.stderr
    assert "An inspection of vetting" in result.stdout
    served = make_datasette(read_only_archive)
    rows = await get_json(served, "/archive/search.json?_shape=array&q=vetting")
    assert rows[0]["document_id"] == VETTING_DOC
    assert sorted(p.name for p in read_only_archive.parent.iterdir()) == ["archive.db"]
