"""Metadata of an HTML page as its publisher declares it: headline, dates, author, language, site.

Open Graph, JSON-LD, GOV.UK and Dublin Core tags come first, then the markup (<h1>, <time>,
bylines), then htmldate's reading of the page: a declared value is exact, an inferred one is not.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dateutil import parser as dateparser
from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement

from extract.html_structure import block_text, in_furniture
from extract.language import language_tag
from extract.links import absolute_url


@dataclass
class PageMetadata:
    """The Document fields a page declares about itself, read apart from its text."""

    title: str | None
    published: str | None
    published_from: str | None  # see `Document.published_from`
    updated: str | None
    author: str | None
    description: str | None
    language: str | None
    site_name: str | None


def read_metadata(tree: HtmlElement, url: str) -> PageMetadata:
    """Everything a page says about itself, each field None when it says nothing usable."""
    meta = _meta_tags(tree)
    # The article's own JSON-LD object speaks for the page before breadcrumbs and site objects.
    ld = sorted(_json_ld(tree), key=lambda item: not _ARTICLE_TYPES.search(str(item.get("@type"))))
    site_name = _clean(
        meta.get("og:site_name")
        or _ld_value(ld, "publisher", "name")
        or meta.get("application-name")
        or _title_suffix(tree)
    )
    labelled = _LabelledDates(tree)
    published, published_from = _published(tree, meta, ld, url, labelled)
    return PageMetadata(
        title=_title(tree, meta, site_name),
        published=published,
        published_from=published_from,
        updated=_updated(tree, meta, ld, labelled),
        author=_author(tree, meta, ld),
        description=_clean(
            meta.get("og:description") or meta.get("description") or meta.get("twitter:description")
        ),
        language=_language(tree, meta),
        site_name=site_name,
    )


_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:·•»]\s+|\s*::\s*")

_ARTICLE_TYPES = re.compile(r"Article|BlogPosting|Report|PressRelease", re.IGNORECASE)


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


def _meta_tags(tree: HtmlElement) -> dict[str, str]:
    """First value of each <meta> name/property/itemprop, keys lower-cased."""
    found: dict[str, str] = {}
    for element in tree.iter("meta"):
        content = element.get("content")
        if content is None:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = element.get(attr)
            if key:
                found.setdefault(key.strip().lower(), content.strip())
    for element in tree.xpath("//*[@itemprop][@datetime or @content]"):
        key = element.get("itemprop", "").lower()
        found.setdefault(key, (element.get("datetime") or element.get("content") or "").strip())
    return found


def _json_ld(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object on the page, @graph members included; unreadable blocks skipped."""
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except (ValueError, RecursionError):
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if isinstance(item.get("@graph"), list):
                    stack.extend(item["@graph"])
                yield item


def _ld_value(ld: list[dict[str, Any]], key: str, subkey: str | None = None) -> Any:
    for item in ld:
        value = item.get(key)
        if isinstance(value, list) and value:
            value = value[0]
        if subkey and isinstance(value, dict):
            value = value.get(subkey)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _ld_authors(ld: list[dict[str, Any]]) -> str | None:
    """The article's authors, all of them ("Zoe Crowther, Adam Payne"), a Person given by
    reference into the page's @graph ({"@id": ...}) looked up."""
    by_id = {item["@id"]: item for item in ld if isinstance(item.get("@id"), str)}
    for item in ld:
        value = item.get("author")
        names = []
        for author in value if isinstance(value, list) else [value]:
            if isinstance(author, dict) and "name" not in author:
                author = by_id.get(author.get("@id"), author)
            name = author.get("name") if isinstance(author, dict) else author
            if isinstance(name, str) and name.strip() and name.strip() not in names:
                names.append(name.strip())
        if names:
            return ", ".join(names)
    return None


