"""Monitoring behaviour end to end: citations, removals, near-duplicates, stops, schedules, alerts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from crawler.demo import serve_demo_sites
from crawler.siteserver import Site
from tests.conftest import make_sources
from tests.helpers import ROOT, crawl, query, run_cli, scalar


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    with serve_demo_sites(first_host=51) as demo:
        sources = demo.write_sources(tmp / "sources.toml")
        db = tmp / "archive.db"
        crawl(sources, db)
        yield demo, db


def test_news_story_is_linked_to_the_watchdog_statement_it_cites(demo_archive):
    demo, db = demo_archive
    expected = demo.sites["news"].expected()["citations"]
    for citing, cited_urls in expected.items():
        targets = {
            r["url"]
            for r in query(
                db,
                """select d.url from links l join documents c on c.id = l.document_id
                join documents d on d.id = l.target_document_id where c.url = ?""",
                [citing],
            )
        }
        assert set(cited_urls) <= targets, citing


def test_quoted_and_misquoted_figures_are_marked_for_a_journalist(demo_archive):
    demo, db = demo_archive
    checks = query(
        db,
        """select c.url as citing, k.status, f.text as figure, g.text as cited from figure_checks k
        join documents c on c.id = k.document_id
        left join figures f on f.id = k.figure_id left join figures g on g.id = k.cited_figure_id""",
    )
    news = demo.sites["news"]
    quoted = [
        c
        for c in checks
        if c["status"] == "quoted"
        and c["citing"] == news.url("/news/article/police-sexual-misconduct-referrals-double")
    ]
    assert any("147" in (c["figure"] or "") for c in quoted)
    flagged = [
        c
        for c in checks
        if c["status"] == "check"
        and c["citing"] == news.url("/news/article/stop-and-search-payouts-watchdog-review")
    ]
    assert any("1.5" in (c["figure"] or "") and "1.2" in (c["cited"] or "") for c in flagged)


def test_entities_are_recorded_and_named(demo_archive):
    _, db = demo_archive
    assert scalar(db, "select count(*) from entities") > 60
    assert scalar(db, "select count(*) from mentions") > 0


def write_site(folder: Path, pages: dict[str, str]) -> None:
    entries = []
    for slug, text in pages.items():
        page = folder / "stories" / slug / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
        page.write_text(
            f"<!doctype html><html><head><title>{slug}</title></head><body>"
            f"<article><h1>{slug.replace('-', ' ').title()}</h1>{paragraphs}</article></body></html>"
        )
        entries.append(f"<url><loc>{{{{base}}}}/stories/{slug}/</loc></url>")
    (folder / "sitemap.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(entries)
        + "</urlset>"
    )


def site_sources(tmp_path: Path, site: Site, **extra: str) -> Path:
    lines = "\n".join(f"{k} = {v}" for k, v in extra.items())
    path = tmp_path / "sources.toml"
    path.write_text(
        textwrap.dedent(f"""\
        [[sources]]
        id = "wire"
        name = "Wire"
        kind = "news"
        homepage = "{site.url("/")}"
        allowed_domains = ["{site.host}"]
        sitemaps = ["{site.url("/sitemap.xml")}"]
        documents = ['/stories/[a-z0-9-]+/$']
        delay = 0
        """)
        + lines
        + "\n"
    )
    return path


STORY = " ".join(
    f"Sentence {i} of the agency story says the force recorded {i * 7} complaints about officers "
    f"in district {i} during the year, and the commissioner promised a review."
    for i in range(40)
)


def test_syndicated_copy_is_marked_duplicate_of_the_earliest(tmp_path):
    folder = tmp_path / "site"
    other = " ".join(f"An unrelated report about bridges and roads number {i}." for i in range(80))
    write_site(folder, {"original-story": STORY, "unrelated-story": other})
    with Site(folder, host="127.0.0.61") as site:
        sources = site_sources(tmp_path, site)
        db = tmp_path / "archive.db"
        crawl(sources, db)
        copy = STORY.replace("the commissioner promised", "the commissioner has promised", 1)
        site.set_page(
            "/stories/regional-copy/",
            f"<html><head><title>Regional copy</title></head>"
            f"<body><article><h1>Regional copy</h1><p>{copy}</p></article></body></html>",
        )
        sitemap = (
            (folder / "sitemap.xml")
            .read_text()
            .replace("</urlset>", "<url><loc>{{base}}/stories/regional-copy/</loc></url></urlset>")
        )
        site.set_page("/sitemap.xml", site.render_text(sitemap), content_type="application/xml")
        crawl(sources, db)
    rows = {r["url"].rstrip("/").rsplit("/", 1)[1]: r for r in query(db, "select * from documents")}
    assert rows["regional-copy"]["duplicate_of"] == rows["original-story"]["id"]
    assert rows["original-story"]["duplicate_of"] is None
    assert rows["unrelated-story"]["duplicate_of"] is None
    hits = json.loads(run_cli("search", "agency story", "--db", str(db), "--json").stdout)
    assert [h["id"] for h in hits] == [rows["original-story"]["id"]]


def test_document_that_leaves_the_sitemap_is_marked_removed_then_restored(tmp_path):
    folder = tmp_path / "site"
    write_site(folder, {"first-story": STORY, "second-story": STORY.replace("agency", "wire")})
    with Site(folder, host="127.0.0.62") as site:
        sources = site_sources(tmp_path, site)
        db = tmp_path / "archive.db"
        crawl(sources, db)
        full = (folder / "sitemap.xml").read_text()
        without = full.replace("<url><loc>{{base}}/stories/second-story/</loc></url>", "")
        site.set_page("/sitemap.xml", site.render_text(without), content_type="application/xml")
        crawl(sources, db)
        url = site.url("/stories/second-story/")
        doc = query(db, "select * from documents where url = ?", [url])[0]
        assert doc["status"] == "removed" and doc["text"]
        site.set_page("/sitemap.xml", site.render_text(full), content_type="application/xml")
        crawl(sources, db)
    kinds = [
        e["kind"]
        for e in query(db, "select kind from events where document_id = ? order by id", [doc["id"]])
    ]
    assert kinds == ["removed", "restored"]
    assert (
        query(db, "select status from documents where id = ?", [doc["id"]])[0]["status"] == "live"
    )


@pytest.mark.parametrize("feed_first", [False, True], ids=["sitemap only", "an RSS feed first"])
def test_an_edit_whose_sitemap_lastmod_moved_is_declared_and_one_without_is_not(
    tmp_path, feed_first
):
    folder = tmp_path / "site"
    write_site(folder, {"dated-story": STORY, "quiet-story": STORY.replace("agency", "wire")})

    def sitemap(dated: str) -> None:
        (folder / "sitemap.xml").write_text(
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{{{{base}}}}/stories/dated-story/</loc><lastmod>{dated}</lastmod></url>"
            "<url><loc>{{base}}/stories/quiet-story/</loc><lastmod>2024-01-01</lastmod></url>"
            "</urlset>"
        )

    # An RSS feed (which declares no modification dates) listing the same pages, read before
    # the sitemap: the sitemap's lastmod still dates the fetch the feed asked for.
    (folder / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        "<item><link>{{base}}/stories/dated-story/</link></item>"
        "<item><link>{{base}}/stories/quiet-story/</link></item></channel></rss>"
    )
    feeds = {"feeds": '["{{base}}/feed.xml"]'} if feed_first else {}
    with Site(folder, host="127.0.0.63") as site:
        sitemap("2024-01-01")
        if feed_first:
            site.set_route("/sitemap.xml", "delay", seconds=1)
        # Re-checked every run, so the page whose lastmod stays put is fetched again too.
        extra = {k: v.replace("{{base}}", site.url("")) for k, v in feeds.items()}
        sources = site_sources(tmp_path, site, recheck_days="0", **extra)
        db = tmp_path / "archive.db"
        crawl(sources, db)
        for slug in ("dated-story", "quiet-story"):
            page = (folder / "stories" / slug / "index.html").read_text()
            site.set_page(f"/stories/{slug}/", page.replace("Sentence 3 ", "Sentence three "))
        sitemap("2024-02-05")
        crawl(sources, db)
    edits = query(
        db,
        """select d.url, e.detail, v.declared_change from events e
        join documents d on d.id = e.document_id
        join versions v on v.document_id = d.id and v.id = (
            select max(id) from versions where document_id = d.id)
        where e.kind = 'edited' order by d.url""",
    )
    assert [(e["url"].split("/")[-2], e["detail"], e["declared_change"]) for e in edits] == [
        (
            "dated-story",
            "declared: its sitemap, feed or API entry was dated 2024-02-05",
            "its sitemap, feed or API entry was dated 2024-02-05",
        ),
        ("quiet-story", "undeclared edit", None),
    ]


def test_sigterm_finishes_writes_and_marks_the_run_partial(tmp_path):
    folder = tmp_path / "site"
    write_site(folder, {f"story-{i}": STORY.replace("agency", f"agency {i}") for i in range(30)})
    with Site(folder, host="127.0.0.63") as site:
        sources = site_sources(tmp_path, site)
        sources.write_text(sources.read_text().replace("delay = 0", "delay = 0.3"))
        db = tmp_path / "archive.db"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crawler.cli",
                "crawl",
                "--sources",
                str(sources),
                "--db",
                str(db),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "OVERSIGHT_WATCHES": "/nonexistent"},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(site.log) < 6:
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
        fetched = [r for r in site.log if r.path.startswith("/stories/") and r.status == 200]
    assert process.returncode == 0
    run = query(db, "select * from runs")[0]
    assert run["status"] == "partial" and "shutdown" in (run["error"] or "")
    assert scalar(db, "pragma integrity_check") == "ok"
    stored = scalar(db, "select count(*) from snapshots where role = 'document'")
    assert 0 < stored <= len(fetched) < 30


def test_watch_runs_scheduled_crawls_and_stops(tmp_path, fixture_web):
    sources = make_sources(tmp_path, fixture_web["news"])
    db = tmp_path / "archive.db"
    result = run_cli(
        "watch",
        "--every",
        "1s",
        "--max-runs",
        "2",
        "--sources",
        str(sources),
        "--db",
        str(db),
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    runs = query(db, "select status from runs order by id")
    assert len(runs) == 2 and all(r["status"] in ("ok", "partial") for r in runs)


def test_new_documents_matching_a_watch_become_alerts(tmp_path, fixture_web):
    sources = make_sources(tmp_path, fixture_web["watchdog"], fixture_web["news"])
    db = tmp_path / "archive.db"
    watches = tmp_path / "watches.toml"
    watches.write_text('[[watches]]\nname = "vetting"\nquery = "vetting"\n')
    result = run_cli("crawl", "--sources", str(sources), "--db", str(db), "--watches", str(watches))
    assert result.returncode == 0, result.stderr
    alerts = json.loads(run_cli("alerts", "--db", str(db), "--json").stdout)
    matching = {
        r["url"]
        for r in query(
            db,
            "select d.url from documents_fts f join documents d on d.rowid = f.rowid where documents_fts match 'vetting'",
        )
    }
    assert {a["url"] for a in alerts} == matching and matching
    assert {a["reason"] for a in alerts} == {"new"}


def test_documents_fetched_by_one_run_and_extracted_by_the_next_still_alert(tmp_path, fixture_web):
    sources = make_sources(tmp_path, fixture_web["news"])
    db = tmp_path / "archive.db"
    watches = tmp_path / "watches.toml"
    watches.write_text('[[watches]]\nname = "vetting"\nquery = "vetting"\n')
    args = ("crawl", "--sources", str(sources), "--db", str(db), "--watches", str(watches))
    assert run_cli(*args, "--no-extract").returncode == 0
    assert run_cli(*args).returncode == 0
    alerts = json.loads(run_cli("alerts", "--db", str(db), "--json").stdout)
    matching = {
        r["url"]
        for r in query(
            db,
            "select d.url from documents_fts f join documents d on d.rowid = f.rowid where documents_fts match 'vetting'",
        )
    }
    assert {a["url"] for a in alerts} == matching and matching
    runs = query(db, "select documents_new from runs order by id")
    assert [r["documents_new"] for r in runs] == [0, scalar(db, "select count(*) from documents")]


@pytest.mark.parametrize("problem", ["broken", "missing"])
def test_a_bad_or_missing_watches_file_is_refused_before_crawling(tmp_path, fixture_web, problem):
    sources = make_sources(tmp_path, fixture_web["news"])
    watches = tmp_path / "watches.toml"
    if problem == "broken":
        watches.write_text('[[watches]]\nname = "broken"\nquery = "-- * ()"\n')
    result = run_cli(
        "crawl",
        "--sources",
        str(sources),
        "--db",
        str(tmp_path / "a.db"),
        "--watches",
        str(watches),
    )
    assert result.returncode == 2
    if problem == "broken":
        assert "broken" in result.stderr
    else:
        assert result.stderr == f"error: {watches}: no such watches file (--watches)\n"
    assert fixture_web["news"].log == []


def statement_page(referrals: int, opening: str = "") -> str:
    """A watchdog statement: figures, a table and a link; `opening` is a paragraph added above."""
    return (
        "<!doctype html><html><head><title>Corruption referrals</title></head><body><article>"
        f"<h1>Corruption referrals</h1>{opening}<p>The watchdog today published its annual "
        f"corruption report.</p><p>{referrals} of 490 corruption referrals were for abuse of "
        "position for a sexual purpose, more than double those for theft.</p><p>Forces made "
        "1,250 referrals in total in 2023/24, around 15% more than the year before.</p>"
        "<table><caption>Referrals by force</caption><tr><th>Force</th><th>Referrals</th></tr>"
        "<tr><td>Kent Police</td><td>52</td></tr></table><p>Read <a href='https://www.gov.uk/"
        "annual-report'>the annual report</a>.</p></article></body></html>"
    )


NEWS_STORY = (
    "<!doctype html><html><head><title>Misconduct referrals double</title>"
    '<meta property="article:published_time" content="2025-03-01"></head><body><article>'
    "<h1>Misconduct referrals double</h1><p>Police watchdog figures show 118 of 490 corruption "
    "referrals were for abuse of position for a sexual purpose, more than double those for "
    "theft, according to <a href='{{base}}/stories/statement/'>the watchdog's statement</a>."
    "</p></article></body></html>"
)
OPENING = "<p>Director General Jane Doe said 42 officers must act faster on the findings.</p>"
EDITED_ROWS = {
    "figures": "select f.id, f.text, f.start from figures f join documents d on d.id = "
    "f.document_id where d.url like '%/statement/' order by f.id",
    "links": "select id, url, target_document_id from links order by id",
    "tables": "select id, caption from tables order by id",
    "checks": "select figure_id, cited_figure_id, status, note, cited_version_id, "
    "cited_edited_at from figure_checks order by figure_id",
}


@pytest.fixture(scope="module")
def edited_statement(tmp_path_factory):
    """A story quotes a statement; the watchdog then edits it (a paragraph added above the
    figures, 118 changed to 121) and the next crawl and a full re-extraction see the edit.
    Yields the archive and its rows after each step: "first", "edited" and "rebuilt"."""
    tmp = tmp_path_factory.mktemp("edited")
    folder = tmp / "site"
    for slug, page in (("statement", statement_page(118)), ("story", NEWS_STORY)):
        (folder / "stories" / slug).mkdir(parents=True)
        (folder / "stories" / slug / "index.html").write_text(page)
    (folder / "sitemap.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>{{base}}/stories/statement/</loc></url>"
        "<url><loc>{{base}}/stories/story/</loc></url></urlset>"
    )
    db = tmp / "archive.db"
    steps: dict[str, dict[str, list[dict]]] = {}
    with Site(folder, host="127.0.0.65") as site:
        sources = site_sources(tmp, site)
        crawl(sources, db)
        steps["first"] = {name: query(db, sql) for name, sql in EDITED_ROWS.items()}
        site.set_page("/stories/statement/", statement_page(121, OPENING))
        crawl(sources, db)
        steps["edited"] = {name: query(db, sql) for name, sql in EDITED_ROWS.items()}
    rebuilt = run_cli("extract", "--all", "--db", str(db))
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    steps["rebuilt"] = {name: query(db, sql) for name, sql in EDITED_ROWS.items()}
    yield db, steps, rebuilt.stdout + rebuilt.stderr


def test_a_quote_stays_quoted_when_the_cited_statement_is_edited_after_the_story(
    edited_statement,
):
    db, steps, _ = edited_statement
    versions = query(
        db,
        "select v.id, v.seen_at from versions v join documents d on d.id = v.document_id "
        "where d.url like '%/statement/' order by v.id",
    )
    assert len(versions) == 2
    now = {f["text"]: f["id"] for f in steps["edited"]["figures"]}
    was = {f["text"]: f["id"] for f in steps["first"]["figures"]}
    checks = {c["cited_figure_id"]: c for c in steps["edited"]["checks"]}
    quote = checks[now["121 of 490"]]
    assert (quote["status"], quote["cited_version_id"]) == ("quoted", versions[0]["id"])
    assert quote["note"] == (
        f"matches the version seen {versions[0]['seen_at'][:10]}; "
        f"edited {versions[1]['seen_at'][:10]} to 121"
    )
    assert quote["cited_edited_at"] == versions[1]["seen_at"]
    # The figure the edit left alone is quoted as before, with nothing to add.
    double = checks[now["more than double"]]
    assert (double["status"], double["note"], double["cited_edited_at"]) == ("quoted", "", None)
    assert [c["cited_figure_id"] for c in steps["first"]["checks"]] == [
        was["118 of 490"],
        was["more than double"],
    ]


def test_figures_the_edit_left_alone_keep_their_ids_and_new_ones_get_new_ids(edited_statement):
    _, steps, _ = edited_statement
    was = {f["text"]: f for f in steps["first"]["figures"]}
    now = {f["text"]: f for f in steps["edited"]["figures"]}
    for kept in ("more than double", "1,250", "around 15%", "2023/24"):
        assert now[kept]["id"] == was[kept]["id"], kept
        assert now[kept]["start"] > was[kept]["start"], kept
    assert "118 of 490" not in now
    newest = max(f["id"] for f in steps["first"]["figures"])
    assert now["121 of 490"]["id"] > newest and now["42"]["id"] > newest
    assert steps["edited"]["links"] == steps["first"]["links"]
    assert steps["edited"]["tables"] == steps["first"]["tables"]


def test_a_full_re_extraction_after_an_edit_keeps_every_id_and_check(edited_statement):
    db, steps, output = edited_statement
    assert "3 unchanged" in output
    assert steps["rebuilt"] == steps["edited"]
    dangling = """select count(*) from figure_checks where cited_figure_id not in
        (select id from figures) or figure_id not in (select id from figures)
        or cited_version_id not in (select id from versions)"""
    assert scalar(db, dangling) == 0


async def test_a_journalist_sees_the_quote_and_the_edit_since_in_datasette(edited_statement):
    from crawler.serve import make_datasette

    db, _, _ = edited_statement
    ds = make_datasette(db)
    response = await ds.client.get("/archive/citations.json?_shape=array&source=")
    assert response.status_code == 200, response.text[:500]
    [citation] = response.json()
    counts = ("figures_quoted", "figures_to_check", "figures_edited_since")
    assert {k: citation[k] for k in counts} == {
        "figures_quoted": 2,
        "figures_to_check": 0,
        "figures_edited_since": 1,
    }
    page = await ds.client.get(f"/archive/documents/{citation['citing_document_id']}")
    assert "edited" in page.text and "to 121" in page.text


VERSIONS_SQL = "select id, document_id, snapshot_id, content_hash from versions order by id"


@pytest.fixture(scope="module")
def reread_history(tmp_path_factory):
    """Two stories crawled, the one whose version came first edited and crawled again (so its new
    version has the largest id), then its older snapshot made to read differently, as an
    upgraded extractor would, and `oversight extract --all` run; then a third edit is crawled.
    Yields the archive, the edited story's first row, the versions before the rebuild, the
    rebuild's output and the versions after it."""
    from crawler import archive

    tmp = tmp_path_factory.mktemp("reread")
    folder = tmp / "site"
    write_site(folder, {"first-story": STORY, "second-story": STORY.replace("agency", "wire")})
    db = tmp / "archive.db"
    with Site(folder, host="127.0.0.73") as site:
        sources = site_sources(tmp, site)
        crawl(sources, db)
        [first] = query(
            db,
            """select d.id, d.url, v.snapshot_id from versions v
            join documents d on d.id = v.document_id order by v.id limit 1""",
        )
        path = "/" + first["url"].split("/", 3)[3]
        page = (folder / path.strip("/") / "index.html").read_text()
        site.set_page(path, page.replace("Sentence 3 ", "Sentence three "))
        crawl(sources, db)
        before = query(db, VERSIONS_SQL)
        stored = archive.open_archive(db)
        [(body,)] = stored.execute(
            "select body from snapshots where id = ?", [first["snapshot_id"]]
        ).fetchall()
        reread = archive.decompress(body).replace(b"Sentence 5 ", b"Sentence five ")
        archive.update_row(
            stored, "snapshots", first["snapshot_id"], {"body": archive.compress(reread)}
        )
        stored.conn.close()
        rebuilt = run_cli("extract", "--all", "--db", str(db))
        after = query(db, VERSIONS_SQL)
        page = page.replace("Sentence 3 ", "Sentence three ")
        site.set_page(path, page.replace("Sentence 7 ", "Sentence seven "))
        crawl(sources, db)
    yield db, first, before, rebuilt, after


