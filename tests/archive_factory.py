"""A small, realistic archive for the publishing tests: every table the Datasette pages show.

Rows are written with sqlite-utils into a database made by `open_archive`, so the schema, FTS
index and triggers are the real ones. One document carries hostile markup in its title, text,
figures, diff, link anchors and table caption, to prove that every page escapes scraped text.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from crawler.archive import open_archive

HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_IMG = "<img src=x onerror=alert(1)>"

IOPC_DOC = 1
VETTING_DOC = 2
WORKFORCE_DOC = 3
NEWS_DOC = 4
HOSTILE_DOC = 5
STOP_SEARCH_DOC = 6

SOURCES = [
    {
        "id": "iopc",
        "name": "Independent Office for Police Conduct",
        "kind": "watchdog",
        "homepage": "https://www.policeconduct.gov.uk/",
        "allowed_domains": json.dumps(["policeconduct.gov.uk"]),
    },
    {
        "id": "hmicfrs",
        "name": "HM Inspectorate of Constabulary and Fire & Rescue Services",
        "kind": "inspectorate",
        "homepage": "https://hmicfrs.justiceinspectorates.gov.uk/",
        "allowed_domains": json.dumps(["justiceinspectorates.gov.uk"]),
    },
    {
        "id": "home-office",
        "name": "Home Office",
        "kind": "government",
        "homepage": "https://www.gov.uk/government/organisations/home-office",
        "allowed_domains": json.dumps(["www.gov.uk"]),
    },
    {
        "id": "politicshome",
        "name": "PoliticsHome",
        "kind": "news",
        "homepage": "https://www.politicshome.com/",
        "allowed_domains": json.dumps(["politicshome.com"]),
    },
    {
        "id": "hostile-news",
        "name": "Hostile Gazette " + HOSTILE_SCRIPT,
        "kind": "news",
        "homepage": "https://hostile.example/",
        "allowed_domains": json.dumps(["hostile.example"]),
    },
]

IOPC_TEXT = (
    "The IOPC received 118 referrals about corruption in 2022/23, out of 490 overall referrals "
    "from forces. That is more than double the amount received for theft.\n\n"
    "Around 40% of the corruption referrals involved abuse of position for a sexual purpose, "
    "and the Metropolitan Police Service made 31 referrals.\n\n"
    "Investigations took an average of 139 days to complete."
)
VETTING_TEXT = (
    "Vetting inspection: how police vetting fails to keep out corrupt officers.\n\n"
    "We found that 19 of the 43 forces had vetting backlogs. Vetting decisions were poorly "
    "recorded, and re-vetting was overdue for 1,200 officers. Vetting units need £1.2 million "
    "more each year to clear the vetting backlog within six months.\n\n"
    "Recommendation: every force should review its vetting procedures by April 2024."
)
WORKFORCE_TEXT = (
    "Police workforce, England and Wales: there were 147,746 full-time equivalent officers "
    "on 31 March 2023, up 3.5% on the previous year. Around one in five officers had less "
    "than two years' service. The Metropolitan Police Service employed 34,000 officers.\n\n"
    "A single mention of vetting appears here."
)
NEWS_TEXT = (
    "Police watchdog says corruption referrals have doubled.\n\n"
    "The Independent Office for Police Conduct said it received 118 referrals about "
    "corruption, out of nearly 500 referrals overall. Campaigners called the figures "
    "alarming, and said the Met must act."
)
HOSTILE_TEXT = (
    "Officers said " + HOSTILE_SCRIPT + " was found in the report.\n\n"
    "There were 42 complaints " + HOSTILE_IMG + " about the unit, and 7 officers were "
    'suspended. <a href="javascript:alert(1)">click</a> & "quotes" \'too\'.'
)
STOP_SEARCH_TEXT = (
    "Stop and search powers were used 529,474 times in the year to March 2023, a fall of "
    "about 8%. Black people were stopped at four times the rate of white people."
)


def _figure(doc_id: int, text: str, span: str, kind: str, **fields: object) -> dict:
    """A figure row whose offsets point at the first occurrence of `span` in `text`."""
    start = text.index(span)
    sentence_start = text.rfind(".", 0, start) + 1
    sentence_end = text.find(".", start)
    sentence = text[sentence_start : sentence_end + 1 if sentence_end >= 0 else None].strip()
    return {
        "document_id": doc_id,
        "text": span,
        "sentence": sentence,
        "kind": kind,
        "start": start,
        "end": start + len(span),
        **fields,
    }


def _documents() -> list[dict]:
    base = {
        "language": "en",
        "version_count": 1,
        "status": "live",
    }
    docs = [
        {
            "id": IOPC_DOC,
            "url": "https://www.policeconduct.gov.uk/news/corruption-referrals-double",
            "source_id": "iopc",
            "content_type": "html",
            "title": "Corruption referrals to the IOPC more than double",
            "author": "IOPC press office",
            "published": "2023-10-12",
            "description": "Annual figures on corruption referrals.",
            "text": IOPC_TEXT,
            "first_seen": "2023-10-12T09:00:00+00:00",
            "last_seen": "2023-11-20T09:00:00+00:00",
            "last_changed": "2023-10-14T09:00:00+00:00",
            "version_count": 2,
        },
        {
            "id": VETTING_DOC,
            "url": "https://assets-hmicfrs.justiceinspectorates.gov.uk/uploads/vetting-inspection.pdf",
            "source_id": "hmicfrs",
            "content_type": "pdf",
            "title": "An inspection of vetting, misconduct and misogyny in the police service",
            "author": "HMICFRS",
            "published": "2022-11-02T10:30:00+00:00",
            "text": VETTING_TEXT,
            "first_seen": "2022-11-02T12:00:00+00:00",
            "last_seen": "2023-11-20T09:00:00+00:00",
            "last_changed": "2022-11-02T12:00:00+00:00",
            "page_starts": json.dumps([0, 180]),
        },
        {
            "id": WORKFORCE_DOC,
            "url": "https://www.gov.uk/government/statistics/police-workforce-england-and-wales-31-march-2023",
            "source_id": "home-office",
            "content_type": "html",
            "title": "Police workforce, England and Wales: 31 March 2023",
            "published": "2023-07-26",
            "text": WORKFORCE_TEXT,
            "first_seen": "2023-07-26T10:00:00+00:00",
            "last_seen": "2023-11-20T09:00:00+00:00",
            "last_changed": "2023-07-26T10:00:00+00:00",
        },
        {
            "id": NEWS_DOC,
            "url": "https://www.politicshome.com/news/article/police-corruption-referrals-doubled",
            "source_id": "politicshome",
            "content_type": "html",
            "title": "Police corruption referrals have doubled, watchdog says",
            "author": "A Reporter",
            "published": "2023-10-13",
            "text": NEWS_TEXT,
            "first_seen": "2023-10-13T08:00:00+00:00",
            "last_seen": "2023-11-20T09:00:00+00:00",
            "last_changed": "2023-10-13T08:00:00+00:00",
        },
        {
            "id": HOSTILE_DOC,
            "url": "https://hostile.example/news/xss?a=1&b=<script>",
            "source_id": "hostile-news",
            "content_type": "html",
            "title": "Hostile " + HOSTILE_SCRIPT + " headline " + HOSTILE_IMG,
            "author": HOSTILE_IMG,
            "published": "2023-11-01",
            "description": HOSTILE_SCRIPT,
            "text": HOSTILE_TEXT,
            "first_seen": "2023-11-01T07:00:00+00:00",
            "last_seen": "2023-11-20T09:00:00+00:00",
            "last_changed": "2023-11-02T07:00:00+00:00",
            "version_count": 2,
        },
        {
            "id": STOP_SEARCH_DOC,
            "url": "https://www.gov.uk/government/statistics/stop-and-search-2023",
            "source_id": "home-office",
            "content_type": "html",
            "title": "Police powers and procedures: stop and search, year ending March 2023",
            "published": "2023-11-16",
            "text": STOP_SEARCH_TEXT,
            "first_seen": "2023-11-16T09:30:00+00:00",
            "last_seen": "2023-11-20T09:00:00+00:00",
            "last_changed": "2023-11-16T09:30:00+00:00",
        },
    ]
    for doc in docs:
        doc["word_count"] = len(doc["text"].split())
        doc["content_hash"] = f"sha256-{doc['id']:04d}"
    return [{**base, **doc} for doc in docs]


def _figures() -> list[dict]:
    rows = [
        _figure(
            IOPC_DOC,
            IOPC_TEXT,
            "118 referrals",
            "count",
            value=118,
            unit="referral",
            period="2022/23",
        ),
        _figure(IOPC_DOC, IOPC_TEXT, "490 overall referrals", "count", value=490, unit="referral"),
        _figure(IOPC_DOC, IOPC_TEXT, "more than double", "change", value=2, qualifier="more than"),
        _figure(IOPC_DOC, IOPC_TEXT, "Around 40%", "percent", value=40, qualifier="around"),
        _figure(IOPC_DOC, IOPC_TEXT, "31 referrals", "count", value=31, unit="referral"),
        _figure(IOPC_DOC, IOPC_TEXT, "139 days", "duration", value=139, unit="day"),
        _figure(
            VETTING_DOC,
            VETTING_TEXT,
            "19 of the 43 forces",
            "count",
            value=19,
            denominator=43,
            unit="force",
            page=1,
        ),
        _figure(
            VETTING_DOC, VETTING_TEXT, "1,200 officers", "count", value=1200, unit="officer", page=1
        ),
        _figure(
            VETTING_DOC, VETTING_TEXT, "£1.2 million", "money", value=1200000, unit="GBP", page=2
        ),
        _figure(VETTING_DOC, VETTING_TEXT, "six months", "duration", value=6, unit="month", page=2),
        _figure(VETTING_DOC, VETTING_TEXT, "April 2024", "date", page=2),
        _figure(
            WORKFORCE_DOC,
            WORKFORCE_TEXT,
            "147,746 full-time equivalent officers",
            "count",
            value=147746,
            unit="officer",
        ),
        _figure(WORKFORCE_DOC, WORKFORCE_TEXT, "3.5%", "percent", value=3.5),
        _figure(
            WORKFORCE_DOC,
            WORKFORCE_TEXT,
            "one in five officers",
            "ratio",
            value=0.2,
            unit="officer",
        ),
        _figure(
            WORKFORCE_DOC, WORKFORCE_TEXT, "34,000 officers", "count", value=34000, unit="officer"
        ),
        _figure(NEWS_DOC, NEWS_TEXT, "118 referrals", "count", value=118, unit="referral"),
        _figure(
            NEWS_DOC,
            NEWS_TEXT,
            "nearly 500 referrals",
            "count",
            value=500,
            unit="referral",
            qualifier="nearly",
        ),
        _figure(
            HOSTILE_DOC,
            HOSTILE_TEXT,
            "42 complaints " + HOSTILE_IMG,
            "count",
            value=42,
            unit="complaint",
        ),
        _figure(HOSTILE_DOC, HOSTILE_TEXT, "7 officers", "count", value=7, unit=HOSTILE_SCRIPT),
        _figure(
            STOP_SEARCH_DOC, STOP_SEARCH_TEXT, "529,474 times", "count", value=529474, unit="time"
        ),
        _figure(
            STOP_SEARCH_DOC, STOP_SEARCH_TEXT, "about 8%", "percent", value=8, qualifier="about"
        ),
        _figure(STOP_SEARCH_DOC, STOP_SEARCH_TEXT, "four times", "change", value=4),
    ]
    for number, figure in enumerate(rows, start=1):
        figure["id"] = number
    return rows


def _versions() -> list[dict]:
    old_iopc = IOPC_TEXT.replace("118 referrals", "117 referrals", 1)
    return [
        {
            "id": 1,
            "document_id": IOPC_DOC,
            "seen_at": "2023-10-12T09:00:00+00:00",
            "content_hash": "sha256-old-1",
            "title": "Corruption referrals to the IOPC double",
            "text": old_iopc,
            "run_id": 1,
            "diff": None,
        },
        {
            "id": 2,
            "document_id": IOPC_DOC,
            "seen_at": "2023-10-14T09:00:00+00:00",
            "content_hash": "sha256-0001",
            "title": "Corruption referrals to the IOPC more than double",
            "text": IOPC_TEXT,
            "run_id": 2,
            "diff": "The IOPC received [-117-]{+118+} referrals about corruption",
            "declared_change": None,
        },
        {
            "id": 3,
            "document_id": HOSTILE_DOC,
            "seen_at": "2023-11-01T07:00:00+00:00",
            "content_hash": "sha256-old-5",
            "title": "Hostile headline",
            "text": "Officers said nothing.",
            "run_id": 1,
        },
        {
            "id": 4,
            "document_id": HOSTILE_DOC,
            "seen_at": "2023-11-02T07:00:00+00:00",
            "content_hash": "sha256-0005",
            "title": "Hostile " + HOSTILE_SCRIPT + " headline " + HOSTILE_IMG,
            "text": HOSTILE_TEXT,
            "run_id": 2,
            "diff": "Officers said [-nothing.-]{+" + HOSTILE_SCRIPT + " " + HOSTILE_IMG + "+}",
            "declared_change": "Corrected " + HOSTILE_IMG,
        },
    ] + [
        {
            "id": 10 + doc_id,
            "document_id": doc_id,
            "seen_at": seen,
            "content_hash": f"sha256-{doc_id:04d}",
            "run_id": 1,
        }
        for doc_id, seen in [
            (VETTING_DOC, "2022-11-02T12:00:00+00:00"),
            (WORKFORCE_DOC, "2023-07-26T10:00:00+00:00"),
            (NEWS_DOC, "2023-10-13T08:00:00+00:00"),
            (STOP_SEARCH_DOC, "2023-11-16T09:30:00+00:00"),
        ]
    ]


ENTITIES = [
    {
        "id": "iopc",
        "name": "Independent Office for Police Conduct",
        "kind": "oversight body",
        "aliases": json.dumps(["IOPC"]),
        "former_names": json.dumps(["IPCC"]),
    },
    {
        "id": "hmicfrs",
        "name": "HM Inspectorate of Constabulary and Fire & Rescue Services",
        "kind": "oversight body",
        "aliases": json.dumps(["HMICFRS"]),
        "former_names": json.dumps(["HMIC"]),
    },
    {
        "id": "metropolitan-police",
        "name": "Metropolitan Police Service",
        "kind": "police force",
        "aliases": json.dumps(["the Met", "Met Police"]),
        "former_names": "[]",
    },
    {
        "id": "home-office",
        "name": "Home Office",
        "kind": "government department",
        "aliases": "[]",
        "former_names": "[]",
    },
    {
        "id": "hostile",
        "name": "Hostile " + HOSTILE_IMG,
        "kind": "police force",
        "aliases": "[]",
        "former_names": "[]",
    },
]

MENTIONS = [
    {"document_id": IOPC_DOC, "entity_id": "iopc", "count": 2},
    {"document_id": IOPC_DOC, "entity_id": "metropolitan-police", "count": 1},
    {"document_id": VETTING_DOC, "entity_id": "hmicfrs", "count": 1},
    {"document_id": WORKFORCE_DOC, "entity_id": "metropolitan-police", "count": 1},
    {"document_id": WORKFORCE_DOC, "entity_id": "home-office", "count": 1},
    {"document_id": NEWS_DOC, "entity_id": "iopc", "count": 1},
    {"document_id": NEWS_DOC, "entity_id": "metropolitan-police", "count": 1},
    {"document_id": HOSTILE_DOC, "entity_id": "hostile", "count": 1},
    {"document_id": STOP_SEARCH_DOC, "entity_id": "home-office", "count": 1},
]

LINKS = [
    {
        "id": 1,
        "document_id": NEWS_DOC,
        "url": "https://www.policeconduct.gov.uk/news/corruption-referrals-double",
        "normalized_url": "https://www.policeconduct.gov.uk/news/corruption-referrals-double",
        "anchor": "said it received",
        "target_document_id": IOPC_DOC,
    },
    {
        "id": 2,
        "document_id": NEWS_DOC,
        "url": "https://campaign.example/report",
        "normalized_url": "https://campaign.example/report",
        "anchor": "Campaigners",
        "target_document_id": None,
    },
    {
        "id": 3,
        "document_id": HOSTILE_DOC,
        "url": "https://assets-hmicfrs.justiceinspectorates.gov.uk/uploads/vetting-inspection.pdf",
        "normalized_url": "https://assets-hmicfrs.justiceinspectorates.gov.uk/uploads/vetting-inspection.pdf",
        "anchor": HOSTILE_SCRIPT,
        "target_document_id": VETTING_DOC,
    },
    {
        "id": 4,
        "document_id": IOPC_DOC,
        "url": "javascript:alert(1)",
        "normalized_url": "javascript:alert(1)",
        "anchor": "bad link",
        "target_document_id": None,
    },
]


def build_archive(path: str | Path, empty: bool = False) -> Path:
    """Create an archive at `path` holding the fixture rows (or only the schema when `empty`)."""
    path = Path(path)
    db = open_archive(path)
    if empty:
        db.conn.close()
        return path
    with db.conn:
        db["sources"].insert_all(SOURCES, pk="id")
        db["runs"].insert_all(
            [
                {
                    "id": 1,
                    "started_at": "2023-10-12T08:55:00+00:00",
                    "finished_at": "2023-10-12T09:05:00+00:00",
                    "status": "ok",
                    "pages_fetched": 40,
                    "not_modified": 0,
                    "documents_new": 5,
                    "documents_changed": 0,
                    "failures": 0,
                },
                {
                    "id": 2,
                    "started_at": "2023-11-20T08:55:00+00:00",
                    "finished_at": "2023-11-20T09:05:00+00:00",
                    "status": "partial",
                    "pages_fetched": 12,
                    "not_modified": 30,
                    "documents_new": 1,
                    "documents_changed": 2,
                    "failures": 1,
                },
            ],
            pk="id",
        )
        db["snapshots"].insert(
            {
                "id": 1,
                "url": LINKS[0]["url"],
                "final_url": LINKS[0]["url"],
                "source_id": "iopc",
                "run_id": 1,
                "role": "document",
                "fetched_at": "2023-10-12T09:00:00+00:00",
                "status": 200,
                "content_type": "text/html",
                "headers": "{}",
                "body": zlib.compress(b"<html>secret snapshot body</html>"),
                "body_size": 33,
                "body_sha256": "x",
                "extracted_at": "2023-10-12T09:00:01+00:00",
            },
            pk="id",
        )
        db["failures"].insert(
            {
                "id": 1,
                "run_id": 2,
                "source_id": "iopc",
                "url": "https://www.policeconduct.gov.uk/gone",
                "status": 404,
                "reason": "HTTP 404 Not Found after 0 retries",
                "at": "2023-11-20T09:00:00+00:00",
            },
            pk="id",
        )
        db["documents"].insert_all(_documents(), pk="id")
        db["versions"].insert_all(_versions(), pk="id")
        db["figures"].insert_all(_figures(), pk="id")
        db["entities"].insert_all(ENTITIES, pk="id")
        db["mentions"].insert_all(MENTIONS, pk=("document_id", "entity_id"))
        db["links"].insert_all(LINKS, pk="id")
        db["figure_checks"].insert_all(
            [
                {
                    "id": 1,
                    "figure_id": 16,
                    "document_id": NEWS_DOC,
                    "cited_document_id": IOPC_DOC,
                    "cited_figure_id": 1,
                    "status": "quoted",
                    "note": "Same value and unit as the cited statement",
                },
                {
                    "id": 2,
                    "figure_id": 17,
                    "document_id": NEWS_DOC,
                    "cited_document_id": IOPC_DOC,
                    "cited_figure_id": 2,
                    "status": "check",
                    "note": "500 here, 490 in the cited statement",
                },
            ],
            pk="id",
        )
        db["tables"].insert(
            {
                "id": 1,
                "document_id": HOSTILE_DOC,
                "position": 0,
                "caption": HOSTILE_SCRIPT,
                "header": json.dumps(["Force", "Complaints"]),
                "rows": json.dumps([[HOSTILE_IMG, "42"]]),
            },
            pk="id",
        )
        db["images"].insert(
            {
                "id": 1,
                "document_id": HOSTILE_DOC,
                "src": "javascript:alert(1)",
                "alt": HOSTILE_IMG,
                "caption": HOSTILE_SCRIPT,
            },
            pk="id",
        )
        db["events"].insert_all(
            [
                {
                    "id": 1,
                    "document_id": IOPC_DOC,
                    "kind": "edited",
                    "at": "2023-10-14T09:00:00+00:00",
                    "run_id": 2,
                    "detail": "Text changed without a declared change note",
                },
                {
                    "id": 2,
                    "document_id": HOSTILE_DOC,
                    "kind": "edited",
                    "at": "2023-11-02T07:00:00+00:00",
                    "run_id": 2,
                    "detail": HOSTILE_IMG,
                },
            ],
            pk="id",
        )
        db["alerts"].insert_all(
            [
                {
                    "id": 1,
                    "watch": "corruption",
                    "document_id": IOPC_DOC,
                    "run_id": 1,
                    "matched_at": "2023-10-12T09:05:00+00:00",
                    "reason": "new",
                },
                {
                    "id": 2,
                    "watch": "corruption",
                    "document_id": NEWS_DOC,
                    "run_id": 1,
                    "matched_at": "2023-10-13T08:05:00+00:00",
                    "reason": "new",
                },
                {
                    "id": 3,
                    "watch": "vetting",
                    "document_id": VETTING_DOC,
                    "run_id": 1,
                    "matched_at": "2022-11-02T12:05:00+00:00",
                    "reason": "new",
                },
                {
                    "id": 4,
                    "watch": "corruption",
                    "document_id": HOSTILE_DOC,
                    "run_id": 2,
                    "matched_at": "2023-11-02T07:05:00+00:00",
                    "reason": "changed",
                },
            ],
            pk="id",
        )
    db.conn.close()
    return path
