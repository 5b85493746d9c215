"""PDF extraction on hand-built PDFs (tests/fixtures/extract/make_pdfs.py writes them)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from extract import ExtractionError, extract_document
from extract.pdf import MAX_ANNOTATIONS, MAX_LINKS, MAX_PAGES, read_links
from tests.helpers import make_pdfs

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
URL = "https://assets.example.org/reports/integrity-2024.pdf"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


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


BODY = [
    ("Overall summary", "We assessed 31 areas."),
    ("Investigating crime", "Supervisors reviewed 32 investigations."),
    ("Protecting the public", "The unit had 33 investigators."),
    ("Vetting", "We reviewed 34 vetting files."),
    ("About the data", "Data came from 35 forces."),
]


def report_pages(count: int) -> list[list[str]]:
    """Pages under a protective marking and a publisher's header, numbered in the footer."""
    return [
        [
            "OFFICIAL",
            "HMICFRS | PEEL 2023–25 | Kent Police",
            *BODY[n - 1],
            f"Page {n} of {count}",
            "OFFICIAL",
        ]
        for n in range(1, count + 1)
    ]


def test_running_headers_and_footers_are_dropped_and_page_offsets_kept():
    doc = extract_document(make_pdfs().build_pdf(report_pages(5)), URL, "application/pdf")
    assert "OFFICIAL" not in doc.text
    assert "HMICFRS" not in doc.text
    assert "Page 3 of 5" not in doc.text
    assert len(doc.page_starts) == 5
    for (heading, sentence), start in zip(BODY, doc.page_starts, strict=True):
        assert doc.text[start:].startswith(f"{heading}\n{sentence}")
    assert [f.text for f in doc.figures if f.kind == "year"] == []
    assert [(f.page, f.value) for f in doc.figures] == [(n, 30 + n) for n in range(1, 6)]


def test_bare_page_numbers_at_the_foot_of_most_pages_are_dropped():
    pages = [[*BODY[n - 1], str(n)] for n in range(1, 5)]
    doc = extract_document(make_pdfs().build_pdf(pages), URL, "application/pdf")
    assert doc.text.split("\n\n") == ["\n".join(lines) for lines in BODY[:4]]


def test_a_table_number_above_a_bare_page_number_is_kept():
    ranks = ["Chief officers", "Superintendents", "Inspectors", "Sergeants"]
    tables = [[*BODY[n], ranks[n], f"2{n}9"] for n in range(4)]
    pages = [[*table, str(n)] for n, table in enumerate(tables, start=1)]
    doc = extract_document(make_pdfs().build_pdf(pages), URL, "application/pdf")
    assert doc.text.split("\n\n") == ["\n".join(table) for table in tables]


def test_a_running_line_inside_a_page_is_kept():
    pages = report_pages(4)
    pages[2].insert(3, "OFFICIAL")
    doc = extract_document(make_pdfs().build_pdf(pages), URL, "application/pdf")
    third = doc.text[doc.page_starts[2] : doc.page_starts[3]]
    assert third.strip() == "Protecting the public\nOFFICIAL\nThe unit had 33 investigators."


def test_a_page_of_nothing_but_running_lines_keeps_them():
    pages = report_pages(4)
    pages[3] = ["OFFICIAL", "Page 4 of 4"]
    doc = extract_document(make_pdfs().build_pdf(pages), URL, "application/pdf")
    assert doc.text[doc.page_starts[3] :] == "OFFICIAL\nPage 4 of 4"
    assert "OFFICIAL" not in doc.text[: doc.page_starts[3]]


def test_a_two_page_document_keeps_its_repeated_lines():
    doc = extract_document(make_pdfs().build_pdf(report_pages(2)), URL, "application/pdf")
    assert doc.text.count("OFFICIAL") == 4
    assert "Page 2 of 2" in doc.text


@pytest.mark.parametrize("superscripts", ["rise", "baseline"])
def test_footnote_markers_are_not_read_into_the_numbers_they_follow(superscripts):
    pdf = make_pdfs().build_pdf(
        [
            [
                "In 2023/24, 118 of 490^{2} corruption referrals were about",
                "abuse of position. Forces referred 4,372^{3} cases, and",
                "24%^{4} of these were about serious injury.",
                "^{2} Figures are for the year ending 31 March 2024.",
            ]
        ],
        superscripts=superscripts,
    )
    doc = extract_document(pdf, URL, "application/pdf")
    assert "118 of 490 corruption referrals" in doc.text
    assert "4,372 cases" in doc.text
    assert "24% of these" in doc.text
    referrals = next(f for f in doc.figures if f.unit == "referral")
    assert (referrals.value, referrals.denominator) == (118, 490)
    assert 4372 in [f.value for f in doc.figures]
    assert [f.value for f in doc.figures if f.kind == "count" and f.value < 10] == []


