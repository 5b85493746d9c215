"""Figures: the numbers in a text as rows a journalist can query.

`find_figures` reads counts ("118 out of 490 referrals"), shares ("one in five", "24 per cent"),
changes ("more than double", "up 12% year on year"), money ("£1.2 million"), durations
("jailed for 10 months"), vague quantities ("hundreds of officers"), years and dates, with the
counted noun, the qualifier, the period and the sentence each came from. Pure regular expressions
over plain text: no model, no network.

How it works: first the spans that contain digits but are not figures (URLs, e-mail addresses,
phone numbers, postcodes, times of day, version numbers, legal and document references such as
"section 24" or "Table 2", list numbering, page furniture) are masked. Then passes from the most
specific pattern to the least (dates, money, "X in Y", "X out of Y", percentages, fractions,
multiples, vague quantities, durations, years, plain counts) each claim the characters they
explain, so a later pass cannot read "24" in "24 June" as a count. For speed the passes only look
near digits, currency signs and number words (see `_windows`); a pattern that starts with the
number is only tried where a number starts (`_Scanner.at_anchors`, `_Scanner.at_digits`); any
other runs only in the windows holding a trigger, a cheap piece all its matches contain (a month
name for a date, "fold" or "times" for a multiple: `_Scanner.windows_with`); and case-insensitive
patterns run over a lower-cased copy of the text: figures must cost a small fraction of page
extraction.

The counted noun (`unit`) is the head noun of the noun phrase after the number, singular and
lower case: the last noun of a compound ("corruption referrals" -> "referral", "police officers"
-> "officer", "armed response vehicle deployments" -> "deployment"). When nothing follows the
number, the noun after "of (the)" is used ("14 of the children's cases" -> "case"), and a bare
number linked to a neighbour ("from 1,585 to 3,283 offences", "8,210 officers joined and 7,926
left") shares the neighbour's noun. Shares (percentages, fractions) keep `unit` null: the whole
they are a share of is not what they count; "one in five officers" keeps "officer".

Values: as stated, in whole units ("£3.5m" is 3500000, "6.6 million" is 6600000); a percentage
is 24 for "24 per cent"; a change is a multiple for "doubled" (2), "halved" (0.5) or "3:1" (3)
with a null unit, a signed percentage with unit "percent" for "up 12%" (12), "fell by 8%" (-8)
or "−1%" (-1), and a signed number for a table's "-12" (-12, with the noun after it if any); a year
is the (first) year ("2022/23" is 2022, with `value_max` 2023); a date is the number YYYYMMDD
with zeros for parts not given ("November 2019" is 20191100, "3 March" is 303).
"""

from __future__ import annotations

import math
import re
import string
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from extract.numbers import (
    DIGITS_PATTERN,
    FRACTIONS,
    NUMBER_WORDS_PATTERN,
    currency_of,
    looks_plural,
    parse_fraction,
    parse_number,
    scale_of,
    singular,
)
from extract.records import Figure

_ML = re.MULTILINE
# Case-insensitive patterns are compiled in lower case and run over an ASCII-lower-cased copy of
# the text: the IGNORECASE flag makes Python's matcher several times slower.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_LOWERED: set[re.Pattern[str]] = set()


