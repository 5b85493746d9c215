"""Benchmark: Datasette latency on a large generated archive, against the bare SQLite queries.

    .venv/bin/python tests/benchmarks/bench_datasette.py [--docs 100000] [--repeat 30]

Generates an archive of N documents (about 600 words and 20 figures each, with versions,
mentions and links) into /tmp (cached between runs), then times, in the same run:
- `/archive/documents.json?_search=...` (table search with the default facets),
- the `search` canned query (`/archive/search.json?q=...`, bm25 ranked with snippets),
- a faceted table page (`/archive/documents?source_id=...` in HTML),
each through a real Datasette app (`crawler.serve.make_datasette`, in-process ASGI client), next
to the same SQL run directly with sqlite3: the bare query with sqlite3's default settings, the
same with the server's connection settings ("tuned"), and every query the page runs ("page",
the facet queries built by the facets plugin itself). Prints p50/p95 and the ratios, and the
archive's size on disk per 1,000 documents. Targets: search p95 < 150 ms, Datasette <= 3x bare.
A cached archive is migrated to the current schema (new indexes, statistics) before timing.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import sqlite3
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
FACETS_PLUGIN = REPO / "datasette_config" / "plugins" / "oversight_facets.py"
sys.path.insert(0, str(REPO))

DOMAIN_WORDS = """police officer officers force forces constable sergeant inspector chief
superintendent commissioner misconduct gross corruption referral referrals complaint complaints
investigation investigations inspection report reports vetting misogyny stop search searches
custody death deaths arrest arrests detention firearms taser use of force domestic abuse
violence women girls victims victim witness evidence hearing panel tribunal dismissal dismissed
barred list conduct standards professional integrity recommendation recommendations improvement
failure failures backlog review reviews data figures statistics year annual quarter workforce
recruitment uplift training learning lessons accountability oversight watchdog inspectorate
independent office commissioner crime crimes recorded outcome outcomes charge charged court
magistrates crown prosecution service home secretary minister government policy legislation
act section powers guidance college policing national council chiefs metropolitan london
greater manchester west midlands yorkshire thames valley essex kent merseyside northumbria
hampshire avon somerset devon cornwall sussex surrey lancashire cheshire cumbria durham
cleveland humberside lincolnshire norfolk suffolk cambridgeshire bedfordshire hertfordshire
wiltshire dorset gloucestershire warwickshire staffordshire derbyshire nottinghamshire
leicestershire northamptonshire wales dyfed powys gwent south north east transport british
community communities public confidence trust legitimacy racial disproportionality black
white ethnic minority youth children child safeguarding missing exploitation county lines
drugs knife knives weapon weapons serious organised fraud cyber online harassment stalking
rape sexual offences assault robbery burglary theft anti social behaviour response times
emergency calls 999 101 control room neighbourhood patrol resources budget funding million
billion spending savings efficiency value money""".split()

FILLER = """the of and to in a is that for on was with as by at from be it this are were
which has have had not or an but its their they been more than also would will there said
after all about into over who new other one two three when up out year years some can may
most these such only then them first last over between during before under against while
where between because through per each any both those very well""".split()

UNITS = [
    "referral",
    "officer",
    "complaint",
    "force",
    "arrest",
    "death",
    "investigation",
    "case",
    "victim",
    "search",
    "officers",
    "crime",
]
KINDS = (
    ["count"] * 8
    + ["percent"] * 3
    + ["money", "duration", "year", "date", "ratio", "change", "vague"]
)
QUERIES = [
    "vetting",
    "misconduct hearing",
    "corruption referrals",
    '"stop and search"',
    "domestic abuse",
    "taser",
    "custody death",
    "misogyny",
]


def make_vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    """Domain words plus a long tail of made-up words, with Zipf-like weights."""
    syllables = [
        "ka",
        "lo",
        "mi",
        "ter",
        "son",
        "ra",
        "ven",
        "dal",
        "ish",
        "or",
        "nel",
        "by",
        "ham",
        "ton",
        "ley",
        "wick",
        "ford",
        "bury",
        "ster",
        "ing",
    ]
    tail = {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(6000)}
    # Function words are the most frequent; domain words are spread through the long tail, so
    # "vetting" is in a few per cent of documents, as in a real archive, not in half of them.
    rest = DOMAIN_WORDS + sorted(tail)
    rng.shuffle(rest)
    words = FILLER + rest
    weights = [1.0 / (rank + 8) for rank in range(len(words))]
    return words, weights


def generate(path: Path, docs: int, seed: int = 7) -> None:
    """Write an N-document archive with realistic text lengths, figures, versions and links."""
    from crawler.archive import open_archive

    rng = random.Random(seed)
    words, weights = make_vocabulary(rng)
    db = open_archive(path)
    sources = [
        ("iopc", "Independent Office for Police Conduct", "watchdog"),
        ("hmicfrs", "HMICFRS", "inspectorate"),
        ("home-office", "Home Office", "government"),
        ("npcc", "National Police Chiefs' Council", "police"),
        ("college", "College of Policing", "police"),
        ("politicshome", "PoliticsHome", "news"),
    ]
    db["sources"].insert_all(
        [
            {"id": s, "name": n, "kind": k, "homepage": f"https://{s}.example/"}
            for s, n, k in sources
        ]
    )
    entities = [(f"force-{i}", f"{DOMAIN_WORDS[120 + i].title()} Police") for i in range(45)]
    db["entities"].insert_all(
        [{"id": e, "name": n, "kind": "police force"} for e, n in entities]
        + [{"id": "iopc", "name": "IOPC", "kind": "oversight body"}]
    )
    start_day = date(2012, 1, 1)
    figure_id = 0
    batch = 2000
    started = time.monotonic()
    for first in range(1, docs + 1, batch):
        documents, versions, figures, mentions, links = [], [], [], [], []
        for doc_id in range(first, min(first + batch, docs + 1)):
            n_words = max(120, int(rng.gauss(600, 200)))
            body = rng.choices(words, weights, k=n_words)
            pieces: list[str] = []
            offset = 0
            doc_figures = []
            positions = sorted(rng.sample(range(n_words), min(20, n_words)))
            cursor = 0
            for position in positions:
                chunk = " ".join(body[cursor:position]) + " "
                pieces.append(chunk)
                offset += len(chunk)
                unit = rng.choice(UNITS)
                value = rng.randint(2, 90000)
                span = f"{value:,} {unit}s"
                figure_id += 1
                doc_figures.append(
                    {
                        "id": figure_id,
                        "document_id": doc_id,
                        "text": span,
                        "sentence": chunk[-80:] + span,
                        "value": value,
                        "unit": unit.rstrip("s"),
                        "kind": rng.choice(KINDS),
                        "start": offset,
                        "end": offset + len(span),
                    }
                )
                pieces.append(span + " ")
                offset += len(span) + 1
                cursor = position
            pieces.append(" ".join(body[cursor:]) + ".")
            text = "".join(pieces)
            source = sources[doc_id % len(sources)][0]
            published = start_day + timedelta(days=rng.randint(0, 365 * 13))
            seen = f"{published.isoformat()}T09:00:00+00:00"
            title = " ".join(rng.choices(words, weights, k=rng.randint(6, 14))).capitalize()
            documents.append(
                {
                    "id": doc_id,
                    "url": f"https://{source}.example/news/{doc_id}",
                    "source_id": source,
                    "content_type": "pdf" if doc_id % 9 == 0 else "html",
                    "title": title,
                    "published": published.isoformat(),
                    "language": "en",
                    "text": text,
                    "word_count": n_words,
                    "content_hash": f"{doc_id:016x}",
                    "first_seen": seen,
                    "last_seen": seen,
                    "last_changed": seen,
                    "version_count": 1,
                    "status": "live",
                }
            )
            versions.append(
                {
                    "document_id": doc_id,
                    "seen_at": seen,
                    "content_hash": f"{doc_id:016x}",
                    "title": title,
                    "text": text,
                }
            )
            figures.extend(doc_figures)
            for entity, _ in rng.sample(entities, 3):
                mentions.append(
                    {"document_id": doc_id, "entity_id": entity, "count": rng.randint(1, 5)}
                )
            for _ in range(2):
                target = rng.randint(1, docs)
                links.append(
                    {
                        "document_id": doc_id,
                        "url": f"https://x.example/{target}",
                        "normalized_url": f"https://x.example/{target}",
                        "anchor": "report",
                        "target_document_id": target if source == "politicshome" else None,
                    }
                )
        with db.conn:
            db["documents"].insert_all(documents, batch_size=500)
            db["versions"].insert_all(versions, batch_size=500)
            db["figures"].insert_all(figures, batch_size=2000)
            db["mentions"].insert_all(mentions, batch_size=2000)
            db["links"].insert_all(links, batch_size=2000)
        done = min(first + batch - 1, docs)
        rate = done / (time.monotonic() - started)
        print(f"\r  generated {done:,}/{docs:,} documents ({rate:,.0f}/s)", end="", flush=True)
    print()
    db.execute("analyze")
    db.execute("pragma wal_checkpoint(truncate)")
    db["meta"].upsert({"key": "bench_docs", "value": str(docs)}, pk="key")
    db.conn.close()


def cached_archive(docs: int) -> Path:
    from crawler.archive import open_archive

    path = Path(f"/tmp/oversight-bench-{docs}.db")
    if path.exists():
        conn = sqlite3.connect(path)
        try:
            found = conn.execute("select value from meta where key = 'bench_docs'").fetchone()
        except sqlite3.DatabaseError:
            found = None
        conn.close()
        if found and found[0] == str(docs):
            print(f"using cached archive {path} (migrated to the current schema)")
            open_archive(path).conn.close()
            return path
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    print(f"generating {docs:,} documents into {path} (cached for later runs)")
    generate(path, docs)
    return path


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def time_bare(
    conn: sqlite3.Connection, queries: list[str], params: dict, repeat: int
) -> tuple[list[float], list[float]]:
    """Times of the first query alone (the search itself) and of all of them (the whole page)."""
    first, everything = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        conn.execute(queries[0], params).fetchall()
        middle = time.perf_counter()
        for sql in queries[1:]:
            conn.execute(sql, params).fetchall()
        done = time.perf_counter()
        first.append((middle - started) * 1000)
        everything.append((done - started) * 1000)
    return first, everything


async def time_datasette(ds, path: str, repeat: int, failures: list[str]) -> list[float]:
    """Request times; a request Datasette cut off at its time limit counts with its time."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = await ds.client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            failures.append(f"{path}: HTTP {response.status_code}")
    return samples