def _strip_site_suffix(title: str, site_name: str | None) -> str:
    """ "Officer dismissed | IOPC" -> "Officer dismissed"; a headline with a dash in it stays whole."""
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    site = (site_name or "").casefold()
    if site:
        # The longest segment is the headline even when it names the site ("Kent Police
        # officer sacked | Kent Police").
        longest = max(parts, key=len)
        kept = [
            p
            for p in parts
            if p is longest or (p.strip().casefold() not in site and site not in p.casefold())
        ]
        return _rejoin(title, kept) if len(kept) < len(parts) else title
    # Without a known site name, only a short last segment reads as a site name.
    if len(parts[-1].split()) <= 4 and len(parts[0]) > len(parts[-1]):
        return _rejoin(title, parts[:-1])
    return title


def _title_suffix(tree: HtmlElement) -> str | None:
    """ "Inspection finds ... – Example Inspectorate" -> "Example Inspectorate"."""
    title = _clean(tree.findtext(".//title")) or ""
    bare = _strip_site_suffix(title, None)
    if bare == title or any(_same(block_text(h), title) for h in tree.iter("h1")):
        return None  # the whole title is the headline: "Stop-and-search powers - a guide"
    return _TITLE_SEPARATORS.sub(" ", title[len(bare) :]).strip() or None


def _rejoin(title: str, kept: list[str]) -> str:
    start = title.find(kept[0])
    end = title.find(kept[-1], start) + len(kept[-1])
    return title[start:end].strip() if start >= 0 and end > start else kept[0].strip()


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _title(tree: HtmlElement, meta: dict[str, str], site_name: str | None) -> str | None:
    """The page's own headline: an <h1> or og:title that agrees with <title>, suffix removed."""
    title_tag = _clean(tree.findtext(".//title")) or ""
    og = _clean(meta.get("og:title") or meta.get("twitter:title")) or ""
    headings = [t for t in (block_text(h) for h in tree.iter("h1")) if t][:5]
    bare_title = _strip_site_suffix(title_tag, site_name) if title_tag else ""
    bare_og = _strip_site_suffix(og, site_name) if og else ""

    for heading in headings:
        for full, bare in ((title_tag, bare_title), (og, bare_og)):
            if not full:
                continue
            if _same(heading, bare) or (
                len(heading) >= 0.6 * len(bare) and heading.casefold() in full.casefold()
            ):
                return heading
    if bare_og:
        return bare_og
    if len(headings) == 1:
        return headings[0]
    return bare_title or (headings[0] if headings else None)


_DATE_SHAPE = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,}\.?,?\s+\d{4}"
    r"|[A-Za-z]{3,}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
)


_ISO_SHAPE = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)?"
)


def _iso(value: str | None) -> str | None:
    """An ISO 8601 date or datetime from what a page wrote, or None when it is not a date."""
    value = _clean(value)
    if not value or len(value) > 64 or not _DATE_SHAPE.search(value):
        return None
    if _ISO_SHAPE.fullmatch(value):
        # The common case, a meta tag's ISO 8601 timestamp: the standard library reads it the
        # same way as dateutil in a tenth of the time.
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:  # 30 February
            return None
        if not 1900 <= parsed.year <= 2200:
            return None
        return parsed.isoformat() if "T" in value or " " in value else parsed.date().isoformat()
    try:
        with warnings.catch_warnings():  # "EST identified but not understood" on every US page
            warnings.simplefilter("ignore")
            parsed = dateparser.parse(value, fuzzy=False)
        # dateutil takes any offset ("+24:00", "+9999"); datetime refuses one of a day or more
        # only when asked for it. Such a timestamp is corrupt: the page's next date is tried.
        parsed.utcoffset()
    except (ValueError, OverflowError, TypeError, dateparser.ParserError):
        return None
    if not 1900 <= parsed.year <= 2200:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) or not re.search(r"\d{1,2}:\d{2}", value):
        return parsed.date().isoformat()
    return parsed.isoformat()


_PUBLISHED_KEYS = (
    "article:published_time",
    "govuk:first-published-at",
    "datepublished",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.created",
    "og:published_time",
    "pubdate",
    "publishdate",
    "sailthru.date",
    "parsely-pub-date",
)

_UPDATED_KEYS = (
    "article:modified_time",
    "govuk:public-updated-at",
    "govuk:updated-at",
    "datemodified",
    "dcterms.modified",
    "og:updated_time",
)

