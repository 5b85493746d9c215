"""Where the crawler may go: allowed domains, excluded URLs and private addresses.

Kept apart from the middleware so the same rules judge seeds, links and redirect targets.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from urllib.parse import urlsplit

from crawler.sources import Source, domain_allowed


@lru_cache(maxsize=4096)
def resolves_private(host: str) -> bool:
    """True when `host` is, or resolves to, a loopback, private, link-local or reserved address."""
    try:
        return _is_private(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return any(_is_private(ipaddress.ip_address(info[4][0].split("%")[0])) for info in infos)


def _is_private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def seed_hosts(source: Source) -> set[str]:
    urls = [source.homepage, *source.feeds, *source.sitemaps, *source.start_urls]
    urls += [api.url for api in source.apis]
    return {(urlsplit(u).hostname or "").lower() for u in urls}


def refusal(url: str, source: Source) -> str | None:
    """Why `url` must not be fetched for `source`, or None when it may be."""
    if not url.isascii():
        try:
            url.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate, from a JSON `\udc80` escape in an API's link: no request can be
            # made of it, and no database row can hold it.
            return "not a usable URL: it holds text that is not valid Unicode (a lone surrogate)"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"not an http(s) URL: {parts.scheme or 'no scheme'}"
    host = (parts.hostname or "").lower()
    if not host:
        return "URL has no host"
    if not domain_allowed(url, source.allowed_domains):
        return f"outside allowed_domains ({host} is not in {', '.join(source.allowed_domains)})"
    if source.is_excluded(url):
        return "matches an exclude pattern"
    # A name inside an allowed domain that resolves to a private address (DNS rebinding, an
    # internal host) is refused unless the source itself lives on such addresses (an intranet
    # or a loopback test site), where every seed host resolves privately too.
    if resolves_private(host) and not _source_is_private(source):
        return f"{host} resolves to a private or loopback address"
    return None


@lru_cache(maxsize=256)
def _private_seeds(hosts: frozenset[str]) -> bool:
    return bool(hosts) and all(resolves_private(h) for h in hosts if h)


def _source_is_private(source: Source) -> bool:
    return _private_seeds(frozenset(seed_hosts(source)))
