"""The one spider: every source's feeds, sitemaps, listings and APIs, by the rules of ARCHITECTURE.md.

Discovery (feeds, sitemaps, listings, APIs) decides what to fetch; this module applies the rules:
each URL at most once per run (tracking parameters removed), the final URL decides whether a
response is a document, `exclude` and `allowed_domains` always win, known documents whose declared
modification date has not moved since their last fetch are skipped, and an incremental run stops
walking a listing where it has nothing new.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler import archive
from crawler.discovery import (
    FEED_UPDATED,
    LISTING,
    Candidate,
    DiscoveryError,
    ListedDate,
    preferred_listed_date,
)
from crawler.discovery.apis import (
    govuk_attachment_links,
    govuk_public_url,
    govuk_search_url,
    parse_govuk_search,
    parse_wordpress_posts,
    wordpress_plain_url,
    wordpress_posts_url,
)
from crawler.discovery.feeds import parse_feed
from crawler.discovery.listings import (
    LinkScreen,
    extract_links,
    extract_pdf_links,
    meta_redirect_target,
    meta_refresh_target,
)
from crawler.discovery.sitemaps import parse_sitemap
from crawler.failures import TRANSIENT_REASONS, TRANSIENT_STATUSES, describe_failure
from crawler.guards import refusal
from crawler.items import FailureItem, NotModifiedItem, SnapshotItem
from crawler.middlewares import stored_response
from crawler.settings import download_slots
from crawler.sources import Source
from extract.links import without_tracking
from extract.sniff import is_pdf

#: Statuses that reach the spider instead of being filtered, so each ends as a row.
HANDLED_STATUSES = [304, *range(400, 600)]
DISCOVERY_ROLES = ("feed", "sitemap", "listing", "api")
UNWANTED_MAX = 200_000  # refused hrefs remembered per source and page kind (~20 MB at most)


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class MonitorSpider(scrapy.Spider):
    name = "monitor"

    def __init__(
        self,
        sources: list[Source],
        db_path: str,
        run_id: int,
        skip_urls: set[str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.sources = {s.id: s for s in sources}
        self.slots = download_slots(sources)
        self.db_path = db_path
        self.db = archive.open_archive(db_path)
        self.run_id = run_id
        self.skip_urls = skip_urls or set()
        self.listing_pages: Counter[str] = Counter()
        self.considered: set[str] = set()
        self.screens: dict[tuple[str, bool], LinkScreen] = {}
        self.skipped_unchanged: list[str] = []  # still listed and unchanged: seen, not fetched
        # Sitemap entries per source this run, and sources whose sitemaps were not all read: only
        # a complete listing can show that a document was taken down.
        self.sitemap_listed: dict[str, set[str]] = {s.id: set() for s in sources}
        self.sitemap_incomplete: set[str] = set()
        self.limit_reported: set[str] = set()
        # Sources whose listing pages this run may stop walking where nothing is new (see
        # `walks_incrementally`), those where it did, and those whose walk was cut short.
        self.listing_before = {
            s.id: archive.listing_walk_before(self.db, s.id, run_id) for s in sources
        }
        self.incremental = {s.id for s in sources if self.walks_incrementally(s)}
        self.listing_stopped: set[str] = set()
        self.listing_cut: set[str] = set()
        # Documents asked for this run that the archive did not hold (see `nothing_new`).
        self.unheld: set[str] = set()
        self.entries_refused: Counter[str] = Counter()
        # Documents asked for without a publication date of their own from a feed, sitemap or
        # API, and the dates that came after the request (see `date_later`).
        self.undated: set[str] = set()
        self.waiting: set[str] = set()  # failing URLs left to wait out their back-off
        self.later_dates: dict[str, ListedDate] = {}
        # Modification dates declared for pages already asked for this run (see `modified_later`).
        self.later_modified: dict[str, str] = {}
        # APIs (source id, configured URL) by the URL of each page asked for, those read to their
        # last page, and those with a page that failed: only a whole listing moves the window
        # of the next incremental run forward.
        self.api_pages: dict[str, tuple[str, str]] = {}
        self.apis_listed: set[tuple[str, str]] = set()
        self.apis_broken: set[tuple[str, str]] = set()
        # API pages read per source, and the entries each API's pages gave this run: an API that
        # ignores its page parameter, or claims a total it never reaches, is paged no further
        # than `max_pages`, nor past a page that brings nothing new.
        self.api_pages_read: Counter[str] = Counter()
        self.api_entries: dict[tuple[str, str], set[str]] = {}

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> MonitorSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.request_dropped, signal=scrapy.signals.request_dropped)
        return spider

    def request_dropped(self, request: scrapy.Request, spider=None) -> None:
        """A redirect back to a URL already in its own chain is a loop: the duplicate filter
        drops it silently, so it is recorded here. A redirect to a page already asked for this
        run (a feed's `/r/1` leading to a page the sitemap lists) is no loop: the feed's date
        goes to that page."""
        chain = request.meta.get("redirect_urls") or []
        source_id = request.meta.get("source_id")
        if source_id and chain and request.url not in chain:
            self.date_later(request.url, _referred(request.meta))
        if source_id and request.url in chain:
            if chain[0] in self.api_pages:
                self.apis_broken.add(self.api_pages[chain[0]])
            reason = f"too many redirects: a redirect loop ({' -> '.join([*chain, request.url])})"[
                :500
            ]
            failure = {
                "url": chain[0],
                "source_id": source_id,
                "role": request.meta.get("role"),
                "reason": reason,
                "at": utcnow(),
                "status": None,
                "run_id": self.run_id,
            }
            archive.write_crawl_batch(self.db, [], [failure], [])
            self.crawler.stats.inc_value("oversight/failures")

    # Requests

    async def start(self) -> AsyncIterator[Any]:
        for source in self.sources.values():
            for item in self.seed_requests(source):
                yield item

    def seed_requests(self, source: Source) -> Iterator[Any]:
        for url in source.feeds:
            yield from self.request(url, source, "feed", seed=True)
        for url in source.sitemaps:
            yield from self.request(url, source, "sitemap", seed=True)
        for url in source.start_urls:
            yield from self.request(url, source, "listing", seed=True)
        for api in source.apis:
            since = archive.api_listed_since(self.db, source.id, api.url)
            if api.type == "govuk-search":
                url = govuk_search_url(api, since[:10] if since else None)
            else:
                url = wordpress_posts_url(api, 1, since)
            yield from self.request(
                url, source, "api", seed=True, api_type=api.type, api_url=api.url
            )
        for url in archive.failed_documents_due(
            self.db, source.id, TRANSIENT_REASONS, TRANSIENT_STATUSES
        ):
            yield from self.request(url, source, "document")

    def request(
        self,
        url: str,
        source: Source,
        role: str,
        seed: bool = False,
        candidate: Candidate | None = None,
        listed_in: tuple[str, str] | None = None,
        **meta: Any,
    ) -> Iterator[Any]:
        """A request for `url`, or a failure row when a seed is refused; links are dropped quietly,
        and a refused entry of a feed, sitemap or API (`listed_in`: its role and URL) is logged.

        Each URL is considered once per run, without its tracking parameters: the same
        navigation links on every page cost one check, `?utm_source=` copies are the page
        itself, and Scrapy's duplicate filter stays the backstop.
        """
        url = without_tracking(url)
        if url in self.considered:
            self.date_later(url, candidate)
            self.modified_later(url, candidate)
            return
        self.considered.add(url)
        if role == "api":
            self.api_pages[url] = (source.id, meta["api_url"])
        reason = refusal(url, source)
        if reason:
            self.crawler.stats.inc_value("oversight/links_refused")
            if listed_in:
                self.refuse_entry(url, source, listed_in, reason)
            if seed or role == "api":
                yield self.failure(source.id, url, role, reason)
            return
        if role == "document":
            if url in self.skip_urls:
                self.crawler.stats.inc_value("oversight/resumed_skip")
                return
            if candidate is not None and self.known_unchanged(url, candidate, source):
                self.crawler.stats.inc_value("oversight/skipped_unchanged")
                self.skipped_unchanged.append(url)
                return
        # A source's entry points and API pages are asked for every run: skipping one quietly
        # would read as a source with nothing new.
        if not seed and role != "api" and self.backing_off(url, candidate):
            if url not in self.waiting:
                self.waiting.add(url)
                self.crawler.stats.inc_value("oversight/backing_off")
            if role == "listing":
                self.listing_cut.add(source.id)
            # Not settled for the run: a sitemap or feed reaching it later may date a change.
            self.considered.discard(url)
            return
        meta.update(
            role=role,
            source_id=source.id,
            download_slot=self.slots[source.id],
            handle_httpstatus_list=HANDLED_STATUSES,
        )
        if role == "document" and not _dates(candidate):
            self.undated.add(url)
        if role == "document" and self.due(url, source):
            self.unheld.add(url)
        if candidate is not None:
            meta["linked_date"] = candidate.published
            meta["linked_date_from"] = candidate.published_from
            meta["declared_modified"] = candidate.modified
        yield scrapy.Request(
            url,
            callback=self.parse,
            errback=self.failed,
            meta=meta,
            priority=10 if role in DISCOVERY_ROLES else 0,
        )

    def refuse_entry(
        self, url: str, source: Source, listed_in: tuple[str, str], reason: str
    ) -> None:
        """A feed, sitemap or API entry the source's rules refuse is named in the run's log and
        counted: unlike a page's links, which are mostly off-site by nature, an entry the site
        lists as its own that is refused means a moved host or an `exclude` too wide."""
        kind, listing = listed_in
        self.entries_refused[source.id] += 1
        self.crawler.stats.inc_value("oversight/entries_refused")
        self.logger.warning(
            "[%s] %s entry refused: %s (listed in %s): %s",
            source.id,
            kind,
            archive.storable_text(url),
            listing,
            reason,
        )

    def walks_incrementally(self, source: Source) -> bool:
        """Whether this run may stop walking the source's listing pages at the first one that
        links only documents the archive holds (docs/sources.md, "Listing pages").

        Only after a walk that reached the end of the listing, or stopped early itself, or hit
        the `max_pages` in force now: after a first run, a killed or stopped one, a listing page
        that failed or a raised `max_pages`, the listing is walked as far as it goes.
        """
        before = self.listing_before[source.id]
        if not source.start_urls or not before or not before["listing_walk"]:
            return False
        limit = before["listing_limit"]
        return limit is None or source.max_pages <= limit

    def listing_walk(self, source: Source) -> str | None:
        """How this finished run left the source's listing pages: "whole", "stopped" (early,
        where nothing was new), "limit" (at `max_pages`), or None when a page of it failed."""
        if not source.start_urls or source.id in self.listing_cut:
            return None
        if source.id in self.limit_reported:
            return "limit"
        return "stopped" if source.id in self.listing_stopped else "whole"

    def listing_limit(self, source: Source, walk: str | None) -> int | None:
        """How many listing pages deep the archive holds the listing after this run: this run's
        `max_pages` when it hit it; the walk before's depth when this one stopped early; None
        (no bound) after a whole walk."""
        if walk == "limit":
            return source.max_pages
        before = self.listing_before[source.id]
        return before["listing_limit"] if walk == "stopped" and before else None

    def date_later(self, url: str, candidate: Candidate | None) -> None:
        """A feed, sitemap or API dating a document first reached without a publication date
        (by a link, or by an Atom entry giving only `updated`): its date is kept all the same,
        whichever came first (see `preferred_listed_date`)."""
        if url not in self.undated or candidate is None or not candidate.published:
            return
        if _dates(candidate):
            self.undated.discard(url)
        offered = (candidate.published, candidate.published_from)
        self.later_dates[url] = preferred_listed_date(self.later_dates.get(url), offered)

    def modified_later(self, url: str, candidate: Candidate | None) -> None:
        """A sitemap, feed or API declaring a modification date for a page already asked for
        this run (an RSS entry, which gives none, reached it first): the date is the page's all
        the same, so an edit it moved is a declared one, and the next run may skip the page
        while the date stays put. The latest date wins."""
        if candidate is not None and candidate.modified:
            self.later_modified[url] = max(candidate.modified, self.later_modified.get(url, ""))

    def declared_modified(self, url: str, meta: dict) -> str | None:
        """The latest modification date declared for `url` this run, so far."""
        dates = [
            d for d in (meta.get("declared_modified"), self.later_modified.pop(url, None)) if d
        ]
        return max(dates) if dates else None

    def known_unchanged(self, url: str, candidate: Candidate, source: Source) -> bool:
        """True when a declared modification date shows no change since the stored copy.

        RSS pubDate never counts: it is a publication date. A document older than the source's
        `recheck_days` is fetched anyway (conditionally) so silent edits are caught.
        """
        if not candidate.modified:
            return False
        state = archive.not_modified_since(self.db, url)
        if not state or not state["last_fetched_at"] or state["last_status"] not in (200, 304):
            return False
        if state["last_run_id"] == self.run_id:
            return False  # fetched moments ago in this run; the duplicate filter drops it
        fetched = _parse_time(state["last_fetched_at"])
        if _recheck_due(fetched, source):
            return False
        if state["declared_modified"]:
            return state["declared_modified"] == candidate.modified
        modified = _parse_time(candidate.modified, end_of_day=True)
        return modified is not None and modified < fetched

    def due(self, url: str, source: Source) -> bool:
        """Whether a known document was last fetched longer ago than `recheck_days` (or never)."""
        state = archive.not_modified_since(self.db, url)
        fetched = state and state["last_fetched_at"] and _parse_time(state["last_fetched_at"])
        return _recheck_due(fetched or None, source)

    def backing_off(self, url: str, candidate: Candidate | None = None) -> bool:
        """Whether a failing URL is waiting out its back-off. A feed or sitemap that dates the page
        differently from when it was last asked for ends the wait: the page may well be back."""
        state = archive.not_modified_since(self.db, url)
        if not (state and state["next_try_at"] and state["next_try_at"] > utcnow()):
            return False
        return not (
            candidate and candidate.modified and candidate.modified != state["declared_modified"]
        )

    # Responses

    def parse(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        source = self.sources[meta["source_id"]]
        role = meta["role"]
        url = meta.get("redirect_urls", [response.url])[0]
        if response.status == 304:
            yield NotModifiedItem(
                url=url,
                final_url=response.url,
                source_id=source.id,
                role=role,
                at=utcnow(),
                declared_modified=self.declared_modified(url, meta),
            )
            if role == "document":
                yield from self.reread_links(response, source)
            return
        if response.status >= 400:
            # Kept as it came (a block page saying why, a "withdrawn" notice), never extracted.
            yield self.snapshot(response, url, source, role)
            plain = wordpress_plain_url(url) if meta.get("api_type") == "wordpress" else None
            if response.status == 404 and plain:
                # No pretty permalinks: the REST API answers only through `?rest_route=`.
                yield from self.request(
                    plain,
                    source,
                    "api",
                    api_type="wordpress",
                    api_url=meta["api_url"],
                    tried_first=url,
                )
                return
            yield self.failure(
                source.id,
                url,
                role,
                _error_reason(response),
                response.status,
                declared_modified=meta.get("declared_modified"),
            )
            return
        final_role = role
        # A GOV.UK Content API item is archived under its public page: either address may be
        # the one `documents` was written for.
        if role in ("listing", "document") and (
            source.is_document(response.url) or source.is_document(govuk_public_url(response.url))
        ):
            final_role = "document"
        elif role == "document":
            final_role = "page"  # redirected somewhere that is not a document: kept, not extracted
        if final_role == "document" and _is_html(response):
            target = meta_redirect_target(response.body, response.url)
            if target and refusal(target, source) is None:
                final_role = "page"  # a "Moved" stub: its target is the document, asked for below
        if meta.get("from_store"):
            # A feed, sitemap or listing that answered 304, read again from its stored copy: the
            # 304 is still recorded, so the source counts as answering.
            yield NotModifiedItem(
                url=url, final_url=response.url, source_id=source.id, role=role, at=utcnow()
            )
        else:
            yield self.snapshot(response, url, source, final_role)
        try:
            yield from self.discover(response, source, role, final_role)
        except DiscoveryError as exc:
            yield self.failure(source.id, url, role, str(exc), response.status)

    def reread_links(self, response: Response, source: Source) -> Iterator[Any]:
        """A document page that answers 304 is read from its stored copy for the documents it
        links to: a report replaced behind an unchanged press release is asked for again
        (conditionally) when the press release is.

        Only linked documents not fetched within the source's `recheck_days` are asked for, so
        304s do not cascade through every "related stories" link of a site on every run.
        """
        if not source.documents or not source.is_document(response.url):
            return
        stored = archive.stored_copy(self.db, response.meta.get("stored_snapshot_id"))
        if stored is None:
            return
        try:
            yield from self.discover(
                stored_response(response, *stored), source, "document", "document", due_only=True
            )
        except DiscoveryError as exc:
            yield self.failure(source.id, response.url, "document", str(exc), response.status)

    def failure(
        self,
        source_id: str,
        url: str,
        role: str | None,
        reason: str,
        status: int | None = None,
        declared_modified: str | None = None,
    ) -> FailureItem:
        """A failures row; a sitemap or API page that could not be read also marks its listing
        incomplete. `declared_modified`: the date a listing gave the page (see `backing_off`)."""
        if role == "sitemap":
            self.sitemap_incomplete.add(source_id)
        elif role == "listing":
            self.listing_cut.add(source_id)
        elif role == "api" and url in self.api_pages:
            self.apis_broken.add(self.api_pages[url])
        return FailureItem(
            url=url,
            source_id=source_id,
            status=status,
            role=role,
            reason=reason,
            at=utcnow(),
            declared_modified=declared_modified,
        )

    def snapshot(self, response: Response, url: str, source: Source, role: str) -> SnapshotItem:
        linked = preferred_listed_date(_listed_date(response.meta), self.later_dates.pop(url, None))
        if linked and url in self.undated:
            # Only a stand-in so far: one that comes later is weighed against it at the close.
            self.later_dates[url] = linked
        headers = {
            k.decode("latin-1"): b", ".join(v).decode("latin-1")
            for k, v in response.headers.items()
        }
        return SnapshotItem(
            url=url,
            final_url=response.url,
            source_id=source.id,
            role=role,
            status=response.status,
            content_type=headers.get("Content-Type"),
            etag=headers.get("Etag") or headers.get("ETag"),
            last_modified=headers.get("Last-Modified"),
            headers=headers,
            body=response.body,
            fetched_at=utcnow(),
            linked_date=linked[0] if linked else None,
            linked_date_from=linked[1] if linked else None,
            declared_modified=self.declared_modified(url, response.meta),
        )

    def discover(
        self,
        response: Response,
        source: Source,
        role: str,
        final_role: str,
        due_only: bool = False,
    ) -> Iterator[Any]:
        """Requests for what `response` lists or links to; `due_only`: of the documents it links
        to, only those due a re-check (see `reread_links`)."""
        body, url = response.body, response.url
        if role == "feed":
            problems: list[str] = []
            for entry in parse_feed(body, url, problems):
                if not entry.enclosure or source.is_document(entry.url):
                    yield from self.request(
                        entry.url, source, "document", candidate=entry, listed_in=(role, url)
                    )
            for problem in problems:
                yield self.failure(source.id, url, role, problem, response.status)
        elif role == "sitemap":
            sitemap = parse_sitemap(body, url)
            for child in sitemap.sitemaps:
                if child.url in (url, response.meta.get("redirect_urls", [url])[0]):
                    # A loop, not a gap: the listing is still whole, so no self.failure().
                    yield FailureItem(
                        url=url,
                        source_id=source.id,
                        status=response.status,
                        role=role,
                        reason="sitemap index lists itself: that entry was ignored",
                        at=utcnow(),
                    )
                    continue
                yield from self.request(child.url, source, "sitemap", listed_in=(role, url))
            for entry in sitemap.urls:
                entry_url = without_tracking(entry.url)
                self.sitemap_listed[source.id].add(entry_url)
                # Entries `documents` leaves out are no news; one it wants but `exclude` or
                # `allowed_domains` refuses is logged by `request`.
                if source.wants_document(entry_url):
                    yield from self.request(
                        entry_url, source, "document", candidate=entry, listed_in=(role, url)
                    )
        elif role == "api":
            yield from self.discover_api(response, source)
        elif _is_pdf(response):
            if final_role == "document" and source.documents:
                yield from self.discover_pdf_links(response, source, due_only)
        elif _is_html(response):
            yield from self.discover_links(response, source, role, final_role, due_only)
        elif final_role == "document" and _is_json(response):
            try:
                attachments = govuk_attachment_links(body, url)
            except DiscoveryError:
                return  # an unreadable item: its extraction records the one failure row
            for attachment in attachments:
                if not due_only or self.due(attachment.url, source):
                    yield from self.request(
                        attachment.url, source, "document", candidate=attachment
                    )

    def discover_api(self, response: Response, source: Source) -> Iterator[Any]:
        if response.meta.get("api_type") == "govuk-search":
            candidates, next_url = parse_govuk_search(response.body, response.url)
        else:
            headers = {
                k.decode("latin-1"): v[0].decode("latin-1") for k, v in response.headers.items()
            }
            candidates, next_url = parse_wordpress_posts(response.body, response.url, headers)
        for candidate in candidates:
            yield from self.request(
                candidate.url,
                source,
                "document",
                candidate=candidate,
                listed_in=("api", response.url),
            )
        api_url = response.meta["api_url"]
        page_url = response.meta.get("redirect_urls", [response.url])[0]
        self.api_pages_read[source.id] += 1
        seen = self.api_entries.setdefault((source.id, api_url), set())
        repeated = bool(candidates) and all(c.url in seen for c in candidates)
        seen.update(c.url for c in candidates)
        if repeated:
            # The listing is not known to be whole, so the next run reads it again from where
            # this one started (`self.failure` marks it broken).
            yield self.failure(
                source.id,
                page_url,
                "api",
                "API page lists only entries its earlier pages gave this run, so its next page "
                "was not asked for: the API ignores its page parameter or overstates its total",
                response.status,
            )
        elif next_url and self.api_pages_read[source.id] >= source.max_pages:
            yield self.failure(
                source.id,
                next_url,
                "api",
                f"API page limit reached ({source.max_pages} pages this run; raise max_pages in "
                "sources.toml if the site really lists that many)",
            )
        elif next_url:
            api_type = response.meta.get("api_type")
            yield from self.request(next_url, source, "api", api_type=api_type, api_url=api_url)
        else:
            self.apis_listed.add((source.id, api_url))

    def discover_links(
        self,
        response: Response,
        source: Source,
        role: str,
        final_role: str,
        due_only: bool = False,
    ) -> Iterator[Any]:
        refresh = meta_refresh_target(response.body, response.url)
        if refresh:
            yield from self.request(refresh, source, role)
        if role == "listing":
            self.listing_pages[source.id] += 1
        reads_links = role == "listing" or (final_role == "document" and source.documents)
        if not reads_links:
            return
        screen = self.link_screen(source, listing=role == "listing")
        documents: list[Candidate] = []
        listings: list[str] = []
        for link in extract_links(response.body, response.url, screen=screen):
            url = without_tracking(link.url)
            if not source.matches_document(url):
                listings.append(url)
            elif not due_only or self.due(url, source):
                # Undated: a PDF takes the date of its publisher's page linking to it once that
                # page is extracted (`archive.date_pdfs_by_linking_pages`).
                documents.append(Candidate(url=url, anchor=link.anchor))
        for candidate in documents:
            yield from self.request(candidate.url, source, "document", candidate=candidate)
        if role == "listing" and listings and self.nothing_new(documents, source):
            self.listing_stopped.add(source.id)
            self.crawler.stats.inc_value("oversight/listing_stopped")
            return
        for url in listings:
            if self.listing_pages[source.id] < source.max_pages:
                yield from self.request(url, source, "listing")
            elif source.id not in self.limit_reported:
                self.limit_reported.add(source.id)
                # The walk is not broken, only bounded: a FailureItem, not self.failure().
                yield FailureItem(
                    url=url,
                    source_id=source.id,
                    role="listing",
                    reason=(
                        f"listing page limit reached ({source.max_pages} pages this run; "
                        "raise max_pages in sources.toml if the site really is that big)"
                    ),
                    at=utcnow(),
                )

    def discover_pdf_links(
        self, response: Response, source: Source, due_only: bool = False
    ) -> Iterator[Any]:
        """A PDF document's links to more documents (a report's annex), asked for as an HTML
        document page's are: those `documents` matches, through the same checks (`request`),
        and with no date of their own."""
        for link in extract_pdf_links(response.body, response.url):
            url = without_tracking(link.url)
            if source.matches_document(url) and (not due_only or self.due(url, source)):
                yield from self.request(url, source, "document", candidate=Candidate(url=url))

    def nothing_new(self, documents: list[Candidate], source: Source) -> bool:
        """Whether an incremental run may stop walking at a listing page: it links documents and
        the archive held every one of them before this run (fetched within `recheck_days`), or
        refuses it. A document a feed asked for first this run is new all the same: a feed of
        the ten newest must not end the walk short of the eleventh. A page linking no document
        at all (a hub) says nothing, and is walked on."""
        if source.id not in self.incremental or not documents:
            return False
        return not any(c.url in self.unheld for c in documents)

    def link_screen(self, source: Source, listing: bool) -> LinkScreen:
        """Which links on a page are worth a request: documents, and listings on a listing page.

        Links already considered this run are refused (except a listing page's documents), and
        the screen remembers refused hrefs so repeated menus cost no parse (see `LinkScreen`).
        """
        key = (source.id, listing)
        if key not in self.screens:

            def wanted(url: str) -> bool:
                url = without_tracking(url)
                if source.matches_document(url):
                    # A listing page's documents all count for `nothing_new`, even those
                    # already asked for this run.
                    return listing or url not in self.considered
                return listing and url not in self.considered and source.is_listing(url)

            self.screens[key] = LinkScreen(wanted, remember=UNWANTED_MAX)
        return self.screens[key]

    def failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request
        source_id = request.meta.get("source_id")
        if source_id is None:
            return
        url = request.meta.get("redirect_urls", [request.url])[0]
        yield self.failure(
            source_id,
            url,
            request.meta.get("role"),
            describe_failure(failure),
            declared_modified=request.meta.get("declared_modified"),
        )

    def closed(self, reason: str) -> None:
        archive.mark_seen(self.db, self.skipped_unchanged, utcnow())
        for source in self.sources.values():
            walk = self.listing_walk(source) if reason == "finished" else None
            archive.record_run_source(
                self.db,
                self.run_id,
                source.id,
                self.entries_refused[source.id],
                walk,
                self.listing_limit(source, walk),
            )
        # Documents stored before a feed, sitemap or API gave their date (see `date_later`).
        archive.date_snapshots(self.db, self.run_id, self.later_dates)
        # Pages fetched before a sitemap or feed declared their modification date.
        archive.declare_modified(self.db, self.run_id, self.later_modified)
        if reason == "finished":
            for source_id, api_url in self.apis_listed - self.apis_broken:
                archive.record_api_listed(self.db, source_id, api_url, self.run_id)
            for source in self.sources.values():
                listed = self.sitemap_listed[source.id]
                if source.sitemaps and listed and source.id not in self.sitemap_incomplete:
                    counts = archive.reconcile_sitemap_listing(
                        self.db, source.id, listed, self.run_id
                    )
                    self.crawler.stats.inc_value("oversight/unlisted", counts["removed"])
        self.db.conn.close()


def _referred(meta: dict) -> Candidate:
    """The dates a request carried from the feed, sitemap or page that listed it."""
    return Candidate(
        url="",
        published=meta.get("linked_date"),
        modified=meta.get("declared_modified"),
        published_from=meta.get("linked_date_from") or LISTING,
    )


def _listed_date(meta: dict) -> ListedDate | None:
    """The date a request carried from the feed, sitemap or API that listed it, and its kind."""
    found = meta.get("linked_date")
    return (found, meta.get("linked_date_from") or LISTING) if found else None


def _error_reason(response: Response) -> str:
    """`HTTP <status>`; for a WordPress REST API missing in both forms, where it was looked for."""
    reason = f"HTTP {response.status}"
    tried_first = response.meta.get("tried_first")
    if tried_first and response.status == 404:
        reason += (
            f" here and at {tried_first}: no WordPress REST API in either form (switched off,"
            " or the api url in sources.toml is wrong)"
        )
    return reason[:500]


def _recheck_due(fetched: datetime | None, source: Source) -> bool:
    """Whether a copy fetched at `fetched` (None: never) is older than the source's
    `recheck_days`, so the page is asked for again whatever its dates say."""
    return fetched is None or datetime.now(UTC) - fetched > timedelta(days=source.recheck_days)


def _dates(candidate: Candidate | None) -> bool:
    """Whether a candidate carries a publication date of its own (a feed's, a sitemap's, an
    API's; not an Atom `updated` standing in for one, which a later listing may better)."""
    return (
        candidate is not None
        and bool(candidate.published)
        and candidate.published_from != FEED_UPDATED
    )


def _is_html(response: Response) -> bool:
    content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
    if "html" in content_type:
        return True
    head = response.body[:512].lstrip().lower()
    return not content_type and (head.startswith(b"<!doctype html") or head.startswith(b"<html"))


def _is_pdf(response: Response) -> bool:
    """A PDF as `extract` reads one, whatever the server called it."""
    return is_pdf(response.body, response.headers.get(b"Content-Type", b"").decode("latin-1"))


def _is_json(response: Response) -> bool:
    content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
    return "json" in content_type


def _parse_time(value: str, end_of_day: bool = False) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    if len(value) <= 10 and end_of_day:
        parsed = parsed + timedelta(days=1)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
