"""What an HTML page holds besides its prose: data tables, figure images, a withdrawal notice.

Each is taken from the page's own markup, and kept only when it belongs to the article: the
`in_furniture` test (navigation, sidebars, promos, site header and footer) is shared with the
byline search in `extract.html_metadata`.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml.html import HtmlElement

from extract.links import absolute_url
from extract.records import Image, Table

_WITHDRAWN = re.compile(
    r"^\s*this (?:[a-z]+ ){0,4}(?:was|has been|is) withdrawn\b(?P<dated> on\b)?", re.IGNORECASE
)

_JUST_A_DATE = re.compile(r"\s*\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]+\s+\d{4}\s*\.?\s*")

_NOTICE_MARKS = re.compile(r"notice|withdrawn|banner|alert|warning", re.IGNORECASE)

_FURNITURE_TAGS = {"nav", "header", "footer", "aside", "form"}

_FURNITURE_WORDS = re.compile(
    r"\b(?:nav|navigation|menu|sidebar|footer|header|breadcrumbs?|related|promo|share|social|"
    r"cookie|newsletter|comments?)\b",
    re.IGNORECASE,
)


def block_text(element: etree._Element) -> str:
    """An element's text with whitespace collapsed, as a reader sees it."""
    return " ".join("".join(element.itertext()).split())


def in_furniture(element: etree._Element) -> bool:
    """Whether an element sits in navigation, a sidebar, a promo or the site header/footer.

    The walk stops at the article (or <main>): an article's own header and footer hold its
    byline and date, not site furniture.
    """
    in_article = any(ancestor.tag == "article" for ancestor in element.iterancestors())
    for ancestor in element.iterancestors():
        if ancestor.tag in ("article", "main", "body"):
            return False
        if in_article and ancestor.tag in ("header", "footer"):
            continue
        if ancestor.tag in _FURNITURE_TAGS:
            return True
        role = (ancestor.get("role") or "").lower()
        if role in ("navigation", "banner", "contentinfo", "complementary"):
            return True
        marks = f"{ancestor.get('class') or ''} {ancestor.get('id') or ''}"
        words = {
            w.lower() for w in _FURNITURE_WORDS.findall(marks.replace("-", " ").replace("_", " "))
        }
        if in_article:
            words -= {"header", "footer"}
        if words:
            return True
    return False


def _main_scope(tree: HtmlElement) -> etree._Element:
    """<main>, else the single <article>, else the whole page."""
    for path in ("//main", '//*[@role="main"]', "//article"):
        found = tree.xpath(path)
        if len(found) == 1:
            return found[0]
    return tree


def find_tables(tree: HtmlElement, text: str) -> list[Table]:
    """Data tables whose cells made it into the main text; layout tables are left out."""
    tables = []
    haystack = " ".join(text.split())
    for table in _main_scope(tree).iter("table"):
        if table.find(".//table") is not None or in_furniture(table):
            continue
        cells_by_row = [
            (row, [block_text(c) for c in row.xpath("./th|./td")]) for row in table.iter("tr")
        ]
        cells_by_row = [(row, cells) for row, cells in cells_by_row if any(cells)]
        rows = [cells for _, cells in cells_by_row]
        if len(rows) < 2 or max(len(row) for row in rows) < 2:
            continue
        sample = [cell for row in rows for cell in row if cell][:20]
        if sum(cell in haystack for cell in sample) < max(1, len(sample) // 2):
            continue
        first = cells_by_row[0][0]
        header: list[str] = []
        if (first.xpath("./th") and not first.xpath("./td")) or first.getparent().tag == "thead":
            header, rows = rows[0], rows[1:]
        caption = table.find("caption")
        tables.append(
            Table(
                caption=block_text(caption) or None if caption is not None else None,
                header=header,
                rows=rows,
            )
        )
    return tables


def find_images(tree: HtmlElement, text: str, base: str) -> list[Image]:
    """Images inside <figure> in the article (not in navigation, promos or footers)."""
    images = []
    haystack = " ".join(text.split()).casefold()
    scope = _main_scope(tree)
    for figure in scope.iter("figure"):
        if in_furniture(figure):
            continue
        img = figure.find(".//img")
        if img is None:
            continue
        src = absolute_url(img.get("src") or img.get("data-src") or "", base)
        if not src:
            continue
        caption_el = figure.find(".//figcaption")
        caption = block_text(caption_el) if caption_el is not None else ""
        alt = " ".join((img.get("alt") or "").split())
        if scope is tree and not (
            (caption and caption.casefold() in haystack) or (alt and alt.casefold() in haystack)
        ):
            # No <main>/<article> to vouch for it: keep only if the article text mentions it.
            continue
        images.append(Image(src=src, alt=alt, caption=caption))
    return images


def find_withdrawal_notice(tree: HtmlElement) -> str | None:
    """The page's withdrawal notice ("This publication was withdrawn on 3 May 2021 ..."), if any."""
    for element in tree.xpath("//body//*[not(self::script) and not(self::style)]"):
        match = _WITHDRAWN.match(element.text or "")
        if not match:
            continue
        marked = any(
            _NOTICE_MARKS.search(f"{e.get('class') or ''} {e.get('id') or ''}")
            for e in (element, *element.iterancestors())
        )
        dated = match.group("dated") and _JUST_A_DATE.fullmatch(block_text(element)[match.end() :])
        if not (dated or marked):
            # "This policy was withdrawn last year", or "... withdrawn on 12 May 2022 after the
            # IOPC said", in an article is news, not the page's own notice.
            continue
        notice = element
        for ancestor in element.iterancestors():
            if len(block_text(ancestor)) > 600 or ancestor.tag in ("body", "main", "article"):
                break
            notice = ancestor
        return block_text(notice) or None
    return None
