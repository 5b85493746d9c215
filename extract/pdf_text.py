"""The text of PDF pages as a reader sees it, not as the pages draw it.

pypdf reads what each page draws: the running headers and footers of every page, footnote markers
glued to the numbers they follow ("490" and a raised "2" read as "4902"), ligature glyphs
("ﬁrearms") and words hyphenated at line ends ("notifi-" / "cations"). Each misleads search,
figures and entity counts; the functions here take them out, page by page or across a document.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

_LIGATURES = str.maketrans(
    {
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
        "\ufb05": "st",
        "\ufb06": "st",
    }
)

# A footnote marker: a number or two ("2", "2,3") or a reference symbol, alone in its run.
_MARKER = re.compile(r"\s*(?:\d{1,3}(?:,\d{1,3})*|[*†‡§¶]{1,3})\s*")
# Superscripts are set at 55-80% of the text's size; text at 85% or more is text.
_SUPERSCRIPT_SIZE = 0.85
# A baseline raised by this share of the text's size is a superscript's (Word, LaTeX).
_SUPERSCRIPT_RISE = 0.15
_SHOW_TEXT = (b"Tj", b"TJ", b"'", b'"')

# A line that recurs at the top or bottom of this many pages, and of at least half of them, is
# a running header or footer; fewer pages cannot tell furniture from coincidence.
MIN_PAGES_FOR_RUNNING_LINES = 3
# How far into a page, from either end, a running line is looked for (a header can be a
# protective marking, a publisher's line and a page number, in any order).
_EDGE_LINES = 5
_DIGITS = re.compile(r"\d+")

_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
# `\b` first: a match is only tried where a word starts, three times faster on a long report.
_BROKEN_WORD = re.compile(
    r"\b(?P<left>[^\W\d_]+(?:-[^\W\d_]+)*)-[ \t]*\n[ \t]*(?P<right>[a-z][^\W\d_]*(?:-[^\W\d_]+)*)"
)


def without_ligatures(text: str) -> str:
    """Ligature glyphs as their letters, so "ﬁrearms" is found by a search for "firearms".

    Only the ligatures: NFKC over the whole text would also make "490²" "4902".
    """
    return text.translate(_LIGATURES)


@dataclass
class _Run:
    """A piece of text pypdf read in one font, with where and how large it was drawn."""

    text: str
    size: float  # the font size on the page: the Tf size times the text's vertical scale
    baseline: float
    raised: bool  # drawn with a positive text rise (Ts), which pypdf itself ignores


class _RunCollector:
    """pypdf's visitor callbacks, keeping each run of text with its size and baseline."""

    def __init__(self) -> None:
        self.runs: list[_Run] = []
        self.rise = 0.0
        self.raised = False

    def operator(self, operator: bytes, operands: list[Any], cm: Any, tm: Any) -> None:
        if operator == b"Ts" and operands and isinstance(operands[0], int | float):
            self.rise = float(operands[0])
        elif operator in _SHOW_TEXT and self.rise > 0:
            self.raised = True

    def text(self, text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text:
            return
        # The text matrix times the page's: only its vertical scale and baseline are needed.
        c = tm[2] * cm[0] + tm[3] * cm[2]
        d = tm[2] * cm[1] + tm[3] * cm[3]
        baseline = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        self.runs.append(_Run(text, size * math.hypot(c, d), baseline, self.raised))
        self.raised = False


def page_text(page: Any, content: bytes) -> str:
    """A page's text as pypdf reads it, less the footnote markers set as superscripts.

    A marker read into the text changes the number it follows ("118 of 490²" would be "118 of
    4902", and "24%³" adds a count of 3), so markers are dropped: a number, or a footnote
    symbol, in a run of its own drawn smaller than the text beside it and above its baseline.
    `content` is the page's content stream: text rise is tracked (a visitor call per operator)
    only on pages that set one.
    """
    runs = _RunCollector()
    rises = b"Ts" in content
    text = page.extract_text(
        visitor_text=runs.text, visitor_operand_before=runs.operator if rises else None
    )
    if "".join(run.text for run in runs.runs) != text:
        return text  # the runs do not add up (a form that failed half way): keep pypdf's text
    return "".join(
        _whitespace_of(run.text) if _is_footnote_marker(runs.runs, i) else run.text
        for i, run in enumerate(runs.runs)
    )


def _is_footnote_marker(runs: list[_Run], i: int) -> bool:
    """Whether run i is a superscript marker, judged against the text it is set beside: the
    run before it on the same line, else (a footnote's own marker opens its line) the next."""
    run = runs[i]
    if not _MARKER.fullmatch(run.text):
        return False
    if i > 0 and not runs[i - 1].text.endswith("\n"):
        beside = runs[i - 1]
    elif i + 1 < len(runs):
        beside = runs[i + 1]
    else:
        return False
    raised = run.raised or run.baseline - beside.baseline > _SUPERSCRIPT_RISE * beside.size
    return raised and run.size <= _SUPERSCRIPT_SIZE * beside.size


def _whitespace_of(text: str) -> str:
    return "".join(c for c in text if c.isspace())


def without_running_lines(pages: list[str]) -> list[str]:
    """Pages without the running headers and footers that open or close most of them.

    A line is running when it is among the first or last lines of at least
    MIN_PAGES_FOR_RUNNING_LINES pages and half of them: the same line ("OFFICIAL"), or the same
    but for a number that goes up with the page ("Page 7 of 42", a bare "7"), so the last
    figure of a table above a page number is not taken for another. Only running lines at a
    page's very top or bottom go, so the same words in the body stay; a page made of nothing
    else keeps them (a list of "Page n" stubs is the document's own text).
    """
    if len(pages) < MIN_PAGES_FOR_RUNNING_LINES:
        return pages
    lines = [page.split("\n") for page in pages]
    seen: Counter[tuple[str, int]] = Counter()
    for number, page_lines in enumerate(lines):
        filled = [line for line in page_lines if line.strip()]
        edges = filled[:_EDGE_LINES] + filled[-_EDGE_LINES:]
        seen.update({key for line in edges for key in _line_keys(line, number)})
    needed = max(MIN_PAGES_FOR_RUNNING_LINES, len(pages) / 2)
    running = {key for key, count in seen.items() if count >= needed}
    return [
        _peel(page, page_lines, number, running)
        for number, (page, page_lines) in enumerate(zip(pages, lines, strict=True))
    ]


def _line_keys(line: str, page: int) -> list[tuple[str, int]]:
    """The line as it is, and with each of its numbers as its offset from the page's index: a
    page number keeps the same offset from page to page, a table's figure does not."""
    line = " ".join(line.split()).casefold()
    keys = [(line, 0)]
    for match in _DIGITS.finditer(line):
        if len(match.group()) <= 4:  # a page number, not a reference or a total
            keys.append(
                (line[: match.start()] + "#" + line[match.end() :], int(match.group()) - page)
            )
    return keys


def _peel(page: str, lines: list[str], number: int, running: set[tuple[str, int]]) -> str:
    def goes(line: str) -> bool:
        return not line.strip() or any(key in running for key in _line_keys(line, number))

    start, end = 0, len(lines)
    while start < end and goes(lines[start]):
        start += 1
    while end > start and goes(lines[end - 1]):
        end -= 1
    return "\n".join(lines[start:end]) if start < end else page


def with_words_rejoined(pages: list[str]) -> list[str]:
    """Pages with the words hyphenated at line ends joined again ("notifi-" / "cations").

    The document decides: a word it spells with the hyphen elsewhere ("multi-agency"), or whose
    first part starts other hyphenated words in it ("multi-disciplinary") while the joined word
    never occurs, keeps its hyphen, and so does a part of a longer compound ("stop-" /
    "and-search"). Every other break is joined: justified reports break words at syllables far
    more often than a line happens to end at a compound's own hyphen, and a word left split is
    lost to search.
    """
    words = Counter(_WORD.findall("\n".join(pages).casefold()))
    prefixes = {word.split("-", 1)[0] for word in words if "-" in word}

    def rejoin(match: re.Match[str]) -> str:
        left, right = match.group("left"), match.group("right")
        if "-" in left or "-" in right:
            return match.group()
        joined, hyphenated = (left + right).casefold(), f"{left}-{right}".casefold()
        keep = words[hyphenated] > words[joined] or (
            not words[joined] and left.casefold() in prefixes
        )
        return match.group() if keep else left + right

    return [_BROKEN_WORD.sub(rejoin, page) for page in pages]
