"""PDF extraction on hand-built PDFs (tests/fixtures/extract/make_pdfs.py writes them)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from extract import ExtractionError, extract_document
from extract.pdf import MAX_PAGES

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
URL = "https://assets.example.org/reports/integrity-2024.pdf"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def make_pdfs():
    spec = importlib.util.spec_from_file_location("make_pdfs", FIXTURES / "make_pdfs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_bomb() -> bytes:
    return make_pdfs().build_bomb()


def test_a_page_whose_stream_cannot_be_inflated_is_an_omission_not_a_blank_page():
    pdfs = make_pdfs()
    streams = [pdfs._content([f"Page {n}: 37 officers dismissed."]) for n in (1, 2, 3)]
    streams[1] = b"FLATE:this is not deflate data"
    doc = extract_document(pdfs.build_pdf([[]] * 3, raw_streams=streams), URL, "application/pdf")
    assert len(doc.page_starts) == 3 and "Page 3:" in doc.text
    assert doc.omissions == [
        "PDF page 2 unreadable: Error -3 while decompressing data: incorrect header check"
    ]


def test_a_cover_line_naming_only_the_publisher_is_not_the_title():
    pdf = make_pdfs().build_pdf(
        [["Independent Office for Police Conduct", "Annual report and accounts 2023/24", "HC 123"]],
        info={"Title": "Microsoft Word - IOPC_AR_2324_FINAL_v3.docx"},
    )
    doc = extract_document(pdf, URL, "application/pdf")
    assert doc.title == "Annual report and accounts 2023/24"


def test_pages_are_joined_and_their_offsets_kept():
    doc = extract_document(read("report.pdf"), URL, "application/pdf")
    assert doc.content_type == "pdf"
    assert len(doc.page_starts) == 2
    first, second = doc.page_starts
    assert first == 0
    assert doc.text[second:].startswith("Findings")
    assert doc.text[second - 2 : second] == "\n\n"
    assert "We inspected 43 forces between April and June 2024." in doc.text[:second]
    assert "In 19 of the 43 forces" in doc.text[second:]


def test_metadata_gives_title_author_dates_and_language():
    doc = extract_document(read("report.pdf"), URL, "application/pdf")
    assert doc.title == "Police integrity inspection 2024"
    assert doc.author == "HMICFRS"
    assert doc.published == "2024-03-05T14:30:00+01:00"
    assert doc.updated == "2024-04-01T09:00:00+00:00"
    assert doc.language == "en-GB"


def test_title_falls_back_to_first_line_when_metadata_title_is_a_file_name():
    doc = extract_document(read("untitled.pdf"), URL, "application/pdf")
    assert doc.title == "Annual report on police complaints"


def test_title_skips_protective_markings_and_dates_on_the_cover():
    doc = extract_document(read("cover.pdf"), URL, "application/pdf")
    assert doc.title == "Police integrity and corruption"


def test_pdf_is_recognised_whatever_the_server_called_it():
    for content_type in (None, "application/octet-stream", "text/html"):
        doc = extract_document(read("report.pdf"), URL, content_type)
        assert doc.content_type == "pdf"


def test_encrypted_pdf_raises():
    with pytest.raises(ExtractionError, match="PDF is encrypted"):
        extract_document(read("encrypted.pdf"), URL, "application/pdf")


def test_pdf_that_opens_with_the_empty_password_is_read():
    doc = extract_document(read("owner-only.pdf"), URL, "application/pdf")
    assert doc.title == "Police integrity inspection 2024"
    assert "In 19 of the 43 forces" in doc.text


def test_image_only_pdf_raises_no_extractable_text():
    with pytest.raises(ExtractionError, match="no extractable text"):
        extract_document(read("image-only.pdf"), URL, "application/pdf")


def test_truncated_pdf_raises_corrupt():
    with pytest.raises(ExtractionError, match="corrupt PDF"):
        extract_document(read("truncated.pdf"), URL, "application/pdf")


def test_html_error_page_served_as_pdf_raises():
    with pytest.raises(ExtractionError, match="not a PDF"):
        extract_document(b"<html><body>Not found</body></html>", URL, "application/pdf")


def test_pdf_bomb_is_read_within_limits():
    bomb = build_bomb()
    started = time.monotonic()
    doc = extract_document(bomb, URL, "application/pdf")
    assert time.monotonic() - started < 30
    assert len(doc.page_starts) == MAX_PAGES  # 2,200 pages in the file
    assert doc.text.startswith("\n\nPage 2 of the bomb")  # the inflating page is left empty
    assert f"Page {MAX_PAGES} of the bomb" in doc.text
    assert f"Page {MAX_PAGES + 1} of the bomb" not in doc.text
    assert doc.omissions == [
        f"PDF has 2,200 pages: only the first {MAX_PAGES:,} were read",
        "PDF page 1 left out: content too large to read (a decompression bomb?)",
    ]
