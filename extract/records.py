"""The records that cross the boundary between `extract` and the rest of Oversight.

Plain dataclasses, so a caller can store, compare or serialise them without importing anything
else from this package.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Figure:
    """One number found in a text: "118 out of 490 referrals", "£1.2 million", "more than double".

    `start`/`end` are character offsets into the text it was found in; `kind` is one of
    count, percent, ratio, change, money, duration, vague, year, date (see ARCHITECTURE.md).
    """

    text: str
    start: int
    end: int
    kind: str
    value: float | None = None
    value_min: float | None = None
    value_max: float | None = None
    unit: str | None = None
    denominator: float | None = None
    qualifier: str | None = None
    period: str | None = None
    sentence: str = ""
    page: int | None = None


@dataclass
class Link:
    """A link in a document's main content, as written (absolute URL) with its anchor text."""

    url: str
    anchor: str = ""
    page: int | None = None  # the PDF page it is on, from 1; None in an HTML page


@dataclass
class Table:
    """An HTML table from the main content: caption, header cells and body rows."""

    caption: str | None
    header: list[str]
    rows: list[list[str]]


@dataclass
class Image:
    """An image inside a `<figure>` (or with alt text) in the main content."""

    src: str
    alt: str = ""
    caption: str = ""


@dataclass
class Mention:
    """How often a gazetteer entity is named in a document."""

    entity_id: str
    count: int
    surface: str = ""


@dataclass
class Document:
    """What Oversight keeps of one fetched page or PDF."""

    url: str
    content_type: str  # "html" or "pdf"
    title: str | None = None
    text: str = ""
    published: str | None = None  # ISO 8601 date or datetime
    # Where `published` came from, for a reader to weigh it and the archive to rank it against
    # the date a feed or sitemap gave: "page" (declared in markup: meta tags, JSON-LD, <time>),
    # "page text" (written under a label: "Published 3 March 2025"), "page guess" (htmldate's
    # reading of the URL and text), "pdf metadata", "content api" (GOV.UK).
    published_from: str | None = None
    updated: str | None = None
    author: str | None = None
    description: str | None = None
    language: str | None = None
    site_name: str | None = None
    page_starts: list[int] = field(
        default_factory=list
    )  # PDF: offset in `text` where each page starts
    figures: list[Figure] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    withdrawn: str | None = None  # a withdrawal notice, where the page carries one
    canonical_url: str | None = None  # the public URL when fetched elsewhere (GOV.UK Content API)
    # Changes the publisher declared (GOV.UK change_history): {"public_timestamp", "note"}.
    change_history: list[dict] = field(default_factory=list)
    # What was left out of a document that was otherwise read (pages past a limit, markup nested
    # past the parser's depth), one reason each: the archive keeps the document and a failures row.
    omissions: list[str] = field(default_factory=list)

    @property
    def word_count(self) -> int:
        return len(self.text.split())


class ExtractionError(Exception):
    """The input could not be read as a document at all (not HTML, not a readable PDF, ...).

    The message says why, in words a person can act on; the crawler stores it in `failures`.
    """
