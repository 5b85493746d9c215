"""Discovery APIs: the GOV.UK Search and Content APIs, and WordPress's REST posts endpoint.

Both list a site's documents newest first with declared dates, which beats walking listing pages:
fewer requests, and a modification date for every item. Incremental runs ask only for what
changed since the last run, with a day of overlap so a timezone or an indexing lag loses nothing
(the spider fetches each URL once per run, and re-fetches are conditional, so overlap is cheap).
"""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from lxml import etree
from lxml import html as lxml_html

from crawler.discovery import Candidate, DiscoveryError, absolute_http_url, iso_datetime
from crawler.sources import Api

__all__ = [
    "govuk_attachment_links",
    "govuk_public_url",
    "govuk_search_url",
    "parse_govuk_search",
    "parse_wordpress_posts",
    "wordpress_plain_url",
    "wordpress_posts_url",
]

GOVUK_PAGE_SIZE = 100
GOVUK_FIELDS = "link,title,public_timestamp,format,content_store_document_type,description"
WORDPRESS_PAGE_SIZE = 100  # the REST API's maximum per_page
_OVERLAP = timedelta(days=1)
_CONTENT_PREFIX = "/api/content"
_TAG = re.compile(r"<[^>]*>")


def govuk_search_url(api: Api, since: str | None, start: int = 0) -> str:
    """A GOV.UK Search API page: newest first, from `start`, changed since `since` if given.

    `since` is an ISO date or datetime (the start of the last successful run); the query asks
    for `public_timestamp` from the day before it. A `filter_public_timestamp` in the source's
    params is a floor for the first run; the later of the two wins.
    """
    params: dict[str, Any] = {
        "order": "-public_timestamp",
        "count": str(GOVUK_PAGE_SIZE),
        "fields": GOVUK_FIELDS,
    }
    params.update(api.params)
    if since:
        day = _day_before(since)
        floor = _from_day(str(params.get("filter_public_timestamp", "")))
        if floor is None or day > floor:
            params["filter_public_timestamp"] = f"from:{day.isoformat()}"
    params["start"] = str(start)
    return _with_query(api.url, params)


def parse_govuk_search(body: bytes, url: str) -> tuple[list[Candidate], str | None]:
    """Content API URLs for each result of a Search API page, and the next page's URL.

    Candidates point at `<host>/api/content<link>` (the JSON with body and dates); archive them
    under `govuk_public_url(candidate.url)`. `public_timestamp` is GOV.UK's last public update,
    so it is a modification date. Results that live off GOV.UK (absolute links) are skipped.
    """
    data = _json(body, "GOV.UK search")
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise DiscoveryError("GOV.UK search answer has no 'results' list")
    parts = urlsplit(url)
    content_root = urlunsplit((parts.scheme, parts.netloc, _CONTENT_PREFIX, "", ""))
    candidates: list[Candidate] = []
    for result in data["results"]:
        link = result.get("link") if isinstance(result, dict) else None
        if not isinstance(link, str) or not link.startswith("/") or link.startswith("//"):
            continue
        candidates.append(
            Candidate(
                content_root + link,
                modified=iso_datetime(_str(result.get("public_timestamp"))),
                title=_str(result.get("title")),
            )
        )
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    start = _int(query.get("start"), 0)
    count = _int(query.get("count"), len(data["results"]))
    total = _int(data.get("total"), 0)
    following = None
    if data["results"] and count > 0 and start + count < total:
        following = _with_query(url, {**query, "start": str(start + count)})
    return candidates, following


def govuk_public_url(content_api_url: str) -> str:
    """`https://www.gov.uk/api/content/x/y` -> `https://www.gov.uk/x/y` (same host, for tests)."""
    parts = urlsplit(content_api_url)
    path = parts.path
    if path.startswith(_CONTENT_PREFIX + "/"):
        path = path[len(_CONTENT_PREFIX) :]
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def govuk_attachment_links(body: bytes, url: str | None = None) -> list[Candidate]:
    """PDF attachments of a Content API item (`details.attachments`, `details.documents`).

    Each carries the item's `first_published_at` as `published`: a PDF's own date is often
    missing, and the date of the page that published it is the next best (ARCHITECTURE.md).
    """
    data = _json(body, "GOV.UK content item")
    if not isinstance(data, dict):
        raise DiscoveryError("GOV.UK content item is not a JSON object")
    base = url or "https://www.gov.uk/"
    details: dict[str, Any] = data["details"] if isinstance(data.get("details"), dict) else {}
    published = iso_datetime(_str(data.get("first_published_at")))
    found: list[Candidate] = []
    seen: set[str] = set()

    def add(href: str | None, title: str | None, declared_pdf: bool = False) -> None:
        link = absolute_http_url(href, base)
        if link is None or link in seen:
            return
        # A PDF may be served from a URL without the extension: the declared type is enough.
        if declared_pdf or urlsplit(link).path.lower().endswith(".pdf"):
            seen.add(link)
            found.append(Candidate(link, published=published, title=title or None))

    for attachment in _list(details.get("attachments")):
        if isinstance(attachment, dict):
            add(
                _str(attachment.get("url")),
                _str(attachment.get("title")),
                declared_pdf=attachment.get("content_type") == "application/pdf",
            )
    for snippet in _list(details.get("documents")):
        if isinstance(snippet, str):
            for href, anchor in _html_links(snippet):
                add(href, anchor)
    return found


