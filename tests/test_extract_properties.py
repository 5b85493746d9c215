"""Extraction never crashes: any bytes, any mangled page, a Document or an ExtractionError, fast."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extract import Document, ExtractionError, extract_document
from extract.links import normalize_url

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
PAGES = {
    name: (FIXTURES / name).read_bytes()
    for name in (
        "article.html",
        "base-href.html",
        "withdrawn.html",
        "wordpress.html",
        "govuk-news.html",
        "windows-1252.html",
        "report.pdf",
        "untitled.pdf",
    )
}
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "text/html",
        "text/html; charset=utf-8",
        "text/html; charset=nonsense",
        "application/pdf",
        "application/json",
        "application/octet-stream",
        "text/plain; charset=utf-16",
    ]
)
SECONDS_PER_CALL = 5.0
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def assert_document_or_extraction_error(body: bytes, content_type: str | None) -> None:
    started = time.monotonic()
    try:
        doc = extract_document(body, "https://example.org/news/item", content_type)
    except ExtractionError as err:
        assert str(err), "an ExtractionError must say why"
    else:
        assert isinstance(doc, Document)
        assert isinstance(doc.text, str)
        assert doc.content_type in ("html", "pdf", "govuk")
        assert all(0 <= start <= len(doc.text) for start in doc.page_starts)
    assert time.monotonic() - started < SECONDS_PER_CALL


@st.composite
def mutated_pages(draw: st.DrawFn) -> bytes:
    """A real fixture page cut, spliced, flipped and padded the way broken servers do it."""
    page = bytearray(PAGES[draw(st.sampled_from(sorted(PAGES)))])
    for _ in range(draw(st.integers(1, 6))):
        if not page:
            break
        at = draw(st.integers(0, len(page) - 1))
        action = draw(st.sampled_from(["truncate", "delete", "insert", "flip", "duplicate"]))
        if action == "truncate":
            del page[at:]
        elif action == "delete":
            del page[at : at + draw(st.integers(1, 400))]
        elif action == "insert":
            page[at:at] = draw(st.binary(min_size=1, max_size=200))
        elif action == "flip":
            page[at] ^= draw(st.integers(1, 255))
        else:
            page[at:at] = page[at : at + draw(st.integers(1, 2000))]
    return bytes(page)


TAGS = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<div>",
        "</div>",
        "<table>",
        "<tr>",
        "<td>",
        "<a href='x'>",
        "</a>",
        "<figure><img src=':::'>",
        "<base href='javascript:x'>",
        "<meta charset='utf-16'>",
        "<title>",
        "</title>",
        "<h1>",
        "<script>",
        "<!--",
        "]]>",
        "<?xml encoding='x'?>",
    ]
)


@PROPERTY_SETTINGS
@given(st.binary(max_size=4096), CONTENT_TYPES)
def test_arbitrary_bytes_give_a_document_or_an_extraction_error(body, content_type):
    assert_document_or_extraction_error(body, content_type)


@PROPERTY_SETTINGS
@given(mutated_pages(), CONTENT_TYPES)
def test_mutated_real_pages_give_a_document_or_an_extraction_error(body, content_type):
    assert_document_or_extraction_error(body, content_type)


@PROPERTY_SETTINGS
@given(st.lists(st.one_of(TAGS, st.text(max_size=80)), max_size=60))
def test_tag_soup_gives_a_document_or_an_extraction_error(parts):
    body = "".join(parts).encode("utf-8", "surrogatepass")
    assert_document_or_extraction_error(body, "text/html")


@PROPERTY_SETTINGS
@given(st.text(max_size=300))
def test_normalize_url_never_raises(url):
    assert isinstance(normalize_url(url), str)


@PROPERTY_SETTINGS
@given(
    st.sampled_from(["http", "https", "HTTPS"]),
    st.sampled_from(["example.org", "WWW.Gov.UK", "news.example.co.uk:8080", "a.org:443"]),
    st.lists(st.text("abcXYZ019-_.~%é ", min_size=1, max_size=8), max_size=4),
    st.dictionaries(
        st.sampled_from(["q", "page", "utm_source", "fbclid", "id", "b", "a"]),
        st.text("abc123 &=é", max_size=6),
        max_size=4,
    ),
    st.booleans(),
)
def test_normalize_url_is_idempotent(scheme, host, segments, query, trailing_slash):
    from urllib.parse import urlencode

    path = "/" + "/".join(segments) + ("/" if trailing_slash else "")
    url = f"{scheme}://{host}{path}" + (f"?{urlencode(query)}" if query else "")
    once = normalize_url(url)
    assert normalize_url(once) == once
    assert "utm_source" not in once and "fbclid" not in once
