"""The one entry point: fetched bytes in, a Document (or a readable ExtractionError) out.

The crawler stores whatever a server sent, so this decides what the bytes are (a PDF served as
octet-stream, a GOV.UK Content API item, an HTML page with a lying header), hands them to the
right reader, and adds what every document gets: its figures and the entities it mentions.
Anything that goes wrong inside becomes an ExtractionError, so one bad page can never stop a run.
"""

from __future__ import annotations

import json
import logging
import re

from extract.entities import find_mentions
from extract.figures import find_figures
from extract.html import extract_html
from extract.pdf import extract_pdf
from extract.records import Document, ExtractionError

# trafilatura and htmldate log every page they find nothing in; a run over thousands of
# pages would drown its own log in them.
for _name in ("trafilatura", "htmldate", "charset_normalizer", "pypdf"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

_TEXT_LIKE = (
    "text/",
    "application/xhtml",
    "application/xml",
    "application/rss",
    "application/atom",
)
_FEED_TYPES = ("application/rss+xml", "application/atom+xml")
_FEED_ROOT = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:RDF)\b", re.DOTALL
)
_MAX_JSON_BYTES = 20_000_000  # a Content API item is tens of KB; anything far larger is not one

# More figures than any report holds means a data dump or a link farm: keep the first ones only,
# so one page cannot fill the archive (or a worker's memory) with noise.
MAX_FIGURES = 5000


def extract_document(body: bytes, url: str, content_type: str | None = None) -> Document:
    """Read a fetched body as a Document.

    `content_type` is the HTTP Content-Type header value as sent (charset included) or None.
    Raises ExtractionError, and nothing else, when there is no document to be had. A caller's
    own time limit (a signal handler raising TimeoutError) is let through untouched.
    """
    try:
        document = _read(body, url, content_type)
        figures = find_figures(document.text, document.page_starts, MAX_FIGURES + 1)
        if len(figures) > MAX_FIGURES:
            document.omissions.append(
                f"more than {MAX_FIGURES:,} figures: only the first {MAX_FIGURES:,} were kept"
            )
        document.figures = figures[:MAX_FIGURES]
        document.mentions = find_mentions(document.text)
        return document
    except (ExtractionError, TimeoutError):
        raise
    except RecursionError as err:
        raise ExtractionError("document is nested too deeply to read") from err
    except MemoryError as err:
        raise ExtractionError("document too large to read in memory") from err
    except Exception as err:  # the contract: one bad page never escapes as anything else
        raise ExtractionError(f"could not read document: {type(err).__name__}: {err}") from err


def _read(body: bytes, url: str, content_type: str | None) -> Document:
    if not isinstance(body, bytes | bytearray | memoryview):
        raise ExtractionError(f"body must be bytes, not {type(body).__name__}")
    body = bytes(body)
    if not body.strip():
        raise ExtractionError("empty body: the server sent nothing to read")
    media = (content_type or "").split(";")[0].strip().lower()

    head = body[:1024].lstrip()
    if (
        head.startswith(b"%PDF")
        or media == "application/pdf"
        or (b"%PDF-" in head and not head.startswith(b"<"))
    ):
        return extract_pdf(body, url)

    stripped = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{") or media.endswith("json"):
        item = _json_object(body)
        if isinstance(item, dict) and "base_path" in item and "details" in item:
            return _govuk(body, url)
        if media.endswith("json") or item is not None:
            raise ExtractionError(
                "JSON that is not a GOV.UK Content API item: no document to extract"
            )

    if media and not media.startswith(_TEXT_LIKE) and media not in ("", "application/octet-stream"):
        raise ExtractionError(f"unsupported content type {media!r}: not HTML or PDF")
    if media in _FEED_TYPES or _FEED_ROOT.match(body[:512]):
        raise ExtractionError("not a document but a feed (RSS or Atom): list it under `feeds`")
    return extract_html(body, url, content_type)


def _json_object(body: bytes) -> object | None:
    if len(body) > _MAX_JSON_BYTES:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _govuk(body: bytes, url: str) -> Document:
    try:
        from extract.govuk import extract_govuk_content
    except ImportError as err:
        raise ExtractionError("GOV.UK Content API item, but GOV.UK support is missing") from err
    return extract_govuk_content(body, url)
