"""Cross-document work after extraction: citations, quoted-figure checks and near-duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, time

import sqlite_utils

from crawler import archive
from crawler.archive import FIGURE_COLUMNS
from extract.citations import CitedVersion, FigureCheck
from extract.records import Figure


def resolve_citations(db: sqlite_utils.Database) -> int:
    """Link citing documents to archived targets, then compare the figures of each new pair.

    A citing document is checked against the version of the cited one that was live when it
    was published (`live_versions`), and told of the edits since (`compare_across_versions`).
    """
    from extract.citations import compare_across_versions

    archive.resolve_links(db)
    archive.date_pdfs_by_linking_pages(db)
    pairs = archive.citation_pairs_without_checks(db)
    # Older versions are read (and their figures found) once, however many stories cite them.
    older: dict[int, CitedVersion] = {}
    for citing_id, cited_id in pairs:
        citing_rows = archive.figures_of(db, citing_id)
        cited_rows = archive.figures_of(db, cited_id)
        citing = [_figure(f) for f in citing_rows]
        history = archive.versions_seen(db, cited_id)
        current = CitedVersion(
            history[-1]["seen_at"] if history else "", figures=[_figure(f) for f in cited_rows]
        )
        candidates = live_versions(
            [v["seen_at"] for v in history], archive.citing_date(db, citing_id)
        )
        first = candidates[0]
        chain = [_older(db, v, older) for v in history[first:-1]] + [current]
        live = candidates[-1]
        if len(candidates) > 1:
            live = max(candidates, key=lambda k: (_quotes(citing, chain[k - first]), k))
        archive.replace_figure_checks(
            db,
            citing_id,
            cited_id,
            [
                _check_row(c, citing_rows, cited_rows)
                for c in compare_across_versions(citing, chain[live - first :])
            ],
            history[live]["id"] if history else None,
        )
    return len(pairs)


def live_versions(seen: list[str], published: str | None) -> list[int]:
    """Which of a document's versions (their `seen_at`, oldest first) may have been live when a
    document citing it was published.

    At a moment, one: the last seen by then, or the first when the citing document is older
    than the archive's copy (the earliest version is the best evidence of what it said). A date
    without a time leaves its day open: every version live at some time that day (a version is
    seen only at the crawl after it went up, and a same-day correction may come before or after
    the story). The current version when the date cannot be read, or there are no versions.
    """
    span = _span(published)
    if not seen or span is None:
        return [max(len(seen) - 1, 0)]
    moments = [_moment(at) for at in seen]

    def live_at(moment: datetime) -> int:
        earlier = [k for k, at in enumerate(moments) if at is not None and at <= moment]
        return earlier[-1] if earlier else 0

    return list(range(live_at(span[0]), live_at(span[1]) + 1))


def _span(published: str | None) -> tuple[datetime, datetime] | None:
    moment = _moment(published)
    if moment is None or published is None:
        return None
    if len(published) > len("2025-03-01"):
        return moment, moment
    return moment, datetime.combine(moment.date(), time.max, tzinfo=UTC)


def _moment(value: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _quotes(citing: list[Figure], version: CitedVersion) -> int:
    """How many of the citing figures this version bears out: the one of a publication day's
    versions the citing document was most likely written from bears out the most."""
    from extract.citations import compare_figures

    return sum(c.status == "quoted" for c in compare_figures(citing, version.read()))


def _older(db: sqlite_utils.Database, version: dict, read: dict[int, CitedVersion]) -> CitedVersion:
    if version["id"] not in read:
        text = archive.version_text(db, version["id"])
        read[version["id"]] = CitedVersion(version["seen_at"], text)
    return read[version["id"]]


def _check_row(check: FigureCheck, citing: list[dict], cited: list[dict]) -> dict:
    return {
        "figure_id": citing[check.citing_index]["id"],
        "cited_figure_id": None if check.cited_index is None else cited[check.cited_index]["id"],
        "status": check.status,
        "note": check.note,
        "cited_edited_at": check.edited,
    }


def _figure(row: dict) -> Figure:
    return Figure(**{k: row[k] for k in FIGURE_COLUMNS})


def mark_near_duplicates(db: sqlite_utils.Database, touched: set[int]) -> int:
    """Mark each new or changed document `duplicate_of` the earliest similar copy, if any.

    The MinHash LSH index answers each lookup without comparing against every document, so the
    cost per document stays flat as the archive grows.
    """
    from extract.similarity import NearDuplicateIndex

    if not touched:
        return 0
    index = NearDuplicateIndex()
    order: dict[int, int] = {}
    marks: list[tuple[int, int | None]] = []
    for position, (document_id, minhash) in enumerate(archive.signatures(db)):
        order[document_id] = position
        if document_id in touched:
            earlier = [c for c in index.query(minhash) if c != document_id]
            original = min(earlier, key=order.__getitem__) if earlier else None
            marks.append((document_id, original))
        index.add(document_id, minhash)
    archive.set_duplicate_of(db, marks)
    return sum(1 for _, original in marks if original is not None)