SEARCH_SQL = """
select d.id as document_id, d.title,
  replace(snippet(documents_fts, 1, '<mark>', '</mark>', ' … ', 32), char(10), ' ') as snippet,
  s.name as source, s.kind as source_kind, d.published, d.content_type, d.url, d.duplicate_of,
  round(-rank, 3) as relevance
from documents_fts join documents d on d.id = documents_fts.rowid
left join sources s on s.id = d.source_id
where documents_fts match :q and rank match 'bm25(10.0, 1.0)'
order by rank limit 50
"""
TABLE_SEARCH_WHERE = "rowid in (select rowid from documents_fts where documents_fts match :q)"
FACETED_WHERE = "source_id = :source"


def page_queries(ds, where: str, params: dict) -> list[str]:
    """The SQL a documents table page runs: its rows, its count and the two queries counting its
    five default facets, built by the facets plugin itself from the page's SQL."""
    from datasette.utils.asgi import Request

    spec = importlib.util.spec_from_file_location("bench_facets", FACETS_PLUGIN)
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    inner = f"select * from documents where {where}"
    facet = plugin.YearFacet(
        ds,
        Request.fake("/archive/documents"),
        "archive",
        sql=inner,
        table="documents",
        params=params,
        metadata=ds.table_metadata("archive", "documents"),
    )
    return [
        f"{inner} order by published desc, id desc limit 26",
        f"select count(*) from documents where {where}",
        *(query.sql for query in plugin.shared_scan_sql(facet)),
    ]