def test_ligature_glyphs_are_read_as_their_letters():
    pdf = make_pdfs().build_pdf([["The ﬁrearms team had 87 ofﬁcers and", "ﬂagged 12 aﬃliations."]])
    doc = extract_document(pdf, URL, "application/pdf")
    assert doc.text == "The firearms team had 87 officers and\nflagged 12 affiliations."
    assert [f.unit for f in doc.figures] == ["officer", "affiliation"]


def test_words_hyphenated_at_line_ends_are_rejoined_and_compounds_keep_their_hyphen():
    pdf = make_pdfs().build_pdf(
        [
            [
                "Forces sent 40 notifi-",
                "cations about 3,200 stop and search en-",
                "counters. A multi-agency panel met; the multi-",
                "agency panel and the stop-",
                "and-search team agreed.",
            ]
        ]
    )
    doc = extract_document(pdf, URL, "application/pdf")
    assert "40 notifications about" in doc.text
    assert "search encounters." in doc.text
    assert "the multi-\nagency panel" in doc.text
    assert "the stop-\nand-search team" in doc.text


def test_a_word_broken_at_a_prefix_the_document_hyphenates_keeps_its_hyphen():
    pdf = make_pdfs().build_pdf([["A non-crime incident and a non-", "recordable one."]])
    doc = extract_document(pdf, URL, "application/pdf")
    assert "a non-\nrecordable one" in doc.text


@pytest.mark.parametrize(
    ("cover", "title"),
    [
        (
            [
                "OFFICIAL",
                "PEEL 2023–25: Police effectiveness,",
                "efficiency and legitimacy",
                "An inspection of Kent Police",
            ],
            "PEEL 2023–25: Police effectiveness, efficiency and legitimacy",
        ),
        (
            ["Police workforce, England and Wales:", "31 March 2024", "Published 25 July 2024"],
            "Police workforce, England and Wales: 31 March 2024",
        ),
    ],
)
def test_a_cover_title_set_on_two_lines_is_one_title(cover, title):
    doc = extract_document(make_pdfs().build_pdf([cover]), URL, "application/pdf")
    assert doc.title == title


@pytest.mark.parametrize("below", ["OFFICIAL", "Independent Office for Police Conduct"])
def test_a_cover_title_does_not_run_on_into_a_marking_or_the_publisher(below):
    pdf = make_pdfs().build_pdf([["Deaths during or following police contact:", below]])
    doc = extract_document(pdf, URL, "application/pdf")
    assert doc.title == "Deaths during or following police contact:"


@pytest.mark.parametrize(
    "meta_title",
    ["OFFICIAL", "OFFICIAL-SENSITIVE", "HMICFRS", "HMICFRS report template", "(anonymous)"],
)
def test_a_metadata_title_naming_no_report_gives_way_to_the_cover(meta_title):
    pdf = make_pdfs().build_pdf(
        [["OFFICIAL", "Police integrity and corruption", "An inspection"]],
        info={"Title": meta_title},
    )
    doc = extract_document(pdf, URL, "application/pdf")
    assert doc.title == "Police integrity and corruption"


def test_a_change_with_a_minus_sign_is_read_as_a_fall():
    pdf = make_pdfs().build_pdf(
        [["Individual behaviours", "17,995", "−1%", "Discriminatory behaviour"]]
    )
    doc = extract_document(pdf, URL, "application/pdf")
    assert "−1%" in doc.text
    assert [(f.kind, f.value, f.unit) for f in doc.figures] == [
        ("count", 17995, None),
        ("change", -1, "percent"),
    ]


def test_contents_page_numbers_after_dot_leaders_are_not_figures():
    pdf = make_pdfs().build_pdf(
        [
            [
                "Contents",
                "Findings ........ 9",
                "About the data . . . . . . . . 12",
                "We found 40 cases.",
            ]
        ]
    )
    doc = extract_document(pdf, URL, "application/pdf")
    assert [f.value for f in doc.figures] == [40]


