"""The one entry point: fetched bytes in, a Document (or a readable ExtractionError) out.

The crawler stores whatever a server sent, so this decides what the bytes are (a PDF served as
octet-stream, a GOV.UK Content API item, an HTML page with a lying header), hands them to the
right reader, and adds what every document gets: its figures and the entities it mentions.
Anything that goes wrong inside becomes an ExtractionError, so one bad page can never stop a run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from functools import cache
from typing import Any

from extract.encoding import without_surrogates
from extract.entities import find_mentions
from extract.figures import MAX_FIGURES, find_figures
from extract.html import extract_html
from extract.pdf import extract_pdf
from extract.records import Document, ExtractionError
from extract.sniff import is_pdf

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


def extract_document(body: bytes, url: str, content_type: str | None = None) -> Document:
    """Read a fetched body as a Document.

    `content_type` is the HTTP Content-Type header value as sent (charset included) or None.
    Raises ExtractionError, and nothing else, when there is no document to be had. A caller's
    own time limit (a signal handler raising TimeoutError) is let through untouched.
    """
    try:
        # Before figures and entities are found, so that what they take from the text is clean.
        document = _encodable(_read(body, url, content_type))
        _tidy_metadata(document)
        figures = find_figures(document.text, document.page_starts, MAX_FIGURES + 1)
        if len(figures) > MAX_FIGURES:
            document.omissions.append(
                f"more than {MAX_FIGURES:,} figures: only the first {MAX_FIGURES:,} were kept"
            )
        document.figures = figures[:MAX_FIGURES]
        document.mentions = find_mentions(document.text)
        return document
    except ExtractionError as err:
        # The message can quote the input (a redirect's target), and is stored as well.
        message = without_surrogates(str(err))
        if message == str(err):
            raise
        raise ExtractionError(message) from err
    except TimeoutError:
        raise
    except RecursionError as err:
        raise ExtractionError("document is nested too deeply to read") from err
    except MemoryError as err:
        raise ExtractionError("document too large to read in memory") from err
    except Exception as err:  # the contract: one bad page never escapes as anything else
        reason = without_surrogates(f"{type(err).__name__}: {err}")
        raise ExtractionError(f"could not read document: {reason}") from err


def _read(body: bytes, url: str, content_type: str | None) -> Document:
    if not isinstance(body, bytes | bytearray | memoryview):
        raise ExtractionError(f"body must be bytes, not {type(body).__name__}")
    body = bytes(body)
    if not body.strip():
        raise ExtractionError("empty body: the server sent nothing to read")
    media = (content_type or "").split(";")[0].strip().lower()

    if is_pdf(body, content_type):
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


# Longer values are not metadata but a page's text pasted into a tag; a language tag longer
# than this is not a BCP 47 tag (whose registered tags fit in 35 characters).
_METADATA_LIMITS = {"title": 1000, "author": 500, "site_name": 500, "description": 5000}
_LANGUAGE_LIMIT = 35
# Characters that only hide or reorder what a title shows: C0 and C1 controls, DEL, zero-width
# characters, byte-order marks and bidi overrides (which make a title read unlike it sorts).
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _tidy_metadata(document: Document) -> None:
    """Metadata as every reader (HTML, PDF, GOV.UK) must leave it: one line of visible
    characters, of a length a list or a feed can show."""
    for name, limit in _METADATA_LIMITS.items():
        value = _visible(getattr(document, name))
        if value and len(value) > limit:
            value = value[: limit - 1].rstrip() + "\u2026"
        setattr(document, name, value)
    language = _visible(document.language)
    document.language = language if language and len(language) <= _LANGUAGE_LIMIT else None


def _visible(value: str | None) -> str | None:
    if value is None:
        return None
    # White space first, so a line break or tab becomes a space rather than joining two words.
    value = " ".join(_INVISIBLE.sub("", " ".join(value.split())).split())
    return value or None


def _encodable(value: Any) -> Any:
    """`value` with each lone surrogate in its strings replaced (see `without_surrogates`),
    records and lists changed in place. Every string is looked at, so that no field added later
    can miss it; that costs little, as most strings are ASCII and are not even searched."""
    if isinstance(value, str):
        return without_surrogates(value)
    if isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _encodable(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            value[key] = _encodable(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for name in _field_names(type(value)):
            setattr(value, name, _encodable(getattr(value, name)))
    return value


@cache
def _field_names(record: type) -> tuple[str, ...]:
    # Asked once per record type: `dataclasses.fields` is slow enough to matter for 5,000 figures.
    return tuple(field.name for field in dataclasses.fields(record))


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