async def run(docs: int, repeat: int) -> None:
    from crawler.serve import make_datasette

    path = cached_archive(docs)
    size = sum(
        Path(str(path) + s).stat().st_size for s in ("", "-wal") if Path(str(path) + s).exists()
    )
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    counts = {
        q: conn.execute(
            "select count(*) from documents_fts where documents_fts match ?", (q,)
        ).fetchone()[0]
        for q in QUERIES
    }
    figures = conn.execute("select count(*) from figures").fetchone()[0]
    ds = make_datasette(path)
    await ds.client.get("/")
    # The same query on a connection with the server's own SQLite settings, to tell Datasette's
    # overhead from what the settings (memory-mapped reads) save.
    mmap_size = (await ds.execute("archive", "pragma mmap_size")).rows[0][0]
    tuned = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tuned.execute(f"pragma mmap_size = {int(mmap_size)}")

    cases = []
    for query in QUERIES:
        url = f"/archive/documents.json?_search={quote(query)}"
        table_search = page_queries(ds, TABLE_SEARCH_WHERE, {"q": query})
        cases.append(("table _search", query, url, table_search, {"q": query}))
        cases.append(
            ("_search _nofacet", query, url + "&_nofacet=1", table_search[:2], {"q": query})
        )
        cases.append(
            (
                "search query",
                query,
                f"/archive/search.json?q={quote(query)}",
                [SEARCH_SQL],
                {"q": query},
            )
        )
    for source in ["iopc", "politicshome"]:
        cases.append(
            (
                "faceted page",
                f"source_id={source}",
                f"/archive/documents?source_id={source}",
                page_queries(ds, FACETED_WHERE, {"source": source}),
                {"source": source},
            )
        )

    results: dict[str, dict[str, list[float]]] = {}
    print(
        f"\n{docs:,} documents, {figures:,} figures; {repeat} timed requests per case "
        "(after two warm-up requests); Datasette in-process (ASGI client), sqlite3 on the same file\n"
        "bare = the query itself in sqlite3 with default settings; tuned = the same with the\n"
        f"server's settings (mmap_size {mmap_size:,}); page = every query the page runs (rows,\n"
        "count, facets) one after the other, with the server's settings; ratios of p50s\n"
    )
    print(
        f"{'case':17} {'query':22} {'matches':>7} {'ds p50':>7} {'ds p95':>7} "
        f"{'bare p50':>8} {'bare p95':>8} {'tuned p50':>9} {'page p50':>8} {'ds/bare':>7} "
        f"{'ds/tuned':>8} {'ds/page':>7}"
    )
    failures: list[str] = []
    for label, query, url, queries, params in cases:
        await time_datasette(ds, url, 2, [])
        time_bare(conn, queries[:1], params, 2)
        time_bare(tuned, queries, params, 2)
        ds_samples = await time_datasette(ds, url, repeat, failures)
        bare_samples, _ = time_bare(conn, queries[:1], params, repeat)
        tuned_samples, page_samples = time_bare(tuned, queries, params, repeat)
        entry = results.setdefault(label, {"ds": [], "bare": [], "tuned": [], "page": []})
        entry["ds"] += ds_samples
        entry["bare"] += bare_samples
        entry["tuned"] += tuned_samples
        entry["page"] += page_samples
        d50, d95 = percentiles(ds_samples)
        b50, b95 = percentiles(bare_samples)
        t50, _ = percentiles(tuned_samples)
        p50, _ = percentiles(page_samples)
        matches = counts.get(query, "")
        print(
            f"{label:17} {query[:22]:22} {matches!s:>7} {d50:7.1f} {d95:7.1f} {b50:8.1f} "
            f"{b95:8.1f} {t50:9.1f} {p50:8.1f} {d50 / b50:7.2f} {d50 / t50:8.2f} {d50 / p50:7.2f}"
        )
    if failures:
        print(f"\n{len(failures)} requests failed (time limit): {sorted(set(failures))}")
    print("\nall queries pooled (ms):")
    for label, entry in results.items():
        d50, d95 = percentiles(entry["ds"])
        b50, b95 = percentiles(entry["bare"])
        t50, t95 = percentiles(entry["tuned"])
        p50, p95 = percentiles(entry["page"])
        target = " (target p95 < 150)" if "search" in label else ""
        print(
            f"  {label:17} Datasette p50 {d50:6.1f} p95 {d95:6.1f}{target}\n"
            f"  {'':17} bare p50 {b50:6.1f} p95 {b95:6.1f} | tuned p50 {t50:6.1f} p95 {t95:6.1f}"
            f" | page p50 {p50:6.1f} p95 {p95:6.1f}\n"
            f"  {'':17} Datasette/bare p50 {d50 / b50:5.2f}x p95 {d95 / b95:5.2f}x (target <= 3x)"
            f" | Datasette/tuned p50 {d50 / t50:5.2f}x p95 {d95 / t95:5.2f}x"
            f" | Datasette/page p50 {d50 / p50:5.2f}x p95 {d95 / p95:5.2f}x"
        )
    print(
        f"\narchive size: {size / 1e6:,.1f} MB, {size / docs * 1000 / 1e6:,.2f} MB per 1,000 "
        "documents (text, versions, figures, mentions, links, FTS index)"
    )
    conn.close()
    tuned.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} (the shared benchmark folder) is absent")
        return
    asyncio.run(run(args.docs, args.repeat))


if __name__ == "__main__":
    main()
