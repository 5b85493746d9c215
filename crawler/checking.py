"""`oversight sources --check`: probe every endpoint of the registry once, politely, and say what answered.

Entries in `sources.toml` are written from what sites publish; this is how a person with internet
access finds out which feeds, sitemaps, listings and APIs really exist and parse. It uses the
same discovery functions as the crawler, so "feed with 20 entries" here means the crawler will
read 20 entries too. robots.txt is read first and obeyed; redirects are followed only inside
`allowed_domains`; requests to one host are spaced by the larger of `pause`, the source's
`delay` and robots.txt's `Crawl-delay`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urljoin, urlsplit

from protego import Protego

from crawler.discovery import DiscoveryError
from crawler.discovery.apis import (
    govuk_search_url,
    parse_govuk_search,
    parse_wordpress_posts,
    wordpress_posts_url,
)
from crawler.discovery.feeds import parse_feed
from crawler.discovery.listings import extract_links
from crawler.discovery.sitemaps import parse_sitemap, sitemaps_from_robots
from crawler.sources import Api, Source, domain_allowed
from crawler.useragent import USER_AGENT

__all__ = ["CheckResult", "check_sources"]

MAX_BODY = 10 * 1024 * 1024
MAX_REDIRECTS = 5


@dataclass
class CheckResult:
    """What one endpoint answered: HTTP status, content type, and what it parsed as."""

    source_id: str
    role: str  # robots, feed, sitemap, listing, api:govuk-search, api:wordpress
    url: str
    status: int | None
    content_type: str | None
    ok: bool
    detail: str
    final_url: str | None = None
    unverified: bool = False

    def __str__(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        status = str(self.status) if self.status is not None else "---"
        flag = " (marked unverified)" if self.unverified else ""
        moved = (
            f"\n      -> {self.final_url}" if self.final_url and self.final_url != self.url else ""
        )
        return (
            f"{mark} {self.source_id:<20} {self.role:<17} {status} {self.url}{flag}{moved}\n"
            f"      {self.detail}"
        )


@dataclass
class _Answer:
    status: int | None
    content_type: str | None
    body: bytes
    headers: dict[str, str]
    final_url: str
    error: str | None = None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects come back as answers, so each hop is checked against allowed_domains first."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        return None


class _Prober:
    def __init__(self, timeout: float, pause: float) -> None:
        self.timeout = timeout
        self.pause = pause
        self.opener = urllib.request.build_opener(_NoRedirects())
        self.last_request: dict[str, float] = {}
        # Per origin: the rules, and why nothing may be probed there (None when rules apply).
        self.robots: dict[str, tuple[Protego, str | None]] = {}

    def wait(self, url: str, gap: float) -> None:
        host = urlsplit(url).netloc.lower()
        last = self.last_request.get(host)
        if last is not None:
            remaining = gap - (time.monotonic() - last)
            if remaining > 0:
                time.sleep(remaining)
        self.last_request[host] = time.monotonic()

    def fetch(self, url: str, source: Source, gap: float) -> _Answer:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            self.wait(current, gap)
            answer = self._get(current)
            if answer.status in (301, 302, 303, 307, 308) and answer.headers.get("location"):
                target = urljoin(current, answer.headers["location"])
                if not domain_allowed(target, source.allowed_domains):
                    answer.error = f"redirects outside allowed_domains, to {target}: not followed"
                    return answer
                current = target
                continue
            return answer
        return _Answer(None, None, b"", {}, current, f"more than {MAX_REDIRECTS} redirects")

    def _get(self, url: str) -> _Answer:
        request = urllib.request.Request(
            url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, identity"}
        )
        try:
            response = self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            response = error
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            return _Answer(None, None, b"", {}, url, f"no answer: {reason}")
        with response:
            headers = _headers(response.headers)
            try:
                raw = response.read(MAX_BODY + 1)
            except (OSError, ValueError) as error:
                return _Answer(response.status, None, b"", headers, url, f"broken answer: {error}")
        body, problem = _decoded(raw, headers.get("content-encoding", ""))
        return _Answer(
            response.status,
            headers.get("content-type"),
            body,
            headers,
            response.url or url,
            problem,
        )


def check_sources(
    sources: list[Source],
    timeout: float = 20,
    pause: float = 2.0,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Probe each source's robots.txt, feeds, sitemaps, start URLs and APIs once, in order.

    `on_result` is called as each answer arrives (a full check of a slow site takes minutes).
    """
    prober = _Prober(timeout, pause)
    results: list[CheckResult] = []

    def report(result: CheckResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    for source in sources:
        gap = max(pause, source.delay)
        for role, declared, url, api in _endpoints(source):
            robots, blocked, robots_result = _robots_for(prober, url, source, gap)
            if robots_result is not None:
                report(robots_result)
            delay = robots.crawl_delay(USER_AGENT)
            host_gap = max(gap, float(delay)) if delay else gap
            if blocked or not robots.can_fetch(url, USER_AGENT):
                why = blocked or "disallowed by robots.txt for Oversight's User-Agent"
                unverified = declared in source.unverified
                report(
                    CheckResult(
                        source.id,
                        role,
                        url,
                        None,
                        None,
                        False,
                        f"{why}: not fetched",
                        None,
                        unverified,
                    )
                )
                continue
            answer = prober.fetch(url, source, host_gap)
            report(_judge(source, role, declared, url, api, answer))
    return results


def _endpoints(source: Source) -> list[tuple[str, str, str, Api | None]]:
    """(role, URL as declared, URL to fetch, api) for every endpoint of a source."""
    endpoints: list[tuple[str, str, str, Api | None]] = []
    endpoints += [("feed", url, url, None) for url in source.feeds]
    endpoints += [("sitemap", url, url, None) for url in source.sitemaps]
    endpoints += [("listing", url, url, None) for url in source.start_urls]
    endpoints += [(f"api:{api.type}", api.url, _api_url(api), api) for api in source.apis]
    return endpoints


def _robots_for(
    prober: _Prober, url: str, source: Source, gap: float
) -> tuple[Protego, str | None, CheckResult | None]:
    """The host's robots rules, fetched once per origin; the result row only the first time."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin in prober.robots:
        return (*prober.robots[origin], None)
    blocked: str | None = None
    robots_url = origin + "/robots.txt"
    answer = prober.fetch(robots_url, source, gap)
    # The crawl's own parser (Scrapy's Protego, RFC 9309: longest match, wildcards), so the
    # probe and the crawl agree on what is allowed.
    rules = "User-agent: *\nDisallow: /"
    parser: Protego | None = None
    if answer.status == 200 and not answer.error:
        rules = answer.body.decode("utf-8", "replace")
        parser = Protego.parse(rules)
        listed = sitemaps_from_robots(answer.body, robots_url)
        delay = parser.crawl_delay(USER_AGENT)
        detail = "robots.txt read"
        if delay:
            detail += f"; Crawl-delay {delay} s"
        if listed:
            detail += f"; sitemaps listed: {', '.join(listed)}"
        result = CheckResult(
            source.id, "robots", robots_url, 200, answer.content_type, True, detail
        )
    elif answer.status in (401, 403):
        blocked = f"robots.txt answers {answer.status}"
        result = CheckResult(
            source.id,
            "robots",
            robots_url,
            answer.status,
            answer.content_type,
            False,
            f"robots.txt answers {answer.status}: treated as disallowing everything",
        )
    elif answer.status is not None and 400 <= answer.status < 500:
        rules = ""
        result = CheckResult(
            source.id,
            "robots",
            robots_url,
            answer.status,
            answer.content_type,
            True,
            f"no robots.txt (HTTP {answer.status}): everything allowed",
        )
    else:
        why = answer.error or f"HTTP {answer.status}"
        blocked = f"robots.txt unavailable ({why})"
        result = CheckResult(
            source.id,
            "robots",
            robots_url,
            answer.status,
            answer.content_type,
            False,
            f"robots.txt unavailable ({why}): nothing on this host is probed",
        )
    parser = parser or Protego.parse(rules)
    prober.robots[origin] = (parser, blocked)
    return parser, blocked, result


def _judge(
    source: Source, role: str, declared: str, url: str, api: Api | None, answer: _Answer
) -> CheckResult:
    def result(ok: bool, detail: str) -> CheckResult:
        return CheckResult(
            source.id,
            role,
            url,
            answer.status,
            answer.content_type,
            ok,
            detail,
            final_url=answer.final_url,
            unverified=declared in source.unverified,
        )

    if answer.error:
        return result(False, answer.error)
    if answer.status != 200:
        return result(False, f"HTTP {answer.status}")
    try:
        return result(*_parse(source, role, answer, api))
    except DiscoveryError as error:
        return result(False, str(error))


def _parse(source: Source, role: str, answer: _Answer, api: Api | None) -> tuple[bool, str]:
    body, url = answer.body, answer.final_url
    if role == "feed":
        entries = parse_feed(body, url)
        newest = f"; first: {entries[0].title or entries[0].url}" if entries else ""
        return True, f"feed with {len(entries)} entries{newest}"
    if role == "sitemap":
        sitemap = parse_sitemap(body, url)
        if sitemap.sitemaps:
            return True, f"sitemap index with {len(sitemap.sitemaps)} sitemaps"
        wanted = sum(1 for c in sitemap.urls if source.is_document(c.url))
        return True, f"sitemap with {len(sitemap.urls)} URLs, {wanted} match documents"
    if role == "listing":
        links = extract_links(body, url)
        documents = sum(1 for c in links if source.matches_document(c.url))
        listings = sum(1 for c in links if source.is_listing(c.url))
        detail = (
            f"listing with {len(links)} links: {documents} documents, {listings} pages to follow"
        )
        if not documents and not listings:
            return False, detail + " (no link matches documents or follow: check the regexes)"
        return True, detail
    if role == "api:govuk-search" and api is not None:
        candidates, following = parse_govuk_search(body, url)
        total = _json_total(body)
        more = "; more pages" if following else ""
        return True, f"GOV.UK search: {len(candidates)} results on the first page of {total}{more}"
    if role == "api:wordpress":
        candidates, following = parse_wordpress_posts(body, url, answer.headers)
        pages = answer.headers.get("x-wp-totalpages", "?")
        total = answer.headers.get("x-wp-total", "?")
        return (
            True,
            f"WordPress API: {len(candidates)} posts on page 1; {total} posts in {pages} pages",
        )
    return False, f"unknown endpoint role {role}"


def _api_url(api: Api) -> str:
    if api.type == "govuk-search":
        return govuk_search_url(Api(api.type, api.url, {**api.params, "count": "10"}), None)
    return wordpress_posts_url(api, 1)


def _json_total(body: bytes) -> str:
    try:
        return str(json.loads(body).get("total", "?"))
    except (ValueError, AttributeError, RecursionError):
        return "?"


def _headers(message: Message) -> dict[str, str]:
    return {key.lower(): value for key, value in message.items()}


def _decoded(raw: bytes, encoding: str) -> tuple[bytes, str | None]:
    """The body after Content-Encoding, capped like the crawler's 10 MB response limit."""
    if len(raw) > MAX_BODY:
        return b"", "larger than 10 MB: the crawler would refuse it"
    encoding = encoding.strip().lower()
    if encoding not in ("gzip", "x-gzip", "deflate"):
        return raw, None
    wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
    try:
        inflater = zlib.decompressobj(wbits)
        body = inflater.decompress(raw, MAX_BODY + 1)
    except zlib.error as error:
        return b"", f"broken {encoding} body: {error}"
    if len(body) > MAX_BODY:
        return b"", "larger than 10 MB after decompression: the crawler would refuse it"
    return body, None
