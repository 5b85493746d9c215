"""A polite throttle that, unlike Scrapy's AutoThrottle, is never slowed down by a 304.

Each source has a download slot whose delay starts at the source's `delay` (or a larger robots.txt
`Crawl-delay`). Slow full responses lengthen it, quick ones bring it back towards the floor, server
errors double it (so retries back off), and 304s or stored copies, which cost the site almost
nothing, leave it alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import signals

from crawler.settings import NO_DELAY
from crawler.useragent import USER_AGENT

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

MAX_DELAY = 60.0
TARGET_CONCURRENCY = 1.0
_STRUGGLING = frozenset({408, 429, 500, 502, 503, 504, 522, 524})


class PoliteThrottle:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.floor: dict[str, float] = {}
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PoliteThrottle:
        return cls(crawler)

    def _floor(self, key: str) -> float:
        if key not in self.floor:
            slots = self.crawler.settings.getdict("DOWNLOAD_SLOTS")
            self.floor[key] = float(slots.get(key, {}).get("delay", 0.0))
        return self.floor[key]

    def robots_parsed(self, robotparser, request) -> None:
        """A robots.txt `Crawl-delay` larger than the source's delay becomes the new floor."""
        key = request.meta.get("download_slot")
        parser = getattr(robotparser, "rp", None)
        if key is None or parser is None or not hasattr(parser, "crawl_delay"):
            return
        delay = parser.crawl_delay(USER_AGENT)
        if delay and float(delay) > self._floor(key):
            self.floor[key] = min(float(delay), MAX_DELAY)
            self.crawler.stats.set_value(f"oversight/crawl_delay/{key}", self.floor[key])
            slot = self.crawler.engine.downloader.slots.get(key)
            if slot is not None:
                slot.delay = max(slot.delay, self.floor[key])

    def response_downloaded(self, response, request, spider=None) -> None:
        key = request.meta.get("download_slot")
        if key is None:
            return
        floor = self._floor(key)
        slot = self.crawler.engine.downloader.slots.get(key)
        if slot is None:
            return
        if floor <= NO_DELAY:  # delay = 0: throttling off (loopback tests, benchmarks)
            return
        slot.delay = max(slot.delay, floor)
        if response.status in _STRUGGLING:
            # A server answering 5xx (or 408/429) is given twice as long before each retry.
            slot.delay = min(max(slot.delay * 2, floor), MAX_DELAY)
            return
        if response.status == 304 or request.meta.get("from_store"):
            return
        latency = request.meta.get("download_latency")
        if latency is None:
            return
        target = latency / TARGET_CONCURRENCY
        new_delay = max(target, (slot.delay + target) / 2.0)
        if response.status >= 400 and new_delay < slot.delay:
            return
        slot.delay = min(max(floor, new_delay), MAX_DELAY)
