"""Turn a Scrapy/Twisted failure into a reason a person can act on."""

from __future__ import annotations

import zlib

from scrapy.exceptions import IgnoreRequest
from twisted.internet import error as net
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from crawler.settings import MAX_RESPONSE_BYTES

CAP_MB = MAX_RESPONSE_BYTES // (1024 * 1024)
#: How the reasons below begin for failures that may pass (the network, a busy server): a document
#: that failed so is asked for again on later runs even when no listing names it any more.
TRANSIENT_REASONS = (
    "DNS lookup failed",
    "timed out",
    "connection refused",
    "connection lost",
    "no response received",
    "response broken off",
    "robots.txt unreadable",  # the host's robots.txt could not be read: nothing was asked
)
#: HTTP statuses that may pass in the same way.
TRANSIENT_STATUSES = (408, 429, 500, 502, 503, 504)


# Scrapy 2.19's download handlers wrap Twisted's errors in these, raised `from` the original.
_WRAPPERS = (
    "CannotResolveHostError",
    "DownloadConnectionRefusedError",
    "DownloadFailedError",
    "DownloadTimeoutError",
)


def describe_failure(failure: Failure) -> str:
    exc = failure.value
    if type(exc).__name__ in _WRAPPERS and isinstance(exc.__cause__, Exception):
        exc = exc.__cause__
    message = str(exc)
    lowered = message.lower()
    if "max size" in lowered or "maxsize" in lowered:
        if "decompress" in lowered:
            return (
                f"response too large: over the {CAP_MB} MB cap after decompression "
                "(a compression bomb?)"
            )
        return f"response too large: over the {CAP_MB} MB cap"
    name = type(exc).__name__
    if name == "HttpError" and getattr(exc, "response", None) is not None:
        return _http_error(exc.response)
    if isinstance(exc, IgnoreRequest):
        if message.startswith(("robots.txt unreadable", "robots.txt redirect")):
            return message[:500]
        if "robots.txt" in message:
            return "disallowed by robots.txt"
        if "max redirections" in message.lower():
            return "too many redirects (a loop, or a chain longer than 10)"
        return message or "request refused"
    if isinstance(exc, net.DNSLookupError) or name == "CannotResolveHostError":
        # Twisted's own message already says so ("DNS lookup failed: no results for ...").
        return (
            message if message.startswith("DNS lookup failed") else f"DNS lookup failed: {message}"
        )
    if isinstance(exc, (net.TimeoutError, net.TCPTimedOutError)) or "Timeout" in name:
        return f"timed out: no complete answer in time ({message or name})"[:500]
    if isinstance(exc, net.ConnectionRefusedError) or name == "DownloadConnectionRefusedError":
        return "connection refused"
    if isinstance(exc, ResponseNeverReceived):
        return f"no response received: {_inner(exc)}"
    if isinstance(exc, ResponseFailed):
        return f"response broken off: {_inner(exc)}"
    if name == "DownloadFailedError":
        return f"response broken off: {message}"[:500]
    if isinstance(exc, net.ConnectionLost):
        return "connection lost before the response completed"
    if "DataLoss" in name:
        return "response broken off: body shorter than its Content-Length (data loss)"
    if isinstance(exc, (OSError, EOFError, zlib.error)) and (
        "gzip" in lowered
        or "compress" in lowered
        or isinstance(exc, zlib.error)
        or name in ("BadGzipFile", "DecompressionError")
    ):
        return f"content could not be decompressed ({name}: {message})"[:500]
    if "Cancelled" in name:
        # Scrapy cancels a streamed download without a message once it passes DOWNLOAD_MAXSIZE
        # (a body with no Content-Length, or a never-ending chunked one).
        return f"response too large: over the {CAP_MB} MB cap while streaming (download stopped)"
    return f"{name}: {message}"[:500]


def _http_error(response) -> str:
    if 300 <= response.status < 400:
        return redirect_refused(response)
    return f"HTTP {response.status}"


def redirect_refused(response) -> str:
    """Why a 3xx that reached the crawl was not followed: Scrapy follows only redirects to
    http(s), so its Location is something else (`javascript:`, `file:`) or missing."""
    location = response.headers.get(b"Location", b"").decode("latin-1", "replace")
    source = response.request.meta.get("redirect_urls", [response.url])[0]
    return (
        f"redirect from {source} refused: Location {location or '(none)'} is not an http(s) URL"
    )[:500]


def _inner(exc: Exception) -> str:
    reasons = getattr(exc, "reasons", None) or []
    texts = []
    for reason in reasons:
        value = getattr(reason, "value", reason)
        text = str(value) or type(value).__name__
        if "PotentialDataLoss" in type(value).__name__ or "_DataLoss" in type(value).__name__:
            text = "body shorter than Content-Length declared (data loss)"
        if "decompress" in text.lower() or "zlib" in text.lower():
            text = "content could not be decompressed"
        texts.append(text)
    return "; ".join(texts)[:300] or type(exc).__name__