# `//time[ancestor::article]` rather than `//article//time`, which searches every article's
# descendants again for each article it is nested in: 2,000 nested articles took 2 s.
_PUBLISHED_TIME_XPATH = (
    '//time[@datetime][ancestor::article][not(contains(@class, "updated"))'
    ' and not(contains(@class, "modified")) and not(@itemprop="dateModified")]'
)


# htmldate's search of the text grows faster than the page: a 4 MB dump of links took it 16 s.
# No article runs to a million characters; a page that does gets no guessed date.
MAX_DATE_SEARCH_CHARS = 1_000_000


def _published(
    tree: HtmlElement,
    meta: dict[str, str],
    ld: list[dict[str, Any]],
    url: str,
    labelled: _LabelledDates,
) -> tuple[str | None, str | None]:
    """The publication date the page declares, else htmldate's reading of it; and which."""
    for candidate in (
        *(meta.get(key) for key in _PUBLISHED_KEYS),
        _ld_value(ld, "datePublished"),
        _ld_value(ld, "dateCreated"),
        *(t.get("datetime") for t in tree.xpath(_PUBLISHED_TIME_XPATH)[:1]),
    ):
        iso = _iso(candidate)
        if iso:
            return iso, "page"
    if labelled.published:
        return labelled.published, "page text"
    if len(tree.text_content()) > MAX_DATE_SEARCH_CHARS:
        return None, None
    try:
        found = _iso(find_date(tree, extensive_search=False, original_date=True, url=url or None))
    except (ValueError, TypeError, OverflowError, etree.LxmlError):
        return None, None
    return found, "page guess" if found else None


_UPDATED_TIME_XPATH = (
    '//time[@datetime][ancestor::article][contains(@class, "updated")'
    ' or contains(@class, "modified") or @itemprop="dateModified"]'
)


def _updated(
    tree: HtmlElement, meta: dict[str, str], ld: list[dict[str, Any]], labelled: _LabelledDates
) -> str | None:
    for candidate in (
        *(meta.get(key) for key in _UPDATED_KEYS),
        _ld_value(ld, "dateModified"),
        *(t.get("datetime") for t in tree.xpath(_UPDATED_TIME_XPATH)[:1]),
    ):
        iso = _iso(candidate)
        if iso:
            return iso
    # Labels are read only for a page that writes its dates as text, not one that declared its
    # publication in markup (reading a page's text costs a millisecond).
    return labelled.updated if labelled.searched else None


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_WRITTEN_DATE = (
    r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?"
    rf"(\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2})"
)
# A date a page writes out under a label of its own, as police forces, the College and the NPCC
# do instead of declaring one: "Published 3 March 2025", "Posted on 3rd March 2025 at 10:32",
# <dt>Published</dt><dd>3 March 2025</dd>. The label opens its block: "the report, published
# 3 March", in a sentence, dates the report and not the page.
_PUBLISHED_WORDS = ("published", "posted", "released", "issued")
_UPDATED_WORDS = ("updated", "modified")
_LABEL_WORDS = _PUBLISHED_WORDS + _UPDATED_WORDS
_PUBLISHED_LABEL = re.compile(
    rf"^(?:first |date |page )?(?:{'|'.join(_PUBLISHED_WORDS)})(?: on| date)?\s*:?\s*(?:on\s+)?"
    + _WRITTEN_DATE,
    re.IGNORECASE,
)
_UPDATED_LABEL = re.compile(
    rf"^(?:page |last |date )*(?:{'|'.join(_UPDATED_WORDS)})(?: on| date)?\s*:?\s*(?:on\s+)?"
    + _WRITTEN_DATE,
    re.IGNORECASE,
)
# Pages without such a date far outnumber pages with one: a scan of the page's text settles them
# before any element is looked at (its blocks run together: "NewsPublished3 March 2025").
_LABEL_NEAR_DATE = re.compile(
    rf"(?:{'|'.join(_LABEL_WORDS)})(?![a-z])[\s:]{{0,3}}(?:on\s+)?"
    rf"(?:[a-z]+day,?\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}|{_MONTH}\s+\d|\d{{4}}-\d\d-\d\d)",
    re.IGNORECASE,
)
_LABEL_START = re.compile(
    rf"^\s*(?:(?:first|date|page|last)\s+)*(?:{'|'.join(_LABEL_WORDS)})\b",
    re.IGNORECASE,
)