def _ci(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile `pattern` to match the lower-cased text (see `_Scanner.lower`)."""
    lowered = pattern.replace("\\S", "\0").replace("?P<", "\1").lower()
    lowered = lowered.replace("\0", "\\S").replace("\1", "?P<")
    compiled = re.compile(lowered, flags)
    _LOWERED.add(compiled)
    return compiled


_D = DIGITS_PATTERN
# A number written in digits that is not part of a larger token ("2022/23", "v2.1", "M25"), nor
# signed ("-1%", "−1%" with the minus sign U+2212): a signed number is a change (see `_SIGNED`).
_DB = rf"(?<![\w.,/£$€\-–−]){_D}(?![\d]|[.,/]\d)"
_W = rf"\b{NUMBER_WORDS_PATTERN}\b"
_NUM = rf"(?:{_DB}|{_W})(?:[\s-]+and[\s-]+a[\s-]+half)?"

_MONTHS = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
# Capitalised only: "may" and "march" are verbs in lower case.
_MONTH = "(?:" + "|".join(sorted((m.capitalize() for m in _MONTHS), key=len, reverse=True)) + ")"
_WEEKDAY = r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?"
_YEAR = r"(?:1[89]\d\d|20\d\d)"

_QUALIFIERS = (
    "no more than|no fewer than|not more than|more than|fewer than|less than|greater than|"
    "just over|just under|well over|well under|in excess of|upwards of|as many as|as much as|"
    "as few as|close to|up to|at least|at most|an estimated|estimated|approximately|approx\\.|"
    "roughly|around|about|almost|nearly|some|over|under|below|above|circa"
)
_QUALIFIER_BEFORE = _ci(rf"(?:^|(?<=[\s(\"“]))(?P<q>{_QUALIFIERS})\s+$")

_NEGATIVE_VERBS = frozenset(
    "down fell fall falls fallen falling decrease decreased decreases decreasing dropped drop "
    "drops declined decline declines declining cut cuts reduced reduction reductions reduce "
    "slumped plunged lower less fewer shrank shrunk halved".split()
)
_CHANGE_VERBS = (
    r"up|down|rose|rise|rises|risen|rising|fell|fall|falls|fallen|falling|increased?|increases|"
    r"increasing|decreased?|decreases|decreasing|grew|grow|grows|grown|growth|dropped|drop|drops|"
    r"declined?|declines|declining|jumped|jump|jumps|climbed|cut|cuts|reduced?|reduction|"
    r"reductions|slumped|surged|soared|plunged|higher|lower|shrank|shrunk|uplift"
)
_CHANGE_BEFORE = _ci(rf"\b(?P<verb>{_CHANGE_VERBS})\s+(?:(?:of|by)\s+)?(?:(?:{_QUALIFIERS})\s+)?$")
_BY_BEFORE = _ci(rf"\bby\s+(?:(?:{_QUALIFIERS})\s+)?$")
_VERB_IN_WINDOW = _ci(rf"\b(?P<verb>{_CHANGE_VERBS}|halved|doubled)\b")
_CHANGE_AFTER = _ci(
    r"\s*(?:(?P<verb>higher|lower|more|less|fewer|up|down|increase|decrease|rise|fall|drop|"
    r"reduction|cut|uplift)\b|(?P<yoy>year[\s-]on[\s-]year)\b|"
    r"[a-z]+\s+(?P<noun>rise|increase|cut|drop|fall|reduction|uplift)\b)"
)

_STOP_WORDS = frozenset(
    """of in for to from with were was had have has are is be been being will would could should
    can may might must and or but nor who which that than on at by over under per since between
    during after before this these those last as a an the each across into about such more less
    fewer also not still only so if when where while whom whose it its their his her they we he
    she our you your i said says say did do does up down out off within without through against
    among including following next every all both either neither some any no yet then there here
    what how why my me them us him ago earlier later year years month months week weeks day days
    per cent percent old aged""".split()
) | frozenset(_MONTHS)
_NUMBER_WORDS = frozenset(
    """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty
    ninety hundred thousand million billion dozen""".split()
)
# Participles that open a clause after a noun phrase ("20 involving missing children").
_CLAUSE_WORDS = frozenset(
    """involving including relating concerning regarding following according using being having
    making taking showing containing affecting compared""".split()
)
_NUMBER_ANCHORS = (
    _NUMBER_WORDS
    | {"twice", "double", "doubled", "doubling", "triple", "tripled", "tripling", "treble"}
    | {"trebled", "trebling", "quadruple", "quadrupled", "quadrupling", "halved", "halving"}
    | {"decade", "decades", "half"}
    | {"a dozen", "dozens", "scores", "hundreds", "thousands", "millions", "billions"}
)
_VAGUE_RANGES_WORDS: frozenset[str] = frozenset()
# Compiled once, as is every pattern used in a loop: `re.sub` and the like, given a pattern
# string, look it up in `re`'s cache on every call, which costs more than a small match does.
_WHITE_SPACE = re.compile(r"\s+")
_HYPHENED = re.compile(r"[-‐]([A-Za-z]{2,})\b(?![-‐])")
# A line break inside a phrase is common in PDF text; a blank line ends the phrase.
_GAP = r"(?:[ \t]|\n(?![ \t]*\n))"
_RUN = re.compile(rf"{_GAP}*((?:(?:[A-Za-z][\w'’-]*|999|101|111){_GAP}*){{1,6}})")
_OF_THE = re.compile(
    rf"{_GAP}+of{_GAP}+(?:the|these|those|all|its|their|our|his|her|whom|which|them)?{_GAP}*"
)


@dataclass
class _Found:
    start: int
    end: int
    kind: str
    value: float | None = None
    value_min: float | None = None
    value_max: float | None = None
    unit: str | None = None
    denominator: float | None = None
    qualifier: str | None = None


# ----------------------------------------------------------------------------------------------
# Spans that contain numbers but are not figures.

# Whole tokens (between spaces) holding a digit that are links, addresses or identifiers.
_URL_TOKEN = re.compile(
    r"://|^[(\[]?www\.|@|\.(?:gov\.uk|co\.uk|org\.uk|ac\.uk|police\.uk|nhs\.uk|com|org|net|uk|"
    r"io|eu)\b"
)
_GLUED_TOKEN = re.compile(r"[a-z]_?\d|\d(?:st|nd|rd|th)\b|[a-z]-\d")  # M25, FIRE_01, 6th, Covid-19
_SPACE = re.compile(r"\s")

# Masks that start with the number itself ("10:30", "0900 GMT", "1.2.3"): they can only match
# where a run of digits starts, so they are tried there (see `_Scanner.at_digits`), which is
# much cheaper than scanning every window for them.
_DIGIT_MASKS = [
    # Emergency and non-emergency numbers, when used as numbers to call.
    _ci(
        r"\b(?:999|101|111|112|911)\b(?=[ \t]*(?:calls?|demand|line|number|services?|emergency|"
        r"non-emergency|handlers?|operators?|call-?handlers?)\b)"
    ),
    _ci(r"\b\d{1,2}(?:[:.]\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)(?!\w)"),
    re.compile(r"\b\d{4}\s?(?:hrs|GMT|BST|UTC)\b"),
    re.compile(r"\b\d+\.\d+\.\d+(?:\.\d+)*\b"),
    re.compile(r"\b\d{4}/\d{4,}\b"),
    re.compile(r"\b\d{7,}\b"),
    re.compile(r"\b\d+(?:-\d+){2,}\b"),
    re.compile(
        r"\b(?P<x>\d{1,4}[a-z]?)\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Road|Rd|Square|Lane|"
        r"Avenue|Place|Way|Drive|Court|House|Gardens|Terrace|Close|Crescent|Row|Walk|Parade|"
        r"Embankment|Buildings|Colonnade|Quay|Wharf|Mews|Yard|Circus|Grove)\b"
    ),
]
# A time of day ("10:30", "02:00"), masked unless said to be a ratio ("a ratio of 1:20", see
# `_said_to_be_a_ratio`).
_TIME_OF_DAY = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b")
# The other masks, each with a trigger: a plain piece every match of the mask contains, which
# Python's `re` finds quickly (it starts with a literal or a character class, where most masks
# start with `\b`). A mask runs only in the windows where its trigger occurs (most pages have no
# postcodes or ISBNs at all); None: no such piece, the mask runs in every window.
_MASKS: list[tuple[re.Pattern[str], re.Pattern[str] | None]] = [
    # "call 999", "dial 101": the number to call, not a count.
    (
        _ci(
            r"\b(?:call|calls|dial|dialled|dialling|ring|rang|phone|phoned|calling|called)\s+"
            r"(?:on\s+)?(?P<x>999|101|111|112|911)\b"
        ),
        _ci(r"999|101|111|112|911"),
    ),
    (re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"), re.compile(r"\d[A-Z]{2}")),  # postcodes
    (_ci(r"\b(?:version|ver\.|v)\s?\d+(?:\.\d+)*\b"), _ci(r"v(?:ersion|er\.)?\s?\d")),
    (
        re.compile(
            r"\b(?:Act|Acts|Regulations|Order|Rules|Code|Bill|Directive|Convention|Measure|"
            r"Statute)(?:\s+\([\w ]+\))?\s+(?:of\s+)?(?P<x>(?:18|19|20)\d\d)\b"
        ),
        re.compile(r"Act|Regulations|Order|Rules|Code|Bill|Directive|Convention|Measure|Statute"),
    ),
    (_ci(r"\b(?:ISBN|ISSN)[:\s]*[\dX-]{8,}"), _ci(r"ISBN|ISSN")),
    (_ci(r"\bpage\s+\d+\s+of\s+\d+\b"), _ci(r"page\s+\d")),
    (re.compile(r"^[ \t]*\d{1,4}[ \t]*$", _ML), None),  # a page number on a line of its own
    # A contents line's page number after its dot leader: "Findings ........ 9".
    (
        re.compile(r"(?:[.…][ \t]?){4,}[ \t]*\d{1,4}[ \t]*$", _ML),
        re.compile(r"\.[ \t]?\.[ \t]?\.|…"),
    ),
    (_ci(r"\b\d+\s*(?:min|mins|minutes?)\s+read\b"), _ci(r"min(?:s|utes?)?\s+read")),
    (re.compile(r"^[ \t]*\(?\d{1,2}[.)][ \t]", _ML), None),  # "1. ", "2) ", "(3) "
    (
        re.compile(r"^[ \t]*\d+(?:\.\d+)+\.?[ \t]+(?=[A-Z])", _ML),  # "4.12 Findings"
        re.compile(r"\.\d"),
    ),
    (re.compile(r"\(\d{1,2}\)"), None),
    (
        re.compile(r"\b(?:PC|PS|DC|DS|DI|DCI|Sgt|Insp)\s+(?P<x>\d+)\b"),
        re.compile(r"(?:PC|PS|DC|DS|DI|DCI|Sgt|Insp)\s+\d"),
    ),
    # Identifiers: "collar number 4521", "crime reference 12345".
    (
        _ci(
            r"\b(?:collar|warrant|shoulder|badge|case|crime|incident|reference|log|serial|file|"
            r"complaint|account)\s+(?:number|no\.?|reference|ref\.?)\s*:?\s*(?P<x>\d+)\b"
        ),
        _ci(r"(?:number|no\.?|reference|ref\.?)\s*:?\s*\d"),
    ),
    # A number to call abroad: "+49 (0)40 890 85-433".
    (re.compile(r"\+\d{1,3}[ \t]?\(0\)[ \t]?\d[\d \t-]{5,}\d"), re.compile(r"\(0\)")),
    # Relay UK's prefix before a number to call: "Textphone 18001 101".
    (re.compile(r"\b18001[ \t]+\d[\d \t]*\d\b"), re.compile(r"18001")),
]
# Legal and document references: "section 24", "Table 2", "paras. 3.1 to 3.4".
_CITATION = _ci(
    r"(?:\b(?:sections?|regulations?|reg\.|articles?|art\.|paragraphs?|paras?\.?|schedules?|"
    r"parts?|chapters?|rules?|clauses?|annex(?:es)?|appendix|appendices|tables?|figures?|"
    r"fig\.|charts?|pages?|pp?\.|recommendations?|cause of concern|areas? for improvement|"
    r"steps?|stages?|levels?|phases?|tiers?|volumes?|vol\.|no\.|items?|questions?|"
    r"footnotes?|notes?|editions?|codes?|categor(?:y|ies)|grades?|box|columns?|options?|"
    r"priorit(?:y|ies)|case study|key findings?|findings?|objectives?|principles?|"
    r"outcomes?\s+(?=\d+\b)|standards?|criteri(?:on|a))|(?<!\w)ss?\.)\s*"
    r"(?P<x>\d+(?:\.\d+)*[a-z]?(?:\([a-z0-9]+\))*(?:\s*(?:,|and|or|to|-|–|&)\s*\d+(?:\.\d+)*"
    r"[a-z]?(?:\([a-z0-9]+\))*)*)(?!\s*(?:%|per\s?cent))"
)
# The same references with the number spelled out: "part two of three", "page one of two",
# "stage one of the inquiry". Found in the windows with one of its keywords (the trigger).
_SMALL_NUMBER = (
    "(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    "fifteen|sixteen|seventeen|eighteen|nineteen|twenty)"
)
_REFERENCE_WORDS = (
    "pages?|parts?|chapters?|sections?|volumes?|episodes?|series|stages?|phases?|steps?|"
    "appendix|annex|tables?|figures?|rounds?"
)
_WORD_CITATION = _ci(
    rf"\b(?:{_REFERENCE_WORDS})\s+(?P<x>{_SMALL_NUMBER}(?:\s+of\s+{_SMALL_NUMBER})?)\b"
)
_WORD_CITATION_TRIGGER = _ci(_REFERENCE_WORDS.replace("s?", ""))
# Every word `_CITATION` can end on before its number: its keywords spelled out, singular and
# plural, and the last word of those of several words. Its number starts a run of digits, so
# `_CITATION` need only run in the windows with a run of digits that follows one of these and
# white space (see `_citation_windows`).
_CITATION_WORDS = tuple(
    """section sections regulation regulations reg. article articles art. paragraph paragraphs
    para paras para. paras. schedule schedules part parts chapter chapters rule rules clause
    clauses annex annexes appendix appendices table tables figure figures fig. chart charts page
    pages p. pp. recommendation recommendations concern improvement step steps stage stages
    level levels phase phases tier tiers volume volumes vol. no. item items question questions
    footnote footnotes note notes edition editions code codes category categories grade grades
    box column columns option options priority priorities study finding findings objective
    objectives principle principles outcome outcomes standard standards criterion criteria s.
    ss.""".split()
)
_LONGEST_CITATION_WORD = max(map(len, _CITATION_WORDS))


def _citation_windows(s: _Scanner) -> list[tuple[int, int]]:
    """The digit windows where `_CITATION` can match: one of its numbers follows a keyword."""
    lower, starts = s.lower, s.digit_starts
    found = []
    for window_start, window_end in s.digit_windows:
        i = bisect_left(starts, window_start)
        while i < len(starts) and starts[i] < window_end:
            low = max(window_start, starts[i] - 2 * _LONGEST_CITATION_WORD)
            before = lower[low : starts[i]].rstrip()
            # After a long run of white space the keyword may start before `low`: assume it does.
            cut = low > window_start and len(before) < _LONGEST_CITATION_WORD
            if cut or before.endswith(_CITATION_WORDS):
                found.append((window_start, window_end))
                break
            i += 1
    return found


def _mask(s: _Scanner) -> None:
    lower, claimed = s.lower, s.claimed
    token_end = -1
    for start, _ in s.digit_anchors:
        if start < token_end:
            continue
        token_start = max(lower.rfind(" ", 0, start), lower.rfind("\n", 0, start)) + 1
        space = _SPACE.search(lower, start)
        token_end = space.start() if space else len(lower)
        token = lower[token_start:token_end]
        if _URL_TOKEN.search(token) or _GLUED_TOKEN.search(token):
            end = _trim_url(lower, token_start, token_end)
            claimed[token_start:end] = b"\x01" * (end - token_start)
    masks = [(mask, s.at_digits(mask)) for mask in _DIGIT_MASKS]
    times = s.at_digits(_TIME_OF_DAY)
    masks.append((_TIME_OF_DAY, (m for m in times if not _said_to_be_a_ratio(s, m, False))))
    for mask, trigger in _MASKS:
        windows = s.digit_windows if trigger is None else s.windows_with(trigger, s.digit_windows)
        masks.append((mask, s.each(mask, windows)))
    masks.append((_CITATION, s.each(_CITATION, _citation_windows(s))))
    masks.append((_WORD_CITATION, s.each(_WORD_CITATION, s.windows_with(_WORD_CITATION_TRIGGER))))
    for pattern, matches in masks:
        for match in matches:
            group = "x" if "x" in pattern.groupindex and match.group("x") else 0
            start, end = match.span(group)
            claimed[start:end] = b"\x01" * (end - start)
    for match in s.each(_PHONE, s.windows_with(_PHONE_TRIGGER, s.digit_windows)):
        if sum(c.isdigit() for c in match.group()) >= 10:
            claimed[match.start() : match.end()] = b"\x01" * (match.end() - match.start())


_PHONE = re.compile(
    r"(?<![\d,.])(?:\+44\s?(?:\(0\)\s?)?|0)\d{2,4}\)?[\s-]?\d{3,4}[\s-]?\d{3,4}(?![\d,])"
)
# The trigger (see `_Scanner.windows_with`): every phone number ends with two groups of digits.
_PHONE_TRIGGER = re.compile(r"\d{3}[\s-]?\d{3}")


def _trim_url(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in ".,;:)]}'\"”’":
        end -= 1
    return end


# ----------------------------------------------------------------------------------------------
# The passes, most specific first.

_DATE_DMY = re.compile(
    rf"\b{_WEEKDAY}(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m>{_MONTH})\.?(?:,?\s+(?P<y>{_YEAR}))?\b"
)
_DATE_MDY = re.compile(
    rf"\b{_WEEKDAY}(?P<m>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>{_YEAR})\b"
)
_DATE_ISO = re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)\b")
_DATE_NUMERIC = re.compile(r"\b(?P<d>[0-3]?\d)/(?P<m>[01]?\d)/(?P<y>(?:19|20)\d\d)\b")
_DATE_MD = re.compile(
    rf"\b{_WEEKDAY}(?P<m>{_MONTH})\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\b(?!\s?[,/–-]?\s?\d)"
)
_DATE_MY = re.compile(rf"\b(?P<m>{_MONTH})\.?,?\s+(?P<y>{_YEAR})\b(?!\s?[/–-]\s?\d)")
# Triggers (see `_Scanner.windows_with`): every month name starts with its abbreviation.
_MONTH_START = re.compile("|".join(sorted({month[:3].capitalize() for month in _MONTHS})))
_DATE_ISO_TRIGGER = re.compile(r"-[01]\d-")
_DATE_NUMERIC_TRIGGER = re.compile(r"/[01]?\d/")

_MONEY = _ci(
    rf"(?<![\w.])(?P<cur>US\$|[£$€¥₹]|Rs\.?\s?)\s?(?P<num>{_D}|{NUMBER_WORDS_PATTERN})"
    r"(?:\s?(?P<scale>million|billion|trillion|thousand|bn|mn|m|k|tn|b)\b)?(?![\d.,]\d)"
)
_MONEY_WORDS = _ci(
    rf"(?P<num>{_NUM})(?:\s+(?P<scale>million|billion|thousand|bn|m)\b)?\s+"
    r"(?P<cur>pounds|dollars|euros)\b"
)
_RATIO_IN = _ci(rf"(?P<a>{_NUM})\s+in\s+(?P<b>{_NUM})(?!\s*(?:%|per\s?cent))")
_OUT_OF = _ci(
    rf"(?P<a>{_NUM})\s+(?:out\s+of(?:\s+(?:the|a\s+total\s+of))?|of\s+the|of\s+all|of\s+its)\s+"
    rf"(?P<b>{_NUM})(?!\s*(?:%|per\s?cent))"
)
_OF_BARE = _ci(rf"(?P<a>{_DB})\s+of\s+(?P<b>{_DB})(?!\s*(?:%|per\s?cent))")
# "3:1", "a ratio of 1:20": the first quantity as a multiple of the second (a `change`, as "three
# times as likely" is). Not a chain ("1:23:45"), nor a verse ("119:1-2"), nor a time of day
# (masked before, see `_TIME_OF_DAY`).
_COLON_RATIO = re.compile(rf"(?<!:)(?P<a>{_DB}):(?P<b>{_D})(?![\w:]|[.,\-–]\d)")
# "a ratio of", "the ratio of staff to detainees was", "a majority of", "odds of"; "a 1:10 ratio",
# "2:1 in favour".
_RATIO_SAID_BEFORE = _ci(
    r"\b(?:ratios?(?:\s+of(?:\s+[a-z-]+){1,2}\s+to(?:\s+[a-z-]+){1,2})?|odds|split|majority|"
    r"margin)\s*(?:of|was|is|were|stood\s+at|at|:)?\s*$"
)
_RATIO_WORD_AFTER = _ci(r"[ \t]+ratios?\b")
_VOTE_AFTER = _ci(r"[ \t]+(?:in[ \t]+favour|against|majority)\b")
# A score ("won 3:1", "the match ended 2:1") or a degree class ("a 2:1 degree"): no figure.
_SCORE_BEFORE = _ci(
    r"\b(?:won|win|wins|winning|beat|beats|beaten|lost|lose|loses|losing|drew|draw|drawn|"
    r"defeat|defeated|scored?|scoreline|victory|match|game)\b[^.;\d]{0,20}$"
)
_DEGREE_AFTER = _ci(r"[ \t]*(?:degree|honours|hons)\b")
_PERCENT = _ci(
    rf"(?P<num>{_NUM})\s?(?:(?P<pp>percentage[\s-]points?)\b|%|per\s?cent\b|percent\b|pc\b)"
)
_FRAC_WORDS = "|".join(sorted(FRACTIONS, key=len, reverse=True))
_FRACTION = _ci(
    rf"\b(?P<f>(?:a|an|one|{NUMBER_WORDS_PATTERN})[\s-](?:{_FRAC_WORDS})|half)\b(?![\s-]?(?:time|way|term|hour))"
)
_FRACTION_TRIGGER = _ci(_FRAC_WORDS)
_MULTIPLE = _ci(
    rf"\b(?P<w>doubled|doubling|tripled|trebled|tripling|trebling|quadrupled|quadrupling|"
    rf"halved|halving|double|triple|treble|quadruple|twice|"
    rf"(?P<fold>{_DB}|{NUMBER_WORDS_PATTERN})[\s-]?fold|(?P<times>{_NUM})\s+times)\b"
)
_MULTIPLE_TRIGGER = _ci(r"doubl|tripl|trebl|quadrupl|halv|twice|fold|times")
_TIMES_FOLLOWERS = _ci(
    r"\s+(?:as|more|higher|greater|bigger|larger|lower|smaller|likelier|the|that|what|"
    r"faster|slower|less|longer|its|their)\b"
)
_VAGUE = _ci(
    r"\b(?P<v>(?:tens|hundreds)\s+of\s+(?:thousands|millions)|hundreds|thousands|millions|"
    r"billions|dozens|scores)\b(?=\s+(?:of|more|upon)\b)"
)
_VAGUE_TRIGGER = _ci(r"hundreds|thousands|millions|billions|dozens|scores")
_MORE = re.compile(r"[ \t]+more\b")
_VAGUE_RANGES = {
    "dozens": (24, 144),
    "scores": (40, 199),
    "hundreds": (200, 999),
    "thousands": (2000, 9999),
    "tens of thousands": (20000, 99999),
    "hundreds of thousands": (200000, 999999),
    "millions": (2e6, 9.99e6),
    "tens of millions": (2e7, 9.99e7),
    "hundreds of millions": (2e8, 9.99e8),
    "billions": (2e9, 9.99e9),
}
_DURATION = _ci(
    rf"(?P<num>{_NUM}|\ba|\ban)(?:[\s-]+)(?:(?:working|calendar|full|whole|consecutive|further|"
    r"additional|extra)\s+)?(?P<u>seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|"
    r"fortnights?|months?|years?|decades?|centur(?:y|ies))\b(?P<old>[\s-]+old\b)?(?:'|’)?"
)
_PAST_DECADE = _ci(r"\bthe\s+(?:past|last|previous|next)\s+decade\b")
_PAST_DECADE_TRIGGER = _ci("decade")
# "Patrick Smith Jr., 55, was ..." and "the officer, 34, of Leeds": an age after a name.
_AGE_AFTER_NAME = re.compile(
    r"\b(?:[A-Z][a-z]+(?:\s(?:Jr|Sr)\.?)?|officer|constable|man|woman|boy|girl|driver|victim),"
    r"\s+(?P<num>\d{1,3}),\s"
)
_AGE_AFTER_NAME_TRIGGER = re.compile(r",\s+\d{1,3},\s")
_AGE = _ci(
    rf"\b(?:aged|age\s+of|ages?\s+(?:was|is|were|of))\s+(?:(?:under|over|between|about|around)\s+)?"
    rf"(?P<num>{_NUM})"
)
_AGE_TRIGGER = _ci(r"age[ds]?\s")
_FINANCIAL_YEAR = re.compile(
    rf"(?<![\w./£$€\-–−])(?P<y>{_YEAR})\s?[/–-]\s?(?P<y2>(?:19|20)?\d\d)(?![\d%]|\.\d|/)"
)
_SINGLE_YEAR = _ci(
    rf"(?<![\w.,/£$€\-–−])(?P<y>{_YEAR})(?![\w%]|[.,]\d|\s?(?:per\s?cent|percent|million|billion)\b)"
)
_COUNT = _ci(rf"(?P<num>{_NUM})(?!\w)(?:\s+(?P<scale>million|billion|trillion|thousand|bn)\b)?")
_YEAR_PREPOSITION = re.compile(r"\b(?:since|in|by|until|from|during|before|after|of|between)\s+$")
_COUNT_SCALED = _ci(rf"(?P<num>{_DB})(?P<scale>m|bn|k)\b")
# A scaled number with no noun after it ("2.4m") is a count where it is said to move or to stand
# to a total ("rose from 2.1m", "fell to 2.4m", "up by 1.2m", "totalled 2.4m"), and so is the other
# end of such a pair ("... to 2.4m"); anywhere else it may be metres ("a 10m fall", "1.8m").
_SCALED_MOVES_BEFORE = _ci(
    rf"\b(?:(?!up\s+to\b)(?:{_CHANGE_VERBS})\s+(?:from|to|by|of)|between|reached|reaching|"
    rf"totalled|totalling)\s+(?:(?:{_QUALIFIERS})\s+)?$"
)
_SCALED_PAIR_GAP = _ci(rf"[^.;:]{{0,20}}\b(?:to|and)\s+(?:(?:{_QUALIFIERS})\s+)?")
_MEASURE_AFTER = _ci(
    r"[ \t]*(?:high|tall|wide|long|deep|away|thick|across|above|below|square|sq\b|"
    r"in\s+(?:length|height|width|depth|diameter))"
)
_DURATION_UNITS = {
    "sec": "second",
    "min": "minute",
    "hr": "hour",
    "fortnight": "week",
    "decade": "year",
    "century": "year",
    "centurie": "year",
}
_DURATION_FACTORS = {"fortnight": 2, "decade": 10, "century": 100, "centurie": 100}


_ANCHOR_WORDS = sorted(
    set(_NUMBER_ANCHORS)
    | set(FRACTIONS)
    | set(_VAGUE_RANGES_WORDS)
    | {"a year", "a month", "a week", "a day", "a fortnight"},
    key=len,
    reverse=True,
)


def _trie(words: list[str]) -> str:
    """A regex alternation of `words` shaped as a prefix tree, preferring the longest word.

    Python's `re` tries each branch of `a|b|c` at every position; branching on one character at
    a time makes the number-word scan over a whole text about five times faster.
    """
    tree: dict = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        branches = [
            re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return pattern(tree)


# `\d\d*` rather than `\d+`, and one `\b` branch for all the words: the matcher tries the branches
# of an alternation at every position of the text, and skips a branch that starts with a literal
# or a character class without the cost of entering it.
# A currency sign is an anchor only before what can be its amount (a digit or a number word):
# a page of "$$$$" or "£ £ £" would otherwise make every sign a place where every pass is tried.
_ANCHOR = re.compile(r"\d\d*|[£$€¥](?=\s?[\da-z])|\b(?:" + _trie(_ANCHOR_WORDS) + r")\b|fold\b")


def _windows(
    lower: str, anchors: list[tuple[int, int]], before: int, after: int
) -> list[tuple[int, int]]:
    """Stretches of text around anything that could start a figure, merged.

    Every pass runs inside these only: most of a page has no digit or number word, and running
    a few dozen patterns over all of it would cost more than extracting the page did. Windows
    start and end on spaces, so a link or an identifier is never cut in two.

    The searches for those spaces never look at the same text twice: a text without spaces
    ("$$$$...", a megabyte of them) made searching back from every anchor quadratic (56 s).
    """
    windows: list[tuple[int, int]] = []
    size = len(lower)
    for anchor_start, anchor_end in anchors:
        start = max(0, anchor_start - before)
        end = min(size, anchor_end + after)
        if not windows or start > windows[-1][1]:
            # A space before the window before ends would merge the two anyway.
            searched = windows[-1][1] if windows else 0
            start = max(lower.rfind(" ", searched, start), lower.rfind("\n", searched, start)) + 1
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    result = []
    space = -1  # the first white space at or after the previous window's end
    for start, end in windows:
        if space < end:
            found = _SPACE.search(lower, end)
            space = found.start() if found else size
        result.append((start, space))
    return result


_CURRENCY_PREFIX = re.compile(r"\brs\.?\s?$")


def _lowered(text: str) -> str:
    """`text` in lower case, for the case-insensitive patterns (see `_ci`).

    Offsets must agree between the two copies; a few non-ASCII letters lower-case to two.
    """
    lower = text.lower()
    return lower if len(lower) == len(text) else text.translate(_ASCII_LOWER)


class _Scanner:
    """One pass over one text: the claimed-character map and what has been found so far."""

    def __init__(self, text: str, most_anchors: int | None = None) -> None:
        """Read `text`, or with `most_anchors` only the part of it before the white space
        preceding the anchor after that many (all of it when it holds no more)."""
        lower = _lowered(text)
        anchors: list[tuple[int, int]] = []
        for anchor in _ANCHOR.finditer(lower):
            if len(anchors) == most_anchors:
                start = anchor.start()
                cut = max(lower.rfind(" ", 0, start), lower.rfind("\n", 0, start), 0)
                text, lower = text[:cut], lower[:cut]
                anchors = [a for a in anchors if a[1] <= cut]
                break
            anchors.append(anchor.span())
        self.text = text
        self.lower = lower
        self.claimed = bytearray(len(text))
        self.found: list[_Found] = []
        self.digit_anchors = [a for a in anchors if self.lower[a[0]].isdigit()]
        self.digit_starts = [start for start, _ in self.digit_anchors]
        starts = {a[0] for a in anchors}
        for start, _ in anchors:
            if self.lower.startswith("a ", start - 2) or self.lower.startswith("an ", start - 3):
                starts.add(self.lower.rfind("a", 0, start))
            prefix = _CURRENCY_PREFIX.search(self.lower, max(0, start - 4), start)
            if prefix:
                starts.add(prefix.start())
            elif self.lower.startswith("us$", start - 2):
                starts.add(start - 2)
        self.starts = sorted(starts)
        self.windows = _windows(self.lower, anchors, 40, 60)
        self.digit_windows = _windows(self.lower, self.digit_anchors, 40, 40)
        # The end of the digit window each run of digits is in.
        self.digit_window_ends = []
        windows = iter(self.digit_windows)
        window_end = 0
        for start in self.digit_starts:
            while start >= window_end:
                window_end = next(windows)[1]
            self.digit_window_ends.append(window_end)
        _mask(self)

    def at_anchors(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        """Matches of `pattern` that start where a number, currency sign or article starts.

        For the patterns that begin with the number itself this is much cheaper than scanning.
        Starts already claimed are not tried: a match there is not free, and no pass takes it.
        """
        target = self.lower if pattern in _LOWERED else self.text
        claimed = self.claimed
        for start in self.starts:
            if claimed[start]:
                continue
            match = pattern.match(target, start)
            if match:
                yield match

    def at_digits(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        """The matches `each` finds in the digit windows, for a pattern that starts with `\\b\\d`.

        Such a match can only start where a run of digits does, so trying the pattern at those
        places finds the same matches as scanning the windows, at a fraction of the cost.
        """
        target = self.lower if pattern in _LOWERED else self.text
        end = 0
        for start, window_end in zip(self.digit_starts, self.digit_window_ends, strict=True):
            if start >= end:
                match = pattern.match(target, start, window_end)
                if match:
                    end = match.end()
                    yield match

    def windows_with(
        self, trigger: re.Pattern[str], windows: list[tuple[int, int]] | None = None
    ) -> list[tuple[int, int]]:
        """The windows (by default `self.windows`) where `trigger` occurs.

        A pattern need only run where a cheap piece of every one of its matches occurs: most
        windows have no month name, no "fold" or "times", no phone number. The trigger must be
        plain text to find (no `\\b`, no look-around), so that it is found inside any window
        that holds a match.
        """
        target = self.lower if trigger in _LOWERED else self.text
        return [
            w for w in (self.windows if windows is None else windows) if trigger.search(target, *w)
        ]

    def each(
        self, pattern: re.Pattern[str], windows: list[tuple[int, int]] | None = None
    ) -> Iterator[re.Match[str]]:
        """Matches of `pattern` inside the windows around number-like words (see `_windows`)."""
        target = self.lower if pattern in _LOWERED else self.text
        for start, end in self.windows if windows is None else windows:
            yield from pattern.finditer(target, start, end)

    def free(self, start: int, end: int) -> bool:
        return self.claimed.find(1, start, end) == -1

    def claim(self, found: _Found, qualify: bool = True) -> None:
        if qualify and found.qualifier is None:
            window = self.lower[max(0, found.start - 30) : found.start]
            match = _QUALIFIER_BEFORE.search(window)
            if match:
                qstart = found.start - len(window) + match.start("q")
                if self.free(qstart, found.start):
                    found.qualifier = match.group("q").lower()
                    found.start = qstart
        self.claimed[found.start : found.end] = b"\x01" * (found.end - found.start)
        self.found.append(found)

    def noun_after(self, pos: int, value: float | None, through_of: bool = False) -> str | None:
        """The head noun of the phrase starting at `pos` (see the module docstring)."""
        text = self.text
        hyphened = _HYPHENED.match(text, pos)
        if hyphened and hyphened.group(1).lower() not in _STOP_WORDS | _NUMBER_WORDS:
            return singular(hyphened.group(1))
        match = _RUN.match(text, pos, min(len(text), pos + 90))
        words = match.group(1).split() if match else []
        noun = _head_noun(words, value)
        if noun is None and through_of:
            of = _OF_THE.match(text, pos)
            if of:
                match = _RUN.match(text, of.end(), min(len(text), of.end() + 90))
                noun = _head_noun(match.group(1).split() if match else [], value)
        return noun


def _head_noun(words: list[str], value: float | None) -> str | None:
    plural: str | None = None
    proper = False
    last: str | None = None
    taken = 0
    for word in words:
        lower = word.lower()
        for suffix in ("'s", "’s", "'", "’"):
            if lower.endswith(suffix):
                lower = lower[: -len(suffix)]
                break
        if lower in ("999", "101", "111"):
            continue
        if lower in _STOP_WORDS or lower in _NUMBER_WORDS:
            if lower in ("and", "or") and plural is None and value != 1 and taken:
                continue
            break
        if lower in _CLAUSE_WORDS:
            break
        if value == 1:
            # "one case examined", "one officer died": a participle after the noun ends it.
            if taken and lower.endswith("ed") and not word[0].isupper():
                break
            taken += 1
            last = lower
            # Names run long ("One former Greater Manchester Police officer").
            if taken >= 5 or (taken >= 3 and not word[0].isupper()):
                break
            continue
        taken += 1
        if looks_plural(lower):
            plural = lower
            proper = word[0].isupper() and not word.isupper()
        elif plural is not None:
            if proper:
                plural = None
                continue
            break
        elif taken >= 4:
            break
    head = last if value == 1 else plural
    if head is None or not head[0].isalpha():
        return None
    return singular(head)


def _number(text: str) -> float | None:
    return parse_number(text)


def _find_dates(s: _Scanner) -> None:
    month_windows = s.windows_with(_MONTH_START)
    for pattern, windows in (
        (_DATE_DMY, month_windows),
        (_DATE_MDY, month_windows),
        (_DATE_ISO, s.windows_with(_DATE_ISO_TRIGGER)),
        (_DATE_NUMERIC, s.windows_with(_DATE_NUMERIC_TRIGGER)),
        (_DATE_MY, month_windows),
        (_DATE_MD, month_windows),
    ):
        for m in s.each(pattern, windows):
            if not s.free(m.start(), m.end()) or _not_one_date(s.text, m):
                continue
            month_text = m.group("m")
            month = int(month_text) if month_text.isdigit() else _MONTHS[month_text.lower()]
            groups = m.groupdict()
            day = int(groups["d"]) if groups.get("d") else 0
            year = int(groups["y"]) if groups.get("y") else 0
            if not 1 <= month <= 12 or day > 31:
                continue
            s.claim(_Found(m.start(), m.end(), "date", year * 10000 + month * 100 + day), False)


def _not_one_date(text: str, m: re.Match[str]) -> bool:
    """A "date" running over a line break ("2023/24" on a cover, "July 2024" under it), or whose
    day is the end of a year span ("2023/24 July 2024"): two things, not one date."""
    return "\n" in m.group() or bool(
        _YEAR_SPAN_START.search(text, max(0, m.start() - 5), m.start())
    )


_YEAR_SPAN_START = re.compile(r"(?:19|20)\d\d[/\-\u2013]$")


def _find_money(s: _Scanner) -> None:
    for pattern in (_MONEY, _MONEY_WORDS):
        for m in s.at_anchors(pattern):
            if not s.free(m.start(), m.end()):
                continue
            value = _number(m.group("num"))
            if value is None:
                continue
            value *= scale_of(m.group("scale"))
            start = _signed_start(s, m.start())
            if start < m.start() and s.lower[start] != "+":
                value = -value
            s.claim(_Found(start, m.end(), "money", value, unit=currency_of(m.group("cur"))))


def _signed_start(s: _Scanner, start: int) -> int:
    """Where an amount starts with the sign set right before it ("-£1.2m", "−£3.4 million": a
    deficit, a cut), as `_SIGNED` reads one; `start` when there is none. A dash between two
    amounts ("£3m-£5m") is a range, not a sign."""
    if start and s.lower[start - 1] in _SIGNS and s.free(start - 1, start):
        if start == 1 or s.lower[start - 2] in _BEFORE_SIGN:
            return start - 1
    return start


_BEFORE_SIGN = frozenset(" \t\n([|:;,")


_YEAR_LIKE = re.compile(r"(?:19|20)\d\d")


def _is_year_like(text: str) -> bool:
    return bool(_YEAR_LIKE.fullmatch(text))


def _said_to_be_a_ratio(s: _Scanner, m: re.Match[str], votes: bool = True) -> bool:
    """Whether the text calls the number at `m` a ratio, or (with `votes`) a vote's split."""
    lower = s.lower
    return bool(
        _RATIO_SAID_BEFORE.search(lower, max(0, m.start() - 50), m.start())
        or _RATIO_WORD_AFTER.match(lower, m.end())
        or (votes and _VOTE_AFTER.match(lower, m.end()))
    )


def _find_colon_ratios(s: _Scanner) -> None:
    for m in s.at_anchors(_COLON_RATIO):
        if not s.free(m.start(), m.end()) or _is_year_like(m.group("a")):
            continue
        a, b = _number(m.group("a")), _number(m.group("b"))
        before = s.lower[max(0, m.start() - 30) : m.start()]
        said = _said_to_be_a_ratio(s, m)
        not_ratio = (
            _SCORE_BEFORE.search(before)
            or _DEGREE_AFTER.match(s.lower, m.end())
            or m.group() == "24:7"  # round the clock
        )
        if a is None or not b or (not_ratio and not said):
            s.claimed[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
            continue
        s.claim(_Found(m.start(), m.end(), "change", round(a / b, 4)))


def _find_ratios_and_denominators(s: _Scanner) -> None:
    for m in s.at_anchors(_RATIO_IN):
        if not s.free(m.start(), m.end()) or _is_year_like(m.group("b")):
            continue
        a, b = _number(m.group("a")), _number(m.group("b"))
        if a is None or b is None or not (0 < a < b <= 1000) or a > 20:
            continue
        unit = s.noun_after(m.end(), 2)
        s.claim(_Found(m.start(), m.end(), "ratio", round(a / b, 4), unit=unit))
    for pattern in (_OUT_OF, _OF_BARE):
        for m in s.at_anchors(pattern):
            if not s.free(m.start(), m.end()) or _is_year_like(m.group("b")):
                continue
            a, b = _number(m.group("a")), _number(m.group("b"))
            if a is None or b is None or not (0 <= a <= b):
                continue
            unit = s.noun_after(m.end(), b)
            s.claim(_Found(m.start(), m.end(), "count", a, unit=unit, denominator=b))


# "3,000-3,500 staff", "40-50%", "40%-50%", "3-5 years", "2-3 times", "18-24-year-olds": the
# second number follows a dash, where no other pass sees a number (it would take "2022-23" and
# "0300-020-0096" apart), so a dashed range is read whole, before the passes that read its ends.
_DASH_RANGE = _ci(
    rf"(?P<a>{_DB})(?P<ap>\s?%)?\s?[-\u2013]\s?(?P<b>{_D})(?![\d]|[.,/]\d|[-\u2013]\d)"
    rf"(?:(?P<pct>\s?(?:%|per\s?cent\b|percent\b))"
    rf"|(?P<dur>[\s-]+(?P<u>days?|weeks?|months?|years?|hours?)\b)"
    rf"|(?P<times>\s+times\b)"
    rf"|(?P<scale>\s+(?:million|billion|thousand)\b)"
    rf"|(?P<clock>\s?(?:am|pm|hrs|gmt|bst)\b)"
    rf"|(?P<month>\s+{_MONTH.lower()}\b))?"
)
_RANGE_REFERENCE_BEFORE = _ci(
    r"\b(?:pages?|pp?\.?|paragraphs?|paras?\.?|sections?|chapters?|clauses?|articles?|annex(?:es)?"
    r"|recommendations?|figures?|fig\.|tables?|schedules?|rules?|regulations?|questions?|"
    r"appendi(?:x|ces)|items?|steps?|parts?|lines?|no\.?|nos\.?)\s+$"
)
_AGED_BEFORE = _ci(r"\b(?:aged|ages)\s+(?:(?:between|of)\s+)?$")


def _find_dash_ranges(s: _Scanner) -> None:
    for m in s.at_anchors(_DASH_RANGE):
        low, high = m.group("a"), m.group("b")
        if m.group("month"):
            _date_range(s, m)
            continue
        if m.group("clock") or not s.free(m.start(), m.end()):
            continue
        if _is_year_like(low) and (len(high) == 2 or _is_year_like(high)):
            continue  # "2023-24", "2019–2023": a span of years, read by `_find_years`
        if (low.startswith("0") and low[:2] != "0.") or high.startswith("0"):
            continue  # "0300-020", "1-0": telephone numbers and scores
        a, b = _number(low), _number(high)
        before = s.lower[max(0, m.start() - 16) : m.start()]
        if a is None or b is None or not a < b:
            continue
        if _RANGE_REFERENCE_BEFORE.search(before):  # "pages 12-14": no figure, in part or whole
            s.claimed[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
            continue
        if m.group("ap") and not m.group("pct"):
            continue  # "40%-50" is not a range of like things
        if m.group("pct"):
            found = _Found(m.start(), m.end(), "percent", None, a, b)
        elif m.group("dur"):
            unit = m.group("u").rstrip("s")
            found = _Found(m.start(), m.end(), "duration", None, a, b, unit=unit)
        elif m.group("times"):
            found = _Found(m.start(), m.end(), "change", None, a, b)
        elif _AGED_BEFORE.search(before):
            found = _Found(m.start(), m.end(), "duration", None, a, b, unit="year")
        else:
            scale = scale_of(m.group("scale").strip()) if m.group("scale") else 1
            unit = s.noun_after(m.end(), b, through_of=True)
            found = _Found(m.start(), m.end(), "count", None, a * scale, b * scale, unit=unit)
        s.claim(found)


def _date_range(s: _Scanner, m: re.Match[str]) -> None:
    """ "12-14 March 2024": the date `_find_dates` read from "14 March 2024", from the 12th."""
    if not s.free(m.start(), m.end("a")) or "." in m.group("a") or "," in m.group("a"):
        return
    date = next((f for f in s.found if f.kind == "date" and f.start == m.start("b")), None)
    if date is None or date.value is None or not 1 <= int(m.group("a")) < date.value % 100:
        return
    first = date.value - date.value % 100 + int(m.group("a"))
    date.value, date.value_min, date.value_max = None, first, date.value
    date.start = m.start()
    s.claimed[m.start() : m.start("b")] = b"\x01" * (m.start("b") - m.start())


# A signed number ("−1%", "+3.5%", a table's "-12") is a change by that much, with its sign: the
# minus sign, a hyphen or an en dash set before the digits, not inside a token ("COVID-19") nor
# after a year ("2019 -20", read as years).
_SIGNED = _ci(
    rf"(?<![^\s(\[|:;,])(?P<sign>[-+\u2212\u2013])(?P<num>{_D})(?![\d]|[.,]\d)"
    rf"(?:(?P<pct>\s?(?:%|per\s?cent\b|percent\b))|(?P<pp>\s?(?:pp|percentage[\s-]points?)\b))?"
    r"(?![\w%])"
)
_SIGNS = frozenset("-+\u2212\u2013")
_YEAR_BEFORE = re.compile(r"\b(?:19|20)\d\d[ \t]?$")


def _find_signed_changes(s: _Scanner) -> None:
    for start in s.digit_starts:
        if not start or s.lower[start - 1] not in _SIGNS or not s.free(start - 1, start + 1):
            continue
        m = _SIGNED.match(s.lower, start - 1)
        if m is None or _YEAR_BEFORE.search(s.lower, max(0, m.start() - 5), m.start()):
            continue
        value = _number(m.group("num"))
        if value is None or not s.free(m.start(), m.end()):
            continue
        value *= 1 if m.group("sign") == "+" else -1
        unit: str | None
        if m.group("pct"):
            unit = "percent"
        elif m.group("pp"):
            unit = "percentage point"
        else:
            unit = s.noun_after(m.end(), value, through_of=True)
        s.claim(_Found(m.start(), m.end(), "change", value, unit=unit))


_PHRASAL_UP = _ci(
    r"\b(?:made|make|makes|making|set|sets|took|take|takes|ended|end|ends|added|add|adds|summed|"
    r"picked|pick|stood|stand|stands|shored|propped|opened|opening|signed|sign|signs|scaled|"
    r"stepped|step|steps|taken|setting|mop|mopped|came|come|comes|turned|turn|turns|show|showed)\s+$"
)


def _change_sign(s: _Scanner, start: int, end: int) -> int | None:
    """+1/-1 when the share at start..end is a change ("up 12%", "fell by 8%", "7% higher")."""
    before = s.lower[max(0, start - 40) : start]
    m = _CHANGE_BEFORE.search(before)
    if m and m.group("verb").lower() == "up" and _PHRASAL_UP.search(before, 0, m.start()):
        m = None
    if m:
        return -1 if m.group("verb").lower() in _NEGATIVE_VERBS else 1
    if _BY_BEFORE.search(before):
        window = s.lower[max(0, start - 70) : start]
        verbs = list(_VERB_IN_WINDOW.finditer(window))
        if verbs:
            return -1 if verbs[-1].group("verb").lower() in _NEGATIVE_VERBS else 1
    after = _CHANGE_AFTER.match(s.lower, end, min(len(s.lower), end + 30))
    if after:
        word = (after.group("verb") or after.group("noun") or "").lower()
        return -1 if word in _NEGATIVE_VERBS else 1
    return None


def _find_percentages(s: _Scanner) -> None:
    for m in s.at_anchors(_PERCENT):
        if not s.free(m.start(), m.end()):
            continue
        value = _number(m.group("num"))
        if value is None:
            continue
        sign = _change_sign(s, m.start(), m.end())
        if m.group("pp"):
            s.claim(
                _Found(m.start(), m.end(), "change", (sign or 1) * value, unit="percentage point")
            )
        elif sign is not None:
            s.claim(_Found(m.start(), m.end(), "change", sign * value, unit="percent"))
        else:
            s.claim(_Found(m.start(), m.end(), "percent", value))


_WORD_BREAK = re.compile(r"[\s-]+")
_OF_OR_THE = re.compile(r"\s+(?:of|the)\b")


def _find_fractions(s: _Scanner) -> None:
    text = s.lower
    for m in s.each(_FRACTION, s.windows_with(_FRACTION_TRIGGER)):
        if not s.free(m.start(), m.end()):
            continue
        value = parse_fraction(m.group("f"))
        if value is None:
            continue
        words = _WORD_BREAK.split(m.group("f").lower())
        plural_form = len(words) == 2 and words[0] not in ("a", "an", "one")
        followed_by_of = _OF_OR_THE.match(text[m.end() : m.end() + 6]) is not None
        before = text[max(0, m.start() - 40) : m.start()]
        qualified = _QUALIFIER_BEFORE.search(before) is not None
        sign = _change_sign(s, m.start(), m.end())
        if sign is not None and not followed_by_of:
            s.claim(
                _Found(m.start(), m.end(), "change", sign * round(value * 100, 1), unit="percent")
            )
        elif plural_form or followed_by_of or qualified:
            s.claim(_Found(m.start(), m.end(), "ratio", round(value, 4)))


_MULTIPLE_VALUES = {
    "doubl": 2.0,
    "doubling": 2.0,
    "double": 2.0,
    "twice": 2.0,
    "tripl": 3.0,
    "trebl": 3.0,
    "triple": 3.0,
    "treble": 3.0,
    "quadrupl": 4.0,
    "halv": 0.5,
}


def _find_multiples(s: _Scanner) -> None:
    text = s.lower
    for m in s.each(_MULTIPLE, s.windows_with(_MULTIPLE_TRIGGER)):
        if not s.free(m.start(), m.end()):
            continue
        word = m.group("w").lower()
        before = text[max(0, m.start() - 30) : m.start()]
        qualified = _QUALIFIER_BEFORE.search(before) is not None
        follows = _TIMES_FOLLOWERS.match(text, m.end()) is not None
        if m.group("times"):
            if not follows:
                continue
            value = _number(m.group("times"))
        elif m.group("fold"):
            value = _number(m.group("fold"))
        else:
            if word in ("double", "triple", "treble", "quadruple", "twice") and not (
                qualified or follows
            ):
                continue
            value = next(v for k, v in _MULTIPLE_VALUES.items() if word.startswith(k))
        if value is None:
            continue
        s.claim(_Found(m.start(), m.end(), "change", value))


def _find_vague(s: _Scanner) -> None:
    for m in s.each(_VAGUE, s.windows_with(_VAGUE_TRIGGER)):
        if not s.free(m.start(), m.end()):
            continue
        phrase = _WHITE_SPACE.sub(" ", m.group("v").lower())
        low, high = _VAGUE_RANGES.get(phrase, (None, None))
        more = _MORE.match(s.lower, m.end())  # "Hundreds more allegations"
        unit = s.noun_after(more.end() if more else m.end(), None, through_of=True)
        s.claim(_Found(m.start(), m.end(), "vague", None, low, high, unit=unit))


_OVER_BEFORE = re.compile(r"\bover\s+$")


def _find_durations(s: _Scanner) -> None:
    text = s.lower
    for m in s.each(_PAST_DECADE, s.windows_with(_PAST_DECADE_TRIGGER)):
        if s.free(m.start(), m.end()):
            s.claim(_Found(m.start(), m.end(), "duration", 10, unit="year"), False)
    for m in s.at_anchors(_DURATION):
        if not s.free(m.start(), m.end()):
            continue
        num = m.group("num")
        unit = m.group("u").lower()
        unit = unit[:-1] if unit.endswith("s") else unit
        unit = "century" if unit.startswith("centur") else unit
        if num.lower() in ("a", "an"):
            before = text[max(0, m.start() - 30) : m.start()]
            if unit != "decade" and not _QUALIFIER_BEFORE.search(before):
                continue
            value: float | None = 1.0
        else:
            value = _number(num)
        if value is None:
            continue
        value *= _DURATION_FACTORS.get(unit, 1)
        unit = _DURATION_UNITS.get(unit, unit)
        found = _Found(m.start(), m.end(), "duration", value, unit=unit)
        before = text[max(0, m.start() - 12) : m.start()]
        s.claim(found, qualify=not _OVER_BEFORE.search(before))
    for m in s.each(_AGE_AFTER_NAME, s.windows_with(_AGE_AFTER_NAME_TRIGGER)):
        start, end = m.span("num")
        if s.free(start, end):
            s.claim(_Found(start, end, "duration", float(m.group("num")), unit="year"), False)
    for m in s.each(_AGE, s.windows_with(_AGE_TRIGGER)):
        start, end = m.span("num")
        value = _number(m.group("num"))
        if value is not None and s.free(start, end):
            s.claim(_Found(start, end, "duration", value, unit="year"), False)


def _find_years(s: _Scanner) -> None:
    text = s.lower
    for m in s.at_anchors(_FINANCIAL_YEAR):
        if not s.free(m.start(), m.end()):
            continue
        first = int(m.group("y"))
        second_text = m.group("y2")
        second = (
            int(second_text) if len(second_text) == 4 else first // 100 * 100 + int(second_text)
        )
        if not first < second <= first + 10:
            continue
        s.claim(_Found(m.start(), m.end(), "year", first, first, second), False)
    for m in s.at_anchors(_SINGLE_YEAR):
        if not s.free(m.start(), m.end()):
            continue
        follower = _RUN.match(text, m.end(), min(len(text), m.end() + 40))
        next_word = follower.group(1).split()[0].lower() if follower else ""
        before = text[max(0, m.start() - 30) : m.start()]
        counted = looks_plural(next_word) and next_word not in _STOP_WORDS
        if (counted and not _YEAR_PREPOSITION.search(before)) or _QUALIFIER_BEFORE.search(before):
            continue  # "2000 officers", "about 2000": a count, not a year
        year = int(m.group("y"))
        s.claim(_Found(m.start(), m.end(), "year", year), False)


_PER_BEFORE = re.compile(r"\bper\s+$")
# A rate: "43 stops per 100,000 people", "7.2 per 1,000 population" (the count's denominator).
_PER_RATE = _ci(rf"(?:\s+[a-z][\w-]*){{0,3}}?\s+per\s+(?P<b>{_D})(?![\d]|[.,/]\d)")


def _scaled_number_moves(s: _Scanner, m: re.Match[str], paired_end: int) -> bool:
    """Whether "2.4m" with no noun after it is a count (see `_SCALED_MOVES_BEFORE`); `paired_end`
    is where the scaled count before it ends, or -1."""
    if _MEASURE_AFTER.match(s.lower, m.end()):
        return False
    if _SCALED_MOVES_BEFORE.search(s.lower, max(0, m.start() - 40), m.start()):
        return True
    return (
        paired_end >= 0 and _SCALED_PAIR_GAP.fullmatch(s.lower, paired_end, m.start()) is not None
    )


def _find_counts(s: _Scanner) -> None:
    text = s.lower
    # "2.4m people", "rose from 2.1m to 2.4m": a scale suffix counts before a plural noun or
    # where the number moves ("a 10m fall" is metres).
    paired_end = -1
    for m in s.at_anchors(_COUNT_SCALED):
        if s.free(m.start(), m.end()):
            unit = s.noun_after(m.end(), 2)
            if unit is not None or _scaled_number_moves(s, m, paired_end):
                scaled = (parse_number(m.group("num")) or 0.0) * scale_of(m.group("scale"))
                s.claim(_Found(m.start(), m.end(), "count", scaled, unit=unit))
                paired_end = m.end()
    for m in s.at_anchors(_COUNT):
        if not s.free(m.start(), m.end()):
            continue
        num = m.group("num")
        value = _number(num)
        if value is None:
            continue
        if num.lower() == "one" and not _one_is_a_count(text, m.start(), m.end()):
            continue
        if num.lower() == "zero" and text.startswith("-", m.end()):
            continue  # "zero-tolerance", "zero-width": an adjective, not a count of nothing
        written = s.text[m.start() : m.end()]
        if written.isalpha() and written.isupper() and len(written) > 1:
            continue  # "the SIX Swiss Exchange": a name, not a number
        if _PER_BEFORE.search(text[max(0, m.start() - 5) : m.start()]):
            continue
        value *= scale_of(m.group("scale"))
        unit = s.noun_after(m.end(), value, through_of=True)
        rate = _PER_RATE.match(text, m.end(), min(len(text), m.end() + 60))
        denominator = _number(rate.group("b")) if rate else None
        s.claim(_Found(m.start(), m.end(), "count", value, unit=unit, denominator=denominator))


_ONE_BEFORE = _ci(
    r"\b(?:no|any|every|each|this|that|the|which|someone|anyone|everyone|another|last|only\s+the)\s+$"
)
_ONE_AFTER = _ci(
    r"(?:[ \t]+(?:of|another|in|or|and|who|that|which|is|was|has|had|would|could|will|can|"
    r"said|says|day|time|way|thing|point|stage|hand)\b|[-‐](?:off|to|stop|way|sided)\b|[ \t]*[^\w\s-]|"
    r"[ \t]*$)",
    _ML,
)


def _one_is_a_count(text: str, start: int, end: int) -> bool:
    """ "one offence" is a figure; "one of the most", "no one", "one another" are not."""
    if _ONE_BEFORE.search(text[max(0, start - 15) : start]):
        return False
    return _ONE_AFTER.match(text, end) is None


_LINKS_FORWARD = _ci(rf"^\s*(?:to|and|or|-|–)\s*(?:(?:{_QUALIFIERS})\s+)?$")
_LINKS_BACK = _ci(
    r"(?:\b(?:up|down|rising|falling|rose|fell)\s+from|\bfrom|\bcompared\s+(?:with|to)|\band|"
    r"\bagainst|\bwhile|\bwhereas|\bor|\bincluding|,)\s+$"
)


_SUBJECT_VERB = re.compile(
    r"\b(?:rose|risen|rising|fell|fallen|falling|increased|decreased|dropped|grew|grown|climbed|"
    r"reached|reaching|hit|totalled|stood|stands|was|were|is|are|numbered|doubled|tripled|trebled|halved|quadrupled)\b"
)
_SUBJECT_TAIL = _ci(
    rf"(?:[^.;:]|\.\d){{0,40}}?(?:\b(?:to|at|of|from|by)\s+)(?:(?:{_QUALIFIERS})\s+)?"
    rf"|\s+(?:(?:{_QUALIFIERS})\s+)?"
)


_WORD = re.compile(r"[A-Za-z][\w'’-]*")


def _subject_noun(clause: str) -> str | None:
    """The head of the first plural noun phrase of a clause: "Shoplifting offences rose ..."."""
    words = _WORD.findall(clause.rsplit(",", 1)[-1])
    for index, word in enumerate(words):
        lower = word.lower()
        if lower in _STOP_WORDS or lower in ("police", "staff", "data") or not looks_plural(lower):
            continue
        if index and word[0].isupper():
            continue
        head = lower
        for following in words[index + 1 :]:
            if not looks_plural(following.lower()) or following.lower() in _STOP_WORDS:
                break
            head = following.lower()
        return singular(head)
    return None


_CLAUSE_REACH = 240  # characters before a figure searched for its clause's subject
_PAIR_REACH = 8  # earlier figures of the same sentence looked at for a shared unit


def _share_units(
    text: str, lower: str, found: list[_Found], sentence_of: list[int], bounds: list[int]
) -> None:
    """Give a bare count the noun of the count it is paired with in the same sentence, or the
    subject of the clause it completes ("Shoplifting offences rose to 429,873")."""
    for i, fig in enumerate(found):
        if fig.kind != "count" or fig.unit is not None:
            continue
        nxt = found[i + 1] if i + 1 < len(found) else None
        if (
            nxt is not None
            and nxt.kind == "count"
            and nxt.unit
            and sentence_of[i] == sentence_of[i + 1]
            and _LINKS_FORWARD.match(lower[fig.end : nxt.start])
        ):
            fig.unit = nxt.unit
            continue
        # Look back a clause's length only: a "sentence" of 20,000 numbers (a link farm, a data
        # dump) must not make this quadratic.
        window = max(bounds[sentence_of[i]], fig.start - _CLAUSE_REACH)
        subject = _SUBJECT_VERB.search(lower, window, fig.start)
        if subject and _SUBJECT_TAIL.fullmatch(lower, subject.end(), fig.start):
            fig.unit = _subject_noun(text[window : subject.start()])
            if fig.unit:
                continue
        for j in range(i - 1, max(-1, i - 1 - _PAIR_REACH), -1):
            prev = found[j]
            if sentence_of[j] != sentence_of[i]:
                break
            if prev.kind in ("count", "ratio", "vague") and prev.unit:
                between = lower[prev.end : fig.start]
                if len(between) < 120 and _LINKS_BACK.search(between):
                    fig.unit = prev.unit
                break


# ----------------------------------------------------------------------------------------------
# Sentences and periods.

# One branch per character that can end a sentence, each starting with that character: `re` then
# skips quickly to the next of those instead of trying the pattern at every position.
_SENTENCE_END = re.compile(
    "|".join(re.escape(end) + r"[\"”’)]*[ \t]+(?=[\"“‘(]?[A-Z0-9£$€])" for end in ".!?") + r"|\n\s*"
)
# A single line break between a lower-case letter (or comma) and a lower-case word or a digit
# is a wrapped line (PDF text), not the end of a sentence.
_WRAPPED_LINE = re.compile(r"[a-z0-9%,;\-]\n[ \t]*[a-z0-9£$€]")
_ABBREVIATION = re.compile(r"(?:\b[A-Z]|\b(?:Mr|Ms|Dr|No|St|vs|Mrs|Sgt|Insp|etc|e\.g|i\.e))$")


# Characters either side of a figure searched for the ends of its sentence. Real sentences run
# to 2,000 characters at most; a longer "sentence" is a flattened table or junk, whose text is
# cut anyway (`MAX_SENTENCE`), and is taken to end this far from the figure.
_SENTENCE_REACH = 5000


def _sentence_bounds(text: str, found: list[_Found]) -> list[int]:
    """Offsets where the sentences holding the figures (`found`, in order) start, and where the
    sentences after them start: after . ! ? and a capital, and at every line break.

    Only the sentences around figures are looked for, and only so far (`_SENTENCE_REACH`):
    splitting a whole page of a million one-line "sentences" ("$\n" or ". A" over and over)
    took 1 to 2 s, with a figure or none.
    """
    bounds: list[int] = []
    end = 0  # where the sentence of the figure before ends
    for fig in found:
        if bounds and fig.start < end:
            continue
        start = _sentence_start(text, fig.start, max(end, fig.start - _SENTENCE_REACH))
        if not bounds or bounds[-1] != start:
            bounds.append(start)
        end = _sentence_end(text, fig.start)
        if end < len(text):
            bounds.append(end)
    return bounds


def _sentence_start(text: str, pos: int, floor: int) -> int:
    """Where the sentence holding `pos` starts, or `floor` when it starts there or before.

    Looks back a stretch at a time, each twice the one before: the sentence's start is mostly
    a few words away.
    """
    high, step = pos, 256
    while high > floor:
        low = max(floor, high - step)
        last = None
        # Two characters past `pos`: what may follow a sentence's end (`_SENTENCE_END`).
        for m in _SENTENCE_END.finditer(text, low, pos + 2):
            if m.start() >= high:
                break
            if m.end() <= pos and _ends_sentence(text, m):
                last = m.end()
        if last is not None:
            return last
        high, step = low, step * 2
    return floor


def _sentence_end(text: str, pos: int) -> int:
    """Where the sentence holding `pos` ends (where the next one starts), or the text's end."""
    reach = min(len(text), pos + _SENTENCE_REACH)
    for m in _SENTENCE_END.finditer(text, pos, reach):
        if _ends_sentence(text, m):
            return m.end()
    return reach


def _ends_sentence(text: str, m: re.Match[str]) -> bool:
    """Whether a match of `_SENTENCE_END` ends a sentence: not after an abbreviation ("Dr."),
    nor a wrapped line (only a line break can be one)."""
    start = m.start()
    if text[start] == ".":
        return _ABBREVIATION.search(text, max(0, start - 5), start) is None
    return text[start] != "\n" or not _WRAPPED_LINE.fullmatch(
        text, max(0, start - 1), min(len(text), m.end() + 1)
    )


_PERIOD = _ci(
    rf"\b(?:(?:in|during|for|over|since|by|from|between|throughout|until|to)\s+(?:the\s+)?"
    rf"(?:(?:financial|calendar|fiscal)\s+)?(?:year\s+(?:ending|ended|to)\s+)?"
    rf"(?:(?:\d{{1,2}}\s+)?{_MONTH}\s+)?{_YEAR}(?:\s?[/–-]\s?\d{{2,4}})?"
    rf"(?:\s+(?:and|to)\s+(?:(?:\d{{1,2}}\s+)?{_MONTH}\s+)?{_YEAR}(?:\s?[/–-]\s?\d{{2,4}})?)?"
    rf"|(?:in\s+)?the\s+(?:year|\d+\s+months|twelve\s+months)\s+(?:to|ending|ended)\s+"
    rf"(?:\d{{1,2}}\s+)?{_MONTH}(?:\s+{_YEAR})?"
    r"|(?:this|last|next)\s+(?:year|month|week|quarter|decade|financial\s+year)"
    r"|the\s+(?:previous|past|last)\s+(?:year|month|week|quarter|decade)"
    r"|year[\s-]on[\s-]year"
    r"|(?:in|over|during)\s+the\s+(?:past|last|previous)\s+(?:\w+\s+)?(?:years|months|weeks|decades))"
    r"\b"
)
# Every period names a year, or says year, month, week, quarter or decade; most sentences do
# neither, and this trigger (see `_Scanner.windows_with`) rules them out much faster.
_PERIOD_TRIGGER = _ci(rf"{_YEAR}|year|month|week|quarter|decade")


@dataclass
class _Periods:
    """The period phrases of one sentence, in order; they never overlap, so their starts and
    their ends are both sorted."""

    starts: list[int]
    ends: list[int]
    phrases: list[str]


def _period_for(periods: _Periods, fig: _Found) -> str | None:
    """The period nearest the figure that does not overlap it; the one before it on a tie.

    Only the nearest period on each side can be it, and bisection finds both: comparing every
    period with every figure is quadratic in a "sentence" of thousands of both (a flattened
    table), which took 80 s.
    """
    before = bisect_right(periods.ends, fig.start) - 1
    after = bisect_left(periods.starts, fig.end)
    best: tuple[int, str] | None = None
    if before >= 0:
        best = (fig.start - periods.ends[before], periods.phrases[before])
    if after < len(periods.starts) and (best is None or periods.starts[after] - fig.end < best[0]):
        best = (periods.starts[after] - fig.end, periods.phrases[after])
    return best[1] if best else None


def _finite(fig: _Found) -> bool:
    """Whether all of a figure's numbers are finite: digits past a float's range ("999,999,...")
    read as infinity, which no column, sum or chart can take."""
    return all(
        number is None or math.isfinite(number)
        for number in (fig.value, fig.value_min, fig.value_max, fig.denominator)
    )


_RANGE_GAP = re.compile(r"\s*(?:-|\u2013|\u2014|to)\s*|\s+and\s+")
_BETWEEN_BEFORE = re.compile(r"\bbetween\s+$")
_FROM_BEFORE = re.compile(r"\bfrom\s+$")


def _ranges_joined(found: list[_Found], lower: str) -> list[_Found]:
    """Two figures that are the ends of one range ("between 40 and 50 incidents", "15 to 20 per
    cent", "40%-50%") as one, with `value_min` and `value_max` and no single `value`.

    "From 2.1 million to 2.4 million" is a change, two figures; so is anything whose ends are
    of different kinds (but a bare number before a percentage: "15 to 20 per cent").
    """
    joined: list[_Found] = []
    index = 0
    while index < len(found):
        low = found[index]
        high = found[index + 1] if index + 1 < len(found) else None
        if high is not None and _is_range(low, high, lower):
            joined.append(
                _Found(
                    low.start,
                    high.end,
                    high.kind,
                    None,
                    value_min=low.value,
                    value_max=high.value,
                    unit=high.unit or low.unit,
                    qualifier=low.qualifier,
                )
            )
            index += 2
            continue
        joined.append(low)
        index += 1
    return joined


def _is_range(low: _Found, high: _Found, lower: str) -> bool:
    if high.kind not in ("count", "percent") or low.value is None or high.value is None:
        return False
    if not (low.kind == high.kind or (low.kind == "count" and low.unit is None)):
        return False
    if low.unit and high.unit and low.unit != high.unit or not low.value < high.value:
        return False
    gap = _RANGE_GAP.fullmatch(lower, low.end, high.start)
    if gap is None:
        return False
    before = lower[max(0, low.start - 12) : low.start]
    if "and" in gap.group():
        return _BETWEEN_BEFORE.search(before) is not None
    return _FROM_BEFORE.search(before) is None


_PASSES = (
    _find_dates,
    _find_money,
    _find_colon_ratios,
    _find_ratios_and_denominators,
    _find_dash_ranges,
    _find_signed_changes,
    _find_percentages,
    _find_fractions,
    _find_multiples,
    _find_vague,
    _find_durations,
    _find_years,
    _find_counts,
)


MAX_SENTENCE = 1000  # characters: a longer "sentence" (a table flattened, a link farm) is cut


def _sentence_text(text: str, start: int, end: int, fig: _Found) -> str:
    """The figure's sentence, or the part of an overlong one around the figure."""
    if end - start > MAX_SENTENCE:
        reach = MAX_SENTENCE // 2
        start, end = max(start, fig.start - reach), min(end, fig.end + reach)
    return text[start:end].strip()


# More figures than any report holds means a data dump or a link farm: a document keeps the
# first ones only, so one page cannot fill the archive (or a worker's memory) with noise.
MAX_FIGURES = 5000
# Anchors read per figure kept, at most, when a caller limits the figures. Every pass is tried
# at or around each anchor (`_ANCHOR`: a run of digits, a currency sign before an amount, a
# number word), so anchors, not runs of digits alone, are what reading a text costs. The news
# pages and the gold set hold 1.6 anchors per figure; and as every run of digits is an anchor,
# this never reads more than the three runs of digits per figure read before.
_ANCHORS_PER_FIGURE = 3


def find_figures(
    text: str, page_starts: list[int] | None = None, limit: int | None = None
) -> list[Figure]:
    """Every figure in `text`, in reading order; with `limit`, the first `limit` of them.

    `page_starts[i]` is the offset where page i+1 starts (as `Document.page_starts` keeps for
    PDFs); each figure's `page` comes from it, and is None when no page starts are given.
    A limit reads only as much of the text as holds `_ANCHORS_PER_FIGURE` anchors per figure
    wanted: a data dump of 200,000 numbers, or a megabyte of "£1", then costs what a long
    report does, not 20 s.
    """
    if not text:
        return []
    scanner = _Scanner(text, None if limit is None else limit * _ANCHORS_PER_FIGURE)
    text = scanner.text
    for find in _PASSES:
        find(scanner)
    found = _ranges_joined(sorted(scanner.found, key=lambda f: f.start), scanner.lower)
    found = [fig for fig in found if _finite(fig)]
    keep = len(found) if limit is None else limit
    found = found[: keep + 1]  # one more: a figure may take its unit from the one after it
    bounds = _sentence_bounds(text, found)
    sentence_of = [bisect_right(bounds, f.start) - 1 for f in found]
    _share_units(text, scanner.lower, found, sentence_of, bounds)

    periods_by_sentence: dict[int, _Periods] = {}
    figures = []
    for fig, index in zip(found[:keep], sentence_of[:keep], strict=True):
        start = bounds[index]
        end = bounds[index + 1] if index + 1 < len(bounds) else len(text)
        if index not in periods_by_sentence:
            periods = (
                _PERIOD.finditer(scanner.lower, start, end)
                if _PERIOD_TRIGGER.search(scanner.lower, start, end)
                else ()
            )
            matches = list(periods)
            periods_by_sentence[index] = _Periods(
                [m.start() for m in matches],
                [m.end() for m in matches],
                [_WHITE_SPACE.sub(" ", text[m.start() : m.end()]) for m in matches],
            )
        period = (
            None if fig.kind in ("year", "date") else _period_for(periods_by_sentence[index], fig)
        )
        value_min = fig.value_min if fig.value_min is not None else fig.value
        value_max = fig.value_max if fig.value_max is not None else fig.value
        if fig.qualifier in (
            "more than",
            "over",
            "at least",
            "in excess of",
            "upwards of",
            "above",
        ):
            value_max = fig.value_max
        elif fig.qualifier in ("up to", "fewer than", "less than", "under", "below", "at most"):
            value_min = fig.value_min
        page = None
        if page_starts:
            page = max(1, bisect_right(page_starts, fig.start))
        figures.append(
            Figure(
                text=text[fig.start : fig.end],
                start=fig.start,
                end=fig.end,
                kind=fig.kind,
                value=None if fig.value is None else float(fig.value),
                value_min=None if value_min is None else float(value_min),
                value_max=None if value_max is None else float(value_max),
                unit=fig.unit,
                denominator=fig.denominator,
                qualifier=fig.qualifier,
                period=period,
                sentence=_sentence_text(text, start, end, fig),
                page=page,
            )
        )
    return figures