def wordpress_posts_url(api: Api, page: int = 1, since: str | None = None) -> str:
    """A WP REST posts page, most recently modified first, 100 a page.

    `api.url` is the endpoint (`.../wp-json/wp/v2/posts`, or another post type) or the site root.
    `since` asks only for posts modified after the day before it (`modified_after`, WP 5.7+).
    """
    endpoint = api.url
    if "/wp-json/" not in endpoint and "rest_route=" not in endpoint:
        endpoint = urljoin(
            endpoint if endpoint.endswith("/") else endpoint + "/", "wp-json/wp/v2/posts"
        )
    params: dict[str, Any] = {
        "per_page": str(WORDPRESS_PAGE_SIZE),
        "orderby": "modified",
        "order": "desc",
        "_fields": "link,date_gmt,modified_gmt,title",
    }
    params.update(api.params)
    if since:
        params["modified_after"] = f"{_day_before(since).isoformat()}T00:00:00"
    params["page"] = str(page)
    return _with_query(endpoint, params)


def wordpress_plain_url(url: str) -> str | None:
    """The same REST request through `?rest_route=` on the site root, or None when `url` is not
    a `/wp-json/` address: a site without pretty permalinks answers 404 at `/wp-json/` and serves
    its REST API only in this form."""
    parts = urlsplit(url)
    root, marker, route = parts.path.partition("/wp-json/")
    if not marker:
        return None
    params = {"rest_route": "/" + route, **dict(parse_qsl(parts.query, keep_blank_values=True))}
    return _with_query(urlunsplit((parts.scheme, parts.netloc, root + "/", "", "")), params)


def parse_wordpress_posts(
    body: bytes, url: str, headers: dict[str, str]
) -> tuple[list[Candidate], str | None]:
    """Each post's `link` (modified_gmt as `modified`, date_gmt as `published`) and the next page.

    The next page comes from `X-WP-TotalPages`; header names are matched case-insensitively and
    bytes keys or values (Scrapy's headers) are accepted.
    """
    data = _json(body, "WordPress API")
    if isinstance(data, dict) and "code" in data:
        raise DiscoveryError(f"WordPress API error: {data.get('code')}: {data.get('message', '')}")
    if not isinstance(data, list):
        raise DiscoveryError("WordPress API answer is not a list of posts")
    candidates: list[Candidate] = []
    for post in data:
        if not isinstance(post, dict):
            continue
        link = absolute_http_url(_str(post.get("link")), url)
        if link is None:
            continue
        title = post.get("title")
        if isinstance(title, dict):
            title = title.get("rendered")
        candidates.append(
            Candidate(
                link,
                published=iso_datetime(_str(post.get("date_gmt"))),
                modified=iso_datetime(_str(post.get("modified_gmt"))),
                title=_plain(_str(title)),
            )
        )
    total_pages = _int(_header(headers, "x-wp-totalpages"), 0)
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    page = _int(query.get("page"), 1)
    following = None
    if data and page < total_pages:
        following = _with_query(url, {**query, "page": str(page + 1)})
    return candidates, following


def _json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise DiscoveryError(f"{what} answer is not JSON ({error})") from None


def _with_query(url: str, params: dict[str, Any]) -> str:
    parts = urlsplit(url)
    merged: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
    merged.update(params)
    return urlunsplit(
        (parts.scheme, parts.netloc, parts.path, urlencode(merged, doseq=True, safe=",:/"), "")
    )


def _day_before(since: str) -> date:
    text = since.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        day = moment.date()
    except ValueError:
        day = date.fromisoformat(text[:10])
    return day - _OVERLAP


def _from_day(value: str) -> date | None:
    match = re.match(r"from:(\d{4}-\d{2}-\d{2})", value)
    return date.fromisoformat(match.group(1)) if match else None


def _header(headers: dict[Any, Any], name: str) -> str | None:
    for key, value in headers.items():
        key_text = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if key_text.lower() == name:
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            return None if value is None else str(value)
    return None


def _int(value: Any, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _list(value: Any) -> list:
    """A JSON field that should hold a list, or an empty one: an item whose `attachments` is
    `5` has no attachments to read, and its other fields are still good."""
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _plain(text: str | None) -> str | None:
    if not text:
        return None
    return " ".join(html.unescape(_TAG.sub("", text)).split()) or None


def _html_links(snippet: str) -> list[tuple[str, str | None]]:
    try:
        root = lxml_html.fragment_fromstring(snippet, create_parent="div")
    except (ValueError, etree.ParserError):
        return []
    return [
        (a.get("href", ""), " ".join(a.text_content().split()) or None)
        for a in root.iter("a")
        if a.get("href")
    ]
