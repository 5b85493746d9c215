"""Downloader middlewares: where a request may go, and what it may ask conditionally.

Each is small, built from the crawler, and counts what it does under `oversight/...` in the stats,
so the run record is assembled from stats rather than counters threaded through the code.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crawler import archive
from crawler.failures import describe_failure, redirect_refused
from crawler.guards import refusal, resolves_private
from extract.links import without_tracking

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class OutsideAllowedDomains(IgnoreRequest):
    """A request (often a redirect target) that the source's rules refuse."""


class DomainGuardMiddleware:
    """Refuses any request, redirects included, that its source's rules forbid.

    Scrapy's own offsite middleware knows one list of domains per spider; here each request carries
    its source, and private addresses are refused too.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DomainGuardMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider=None) -> None:
        source_id = request.meta.get("source_id")
        if source_id is None:  # robots.txt, fetched on behalf of an already-allowed request
            reason = robots_redirect_refusal(request)
            if reason:
                self.stats.inc_value("oversight/refused")
                raise OutsideAllowedDomains(reason)
            return None
        source = self.crawler.spider.sources[source_id]
        reason = refusal(request.url, source)
        if reason:
            self.stats.inc_value("oversight/refused")
            redirected = request.meta.get("redirect_urls")
            if redirected:
                reason = f"redirect from {redirected[0]} refused: {reason}"
            raise OutsideAllowedDomains(reason)
        return None


def robots_redirect_refusal(request: Request) -> str | None:
    """Why a redirect of robots.txt must not be followed (RFC 9309 lets it cross hosts).

    It may not leave http(s), nor lead from a public host to a private or loopback address
    (cloud metadata, the crawling machine itself): a robots.txt is fetched for every host a
    source reaches, so this would otherwise be a way in.
    """
    chain = request.meta.get("redirect_urls")
    if not chain:
        return None
    parts = urlsplit(request.url)
    if parts.scheme not in ("http", "https"):
        return f"robots.txt redirect from {chain[0]} refused: not an http(s) URL"
    host = (parts.hostname or "").lower()
    origin = (urlsplit(chain[0]).hostname or "").lower()
    if resolves_private(host) and not resolves_private(origin):
        return (
            f"robots.txt redirect from {chain[0]} refused: {host} is a private or loopback address"
        )
    return None


class TrackingFreeRedirectMiddleware(RedirectMiddleware):
    """Scrapy's redirects, to the target without its tracking parameters (utm_*, fbclid, ...).

    A feed's `/r/1` that redirects to `/article/1?utm_source=feed` then lands on `/article/1`,
    which the duplicate filter, the domain guard and the archive all see as the one page it is.
    A server that redirects a page to its own tracking copy is followed as it asks: stripping
    the parameters would send the crawl round in a loop.
    """

    def process_response(
        self, request: Request, response: Response, spider=None
    ) -> Request | Response:
        try:
            result = super().process_response(request, response)
        except ValueError:
            # Scrapy cannot even build a request for a Location without "://" (`javascript:`,
            # `mailto:`): the 3xx goes on as one to `file:` or `ftp:` does, to be refused
            # naming its Location (`failures.redirect_refused`), not as "Missing scheme".
            return response
        if not isinstance(result, Request):
            return result
        target = without_tracking(result.url)
        if target in (*result.meta.get("redirect_urls", ()), result.url):
            return result
        return result.replace(url=target)


class RobotsRulesMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt handling, with RFC 9309's answer when robots.txt cannot be read.

    A 404 (or other 4xx) means there are no rules. A 5xx (after retries), a timeout, a DNS or
    connection failure, a refused redirect or an oversized file mean the site's rules are
    unknown, so nothing on that host is fetched this run ("MUST assume complete disallow",
    section 2.3.1.4); so does a 401 or 403, which says the site does not want robots there
    (as `oversight sources --check` reads it too). Each request refused says why in its
    `failures` row; the next run asks again.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        logging.getLogger(RobotsTxtMiddleware.__module__).addFilter(_ROBOTS_TRACEBACKS)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status >= 500 or response.status in (401, 403):
            self._unreadable(netloc, f"HTTP {response.status}")
            return
        if 300 <= response.status < 400:
            # A redirect that was not followed (to `javascript:`, `ftp:`, or no Location): the
            # rules could not be reached, which is not the "no rules" of a 404.
            self._unreadable(netloc, redirect_refused(response))
            return
        if response.status >= 400:
            response = response.replace(body=b"")
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc).__name__}")
        self._unreadable(netloc, describe_failure(Failure(exc)))

    def _unreadable(self, netloc: str, why: str) -> None:
        self._stats.inc_value("oversight/robots_unreadable")
        rules = _NothingAllowed(
            f"robots.txt unreadable ({why}): nothing on {netloc} is fetched this run (RFC 9309)"
        )
        logger.warning("%s", rules.reason)
        waiting = self._parsers[netloc]
        self._parsers[netloc] = rules
        if isinstance(waiting, Deferred):
            waiting.callback(rules)

    def process_request_2(self, rp, request: Request) -> None:
        if isinstance(rp, _NothingAllowed):
            self._stats.inc_value("robotstxt/forbidden")
            raise IgnoreRequest(rp.reason)
        super().process_request_2(rp, request)


class _RobotsTracebacks(logging.Filter):
    """Drops Scrapy's record of a robots.txt it could not fetch (a bad Content-Encoding, a
    refused connection), a full traceback in the run's log: `RobotsRulesMiddleware` logs the
    same event in one line that says why and what follows from it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Error downloading")


