"""The text of PDF pages as a reader sees it, not as the pages draw it.

pypdf reads what each page draws: the running headers and footers of every page, footnote markers
glued to the numbers they follow ("490" and a raised "2" read as "4902"), ligature glyphs
("ﬁrearms") and words hyphenated at line ends ("notifi-" / "cations"). Each misleads search,
figures and entity counts; the functions here take them out, page by page or across a document.
Where each run of text was drawn is kept too, so a link annotation's words can be found under it.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pypdf.generic import DictionaryObject

_PypdfFont: Any
try:
    from pypdf.generic._font import Font as _PypdfFont
except ImportError:  # an older pypdf, without this font reader: widths are estimated
    _PypdfFont = None

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
# A raised 2 or 3 straight after a unit of length is its power ("25 m²", "km³"), not a footnote:
# the unit stands alone (after a number, a space or a bracket), not at the end of a word ("item").
_POWERS = {"2": "²", "3": "³"}
_UNIT_OF_LENGTH = re.compile(r"(?<![^\W\d_])(?<!['’])(?:[kcm]?m|ft)$")
# Superscripts are set at 55-80% of the text's size; text at 85% or more is text.
_SUPERSCRIPT_SIZE = 0.85
# A baseline raised by this share of the text's size is a superscript's (Word, LaTeX).
_SUPERSCRIPT_RISE = 0.15
_SHOW_TEXT = (b"Tj", b"TJ", b"'", b'"')
# A run's letters sit between its baseline and a little above: this far up (in ems) is the
# middle of a lower-case letter, the height a link's rectangle is tested at.
_LETTER_MIDDLE = 0.3
_AVERAGE_WIDTH = 500.0  # thousandths of an em: a font that cannot be measured
MAX_ANCHOR_CHARS = 500
_WORD_CHARS = re.compile(r"\w+")

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
    x: float = 0.0  # where it starts along its baseline
    em: float = 0.0  # one em of its font across the page; 0 when the text is not upright
    font: Any = None  # its font resource, to measure its glyphs by
    kept: str = ""  # its text as the page's text keeps it (a footnote marker is left out)


# One box of a page, as (left, bottom, right, top) in the page's default coordinates.
Box = tuple[float, float, float, float]


@dataclass
class PageText:
    """A page's text as a reader sees it, and the runs of text it was drawn in."""

    text: str
    runs: list[_Run]
    # (height of the middle of its letters, index) of each upright run kept as drawn, by
    # height: the runs a link's boxes cross are found by bisection, not by a scan of the page.
    _heights: list[tuple[float, int]] | None = None

    def runs_between(self, bottom: float, top: float) -> list[int]:
        """The indexes of the upright runs whose letters' middles are between the heights."""
        if self._heights is None:
            self._heights = sorted(
                (run.baseline + _LETTER_MIDDLE * run.size, index)
                for index, run in enumerate(self.runs)
                if run.em and run.kept == run.text
            )
        start = bisect.bisect_left(self._heights, (bottom, -1))
        end = bisect.bisect_right(self._heights, (top, len(self.runs)))
        return [index for _, index in self._heights[start:end]]


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
        # The text matrix times the page's: its scales, where it starts and its baseline.
        a = tm[0] * cm[0] + tm[1] * cm[2]
        b = tm[0] * cm[1] + tm[1] * cm[3]
        c = tm[2] * cm[0] + tm[3] * cm[2]
        d = tm[2] * cm[1] + tm[3] * cm[3]
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        baseline = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        upright = a > 0 and d > 0 and abs(b) <= 0.01 * a and abs(c) <= 0.01 * d
        em = size * a if upright else 0.0
        self.runs.append(
            _Run(text, size * math.hypot(c, d), baseline, self.raised, x, em, font, text)
        )
        self.raised = False


def page_text(page: Any, content: bytes) -> PageText:
    """A page's text as pypdf reads it, less the footnote markers set as superscripts.

    A marker read into the text changes the number it follows ("118 of 490²" would be "118 of
    4902", and "24%³" adds a count of 3), so markers are dropped: a number, or a footnote
    symbol, in a run of its own drawn smaller than the text beside it and above its baseline.
    A raised 2 or 3 after a unit of length is no marker but a power, and is kept as one ("25 m²").
    `content` is the page's content stream: text rise is tracked (a visitor call per operator)
    only on pages that set one.
    """
    runs = _RunCollector()
    rises = b"Ts" in content
    text = page.extract_text(
        visitor_text=runs.text, visitor_operand_before=runs.operator if rises else None
    )
    if "".join(run.text for run in runs.runs) != text:
        # The runs do not add up (a form that failed half way): keep pypdf's text, and no runs
        # to look for a link's words in.
        return PageText(text, [])
    kept: list[str] = []
    for i, run in enumerate(runs.runs):
        if _is_footnote_marker(runs.runs, i):
            run.kept = _marker_kept(run.text, "".join(kept[-3:])[-3:])
        kept.append(run.kept)
    return PageText("".join(kept), runs.runs)