@pytest.mark.parametrize(
    "stamp",
    ["D:20230101120000+99'99'", "D:20230101120000+24'00'", "D:20231345999999", "D:00000000000000Z"],
)
def test_a_pdf_date_with_an_impossible_part_is_not_stored(stamp):
    pdf = make_pdfs().build_pdf(
        [["37 officers were dismissed."]], info={"CreationDate": stamp, "ModDate": stamp}
    )
    doc = extract_document(pdf, URL, "application/pdf")
    assert (doc.published, doc.updated) == (None, None)
    assert "37 officers" in doc.text


def test_a_pdf_date_with_a_real_offset_keeps_it():
    pdf = make_pdfs().build_pdf(
        [["37 officers were dismissed."]], info={"CreationDate": "D:20230101120000-05'30'"}
    )
    assert extract_document(pdf, URL, "application/pdf").published == "2023-01-01T12:00:00-05:30"


@pytest.mark.parametrize("superscripts", ["rise", "baseline"])
def test_a_raised_2_or_3_after_a_unit_of_length_is_its_power_not_a_footnote(superscripts):
    pdf = make_pdfs().build_pdf(
        [
            [
                "Each cell is 25 m^{2}, the force area 3,700 km^{2} and",
                "the tank 40 m^{3}; the yard is 900 ft^{2}. Of 490^{2} referrals,",
                "the programme^{3} sent 118 cm^{2} samples.",
                "^{2} Figures are for the year ending 31 March 2024.",
            ]
        ],
        superscripts=superscripts,
    )
    doc = extract_document(pdf, URL, "application/pdf")
    for area in ("25 m²,", "3,700 km² and", "40 m³;", "900 ft².", "118 cm² samples"):
        assert area in doc.text
    assert "Of 490 referrals" in doc.text and "the programme sent" in doc.text
    assert [f.value for f in doc.figures if f.kind == "count"] == [25, 3700, 40, 900, 490, 118]


@pytest.mark.parametrize(
    ("declared", "language"),
    [("en-GB", "en-GB"), ("EN_gb", "en-GB"), ("cy", "cy"), ("English", None), (None, None)],
)
def test_language_is_the_catalogs_lang_tagged_as_a_web_pages_lang_is(declared, language):
    pdf = make_pdfs().build_pdf([["37 officers were dismissed."]], lang=declared)
    assert extract_document(pdf, URL, "application/pdf").language == language


REPORT_URL = "https://www.example.org/reports/2024/vetting.pdf"


def test_link_annotations_are_links_with_the_words_under_them_and_their_page():
    pdf = make_pdfs().build_pdf(
        [
            ["Read [the press release](https://www.example.org/news/vetting/) first."],
            [
                "The tables are in [Annex A: data tables](annex-a.pdf), and the",
                "figures as [a spreadsheet (XLSX)](../../data/vetting.xlsx) or",
                "[CSV](/data/vetting.csv). See also [page 4](#page=4).",
            ],
        ]
    )
    doc = extract_document(pdf, REPORT_URL, "application/pdf")
    assert [(link.url, link.anchor, link.page) for link in doc.links] == [
        ("https://www.example.org/news/vetting/", "the press release", 1),
        ("https://www.example.org/reports/2024/annex-a.pdf", "Annex A: data tables", 2),
        ("https://www.example.org/data/vetting.xlsx", "a spreadsheet (XLSX)", 2),
        ("https://www.example.org/data/vetting.csv", "CSV", 2),
    ]
    assert "The tables are in Annex A: data tables, and the" in doc.text


def test_a_link_that_wraps_onto_the_next_line_is_one_link_with_all_its_words():
    url = "https://www.example.org/publications/vetting-misconduct-and-misogyny/"
    pdf = make_pdfs().build_pdf(
        [[f"See [An inspection of vetting,]({url})", f"[misconduct and misogyny]({url}) (2022)."]]
    )
    doc = extract_document(pdf, REPORT_URL, "application/pdf")
    assert [(link.url, link.anchor) for link in doc.links] == [
        (url, "An inspection of vetting, misconduct and misogyny")
    ]


@pytest.mark.parametrize(
    ("base", "annex"),
    [
        ("https://assets.example.org/hmicfrs/", "https://assets.example.org/hmicfrs/annex.pdf"),
        ("/uploads/", "https://www.example.org/uploads/annex.pdf"),
        ("file:///C:/Reports/", "https://www.example.org/reports/2024/annex.pdf"),
    ],
)
def test_relative_links_resolve_against_the_documents_uri_base_when_it_is_a_web_address(
    base, annex
):
    pdf = make_pdfs().build_pdf([["See [the annex](annex.pdf)."]], uri_base=base)
    assert [link.url for link in extract_document(pdf, REPORT_URL).links] == [annex]


