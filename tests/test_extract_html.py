"""HTML extraction on pages written for these tests (tests/fixtures/extract/)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from extract import Document, ExtractionError, extract_document
from extract.encoding import decode_html
from extract.links import normalize_url, without_tracking

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
ARTICLE_URL = "https://www.northgate-courier.example/news/2024/officer-dismissed"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def article() -> Document:
    return extract_document(read("article.html"), ARTICLE_URL, "text/html; charset=utf-8")


def test_title_is_the_headline_without_site_suffix(article):
    assert article.title == "Officer dismissed after watchdog finds gross misconduct"


def test_article_metadata_is_read(article):
    assert article.content_type == "html"
    assert article.published == "2024-03-05T09:30:00+00:00"
    assert article.updated == "2024-03-06T12:00:00+00:00"
    assert article.author == "Priya Shah"
    assert article.description.startswith("A constable was dismissed without notice")
    assert article.language == "en-GB"
    assert article.site_name == "Northgate Courier"


def test_main_text_keeps_the_article_and_link_text(article):
    assert article.text.startswith("A police constable has been dismissed without notice")
    assert "Independent Office for Police Conduct said in a statement" in article.text
    assert "118 referrals about discriminatory behaviour" in article.text
    assert article.text.rstrip().endswith("police force in England and Wales.")


@pytest.mark.parametrize(
    "furniture",
    [
        "We use cookies",
        "Opinion and analysis",
        "Share on Twitter",
        "Chief constable announces retirement",
        "Sign up to our newsletter",
        "Privacy policy",
        "Related stories",
    ],
)
def test_page_furniture_is_left_out(article, furniture):
    assert furniture not in article.text


def test_headline_is_not_repeated_as_first_line(article):
    assert not article.text.startswith(article.title)


def test_links_come_only_from_main_content_and_are_absolute(article):
    urls = [link.url for link in article.links]
    assert urls == [
        "https://www.policeconduct.gov.uk/news/officer-dismissed-following-iopc-investigation"
        "?utm_source=courier",
        "https://www.northgate-courier.example/news/reports/misconduct-2024.pdf",
    ]
    assert article.links[0].anchor == "Independent Office for Police Conduct said in a statement"
    assert article.links[1].anchor == "full misconduct outcome report"


def test_base_href_decides_where_relative_links_point():
    doc = extract_document(read("base-href.html"), "https://www.example.org/press/statistics")
    assert [(link.url, link.anchor) for link in doc.links] == [
        ("https://static.example.org/press/2024/annual-statistics.pdf", "annual statistics report"),
        ("https://static.example.org/data/tables.csv", "data table"),
    ]
    assert "Menu of every section" not in doc.text
    assert doc.title == "Watchdog publishes annual statistics"


def test_tables_keep_caption_header_and_rows(article):
    assert len(article.tables) == 1
    table = article.tables[0]
    assert table.caption == "Referrals to the watchdog by category"
    assert table.header == ["Category", "Referrals"]
    assert table.rows == [["Discriminatory behaviour", "118"], ["Theft", "52"], ["Other", "320"]]
    assert "|---" not in article.text


def test_figure_images_keep_caption_and_alt(article):
    assert len(article.images) == 1
    image = article.images[0]
    assert image.src == "https://www.northgate-courier.example/images/hearing-room.jpg"
    assert image.alt == "An empty hearing room at police headquarters"
    assert image.caption == "The hearing took place at Northgate police headquarters."


def test_charset_declared_only_in_meta_decodes_windows_1252():
    body = read("windows-1252.html")
    assert b"\x92" in body and b"\xa3" in body  # curly apostrophe and pound sign, cp1252 bytes
    doc = extract_document(body, "https://gazette.example/news/overspend", "text/html")
    assert doc.title == "Chief constable\u2019s \u00a32.5m overspend criticised"
    assert "\u201cfailed to get a grip\u201d" in doc.text
    assert "\u00a34.1 million" in doc.text
    assert "\ufffd" not in doc.text


def test_utf8_bytes_win_over_a_wrong_declaration():
    page = read("article.html").replace(b'charset="utf-8"', b'charset="windows-1252"')
    page = page.replace(b"eighteen months", "eighteen months \u2014 \u00a3500".encode())
    doc = extract_document(page, ARTICLE_URL, "text/html; charset=iso-8859-1")
    assert "eighteen months \u2014 \u00a3500" in doc.text


def test_http_charset_is_used_when_the_page_declares_none():
    page = "<html><body><p>Caf\u00e9 owners fined \u00a3300</p></body></html>".encode("latin-1")
    text, codec = decode_html(page, "iso-8859-1")
    assert "Caf\u00e9 owners fined \u00a3300" in text
    assert codec == "cp1252"


def test_a_stray_windows_1252_byte_does_not_turn_a_utf8_page_to_mojibake():
    page = "<html><head><meta charset='utf-8'></head><body><p>Force \u2018failed\u2019 victims, says caf\u00e9 owner: it\u2019s \u00a31.2m</p></body></html>"
    stray = page.encode("utf-8").replace("it\u2019s".encode(), b"it\x92s")
    text, codec = decode_html(stray, "utf-8")
    assert "Force \u2018failed\u2019 victims, says caf\u00e9 owner: it\u2019s \u00a31.2m" in text
    assert codec == "utf-8"


def test_utf16_declared_in_the_header_without_a_byte_order_mark_is_read():
    page = f"<html><body><main><h1>Police \u2018failed\u2019 victims</h1>{LABELLED_BODY}</main></body></html>"
    doc = extract_document(
        page.encode("utf-16-le"), "https://w.example/a", "text/html; charset=UTF-16LE"
    )
    assert doc.title == "Police \u2018failed\u2019 victims"


def test_byte_order_mark_decides_the_encoding():
    page = "\ufeff<html><body><p>Police \u2018failed\u2019 victims</p></body></html>"
    text, codec = decode_html(page.encode("utf-16-le"), "iso-8859-1")
    assert "Police \u2018failed\u2019 victims" in text
    assert codec == "utf-16-le"


def test_undeclared_legacy_encoding_is_detected():
    page = (
        "<html><body><p>Le commissaire a d\u00e9clar\u00e9 que l\u2019enqu\u00eate "
        "\u00e9tait termin\u00e9e et que les r\u00e9sultats seraient publi\u00e9s.</p></body></html>"
    ).encode("cp1252")
    text, _ = decode_html(page)
    assert "d\u00e9clar\u00e9" in text and "l\u2019enqu\u00eate" in text


def test_withdrawal_notice_is_detected():
    doc = extract_document(read("withdrawn.html"), "https://www.gov.uk/guidance/police-powers")
    assert doc.withdrawn is not None
    assert doc.withdrawn.startswith("This guidance was withdrawn on 20 January 2022")
    assert "revised code of practice" in doc.withdrawn
    assert doc.published == "2019-06-12T10:00:00+01:00"
    assert doc.title == "Police powers guidance"


@pytest.mark.parametrize("when", ["last year", "on 12 May 2022"])
def test_article_that_mentions_a_withdrawal_is_not_withdrawn(article, when):
    page = (
        b"<html><head><title>Policy row</title></head><body><article><h1>Policy row</h1>"
        b"<p>This policy was withdrawn " + when.encode() + b" after a legal challenge by "
        b"campaigners, and ministers have not said what will replace it.</p></article></body></html>"
    )
    assert extract_document(page, "https://news.example/policy").withdrawn is None
    assert article.withdrawn is None


def test_short_page_still_gives_its_text():
    page = (
        b"<html><head><title>Notice</title></head><body><p>Office closed today.</p></body></html>"
    )
    doc = extract_document(page, "https://example.org/notice")
    assert doc.title == "Notice"
    assert "Office closed today." in doc.text


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", "text/html", "empty body"),
        (b"   \n\t ", None, "empty body"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "text/html", "binary content"),
        (bytes(range(256)) * 16, "text/html", "binary content"),
        (b'{"results": []}', "application/json", "not a GOV.UK Content API item"),
        (b"GIF89a....", None, "binary content"),
        (b"\x00\x01\x02" * 100, "audio/mpeg", "unsupported content type"),
        (b"<?xml version='1.0'?><rss version='2.0'><channel/></rss>", "text/xml", "a feed"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "application/atom+xml", "a feed"),
    ],
)
def test_unreadable_bodies_raise_an_extraction_error_that_says_why(body, content_type, reason):
    with pytest.raises(ExtractionError, match=reason):
        extract_document(body, "https://example.org/x", content_type)


def test_govuk_content_item_is_dispatched_to_the_govuk_reader():
    item = {
        "base_path": "/government/news/police-watchdog-statement",
        "title": "Police watchdog statement",
        "document_type": "press_release",
        "first_published_at": "2024-02-01T10:00:00.000+00:00",
        "public_updated_at": "2024-02-01T10:00:00.000+00:00",
        "details": {"body": "<p>The watchdog published 118 referrals in its statement today.</p>"},
    }
    body = json.dumps(item).encode()
    url = "https://www.gov.uk/government/news/police-watchdog-statement"
    try:
        doc = extract_document(body, url, "application/json")
    except ExtractionError as err:  # only while the GOV.UK reader is not there yet
        assert "GOV.UK" in str(err)
    else:
        assert doc.title == "Police watchdog statement"
        assert "118 referrals" in doc.text


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        (
            "HTTPS://WWW.Gov.UK:443/news/x/?utm_source=t&b=2&a=1#top",
            "https://www.gov.uk/news/x?a=1&b=2",
        ),
        ("https://www.gov.uk/news/x", "https://www.gov.uk/news/x"),
        ("http://example.org:80", "https://example.org/"),
        ("http://example.org:8080/a", "https://example.org:8080/a"),
        ("https://example.org/?fbclid=abc&gclid=def", "https://example.org/"),
        ("https://example.org/a/./b/../c/", "https://example.org/a/c"),
        ("https://example.org/caf\u00e9", "https://example.org/caf%C3%A9"),
        ("mailto:press@example.org", "mailto:press@example.org"),
        ("", ""),
    ],
)
def test_normalize_url_gives_one_form_per_document(url, normal):
    assert normalize_url(url) == normal


@pytest.mark.parametrize(
    ("url", "fetched"),
    [
        ("https://a.org/news/a?utm_source=twitter&utm_medium=social", "https://a.org/news/a"),
        ("https://a.org/news/a?fbclid=IwAR0abc", "https://a.org/news/a"),
        ("https://a.org/news/?page=2&utm_source=x", "https://a.org/news/?page=2"),
        ("https://a.org/a?id=7&UTM_Campaign=x&gclid=1&ref=sm", "https://a.org/a?id=7&ref=sm"),
        ("https://a.org/a?q=two%20words&utm%5Fsource=x", "https://a.org/a?q=two%20words"),
        ("https://a.org/News/?b=2&a=1", "https://a.org/News/?b=2&a=1"),
    ],
)
def test_tracking_parameters_are_removed_and_the_rest_is_left_as_written(url, fetched):
    assert without_tracking(url) == fetched


def test_normalize_url_matches_a_citation_to_the_archived_url(article):
    cited = normalize_url(article.links[0].url)
    archived = normalize_url(
        "https://www.policeconduct.gov.uk/news/officer-dismissed-following-iopc-investigation/"
    )
    assert cited == archived


@pytest.fixture(scope="module")
def wordpress_post() -> Document:
    url = "https://inspectorate.example/news/news-feed/vetting-inspection/"
    return extract_document(read("wordpress.html"), url, "text/html; charset=UTF-8")


@pytest.mark.parametrize(
    "byline",
    [
        '<li class="post-author">By <a href="/author/press-office/">Press Office</a></li>',
        '<span class="entry-author">Press Office</span>',
        '<p class="meta">Posted on 3 May by <a href="/author/press-office/">Press Office</a></p>',
    ],
)
def test_wordpress_bylines_give_the_author(byline):
    page = (
        "<html><head><title>Referrals rise</title></head><body>"
        '<aside class="sidebar"><a href="/author/editor/">Our editor</a></aside>'
        f"<article><h1>Referrals rise</h1>{byline}"
        "<p>Forces referred 490 matters to the watchdog this year, 118 of them for abuse of "
        "position for a sexual purpose, more than double those for theft.</p></article>"
        "</body></html>"
    )
    doc = extract_document(page.encode(), "https://watchdog.example/news/referrals/")
    assert doc.author == "Press Office"


def test_wordpress_post_metadata_comes_from_its_own_markup(wordpress_post):
    assert (
        wordpress_post.title == "Inspection finds force \u2018requires improvement\u2019 on vetting"
    )
    assert wordpress_post.published == "2024-05-14T10:00:00+01:00"
    assert wordpress_post.updated == "2024-05-15T08:12:00+01:00"
    assert wordpress_post.author == "Press Office"
    assert wordpress_post.site_name == "Example Inspectorate"


@pytest.mark.parametrize(
    "furniture",
    [
        "Skip to content",
        "About us and how we inspect",
        "Posted on",
        "Tagged",
        "Previous: Annual assessment",
        "thoughts on",
        "my neighbour waited months",
        "Recent Posts",
        "Forces urged to act",
        "Proudly powered by WordPress",
    ],
)
def test_wordpress_comments_sidebar_and_footer_are_left_out(wordpress_post, furniture):
    assert furniture not in wordpress_post.text


def test_wordpress_post_keeps_its_full_text_and_report_link(wordpress_post):
    assert wordpress_post.text.startswith("An inspection of Eastshire Police has found")
    assert "That is a risk the public should not have to accept.\u201d" in wordpress_post.text
    assert [link.url for link in wordpress_post.links] == [
        "https://assets.example/uploads/eastshire-vetting-2024.pdf"
    ]


def test_govuk_page_keeps_the_release_and_drops_the_service_furniture():
    url = "https://www.gov.uk/government/news/home-secretary-announces-police-vetting-review"
    doc = extract_document(read("govuk-news.html"), url, "text/html; charset=utf-8")
    assert doc.title == "Home Secretary announces police vetting review"
    assert doc.published == "2023-01-17T14:05:00+00:00"
    assert doc.site_name == "GOV.UK"
    assert "legally qualified chairs" in doc.text
    assert doc.text.rstrip().endswith("latest police misconduct statistics.")
    for furniture in (
        "Cookies on GOV.UK",
        "Crime, justice and law",
        "Print this page",
        "Share this page",
        "Related content",
        "Is this page useful?",
        "Open Government Licence",
        "Published 17 January 2023",
    ):
        assert furniture not in doc.text
    assert [link.anchor for link in doc.links] == ["latest police misconduct statistics"]


def test_in_page_anchors_are_not_links():
    page = (
        b"<html><head><title>Report</title></head><body><article><h1>Report</h1>"
        b'<p>See <a href="#findings">the findings</a> and the <a href="/full.pdf">full report</a>'
        b" for the detail behind each of the recommendations made to the force.</p>"
        b"</article></body></html>"
    )
    doc = extract_document(page, "https://example.org/report")
    assert [link.url for link in doc.links] == ["https://example.org/full.pdf"]
    assert "the findings" in doc.text


@pytest.mark.parametrize(
    ("head", "title"),
    [
        # no <h1>: the <title> minus the site name decides
        (
            "<title>Met officer jailed - statement | IOPC</title>"
            '<meta property="og:site_name" content="IOPC">',
            "Met officer jailed - statement",
        ),
        (
            "<title>Eastshire officer jailed for fraud - Local News</title>",
            "Eastshire officer jailed for fraud",
        ),
        ("<title>Review: police vetting</title>", "Review: police vetting"),
        ("<title>Kent Police officer sacked | Kent Police</title>", "Kent Police officer sacked"),
    ],
)
def test_title_without_a_headline_element_drops_only_the_site_name(head, title):
    page = (
        f"<html><head>{head}</head><body><div><p>The force said the officer had been "
        "suspended and that an investigation by the watchdog was continuing.</p></div>"
        "</body></html>"
    ).encode()
    assert extract_document(page, "https://example.org/a").title == title


def test_wrong_http_charset_falls_back_to_what_the_bytes_are():
    page = (
        "<html><body><p>The panel\u2019s report cost \u00a312,000 and took nine months "
        "to complete.</p></body></html>"
    ).encode("cp1252")
    doc = extract_document(page, "https://example.org/a", "text/html; charset=utf-8")
    assert "The panel\u2019s report cost \u00a312,000" in doc.text


@pytest.mark.parametrize(
    ("declared", "published"),
    [
        ("2024-03-05T09:30:00+00:00", "2024-03-05T09:30:00+00:00"),
        ("2024-03-05T09:30:00Z", "2024-03-05T09:30:00+00:00"),
        ("2024-03-05T09:30:00.250+01:00", "2024-03-05T09:30:00.250000+01:00"),
        ("2024-03-05 09:30", "2024-03-05T09:30:00"),
        ("2024-03-05", "2024-03-05"),
        ("5 March 2024", "2024-03-05"),
        ("March 5, 2024 9:30am", "2024-03-05T09:30:00"),
        # Not a date: the next declaration, the article's <time>, decides.
        ("2024-02-30T09:30:00Z", "2024-03-01"),
        ("1850-03-05", "2024-03-01"),
    ],
)
def test_declared_publication_dates_are_read_as_iso_8601(declared, published):
    page = (
        f'<html><head><meta property="article:published_time" content="{declared}">'
        "<title>Inspection report</title></head><body><article><h1>Inspection report</h1>"
        '<time datetime="2024-03-01">1 March</time><p>The inspectorate found that the force '
        "had not recorded one in seven violent crimes reported to it.</p></article></body></html>"
    ).encode()
    assert extract_document(page, "https://example.org/a").published == published


def test_a_date_is_guessed_from_the_text_of_an_article_but_not_of_a_data_dump():
    page = "<html><body><article><h1>Referrals</h1><p>{}</p></article></body></html>"
    words = "Forces referred matters to the watchdog this year. "
    url = "https://w.example/news/2024/05/03/referrals/"  # htmldate reads the date in the URL
    article = extract_document(page.format(words * 20).encode(), url)
    dump = extract_document(page.format(words * 25_000).encode(), url)
    assert article.published == "2024-05-03" and dump.published is None


def _nested(depth: int) -> bytes:
    return (
        "<html><head><title>Deep page</title></head><body><p>Before the nesting.</p>"
        + "<div>" * depth
        + "<p>Inside the nesting the watchdog upheld 118 of 490 referrals.</p>"
        + "</div>" * depth
        + "<p>After the nesting.</p></body></html>"
    ).encode()


def test_markup_nested_past_the_parsers_usual_depth_is_read_whole():
    doc = extract_document(_nested(600), "https://w.example/deep", "text/html")
    assert "118 of 490 referrals" in doc.text and "After the nesting." in doc.text
    assert doc.omissions == []


def test_markup_nested_past_any_depth_keeps_what_came_before_and_says_so():
    doc = extract_document(_nested(5000), "https://w.example/deep", "text/html")
    assert "Before the nesting." in doc.text and "After the nesting." not in doc.text
    assert doc.omissions == [
        "HTML nested more than 2,048 elements deep: the parser stops there, so the text after "
        "that point is missing"
    ]


def test_links_past_the_cap_are_an_omission_but_their_words_stay():
    links = "".join(f'<li><a href="/p{i}">Page {i}</a></li>' for i in range(5003))
    body = f"<html><head><title>Index</title></head><body><ul>{links}</ul></body></html>"
    doc = extract_document(body.encode(), "https://w.example/index", "text/html")
    assert doc.omissions == [
        "page has 5,003 links: only the first 5,000 were read as links (the words of the rest "
        "stay in the text)"
    ]


LABELLED_BODY = (
    "<p>" + "The watchdog upheld 118 of 490 referrals for abuse of position. " * 4 + "</p>"
)


@pytest.mark.parametrize(
    "written",
    [
        "<p>Published 3 March 2025</p>",
        "<p><strong>Published:</strong> 3 March 2025</p>",
        "<dl><dt>Published</dt><dd>3 March 2025</dd></dl>",
        "<div class='meta'>Posted on 3rd March 2025 at 10:32</div>",
        "<p>Published March 3, 2025</p>",
    ],
)
def test_a_date_written_under_a_label_is_the_published_date(written):
    page = f"<html><body><main><h1>Force news</h1>{written}{LABELLED_BODY}</main></body></html>"
    doc = extract_document(page.encode(), "https://force.example/news/item", "text/html")
    assert doc.published == "2025-03-03"


def test_a_date_in_a_sentence_or_under_an_updated_label_is_not_the_published_date():
    written = "<p>The report, published 3 March 2025, found failings.</p><p>Updated 5 June 2025</p>"
    page = f"<html><body><main><h1>Force news</h1>{written}{LABELLED_BODY}</main></body></html>"
    doc = extract_document(page.encode(), "https://force.example/news/item", "text/html")
    assert (doc.published, doc.updated) == (None, "2025-06-05")


def test_a_link_standing_alone_to_the_report_is_kept_but_furniture_links_are_not():
    page = (
        "<html><body><nav><a href='/files/annual.pdf'>Annual report</a></nav><article>"
        f"<h1>Referrals rise</h1>{LABELLED_BODY}"
        "<p><a href='/files/report.pdf'>Read the full report</a></p>"
        "<p><a href='/inspections/vetting/'>Read the full report online</a></p>"
        "<h2>Related news</h2><ul><li><a href='/news/a'>Another story</a></li>"
        "<li><a href='/news/b'>A third story</a></li></ul></article></body></html>"
    )
    doc = extract_document(page.encode(), "https://w.example/news/item", "text/html")
    assert [(link.url, link.anchor) for link in doc.links] == [
        ("https://w.example/files/report.pdf", "Read the full report"),
        ("https://w.example/inspections/vetting/", "Read the full report online"),
    ]


@pytest.mark.parametrize(
    "ld, author",
    [
        (
            {"@type": "NewsArticle", "author": [{"name": "Zoe Crowther"}, {"name": "Adam Payne"}]},
            "Zoe Crowther, Adam Payne",
        ),
        (
            {
                "@graph": [
                    {"@type": "Article", "author": {"@id": "https://w.example/#jane"}},
                    {"@type": "Person", "@id": "https://w.example/#jane", "name": "Jane Doe"},
                ]
            },
            "Jane Doe",
        ),
    ],
)
def test_json_ld_gives_every_author_and_follows_references(ld, author):
    page = (
        f'<html><head><script type="application/ld+json">{json.dumps(ld)}</script></head>'
        f"<body><main><h1>Force news</h1>{LABELLED_BODY}</main></body></html>"
    )
    assert extract_document(page.encode(), "https://w.example/a", "text/html").author == author


def test_a_headline_that_is_the_whole_title_gives_no_site_name():
    page = (
        "<html><head><title>Stop-and-search powers - a guide</title></head><body><main>"
        f"<h1>Stop-and-search powers - a guide</h1>{LABELLED_BODY}</main></body></html>"
    )
    doc = extract_document(page.encode(), "https://w.example/guide", "text/html")
    assert (doc.title, doc.site_name) == ("Stop-and-search powers - a guide", None)


@pytest.mark.parametrize(
    "head, byline, path, published, source",
    [
        (
            '<meta property="article:published_time" content="2025-03-04">',
            "",
            "",
            "2025-03-04",
            "page",
        ),
        ("", "<p>Published 3 March 2025</p>", "", "2025-03-03", "page text"),
        ("", "", "2025/03/20/", "2025-03-20", "page guess"),
        ("", "", "", None, None),
    ],
)
def test_a_publication_date_says_where_it_came_from(head, byline, path, published, source):
    text = " ".join(f"The inspectorate found {n} forces needed to improve." for n in range(30))
    body = (
        f"<html><head><title>Report</title>{head}</head><body><article><h1>Report</h1>"
        f"{byline}<p>{text}</p></article></body></html>"
    ).encode()
    doc = extract_document(body, f"https://example.org/news/{path}report", "text/html")
    assert (doc.published and doc.published[:10], doc.published_from) == (published, source)


def _page(head: str, body: str = "<article><p>The IOPC upheld 118 of 490 referrals.</p></article>"):
    return f"<html><head><title>Page</title>{head}</head><body>{body}</body></html>".encode()


def _all_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _all_strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _all_strings(item)]
    if hasattr(value, "__dataclass_fields__"):
        return [
            s for name in value.__dataclass_fields__ for s in _all_strings(getattr(value, name))
        ]
    return []


def test_lone_surrogates_from_json_ld_escapes_become_replacement_characters():
    ld = '{"@type": "NewsArticle", "author": {"name": "A \\udfff B"}, "headline": "H \\ud800"}'
    doc = extract_document(
        _page(f'<script type="application/ld+json">{ld}</script>'), "https://w.example/a"
    )
    assert doc.author == "A \ufffd B"
    for string in _all_strings(doc):
        string.encode("utf-8")


def test_metadata_keeps_no_control_zero_width_or_bidi_override_characters():
    title = "Officer&#x0A;dismissed&#x202E; after&#x200B; &#x7F;review&#xFEFF;&#x2066;"
    doc = extract_document(
        _page(
            f'<meta property="og:title" content="{title}">'
            '<meta name="author" content="Priya&#x09;&#x200F;Shah">'
            '<meta property="og:site_name" content="&#x202A;Courier&#x202C;">'
            '<meta name="description" content="One&#x2028;line\u009f">',
            "<article><p>The IOPC upheld 118 of 490 referrals.</p></article>",
        ),
        "https://w.example/a",
        "text/html; charset=utf-8",
    )
    assert doc.title == "Officer dismissed after review"
    assert (doc.author, doc.site_name, doc.description) == ("Priya Shah", "Courier", "One line")


def test_overlong_metadata_is_cut_and_an_overlong_language_tag_dropped():
    language = "en-" + "-".join(["abcdefgh"] * 5)
    doc = extract_document(
        _page(
            f'<meta property="og:title" content="{"word " * 600}">'
            f'<meta name="description" content="{"word " * 2000}">'
        ).replace(b"<html>", f'<html lang="{language}">'.encode()),
        "https://w.example/a",
    )
    assert len(doc.title) == 1000 and doc.title.endswith("word\u2026")
    assert len(doc.description) == 5000
    assert doc.language is None


@pytest.mark.parametrize(
    "published",
    ["2024-03-01T10:00:00+24:00", "2024-03-01T10:00:00+99:99", "1 March 2024 10:00 +9999"],
)
def test_a_date_with_an_impossible_offset_is_not_the_declared_date_and_the_page_is_kept(
    published,
):
    meta = f'<meta property="article:published_time" content="{published}">'
    doc = extract_document(_page(meta), "https://w.example/a")
    assert doc.published_from != "page"
    assert "118 of 490 referrals" in doc.text


def test_a_control_character_after_a_script_in_a_short_page_keeps_the_page():
    body = "<p>The IOPC upheld 118 of 490 referrals.<script>x</script>&#1;tail</p>"
    doc = extract_document(_page("", body), "https://w.example/a")
    assert doc.text.startswith("The IOPC upheld 118 of 490 referrals.")
    assert doc.text.endswith("tail") and "x" not in doc.text.split(".")[-1]


@pytest.mark.parametrize("tag", ["table", "article"])
def test_tables_and_articles_nested_hundreds_deep_are_read_quickly_with_their_words(tag):
    body = (
        f"<article><p>The IOPC upheld 118 of 490 referrals.</p>{f'<{tag}>' * 1000}Deep 42 officers"
    )
    started = time.perf_counter()
    doc = extract_document(_page("", body), "https://w.example/a")
    assert time.perf_counter() - started < 8  # 30 s before nesting was bounded
    assert "Deep 42 officers" in doc.text
    assert doc.omissions == []


def test_many_tables_side_by_side_are_still_read_as_tables():
    tables = "".join(
        f"<table><tr><th>Force</th><th>Referrals</th></tr><tr><td>Kent</td><td>{n}</td></tr>"
        "</table>"
        for n in range(30)
    )
    doc = extract_document(
        _page("", f"<article><p>Referrals by force.</p>{tables}</article>"), "https://w.example/a"
    )
    assert len(doc.tables) == 30


def test_a_run_of_a_quarter_million_line_breaks_is_read_quickly():
    body = "<article><p>The IOPC upheld 118 of 490 referrals.</p>" + "<br>" * 250_000
    started = time.perf_counter()
    doc = extract_document(
        _page("", body + "<p>After the breaks.</p></article>"), "https://w.example/a"
    )
    assert time.perf_counter() - started < 8  # 30 s before runs of breaks were cut
    assert "118 of 490 referrals" in doc.text


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf_16_and_32_declared_without_byte_order_or_bom_are_read_either_way(codec):
    body = "<html><body><p>Officers fined £5 — café</p></body></html>".encode(codec)
    text, used = decode_html(body, codec[:6])
    assert (text, used) == ("<html><body><p>Officers fined £5 — café</p></body></html>", codec)


def test_spanned_cells_fill_every_position_they_cover_and_stacked_headings_join():
    table = (
        "<table><caption>Referrals by force</caption><thead>"
        '<tr><th rowspan="2">Force</th><th colspan="2">Referrals</th></tr>'
        "<tr><th>2022</th><th>2023</th></tr></thead><tbody>"
        '<tr><td rowspan="2">Kent</td><td>118</td><td>120</td></tr>'
        "<tr><td>52</td><td>60</td></tr>"
        '<tr><td>Essex</td><td colspan="2;">not recorded</td></tr>'
        '<tr><td colspan="x">Surrey</td><td rowspan="-1">7</td></tr></tbody></table>'
    )
    doc = extract_document(
        _page("", f"<article><p>Referrals by force and year.</p>{table}</article>"),
        "https://w.example/a",
    )
    assert [(t.caption, t.header, t.rows) for t in doc.tables] == [
        (
            "Referrals by force",
            ["Force", "Referrals 2022", "Referrals 2023"],
            [
                ["Kent", "118", "120"],
                ["Kent", "52", "60"],
                ["Essex", "not recorded", "not recorded"],
                ["Surrey", "7", ""],
            ],
        )
    ]


def test_a_table_padding_would_blow_up_is_read_as_text_with_its_words():
    rows = "".join(f"<tr><td>Row {n} had 118 referrals</td></tr>" for n in range(1_000))
    table = f'<table><tr><td colspan="100">Referrals by row</td></tr>{rows}</table>'
    doc = extract_document(
        _page("", f"<article><p>Referrals by row.</p>{table}</article>"), "https://w.example/a"
    )
    assert doc.tables == []
    assert "Row 999 had 118 referrals" in doc.text
    assert doc.omissions == [
        "a table of 1,001 rows and up to 100 columns is read as text: as a table its rows "
        "would be padded with 99,099 empty cells"
    ]


def test_thousands_of_styled_paragraphs_keep_their_words_and_the_byline():
    paragraphs = "".join(
        f"<p><span>Officer</span> <b>{n}</b> <em>was</em> dismissed.</p>" for n in range(6_000)
    )
    body = f'<article><p class="byline">By <span class="author">Jane Reporter</span></p>{paragraphs}</article>'
    doc = extract_document(_page("", body), "https://w.example/a")
    assert "Officer 5999 was dismissed." in doc.text
    assert doc.author == "Jane Reporter"
