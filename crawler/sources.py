"""The source registry: `sources.toml` loaded into validated `Source` records.

A bad file is refused with the file, the source id and the field named, because the person who
reads the error is the one editing the TOML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SOURCES = Path(__file__).with_name("sources.toml")
KINDS = ("watchdog", "inspectorate", "government", "police", "news", "ngo")
API_TYPES = ("govuk-search", "wordpress")


@dataclass
class Api:
    """A discovery API: `govuk-search` (GOV.UK Search API) or `wordpress` (WP REST posts)."""

    type: str
    url: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Source:
    """One site Oversight watches, as declared in `sources.toml`."""

    id: str
    name: str
    kind: str
    homepage: str
    allowed_domains: list[str]
    feeds: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    start_urls: list[str] = field(default_factory=list)
    follow: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    apis: list[Api] = field(default_factory=list)
    delay: float = 2.0
    every: str | None = None  # e.g. "6h": how often `oversight watch` crawls this source
    max_pages: int = 500  # listing pages walked per run: a listing that paginates forever stops here
    recheck_days: float = 30.0  # a document unchanged by its dates is re-checked after this age
    unverified: list[str] = field(default_factory=list)  # endpoints nobody has seen answer yet
    notes: str = ""

    def __post_init__(self) -> None:
        self._follow = [re.compile(p) for p in self.follow]
        self._documents = [re.compile(p) for p in self.documents]
        self._exclude = [re.compile(p) for p in self.exclude]

    def is_excluded(self, url: str) -> bool:
        return any(p.search(url) for p in self._exclude)

    def is_document(self, url: str) -> bool:
        """A URL is a document when it matches `documents`, or `documents` is empty."""
        if self.is_excluded(url):
            return False
        return not self._documents or any(p.search(url) for p in self._documents)

    def matches_document(self, url: str) -> bool:
        """True only for an explicit `documents` match (used to pick links worth following)."""
        return not self.is_excluded(url) and any(p.search(url) for p in self._documents)

    def is_listing(self, url: str) -> bool:
        return not self.is_excluded(url) and any(p.search(url) for p in self._follow)
