"""Turn a Scrapy/Twisted failure into a reason a person can act on."""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest
from twisted.internet import error as net
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from crawler.settings import MAX_RESPONSE_BYTES

CAP_MB = MAX_RESPONSE_BYTES // (1024 * 1024)


def describe_failure(failure: Failure) -> str:
    exc = failure.value
    message = str(exc)
    lowered = message.lower()
    if "max size" in lowered or "maxsize" in lowered:
        if "decompress" in lowered:
            return (
                f"response too large: over the {CAP_MB} MB cap after decompression "
                "(a compression bomb?)"
            )
        return f"response too large: over the {CAP_MB} MB cap"
    if isinstance(exc, IgnoreRequest):
        if "robots.txt" in message:
            return "disallowed by robots.txt"
        if "max redirections" in message.lower():
            return "too many redirects (a loop, or a chain longer than 10)"
        return message or "request refused"
    if isinstance(exc, net.DNSLookupError):
        return f"DNS lookup failed: {message}"
    if isinstance(exc, (net.TimeoutError, net.TCPTimedOutError)):
        return "timed out (no complete answer within 30 s)"
    if isinstance(exc, net.ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ResponseNeverReceived):
        return f"no response received: {_inner(exc)}"
    if isinstance(exc, ResponseFailed):
        return f"response broken off: {_inner(exc)}"
    if isinstance(exc, net.ConnectionLost):
        return "connection lost before the response completed"
    name = type(exc).__name__
    if "Cancelled" in name:
        return f"download cancelled: {message or 'aborted'}"
    return f"{name}: {message}"[:500]


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