def test_a_full_re_extraction_stores_every_version_when_an_older_one_reads_differently(
    reread_history,
):
    """The older version, read anew, must not take the id the newer one keeps."""
    db, first, before, rebuilt, after = reread_history
    assert [v["document_id"] for v in before] == [
        first["id"],
        before[1]["document_id"],
        first["id"],
    ]
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert "0 failed" in rebuilt.stdout, query(db, "select reason from failures")
    assert scalar(db, "select count(*) from failures where reason like 'could not store%'") == 0
    # The versions that came out the same keep their ids; the one that changed takes a new one.
    assert len(after) == 3 and after[:2] == before[1:]
    assert after[2]["snapshot_id"] == first["snapshot_id"]
    assert after[2]["id"] > before[2]["id"]


def test_an_edit_after_a_re_extraction_is_compared_with_the_version_seen_last(reread_history):
    """After the rebuild the version seen last no longer has the largest id."""
    db, first, _, _, after = reread_history
    versions = query(
        db,
        "select id, diff from versions where document_id = ? order by seen_at, id",
        [first["id"]],
    )
    assert [v["id"] for v in versions[:2]] == [after[2]["id"], after[1]["id"]]
    diff = versions[2]["diff"]
    assert "seven" in diff and "three" not in diff and "five" not in diff, diff
    assert scalar(db, "select documents_changed from runs order by id desc limit 1") == 1
    # Source health counts the first version seen as the new one, whatever its id.
    from crawler import archive

    stored = archive.open_archive(db, create=False)
    since = scalar(db, "select seen_at from versions where id = ?", [after[1]["id"]])
    assert archive.version_changes_since(stored, since) == {"wire": {"new": 0, "changed": 2}}
    stored.conn.close()