def _marker_kept(marker: str, before: str) -> str:
    """What stays of a raised marker drawn after `before` (the page's last few characters):
    the power of a unit of length it follows directly ("m" and a raised "2": "m²"), else only
    its white space."""
    power = _POWERS.get(marker.rstrip())
    if power and _UNIT_OF_LENGTH.search(before):
        return power + _whitespace_of(marker)
    return _whitespace_of(marker)


class GlyphWidths:
    """The advance widths of each font's characters, in thousandths of an em, read once per
    document with pypdf's own font reader. A font it cannot measure gets an average width:
    a link's words are then found roughly, and whole words are still taken (`words_under`)."""

    def __init__(self) -> None:
        # Keyed by id, with the font kept alive beside its widths so the id is never reused.
        self._fonts: dict[int, tuple[Any, dict[str, float], float]] = {}

    def of(self, font: Any) -> tuple[dict[str, float], float]:
        """`font`'s width for each character it draws, and its width for any other."""
        key = id(font)
        if key not in self._fonts:
            self._fonts[key] = (font, *_measured(font))
        return self._fonts[key][1:]


def _measured(font: Any) -> tuple[dict[str, float], float]:
    """A font resource's widths by the character each glyph reads as (pypdf keys them by
    character code, and a Word document's Type0 fonts draw glyph ids, not letters)."""
    if _PypdfFont is None or not isinstance(font, DictionaryObject):
        return {}, _AVERAGE_WIDTH
    try:
        measured = _PypdfFont.from_font_resource(font)
        widths = measured.character_widths
        default = float(widths.get("default") or _AVERAGE_WIDTH)
        codes: dict[str, str] = {}
        if isinstance(measured.encoding, dict):
            codes.update((char, chr(code)) for code, char in measured.encoding.items())
        for raw, char in measured.character_map.items():
            if isinstance(raw, str) and isinstance(char, str) and raw:
                codes[char] = chr(int.from_bytes(raw.encode("latin-1"), "big"))
        by_char = {char: float(widths[code]) for char, code in codes.items() if code in widths}
        return by_char, default
    except TimeoutError:
        raise
    except Exception:  # a font pypdf cannot read is measured by the average
        return {}, _AVERAGE_WIDTH


def words_under(page: PageText, boxes: list[Box], widths: GlyphWidths) -> str:
    """The words a page draws inside `boxes` (a link annotation's rectangle, or its quads), in
    the order drawn; empty when no upright text is there.

    A letter is inside when its middle is; a word whose letters are mostly inside counts whole,
    and one mostly outside not at all, so a rectangle drawn a little short or long of its words
    (or glyph widths only estimated) takes whole words.
    """
    crossed = sorted({i for box in boxes for i in page.runs_between(box[1], box[3])})
    segments: list[str] = []
    for index in crossed:
        run = page.runs[index]
        middle = run.baseline + _LETTER_MIDDLE * run.size
        rows = [box for box in boxes if box[1] <= middle <= box[3]]
        line = run.text.lstrip("\n").split("\n", 1)[0]
        segments.extend(_selected(line, _inside(line, run, rows, widths)))
    return without_ligatures(" ".join(" ".join(segments).split()))[:MAX_ANCHOR_CHARS]


def _inside(line: str, run: _Run, rows: list[Box], widths: GlyphWidths) -> list[bool]:
    """For each character of a run's line, whether it lies inside one of `rows`."""
    measures, default = widths.of(run.font)
    scale = run.em / 1000
    position = run.x
    flags = []
    for char in line:
        advance = measures.get(char, default) * scale
        middle = position + advance / 2
        flags.append(any(box[0] <= middle <= box[2] for box in rows))
        position += advance
    for word in _WORD_CHARS.finditer(line):
        start, end = word.span()
        inside = sum(flags[start:end])
        flags[start:end] = [0 < inside and 2 * inside >= end - start] * (end - start)
    return flags


def _selected(line: str, flags: list[bool]) -> list[str]:
    """The stretches of `line` whose characters are flagged, each one piece."""
    stretches = itertools.groupby(zip(line, flags, strict=True), key=lambda pair: pair[1])
    return ["".join(char for char, _ in stretch) for flagged, stretch in stretches if flagged]


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