def _mentions_labelled_date(text: str) -> bool:
    """Whether a label word is followed by a date somewhere in `text`: the words are found by
    plain substring search, and the pattern tried only where they are (searched for anywhere
    in a page, the pattern cost 5 ms)."""
    lower = text.lower()
    for word in _LABEL_WORDS:
        start = lower.find(word)
        for _ in range(50):
            if start == -1:
                break
            if _LABEL_NEAR_DATE.match(lower, start):
                return True
            start = lower.find(word, start + len(word))
    return False


class _LabelledDates:
    """The dates a page writes under labels (see `_PUBLISHED_LABEL`), looked for once, and
    only when a field asks: most pages declare their dates in markup."""

    def __init__(self, tree: HtmlElement):
        self.tree = tree
        self.found: dict[str, str] | None = None

    @property
    def published(self) -> str | None:
        return self._dates().get("published")

    @property
    def updated(self) -> str | None:
        return self._dates().get("updated")

    @property
    def searched(self) -> bool:
        return self.found is not None

    def _dates(self) -> dict[str, str]:
        if self.found is None:
            self.found = {}
            if _mentions_labelled_date(self.tree.text_content()):
                self._read()
        return self.found

    def _read(self) -> None:
        assert self.found is not None
        for element in self.tree.iter(etree.Element):
            if not (element.text and _LABEL_START.match(element.text)) or in_furniture(element):
                continue
            texts = [" ".join(element.text.split()), block_text(element)]
            # <strong>Published:</strong> 3 March 2025, and <dt>Published</dt><dd>3 March 2025</dd>
            parent = element.getparent()
            if parent is not None:
                texts.append(block_text(parent))
            if element.tag == "dt" and element.getnext() is not None:
                texts.append(f"{block_text(element)} {block_text(element.getnext())}")
            for kind, label in (("published", _PUBLISHED_LABEL), ("updated", _UPDATED_LABEL)):
                if kind in self.found:
                    continue
                for text in texts:
                    match = label.match(text)
                    iso = _iso(match.group(1)) if match else None
                    if iso:
                        self.found[kind] = iso
                        break
            if len(self.found) == 2:
                return


_BYLINE_XPATH = (
    '//*[@rel="author"]|//*[@itemprop="author"]'
    '|//*[contains(concat(" ", normalize-space(@class), " "), " author ")'
    ' or contains(@class, "byline") or contains(@class, "author-name")'
    ' or contains(@class, "post-author") or contains(@class, "entry-author")]'
    # WordPress themes link the byline to the author's archive, often with no class to go by.
    '|//a[contains(@href, "/author/")]'
)

_BY_PREFIX = re.compile(r"^(?:by|written by|posted by|author:?)\s+", re.IGNORECASE)


def _byline(tree: HtmlElement) -> str | None:
    for element in tree.xpath(_BYLINE_XPATH)[:10]:
        if in_furniture(element) and (element.tag != "a" or "/author/" in element.get("href", "")):
            continue
        text = _BY_PREFIX.sub("", block_text(element))
        if 2 < len(text) < 80 and len(text.split()) <= 8:
            return text
    return None


def _author(tree: HtmlElement, meta: dict[str, str], ld: list[dict[str, Any]]) -> str | None:
    for candidate in (
        _ld_authors(ld),
        meta.get("author"),
        meta.get("article:author"),
        meta.get("dc.creator"),
        meta.get("parsely-author"),
        meta.get("sailthru.author"),
        meta.get("govuk:primary-publishing-organisation"),
    ):
        value = _clean(candidate)
        if value and not absolute_url(value, "") and len(value) < 200:
            return value
    return _byline(tree)


def _language(tree: HtmlElement, meta: dict[str, str]) -> str | None:
    for value in (
        tree.get("lang"),
        tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
        meta.get("content-language"),
        meta.get("og:locale"),
        meta.get("language"),
    ):
        tag = language_tag(value)
        if tag:
            return tag
    return None
