"""GOV.UK Content API items (`/api/content/PATH`) to Documents.

The Content API gives what scraping the page would have to guess: the body without page
furniture, `first_published_at`, `public_updated_at`, the declared `change_history` and any
`withdrawn_notice`, so monitoring can tell a declared edit from a silent one.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

from lxml import etree
from lxml import html as lxml_html

from extract.encoding import without_surrogates
from extract.links import dedupe_links
from extract.records import Document, ExtractionError, Link

__all__ = ["extract_govuk_content", "govuk_html_to_text"]

_PUBLIC_HOST = "https://www.gov.uk"
_CONTENT_PREFIX = "/api/content/"
_BLOCKS = frozenset(
    "address article aside blockquote caption dd details div dl dt figcaption figure footer "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tbody thead tfoot "
    "tr ul".split()
)
_CELLS = frozenset(("td", "th"))
_SKIP = frozenset(("script", "style", "template", "noscript"))


def extract_govuk_content(body: bytes, url: str) -> Document:
    """A Document from a Content API item fetched from `url`.

    `doc.url` stays `url`; `doc.canonical_url` is the public page (same host as the API URL,
    so loopback tests stay on loopback; `https://www.gov.uk` for anything else).
    """
    try:
        item = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ExtractionError(f"not a GOV.UK Content API item: invalid JSON ({error})") from None
    if not isinstance(item, dict) or not isinstance(item.get("base_path"), str):
        raise ExtractionError("not a GOV.UK Content API item: no base_path")
    _refuse_placeholder(item)
    canonical = _public_root(url) + item["base_path"]
    details = _table(item.get("details"))
    body_html = _body_html(details)
    root = _fragment(body_html)
    text = govuk_html_to_text(root) if root is not None else ""
    if not text and not _text(item.get("title")):
        raise ExtractionError("GOV.UK Content API item has neither a title nor a body")
    # A publication's attachment blocks (`details.documents`) are its report and data files:
    # links even when a body is the text.
    attachments = _fragment(
        "\n".join(d for d in _list(details.get("documents")) if isinstance(d, str))
    )
    links = [
        *(_links(root, canonical) if root is not None else []),
        *(_links(attachments, canonical) if attachments is not None else []),
    ]
    published = _iso(item.get("first_published_at"))
    return Document(
        url=url,
        content_type="html",
        title=_text(item.get("title")),
        text=text,
        published=published,
        published_from="content api" if published else None,
        updated=_iso(item.get("public_updated_at")),
        author=_organisation(item),
        description=_text(item.get("description")),
        language=_text(item.get("locale")),
        site_name="GOV.UK",
        links=dedupe_links(links),
        withdrawn=_withdrawn(item.get("withdrawn_notice")),
        canonical_url=canonical,
        change_history=_change_history(details.get("change_history")),
    )


def _refuse_placeholder(item: dict[str, Any]) -> None:
    """GOV.UK answers for moved and deleted pages with items that hold no content."""
    kind = item.get("schema_name") or item.get("document_type")
    if kind == "redirect":
        redirects = item.get("redirects")
        target = next(
            (
                r.get("destination")
                for r in (redirects if isinstance(redirects, list) else [])
                if isinstance(r, dict) and r.get("destination")
            ),
            None,
        )
        where = f" to {target}" if isinstance(target, str) else ""
        raise ExtractionError(f"GOV.UK Content API item is a redirect{where}: no document here")
    if kind in ("gone", "vanish"):
        raise ExtractionError("GOV.UK Content API item is gone: the page was removed")


def govuk_html_to_text(root: etree._Element) -> str:
    """Readable text of a GOV.UK body: paragraphs separated by blank lines, cells by spaces."""
    pieces: list[str] = []
    _walk(root, pieces)
    text = re.sub(r"[ \t\r\f\v\u00a0]+", " ", "".join(pieces))
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _walk(element: etree._Element, pieces: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag not in _SKIP and isinstance(element.tag, str):
        block = tag in _BLOCKS
        if block:
            pieces.append("\n\n")
        elif tag in _CELLS:
            pieces.append(" ")
        elif tag == "br":
            pieces.append("\n")
        if element.text:
            pieces.append(element.text)
        for child in element:
            _walk(child, pieces)
        if block:
            pieces.append("\n\n")
    if element.tail:
        pieces.append(element.tail)


def _body_html(details: dict[str, Any]) -> str:
    """`details.body` (HTML, or the multi-format list), guide `parts`, or attachment blocks."""
    html_parts: list[str] = []
    body = details.get("body")
    if isinstance(body, str):
        html_parts.append(body)
    elif isinstance(body, list):
        html_parts.extend(
            entry["content"]
            for entry in body
            if isinstance(entry, dict)
            and entry.get("content_type") == "text/html"
            and isinstance(entry.get("content"), str)
        )
    for part in _list(details.get("parts")):
        if isinstance(part, dict):
            if isinstance(part.get("title"), str):
                html_parts.append(f"<h2>{_escape(part['title'])}</h2>")
            if isinstance(part.get("body"), str):
                html_parts.append(part["body"])
    if not html_parts:
        html_parts.extend(d for d in _list(details.get("documents")) if isinstance(d, str))
    return "\n".join(html_parts)


def _fragment(markup: str) -> etree._Element | None:
    if not markup.strip():
        return None
    try:
        return lxml_html.fragment_fromstring(without_surrogates(markup), create_parent="div")
    except (ValueError, etree.ParserError):
        return None


def _links(root: etree._Element, base: str) -> list[Link]:
    links: list[Link] = []
    seen = {base}
    for anchor in root.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href:
            continue
        target = urldefrag(urljoin(base, href))[0]
        if urlsplit(target).scheme not in ("http", "https") or target in seen:
            continue
        seen.add(target)
        links.append(Link(target, " ".join(anchor.text_content().split())))
    return links


def _withdrawn(notice: Any) -> str | None:
    """`withdrawn_notice` is `{}` on live items; when withdrawn, its date and explanation."""
    if not isinstance(notice, dict) or not (
        notice.get("explanation") or notice.get("withdrawn_at")
    ):
        return None
    explanation = ""
    if isinstance(notice.get("explanation"), str):
        root = _fragment(notice["explanation"])
        explanation = govuk_html_to_text(root) if root is not None else ""
    when = _iso(notice.get("withdrawn_at"))
    stated = f"Withdrawn on {when}" if when else "Withdrawn"
    return f"{stated}: {explanation}" if explanation else stated


def _change_history(entries: Any) -> list[dict]:
    history: list[dict] = []
    for entry in _list(entries):
        if isinstance(entry, dict):
            history.append(
                {
                    "public_timestamp": _iso(entry.get("public_timestamp")),
                    "note": _text(entry.get("note")) or "",
                }
            )
    return history


def _organisation(item: dict[str, Any]) -> str | None:
    links = _table(item.get("links"))
    for key in ("primary_publishing_organisation", "organisations"):
        for org in _list(links.get(key)):
            if isinstance(org, dict) and _text(org.get("title")):
                return _text(org.get("title"))
    return None


def _public_root(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.path.startswith(_CONTENT_PREFIX):
        return urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return _PUBLIC_HOST


def _iso(value: Any) -> str | None:
    """GOV.UK timestamps ("2024-03-01T10:00:00.000+00:00") as ISO 8601, offset kept.

    None for anything else ("yesterday-ish", "0000-00-00", an offset of a day): the archive
    sorts and compares these as dates, so a value that is not one must not be stored.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).isoformat()
    except ValueError:
        return None


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    """A field that should be a JSON array, or none: one field of the wrong type ("parts":
    true) is ignored rather than losing the item."""
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
