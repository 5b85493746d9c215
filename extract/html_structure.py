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


MAX_COLUMNS = 100  # a data table wider than this is a layout trick or hostile markup
# trafilatura pads every row of a table to its widest, spans filled in: one row of 100 cells
# over 40,000 rows of one, a 760 KB page, took it 40 s. A table that padding would grow by more
# than this many cells is read as text instead (see `extract.html._bound_markup`).
MAX_PADDING = 50_000
MAX_PAGE_CELLS = 200_000  # all of a page's tables together, spans filled in

_SPAN = re.compile(r"\s*(\d+)")


def find_tables(tree: HtmlElement, text: str) -> tuple[list[Table], list[str]]:
    """Data tables whose cells made it into the main text (layout tables are left out), and
    what of them could not be kept.

    Cells spanning rows or columns are repeated into every position they cover, so each row
    stands alone ("Kent" on each of its three rows) and columns line up with the header, as in
    a spreadsheet export. Stacked header rows are joined per column ("Referrals 2023").
    """
    tables: list[Table] = []
    omissions: list[str] = []
    budget = MAX_PAGE_CELLS
    haystack = " ".join(text.split())
    for table in _main_scope(tree).iter("table"):
        if table.find(".//table") is not None or in_furniture(table):
            continue
        rows = [row for row in table.iter("tr") if any(block_text(c) for c in row_cells(row))]
        grid, cut = _grid(rows, budget)
        if len(grid) < 2 or max(len(cells) for cells in grid) < 2:
            continue
        sample = [cell for cells in grid for cell in cells if cell][:20]
        if sum(cell in haystack for cell in sample) < max(1, len(sample) // 2):
            continue
        budget -= sum(len(cells) for cells in grid)
        if cut:
            omissions.append(
                f"table {len(tables) + 1} read to row {len(grid)} of {len(rows):,}: its cells "
                f"would pass {MAX_PAGE_CELLS:,} on the page"
            )
        heads = 0
        while heads < len(grid) - 1 and _is_header(rows[heads]):
            heads += 1
        caption = table.find("caption")
        tables.append(
            Table(
                caption=block_text(caption) or None if caption is not None else None,
                header=_joined_header(grid[:heads]),
                rows=grid[heads:],
            )
        )
    return tables, omissions


def row_cells(row: etree._Element) -> list[etree._Element]:
    """A table row's own cells, headings and data alike (not those of a table inside one)."""
    return row.xpath("./th|./td")


def table_padding(table: etree._Element) -> tuple[int, int, int]:
    """A table's rows, its widest row's columns (spans counted, at most MAX_COLUMNS), and the
    cells a rectangle of those would add to the cells the markup has."""
    rows = widest = cells = 0
    for row in table.iter("tr"):
        rows += 1
        found = row_cells(row)
        cells += len(found)
        width = sum(_span(cell, "colspan", MAX_COLUMNS) for cell in found)
        widest = max(widest, min(width, MAX_COLUMNS))
    return rows, widest, rows * widest - cells


def _span(cell: etree._Element, name: str, most: int) -> int:
    """A cell's rowspan or colspan as browsers read it: leading digits, at least 1."""
    found = _SPAN.match(cell.get(name) or "")
    return min(max(int(found.group(1)), 1), most) if found else 1


def _grid(rows: list[etree._Element], budget: int) -> tuple[list[list[str]], bool]:
    """The rows as a rectangle of cell texts with spans filled in; True when cut at `budget`."""
    grid: list[list[str]] = []
    filled = 0
    carried: dict[int, tuple[int, str]] = {}  # column -> (rows still covered, text)
    for index, row in enumerate(rows):
        cells: list[str] = []
        pending = iter(row_cells(row))
        cell = next(pending, None)
        while (cell is not None or any(col >= len(cells) for col in carried)) and len(
            cells
        ) < MAX_COLUMNS:
            col = len(cells)
            if col in carried:
                left, value = carried[col]
                cells.append(value)
                if left > 1:
                    carried[col] = (left - 1, value)
                else:
                    del carried[col]
                continue
            if cell is None:
                cells.append("")
                continue
            value = block_text(cell)
            down = _span(cell, "rowspan", len(rows) - index)
            for _ in range(_span(cell, "colspan", MAX_COLUMNS - col)):
                if down > 1:
                    carried[len(cells)] = (down - 1, value)
                cells.append(value)
            cell = next(pending, None)
        filled += len(cells)
        if filled > budget:
            return _rectangle(grid), True
        grid.append(cells)
    return _rectangle(grid), False


def _rectangle(grid: list[list[str]]) -> list[list[str]]:
    width = max((len(cells) for cells in grid), default=0)
    return [cells + [""] * (width - len(cells)) for cells in grid]


def _is_header(row: etree._Element) -> bool:
    """A row of column headings: all <th>, or inside <thead>."""
    cells = row_cells(row)
    return row.getparent().tag == "thead" or all(cell.tag == "th" for cell in cells)


def _joined_header(rows: list[list[str]]) -> list[str]:
    """Stacked heading rows as one: each column's distinct labels, top to bottom."""
    if not rows:
        return []
    header = []
    for labels in zip(*rows, strict=True):
        kept: list[str] = []
        for label in labels:
            if label and label not in kept:
                kept.append(label)
        header.append(" ".join(kept))
    return header


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
