"""GOV.UK Content API items become Documents with their declared dates, changes and withdrawals."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extract import extract_document
from extract.govuk import extract_govuk_content
from extract.records import ExtractionError

CONTENT_URL = "https://www.gov.uk/api/content/government/news/police-watchdog-statement"


def _item(**changes: object) -> bytes:
    item: dict[str, object] = {
        "base_path": "/government/news/police-watchdog-statement",
        "title": "Police  watchdog statement",
        "description": "The Home Office responds to the inspectorate's report.",
        "locale": "en",
        "document_type": "press_release",
        "first_published_at": "2024-02-01T10:00:00.000+00:00",
        "public_updated_at": "2024-03-05T09:15:00.000+00:00",
        "withdrawn_notice": {},
        "details": {
            "body": (
                '<div class="govspeak"><p>The inspectorate found <strong>118</strong> referrals '
                "out of 490.</p>"
                "<h2>Next steps</h2><ul><li>Forces will report back.</li><li>See the "
                '<a href="/government/publications/peel-report#section-2">PEEL report</a> and '
                '<a href="https://www.policeconduct.gov.uk/news/statement">the IOPC statement</a>.'
                '</li></ul><p><a href="#contents">Back to top</a> '
                '<a href="mailto:press@homeoffice.gov.uk">Press office</a></p>'
                "<table><tr><th>Force</th><th>Referrals</th></tr><tr><td>Kent</td><td>12</td></tr>"
                "</table><script>alert(1)</script></div>"
            ),
            "change_history": [
                {"public_timestamp": "2024-03-05T09:15:00.000+00:00", "note": "Figures corrected."},
                {"public_timestamp": "2024-02-01T10:00:00.000+00:00", "note": "First published."},
            ],
        },
        "links": {
            "primary_publishing_organisation": [{"title": "Home Office", "base_path": "/x"}],
            "organisations": [{"title": "Home Office"}, {"title": "HMICFRS"}],
        },
    }
    item.update(changes)
    return json.dumps(item).encode()


def test_content_item_gives_title_text_dates_and_the_public_url():
    doc = extract_govuk_content(_item(), CONTENT_URL)
    assert doc.url == CONTENT_URL
    assert doc.canonical_url == "https://www.gov.uk/government/news/police-watchdog-statement"
    assert doc.title == "Police watchdog statement"
    assert doc.description == "The Home Office responds to the inspectorate's report."
    assert doc.published == "2024-02-01T10:00:00+00:00"
    assert doc.updated == "2024-03-05T09:15:00+00:00"
    assert doc.author == "Home Office"
    assert doc.language == "en"
    assert doc.content_type == "html"
    assert doc.withdrawn is None
    assert doc.text.startswith("The inspectorate found 118 referrals out of 490.")
    assert "\n\nNext steps\n\n" in doc.text
    assert "Kent 12" in doc.text
    assert "alert" not in doc.text


def test_change_history_is_kept_as_declared():
    doc = extract_govuk_content(_item(), CONTENT_URL)
    assert doc.change_history == [
        {"public_timestamp": "2024-03-05T09:15:00+00:00", "note": "Figures corrected."},
        {"public_timestamp": "2024-02-01T10:00:00+00:00", "note": "First published."},
    ]


def test_withdrawn_notice_gives_its_date_and_explanation():
    notice = {
        "explanation": '<div class="govspeak"><p>This guidance has been replaced by the '
        '<a href="/guidance/new">new code</a>.</p></div>',
        "withdrawn_at": "2024-04-01T12:00:00Z",
    }
    doc = extract_govuk_content(_item(withdrawn_notice=notice), CONTENT_URL)
    assert doc.withdrawn == (
        "Withdrawn on 2024-04-01T12:00:00+00:00: This guidance has been replaced by the new code."
    )


def test_body_links_are_absolute_without_fragments_self_links_or_mail():
    doc = extract_govuk_content(_item(), CONTENT_URL)
    assert [(link.url, link.anchor) for link in doc.links] == [
        ("https://www.gov.uk/government/publications/peel-report", "PEEL report"),
        ("https://www.policeconduct.gov.uk/news/statement", "the IOPC statement"),
    ]


def test_a_publications_attachment_files_are_links_beside_its_body():
    item = json.loads(_item())
    item["details"]["documents"] = [
        '<section class="attachment"><h3><a href="/government/uploads/report.pdf">'
        "Vetting inspection report</a></h3></section>"
    ]
    doc = extract_govuk_content(json.dumps(item).encode(), CONTENT_URL)
    assert ("https://www.gov.uk/government/uploads/report.pdf", "Vetting inspection report") in [
        (link.url, link.anchor) for link in doc.links
    ]
    assert "Vetting inspection report" not in doc.text  # the body is the text


@pytest.mark.parametrize(
    "changes, reason",
    [
        (
            {"schema_name": "redirect", "redirects": [{"destination": "/government/news/moved"}]},
            "a redirect to /government/news/moved",
        ),
        ({"schema_name": "gone", "title": None, "details": {}}, "gone"),
        ({"title": "", "details": {}}, "neither a title nor a body"),
    ],
)
def test_placeholder_items_raise_an_extraction_error(changes, reason):
    with pytest.raises(ExtractionError, match=reason):
        extract_govuk_content(_item(**changes), CONTENT_URL)


def test_loopback_content_api_keeps_its_own_host_for_the_public_url():
    doc = extract_govuk_content(_item(), "http://127.0.0.5:8001/api/content/government/news/x")
    assert doc.canonical_url == "http://127.0.0.5:8001/government/news/police-watchdog-statement"
    assert doc.links[0].url == "http://127.0.0.5:8001/government/publications/peel-report"


def test_guides_are_read_part_by_part_and_multi_format_bodies_use_the_html():
    guide = _item(
        details={
            "parts": [
                {"title": "Overview", "body": "<p>Who can complain.</p>"},
                {"title": "How to complain", "body": "<p>Write to the force.</p>"},
            ]
        }
    )
    assert extract_govuk_content(guide, CONTENT_URL).text == (
        "Overview\n\nWho can complain.\n\nHow to complain\n\nWrite to the force."
    )
    multi = _item(
        details={
            "body": [
                {"content_type": "text/govspeak", "content": "## Raw govspeak"},
                {"content_type": "text/html", "content": "<p>Rendered text.</p>"},
            ]
        }
    )
    assert extract_govuk_content(multi, CONTENT_URL).text == "Rendered text."


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>not json</html>", "invalid JSON"),
        (b'{"results": []}', "no base_path"),
        (b"[" * 50_000 + b"]" * 50_000, "GOV.UK"),
    ],
)
def test_bodies_that_are_not_content_items_raise_an_extraction_error(body, reason):
    with pytest.raises(ExtractionError, match=reason):
        extract_govuk_content(body, CONTENT_URL)


def test_extract_document_hands_content_items_to_the_govuk_reader():
    doc = extract_document(_item(), CONTENT_URL, "application/json; charset=utf-8")
    assert doc.canonical_url == "https://www.gov.uk/government/news/police-watchdog-statement"
    assert doc.change_history[0]["note"] == "Figures corrected."


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    ["title", "details", "withdrawn_notice", "links", "first_published_at", "public_updated_at"]
)


@settings(max_examples=80, deadline=None)
@given(overrides=st.dictionaries(FIELDS, JSON_VALUES, max_size=4))
def test_any_shape_of_content_item_gives_a_document_or_an_extraction_error(overrides):
    item = json.loads(_item())
    item.update(overrides)
    try:
        doc = extract_govuk_content(json.dumps(item).encode(), CONTENT_URL)
    except ExtractionError as error:
        assert str(error)
        return
    assert isinstance(doc.text, str)
    assert all(isinstance(entry, dict) for entry in doc.change_history)


@pytest.mark.parametrize(
    "changes",
    [
        {"details": {"body": "<p>47 officers left.</p>", "change_history": 5}},
        {"details": {"body": "<p>47 officers left.</p>", "parts": True}},
        {"details": {"body": "<p>47 officers left.</p>", "documents": 7}},
        {"details": {"body": "<p>47 officers left.</p>", "attachments": 5}},
        {"details": {"body": "<p>47 officers left.</p>"}, "links": {"organisations": 3}},
    ],
)
def test_a_field_of_the_wrong_json_type_is_ignored_and_the_item_kept(changes):
    doc = extract_document(_item(**changes), CONTENT_URL, "application/json")
    assert doc.text == "47 officers left."
    assert doc.title == "Police watchdog statement"


@pytest.mark.parametrize("stamp", ["yesterday-ish", "0000-00-00", "99999-12-31T00:00:00Z"])
def test_timestamps_that_are_not_iso_8601_are_not_stored(stamp):
    details = json.loads(_item())["details"]
    details["change_history"] = [{"public_timestamp": stamp, "note": "Corrected."}]
    doc = extract_document(
        _item(first_published_at=stamp, public_updated_at=stamp, details=details),
        CONTENT_URL,
        "application/json",
    )
    assert (doc.published, doc.published_from, doc.updated) == (None, None, None)
    assert doc.change_history == [{"public_timestamp": None, "note": "Corrected."}]


def test_lone_surrogates_in_an_item_are_replaced_and_its_body_read_whole():
    body = (
        b'{"base_path": "/government/news/x", "title": "Bad \\ud800 title",'
        b' "public_updated_at": "\\udfff",'
        b' "details": {"body": "<p>Officers \\udc80 in 2024.</p><p>47 officers left.</p>"}}'
    )
    doc = extract_document(body, CONTENT_URL, "application/json")
    assert doc.title == "Bad \ufffd title"
    assert doc.updated is None
    assert doc.text == "Officers \ufffd in 2024.\n\n47 officers left."
    for figure in doc.figures:
        figure.sentence.encode("utf-8")
