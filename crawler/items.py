"""What the spider hands to the pipeline: one record per response or failure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SnapshotItem:
    """A response with a body, to be stored compressed with its headers."""

    url: str
    final_url: str
    source_id: str
    role: str  # feed | sitemap | listing | document | api
    status: int
    content_type: str | None
    etag: str | None
    last_modified: str | None
    headers: dict[str, str]
    body: bytes
    fetched_at: str
    linked_date: str | None = (
        None  # publication date given by the page, feed or sitemap linking here
    )
    linked_date_from: str | None = None  # what `linked_date` is (`Candidate.published_from`)
    declared_modified: str | None = None  # modification date the sitemap or feed gave for it


@dataclass
class NotModifiedItem:
    """A 304: the stored copy is still current."""

    url: str
    final_url: str
    source_id: str
    role: str
    at: str
    declared_modified: str | None = None


@dataclass
class FailureItem:
    """Anything that did not end in a stored body: the reason is for a person to act on."""

    url: str
    source_id: str
    reason: str
    at: str
    status: int | None = None
    role: str | None = None
    declared_modified: str | None = None  # the date a listing gave the page asked for
