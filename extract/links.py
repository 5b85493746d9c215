"""URLs as written in pages, and one canonical form to match them by.

A news story links to "HTTPS://www.gov.uk/government/news/x/?utm_source=twitter"; the archive
holds "https://www.gov.uk/government/news/x". `normalize_url` makes both the same string, so a
citation can be matched to the archived document it points at.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import (
    parse_qsl,
    unquote_plus,
    urldefrag,
    urlencode,
    urljoin,
    urlsplit,
    urlunsplit,
)

from url_normalize import url_normalize

from extract.records import Link

_TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "igshid",
}


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith("utm_") or name in _TRACKING_PARAMS


def without_tracking(url: str) -> str:
    """`url` without its tracking parameters (utm_*, fbclid, gclid, ...), otherwise as written.

    Unlike `normalize_url` this is safe for fetching: the other parameters keep their order and
    their encoding, so `/news/?page=2&utm_source=x` becomes `/news/?page=2` and nothing else
    changes. A crawler that kept the tracking copies would fetch and store one page many times.
    """
    base, mark, rest = url.partition("?")
    if not mark:
        return url
    query, hash_mark, fragment = rest.partition("#")
    kept = [
        pair for pair in query.split("&") if not _is_tracking(unquote_plus(pair.partition("=")[0]))
    ]
    cleaned = base + ("?" + "&".join(kept) if kept else "")
    return cleaned + hash_mark + fragment


@lru_cache(maxsize=65536)
def normalize_url(url: str) -> str:
    """A canonical form of `url` for matching, never for fetching.

    Lower-case scheme and host, http read as https (old stories link to http:// pages now
    served over https), no default port, no fragment, no tracking parameters (utm_*, fbclid,
    gclid, ...), query parameters sorted, percent-encoding normalised, and no trailing slash
    except on the bare root ("https://a.org/news/" and "https://a.org/news" match).
    Input that is not a URL comes back stripped, unchanged otherwise: this never raises.
    """
    url = (url or "").strip()
    if not url:
        return url
    try:
        normal = url_normalize(url)
        if not normal:
            return url
        parts = urlsplit(normal)
        query = sorted(
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
        )
        path = parts.path
        if path.endswith("/") and path != "/":
            path = path.rstrip("/") or "/"
        if not path and parts.netloc:
            path = "/"
        scheme = "https" if parts.scheme == "http" else parts.scheme
        netloc = parts.netloc
        if scheme == "https" and parts.port == 443:
            netloc = netloc.rsplit(":", 1)[0]
        return urlunsplit((scheme, netloc, path, urlencode(query), ""))
    except (ValueError, UnicodeError, TypeError):
        return url


def is_web_url(url: str) -> bool:
    """Whether a link points at something a crawler could archive (http or https)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def absolute_url(href: str, base: str) -> str | None:
    """`href` resolved against `base`, or None when it is not a web URL (mailto:, javascript:)."""
    href = (href or "").strip()
    if not href:
        return None
    try:
        url = urljoin(base, href) if base else href
    except ValueError:
        return None
    return url if is_web_url(url) else None


def without_fragment(url: str) -> str:
    """`url` without its "#fragment"; never raises."""
    try:
        return urldefrag(url)[0]
    except ValueError:
        return url.split("#", 1)[0]


def dedupe_links(links: list[Link]) -> list[Link]:
    """Each (url, anchor) pair once, in page order."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for link in links:
        key = (link.url, link.anchor)
        if key not in seen:
            seen.add(key)
            kept.append(link)
    return kept