_ROBOTS_TRACEBACKS = _RobotsTracebacks()


class _NothingAllowed:
    """The rules of a host whose robots.txt could not be read: none of it may be fetched."""

    def __init__(self, reason: str):
        self.reason = reason

    def allowed(self, url: str, user_agent: str) -> bool:
        return False


class ConditionalRequestMiddleware:
    """Re-fetches of known URLs ask `If-None-Match` / `If-Modified-Since` from their stored copy.

    Never for robots.txt (an empty 304 would read as "allow everything"). A 304 for a feed,
    sitemap or listing is swapped for its stored copy so its links are read again (a document's
    304 reaches the spider, which reads its stored copy for the documents it links to).
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        self.db = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        return cls(crawler)

    def spider_opened(self, spider) -> None:
        self.db = spider.db

    def process_request(self, request: Request, spider=None) -> None:
        if "role" not in request.meta or request.meta.get("conditional_for") == request.url:
            return None
        # Asked again for each redirect target, whose stored copy is not the original URL's.
        request.meta["conditional_for"] = request.url
        for header in ("If-None-Match", "If-Modified-Since"):
            request.headers.pop(header, None)
        request.meta.pop("stored_snapshot_id", None)
        state = archive.not_modified_since(self.db, request.url) if self.db is not None else None
        if not state or not state["last_snapshot_id"]:
            return None
        request.meta["stored_snapshot_id"] = state["last_snapshot_id"]
        if state["etag"]:
            request.headers["If-None-Match"] = state["etag"]
        if state["last_modified"]:
            request.headers["If-Modified-Since"] = state["last_modified"]
        return None

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        if response.status != 304 or "role" not in request.meta:
            return response
        self.stats.inc_value("oversight/not_modified")
        snapshot_id = request.meta.get("stored_snapshot_id")
        if request.meta["role"] == "document" or not snapshot_id:
            return response
        stored = archive.stored_copy(self.db, snapshot_id)
        if stored is None:
            return response
        request.meta["from_store"] = True
        return stored_response(response, *stored)


def stored_response(response: Response, body: bytes, content_type: str | None) -> Response:
    """A 304 turned back into the 200 it stands for: the stored body, with the stored
    Content-Type when the 304 left it out (most do), so the body is read as what it is."""
    headers = response.headers.copy()
    if content_type and b"Content-Type" not in headers:
        headers["Content-Type"] = content_type
    return response.replace(status=200, body=body, headers=headers)


class RetryAfterMiddleware:
    """Honours `Retry-After` on 429/503 by slowing the source's download slot before the retry."""

    MAX_WAIT = 120.0

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        if response.status in (429, 503):
            value = response.headers.get(b"Retry-After")
            wait = _seconds(value.decode("latin-1") if value else None)
            if wait:
                self.crawler.stats.inc_value("oversight/retry_after")
                slot_key = self.crawler.engine.downloader.get_slot_key(request)
                slot = self.crawler.engine.downloader.slots.get(slot_key)
                if slot is not None:
                    slot.delay = max(slot.delay, min(wait, self.MAX_WAIT))
        return response


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        from datetime import UTC, datetime
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


class SpiderErrorMiddleware:
    """A bug or surprise while reading a response becomes a `failures` row, not a log line only."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SpiderErrorMiddleware:
        return cls(crawler)

    def process_spider_exception(self, response: Response, exception: Exception, spider=None):
        from datetime import UTC, datetime

        from crawler.items import FailureItem

        source_id = response.meta.get("source_id")
        if source_id is None:
            return None
        self.crawler.stats.inc_value("oversight/spider_errors")
        url = response.meta.get("redirect_urls", [response.url])[0]
        reason = f"could not read the response: {type(exception).__name__}: {exception}"[:500]
        at = datetime.now(UTC).isoformat(timespec="seconds")
        return [
            FailureItem(
                url=url,
                source_id=source_id,
                reason=reason,
                at=at,
                status=response.status,
                role=response.meta.get("role"),
            )
        ]
