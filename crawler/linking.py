"""Cross-document work after extraction: citations, quoted-figure checks and near-duplicates."""

from __future__ import annotations

import sqlite_utils

from crawler import archive
from crawler.archive import FIGURE_COLUMNS
from extract.records import Figure


def resolve_citations(db: sqlite_utils.Database) -> int:
    """Link citing documents to archived targets, then compare the figures of each new pair."""
    from extract.citations import compare_figures

    archive.resolve_links(db)
    archive.date_pdfs_by_linking_pages(db)
    pairs = archive.citation_pairs_without_checks(db)
    for citing_id, cited_id in pairs:
        citing = archive.figures_of(db, citing_id)
        cited = archive.figures_of(db, cited_id)
        checks = compare_figures([_figure(f) for f in citing], [_figure(f) for f in cited])
        archive.replace_figure_checks(
            db,
            citing_id,
            cited_id,
            [
                {
                    "figure_id": citing[c.citing_index]["id"],
                    "cited_figure_id": cited[c.cited_index]["id"],
                    "status": c.status,
                    "note": c.note,
                }
                for c in checks
            ],
        )
    return len(pairs)


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
