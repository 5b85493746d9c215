"""Scrapy settings for every Oversight crawl: polite, bounded and safe by default.

`crawl_settings()` turns the registry into per-source download slots, so one spider can crawl every
source while each keeps its own delay and concurrency.
"""

from __future__ import annotations

from typing import Any

from crawler.sources import Source
from crawler.useragent import USER_AGENT

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
# The least gap between two requests of one slot, even at `delay = 0`: Scrapy 2.19 sends a slot's
# whole queue at once when its delay is 0, over as many connections as there are requests,
# whatever the slot's concurrency. A millisecond keeps `concurrency` true and costs nothing.
NO_DELAY = 0.001

BASE_SETTINGS: dict[str, Any] = {
    "BOT_NAME": "oversight",
    "USER_AGENT": USER_AGENT,
    "ROBOTSTXT_OBEY": True,
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    # Scrapy's AutoThrottle lengthens the delay on slow 304s and never shortens it again; our own
    # throttle (crawler.throttle) ignores 304s and honours robots.txt Crawl-delay and Retry-After.
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    # Scrapy starts this many asyncio tasks for every response's output; ours yields a handful of
    # items and requests, and the pipeline is synchronous, so 100 tasks a page were pure overhead.
    "CONCURRENT_ITEMS": 8,
    "DOWNLOAD_DELAY": 0,
    "DOWNLOAD_TIMEOUT": 30,
    "DOWNLOAD_MAXSIZE": MAX_RESPONSE_BYTES,
    "DOWNLOAD_WARNSIZE": 0,
    "DOWNLOAD_FAIL_ON_DATALOSS": True,
    "RETRY_ENABLED": True,
    "RETRY_TIMES": 2,
    "RETRY_HTTP_CODES": [429, 500, 502, 503, 504, 522, 524, 408],
    "REDIRECT_ENABLED": True,
    "REDIRECT_MAX_TIMES": 10,
    "METAREFRESH_ENABLED": False,  # meta refresh is read by the spider and checked like any link
    "COOKIES_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    # Scrapy 2.19 turned on a local HTTP server that runs Python sent to it (token-protected):
    # a crawler that reads hostile pages keeps no such door open.
    "REMOTE_CONTROL_ENABLED": False,
    "LOG_LEVEL": "INFO",
    "LOG_ENABLED": True,
    "DEPTH_LIMIT": 0,
    "URLLENGTH_LIMIT": 4096,
    "DNS_TIMEOUT": 20,
    "REACTOR_THREADPOOL_MAXSIZE": 10,
    "HTTPCACHE_ENABLED": False,
    "MEMUSAGE_ENABLED": False,
    "SPIDER_MIDDLEWARES": {"crawler.middlewares.SpiderErrorMiddleware": 10},
    "WARN_ON_GENERATOR_RETURN_VALUE": False,
    "DOWNLOADER_MIDDLEWARES": {
        # Each request carries its source and DomainGuardMiddleware applies that source's rules;
        # Scrapy's offsite filter knows only one allowed_domains list per spider.
        "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
        "crawler.middlewares.DomainGuardMiddleware": 50,
        # Scrapy's, but an unreadable robots.txt (5xx, timeout) forbids, as RFC 9309 says.
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        "crawler.middlewares.RobotsRulesMiddleware": 100,
        "crawler.middlewares.ConditionalRequestMiddleware": 560,
        # Scrapy's, but a redirect target loses its tracking parameters before it is followed.
        "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
        "crawler.middlewares.TrackingFreeRedirectMiddleware": 600,
        # Above Scrapy's RetryMiddleware (550), so a 429's Retry-After slows the slot before the
        # retry is scheduled: responses pass through the higher numbers first.
        "crawler.middlewares.RetryAfterMiddleware": 551,
    },
    "EXTENSIONS": {
        "scrapy.extensions.telnet.TelnetConsole": None,
        "scrapy.extensions.remote_control.RemoteControl": None,
        "crawler.throttle.PoliteThrottle": 500,
    },
    "ITEM_PIPELINES": {"crawler.pipelines.SnapshotPipeline": 300},
    "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
}


def download_slots(sources: list[Source]) -> dict[str, str]:
    """Each source's download slot: its own, unless it shares a site with another source.

    Sources whose `allowed_domains` share a host (or one is under the other) crawl through one
    slot, at the larger delay and the smaller concurrency of the two: two sources on one site
    must not make two connections to it, or halve its delay.
    """
    group = {source.id: source.id for source in sources}

    def root(source_id: str) -> str:
        while group[source_id] != source_id:
            source_id = group[source_id]
        return source_id

    for i, first in enumerate(sources):
        for second in sources[i + 1 :]:
            if _share_a_site(first, second):
                group[root(second.id)] = root(first.id)
    return {source.id: root(source.id) for source in sources}


def _share_a_site(first: Source, second: Source) -> bool:
    def hosts(source: Source) -> set[str]:
        return {d.lower().strip(".") for d in source.allowed_domains if d.strip(".")}

    return any(
        a == b or a.endswith("." + b) or b.endswith("." + a)
        for a in hosts(first)
        for b in hosts(second)
    )


def crawl_settings(
    sources: list[Source], overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Scrapy settings for crawling `sources`: a download slot per site (see `download_slots`)."""
    settings = dict(BASE_SETTINGS)
    slots: dict[str, dict[str, Any]] = {}
    slot_of = download_slots(sources)
    for source in sources:
        slot = slots.setdefault(
            slot_of[source.id], {"concurrency": source.concurrency, "delay": source.delay}
        )
        slot["concurrency"] = min(slot["concurrency"], source.concurrency)
        slot["delay"] = max(slot["delay"], source.delay, NO_DELAY)
        slot["jitter"] = 0
    settings["DOWNLOAD_SLOTS"] = slots
    # Scrapy keeps this many idle keep-alive connections per host (and closes the rest after
    # each response); every request of ours runs in its source's slot, so the pool has to be as
    # large as the largest slot or a source crawling 8 at a time opens a connection per page.
    settings["CONCURRENT_REQUESTS_PER_DOMAIN"] = max(
        [1, *(source.concurrency for source in sources)]
    )
    settings.update(overrides or {})
    return settings