ANNEX = b"<< /Subtype /Link /Rect [72 757 150 771] /A << /S /URI /URI (annex.pdf) >> >>"
MALFORMED = [
    b"{self}",  # a reference to itself
    b"<< /Subtype /Link /Rect [72 757 150 771] /A {self} >>",  # an action that is the annotation
    b"<< /Subtype /Link /Rect [72 757 150 771] /A << /S /URI /URI {self} >> >>",
    b"<< /Subtype /Link /Rect [72 757 150 771] /A << /S /URI /URI 999 0 R >> >>",  # dangling
    b"<< /Subtype /Link /Rect [72 757 150 771] /A [/URI (a.pdf)] >>",  # an array, not an action
    b"<< /Subtype /Link /Rect [72 757 150 771] /A << /S /URI /URI 42 >> >>",
    b"<< /Subtype /Link /Rect [72 757 150 771] /A << /S /GoTo /D [3 0 R /Fit] >> >>",
    b"<< /Subtype /Link /Rect [72 757 150 771] /A << /S /URI /URI (javascript:alert(1)) >> >>",
    b"[1 2 3]",
    b"42",
    b"<< /Subtype /Link /Rect (wide) /QuadPoints [1 2] /A << /S /URI /URI (b.pdf) >> >>",
    ANNEX,
]


@pytest.mark.parametrize(
    "annotations",
    [MALFORMED, b"5", b"(not an array)", b"<< /A << /S /URI /URI (c.pdf) >> >>"],
    ids=["malformed annotations", "a number", "a string", "a dictionary"],
)
def test_malformed_annotations_cost_the_document_nothing(annotations):
    pdf = make_pdfs().build_pdf(
        [["Annex A: 37 officers dismissed."], ["Page two."]], annotations=[annotations, []]
    )
    doc = extract_document(pdf, REPORT_URL, "application/pdf")
    assert doc.text == "Annex A: 37 officers dismissed.\n\nPage two."
    assert doc.omissions == []
    if annotations is MALFORMED:
        # A link whose rectangle is unreadable is a link all the same, with no words.
        assert [(link.url, link.anchor) for link in doc.links] == [
            ("https://www.example.org/reports/2024/b.pdf", ""),
            ("https://www.example.org/reports/2024/annex.pdf", "Annex A: 37"),
        ]
    else:
        assert doc.links == []


def test_thousands_of_annotations_are_read_to_a_limit_and_the_rest_is_an_omission():
    links = b" ".join(
        b"<< /Subtype /Link /Rect [72 757 150 771] /A << /S /URI /URI (p%d.pdf) >> >>" % n
        for n in range(6000)
    )
    pages = [[f"Page {n} of the link farm."] for n in range(1, 4)]
    pdf = make_pdfs().build_pdf(pages, annotations=[b"[" + links + b"]"] * 3)
    started = time.monotonic()
    doc = extract_document(pdf, REPORT_URL, "application/pdf")
    assert time.monotonic() - started < 20
    assert [page.split(":")[0] for page in doc.text.split("\n\n")] == [
        f"Page {n} of the link farm." for n in range(1, 4)
    ]
    assert len(doc.links) == MAX_LINKS
    assert doc.omissions == [
        f"PDF has more than {MAX_ANNOTATIONS:,} annotations: the rest, from page 2 on, were not "
        "read for links",
        f"more than {MAX_LINKS:,} links: only the first {MAX_LINKS:,} were kept",
    ]


def test_a_crawler_reads_a_pdfs_links_without_its_text():
    pdf = make_pdfs().build_pdf(
        [["Read [the annex](annex.pdf)."], ["Or [the data](data.csv), or [page 1](#page=1)."]]
    )
    assert [(link.url, link.page) for link in read_links(pdf, REPORT_URL)] == [
        ("https://www.example.org/reports/2024/annex.pdf", 1),
        ("https://www.example.org/reports/2024/data.csv", 2),
    ]
    assert read_links(make_pdfs().build_pdf([["No links."]]), REPORT_URL) == []
    with pytest.raises(ExtractionError, match="corrupt PDF"):
        read_links(read("truncated.pdf") + b"/URI", REPORT_URL)
