"""Compare the figures of a citing document with those of the document it cites.

A news story that links to a watchdog statement either quotes its numbers or gets them slightly
wrong: rounded, stale, mistyped. `compare_figures` marks the first as "quoted" and the second as
"check", with a note a journalist can act on ("rounded: 118 vs 117.6"). A statement edited after
the story was published is no evidence against it: `compare_across_versions` checks the story
against the version it could have quoted, and says what the edits did since.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from extract.figures import MAX_FIGURES, find_figures
from extract.records import Figure

# Word overlap of the two sentences (shared content words / words of the shorter sentence) from
# which a same-unit, different-value pair counts as a near miss rather than two different facts.
MIN_CONTEXT_OVERLAP = 0.3
# Values below this, for counts and durations, are everywhere ("two officers", "six months"); they
# are marked quoted only with matching context and never flagged for checking.
TRIVIAL_BELOW = 10

_GROUPS = {
    "count": "count",
    "percent": "share",
    "ratio": "share",
    "change": "change",
    "money": "money",
    "duration": "duration",
}
_AT_LEAST = ("more than", "over", "at least", "in excess of", "upwards of", "above", "exceed")
_AT_MOST = ("almost", "nearly", "just under", "up to", "fewer than", "less than", "under", "below")
_ABOUT = ("around", "about", "approximately", "roughly", "some", "an estimated", "circa", "approx")
_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    last more most my no nor not now of off on once only or other our out over own per same she
    should so some such than that the their them then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would year
    years you your said says cent percent number total figures figure compared made make show
    shows showed found according new including""".split()
)
_WORD = re.compile(r"[a-z]+")
_CURRENCY_SIGNS = {"GBP": "£", "USD": "$", "EUR": "€"}


@dataclass
class FigureCheck:
    """How one figure of a citing document relates to one figure of the cited document.

    `status` is "quoted" (same value and unit: taken from the cited document) or "check" (same
    unit and sentence context, different value: worth a journalist's look); `note` says how.
    `edited` is when the cited document was first seen edited in a way that changed the check
    since the version compared (`compare_across_versions`), None when it holds alike today.
    """

    citing_index: int
    cited_index: int | None
    status: str
    note: str = ""
    edited: str | None = None


@dataclass
class CitedVersion:
    """One version of a cited document: when it was first seen, and its text or its figures.

    The figures of an older version are found in its text when first asked for: a cited
    document edited many times needs only the versions up to the edit that changed a figure.
    """

    seen_at: str
    text: str = ""
    figures: list[Figure] | None = None

    def read(self) -> list[Figure]:
        if self.figures is None:
            self.figures = find_figures(self.text, limit=MAX_FIGURES)[:MAX_FIGURES]
        return self.figures


def compare_across_versions(
    citing: list[Figure], versions: list[CitedVersion]
) -> list[FigureCheck]:
    """Check `citing` against the cited document as it stood when the citing one was published.

    `versions` runs from that version (the first) to the current one (the last), whose figures
    `cited_index` points into; it is None when the figure checked is no longer there. A check
    that holds alike against the current version is `compare_figures`'s. One that an edit
    changed keeps its status and says so ("matches the version seen 2025-02-28; edited
    2025-03-10 to 121"): a story that quoted a figure right is not wrong because the figure
    was changed after it was published. A figure only a later version has is checked against
    the current one, and the note says it was added after.
    """
    results = _Results(citing, versions)
    now, then = results.at(len(versions) - 1), results.at(0)
    checks = []
    for i in sorted(then.keys() | now.keys()):
        before, after = then.get(i), now.get(i)
        if after is not None and _outcome(before) == _outcome(after):
            checks.append(after)
            continue
        k = results.first_change(i, before)
        cited_index = after.cited_index if after else None
        if before is None and after is not None:
            added = f"added {_day(versions[k])}, after this was published"
            note = f"{_against(after, versions[-1])}; {added}"
            checks.append(FigureCheck(i, cited_index, after.status, note, versions[k].seen_at))
        elif before is not None:
            note = f"{_against(before, versions[0])}; {results.edit(i, k)}"
            checks.append(FigureCheck(i, cited_index, before.status, note, versions[k].seen_at))
    return checks


class _Results:
    """The checks of `citing` against each version, made once each, when first needed."""

    def __init__(self, citing: list[Figure], versions: list[CitedVersion]) -> None:
        self.citing = citing
        self.versions = versions
        self.made: dict[int, dict[int, FigureCheck]] = {}

    def at(self, k: int) -> dict[int, FigureCheck]:
        if k not in self.made:
            checks = compare_figures(self.citing, self.versions[k].read())
            self.made[k] = {c.citing_index: c for c in checks}
        return self.made[k]

    def first_change(self, i: int, before: FigureCheck | None) -> int:
        """The first later version in which citing figure `i` is judged otherwise."""
        return next(
            k
            for k in range(1, len(self.versions))
            if _outcome(self.at(k).get(i)) != _outcome(before)
        )

    def edit(self, i: int, k: int) -> str:
        """What edit `k` did to the figure citing figure `i` was checked against, and since."""
        day = _day(self.versions[k])
        then, now = self._figure_at(k, i), self._figure_at(len(self.versions) - 1, i)
        if then is None:
            return f"edited {day}, which took it out"
        if now is None:
            return f"edited {day} to {then}, since taken out"
        return f"edited {day} to {then}" + ("" if now == then else f", now {now}")

    def _figure_at(self, k: int, i: int) -> str | None:
        check = self.at(k).get(i)
        if check is None or check.cited_index is None:
            return None
        return _show(self.versions[k].read()[check.cited_index])


def _outcome(check: FigureCheck | None) -> tuple[str, str] | None:
    """What a reader of a check sees: a quote with the same note is the same quote."""
    return None if check is None else (check.status, check.note)


def _against(check: FigureCheck, version: CitedVersion) -> str:
    if check.note:
        return f"{check.note} in the version seen {_day(version)}"
    return f"matches the version seen {_day(version)}"


def _day(version: CitedVersion) -> str:
    return version.seen_at[:10]


def compare_figures(citing: list[Figure], cited: list[Figure]) -> list[FigureCheck]:
    """At most one check per citing figure: its best match in `cited`, or nothing.

    Years, dates, vague quantities and figures without a value are never compared.
    """
    prepared = [(j, f, _context(f.sentence), _context(f.unit or "")) for j, f in enumerate(cited)]
    prepared = [entry for entry in prepared if _comparable(entry[1])]
    checks: list[FigureCheck] = []
    for i, figure in enumerate(citing):
        if not _comparable(figure):
            continue
        context, unit_words = _context(figure.sentence), _context(figure.unit or "")
        candidates = [
            (
                j,
                other,
                _evidence(figure, other, context, other_context, unit_words | other_unit_words),
            )
            for j, other, other_context, other_unit_words in prepared
            if _GROUPS[other.kind] == _GROUPS[figure.kind]
            and _units_agree(figure, other) is not False
        ]
        best = _best_quote(figure, candidates) or _best_near_miss(figure, candidates)
        if best is not None:
            checks.append(FigureCheck(i, *best))
    return checks


def _best_quote(figure: Figure, candidates: list) -> tuple[int, str, str] | None:
    """The cited figure this one repeats, exactly or within its own stated approximation."""
    exact, approximate = [], []
    for j, other, overlap in candidates:
        context_needed = _trivial(figure) or _units_agree(figure, other) is None
        if context_needed and overlap < MIN_CONTEXT_OVERLAP:
            continue
        if _same(_value(figure), _value(other)):
            if _denominators_differ(figure, other):
                continue
            exact.append((overlap, j, ""))
        elif _within_qualifier(figure, other) and not _trivial(figure):
            note = f"approximate: {figure.qualifier} {_show(figure)} vs {_show(other)}"
            approximate.append((overlap, j, note))
    for found in (exact, approximate):
        if found:
            overlap, j, note = max(found, key=lambda c: (c[0], -c[1]))
            return j, "quoted", note
    return None


def _best_near_miss(figure: Figure, candidates: list) -> tuple[int, str, str] | None:
    """The cited figure this one most likely misstates: same unit, similar sentence."""
    if _trivial(figure):
        return None
    found = []
    for j, other, overlap in candidates:
        if _trivial(other) or overlap < MIN_CONTEXT_OVERLAP or not _units_agree(figure, other):
            continue
        a, b = _value(figure), _value(other)
        distance = abs(a - b) / max(abs(a), abs(b), 1e-9)
        found.append((overlap, -distance, -j, j, other))
    if not found:
        return None
    *_, j, other = max(found, key=lambda c: c[:3])
    return j, "check", _difference(figure, other)


def _difference(figure: Figure, other: Figure) -> str:
    a, b = _value(figure), _value(other)
    if _same(a, b) and _denominators_differ(figure, other):
        return (
            f"different denominator: {_show(figure)} of {_number(figure.denominator or 0)} "
            f"vs {_show(other)} of {_number(other.denominator or 0)}"
        )
    if _is_rounding_of(_scaled(figure), _scaled(other)):
        return f"rounded: {_show(figure)} vs {_show(other)}"
    note = f"different value: {_show(figure)} vs {_show(other)}"
    digits_a, digits_b = _digits(_scaled(figure)), _digits(_scaled(other))
    if digits_a != digits_b and sorted(digits_a) == sorted(digits_b):
        note += " (digits transposed?)"
    return note


def _comparable(figure: Figure) -> bool:
    if figure.kind not in _GROUPS or figure.value is None:
        return False
    value = float(figure.value)
    if not math.isfinite(value):
        return False
    # A bare four-digit number between 1900 and 2100 with nothing counted is a year in all but name.
    year_like = value.is_integer() and 1900 <= value <= 2100 and not figure.unit
    return not (figure.kind == "count" and year_like)


def _trivial(figure: Figure) -> bool:
    return figure.kind in ("count", "duration") and abs(figure.value or 0) < TRIVIAL_BELOW


def _value(figure: Figure) -> float:
    """Values on one scale per group: shares as fractions, so 24% equals "24 in 100". Amounts by
    their size: a sign on one says which way it runs, which a story says in words ("-£1.2m" in
    a budget table is "a £1.2m shortfall")."""
    value = float(figure.value or 0.0)
    if figure.kind == "money":
        return abs(value)
    return value / 100 if figure.kind == "percent" else value


def _scaled(figure: Figure) -> float:
    """The value as written: shares in per cent, so rounding is judged on the number people read."""
    value = _value(figure)
    return value * 100 if _GROUPS[figure.kind] == "share" else value


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _denominators_differ(a: Figure, b: Figure) -> bool:
    return (
        a.denominator is not None
        and b.denominator is not None
        and not _same(a.denominator, b.denominator)
    )


def _units_agree(a: Figure, b: Figure) -> bool | None:
    """True (same unit, leniently), False (different), None (one side does not say).

    A duration's unit says how it is measured, not what is measured ("within 28 days" of a
    complaint, "suspended for 28 days"): the words leading up to it say that (`_lead_words`),
    and at least half of them must match, as a count's counted nouns must.
    """
    group = _GROUPS[a.kind]
    if group == "share":
        return True
    if group == "money":
        return (a.unit or "GBP").upper() == (b.unit or "GBP").upper()
    if group == "duration":
        if (a.unit or "") != (b.unit or ""):
            return False
        lead_a, lead_b = _lead_words(a.sentence, a.text), _lead_words(b.sentence, b.text)
        if not lead_a or not lead_b:
            return None
        return len(lead_a & lead_b) >= min(len(lead_a), len(lead_b)) / 2
    if not a.unit and not b.unit:
        return True
    if not a.unit or not b.unit:
        return None
    return _head_noun(a.unit) == _head_noun(b.unit)


_LEAD_WORDS = 4  # content words before a duration that say what it measures
_CLAUSE_BREAK = re.compile(r"[,;:()]")
_MODALS = frozenset("must may might shall".split())


@lru_cache(maxsize=4096)  # each figure is compared with every one of its kind in the other text
def _lead_words(sentence: str, text: str) -> frozenset[str]:
    """The last few content words of the clause before a figure (`text` in `sentence`), cut to
    stems as `_context` cuts them: "Investigations into police corruption took 118 days" ->
    investig, police, corrupt, took; empty when the figure opens its clause."""
    at = sentence.find(text)
    clause = _CLAUSE_BREAK.split(sentence[: max(at, 0)])[-1]
    words = [
        w
        for w in _WORD.findall(clause.lower())
        if len(w) > 2 and w not in _STOPWORDS and w not in _MODALS
    ]
    return frozenset(_stem(w) for w in words[-_LEAD_WORDS:])


def _head_noun(unit: str) -> str:
    """ "corruption referrals" and "referral" agree: compare the singular of the last word."""
    words = _WORD.findall(unit.lower())
    word = words[-1] if words else unit.lower()
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _within_qualifier(figure: Figure, other: Figure) -> bool:
    """ "More than 400" for 409, "almost 500" for 487: the stated approximation holds."""
    qualifier = (figure.qualifier or "").lower()
    stated, actual = _value(figure), _value(other)
    if not qualifier or stated == 0:
        return False
    ratio = actual / stated
    if any(q in qualifier for q in _AT_LEAST):
        return 1 <= ratio <= 1.25
    if any(q in qualifier for q in _AT_MOST):
        return 0.8 <= ratio <= 1
    if any(q in qualifier for q in _ABOUT):
        return 0.95 <= ratio <= 1.05
    return False


def _is_rounding_of(stated: float, actual: float) -> bool:
    """True when `stated` is `actual` rounded (or cut) to the precision `stated` is written in.

    Within 10% only: "100" is 60 rounded to the nearest hundred, but no reader would call it so.
    """
    if stated == 0 or actual == 0 or (stated > 0) != (actual > 0):
        return False
    if abs(stated - actual) > 0.1 * abs(actual):
        return False
    step = 10 ** (math.floor(math.log10(abs(stated))) - _significant_digits(stated) + 1)
    candidates = (round(actual / step) * step, math.floor(actual / step) * step)
    return any(_same(stated, candidate) for candidate in candidates)


def _significant_digits(value: float) -> int:
    text = f"{abs(value):.10g}"
    if "e" in text:
        text = f"{abs(value):f}"
    digits = text.replace(".", "").lstrip("0")
    if "." not in text:
        digits = digits.rstrip("0")
    return max(1, len(digits))


def _digits(value: float) -> str:
    return f"{value:.10g}".replace(".", "").replace("-", "")


def _context(sentence: str) -> frozenset[str]:
    """A sentence's content words, cut to a crude stem: "investigated" and "investigations"
    are one word here, as "referrals" and "referral" are."""
    words = _WORD.findall(sentence.lower())
    return frozenset(_stem(w) for w in words if len(w) > 2 and w not in _STOPWORDS)


_STEM = 7


def _stem(word: str) -> str:
    return (word[:-1] if word.endswith("s") and len(word) > 3 else word)[:_STEM]


def _evidence(
    figure: Figure, other: Figure, a: frozenset[str], b: frozenset[str], units: frozenset[str]
) -> float:
    """How sure it is that two figures speak of one thing: their sentences' overlap, and at
    least enough when they count the same thing out of the same total ("119 of 490 referrals"
    and "122 of 490 referrals" are one fact, reported two ways)."""
    overlap = _overlap(a, b, units)
    if (
        figure.denominator is not None
        and other.denominator is not None
        and _same(figure.denominator, other.denominator)
        and not _is_rate_base(figure.denominator)
        and _units_agree(figure, other)
    ):
        return max(overlap, MIN_CONTEXT_OVERLAP)
    return overlap


def _is_rate_base(denominator: float) -> bool:
    """10, 1,000, 100,000: "3 out of 10", "43 per 100,000" are rates, not totals of one thing."""
    return denominator >= 10 and math.log10(denominator).is_integer()


def _overlap(a: frozenset[str], b: frozenset[str], units: frozenset[str]) -> float:
    """Shared content words over the shorter sentence's, leaving out the (already matched) unit.

    Two shared words at least, or every word of a terse sentence ("Referrals were up 12% year
    on year."): one common word in two long sentences is chance.
    """
    a, b = a - units, b - units
    shared = len(a & b)
    shorter = min(len(a), len(b))
    if shared < 2 and not (shared and shared == shorter):
        return 0.0
    return shared / shorter


def _number(value: float) -> str:
    value = float(value)
    if value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def _show(figure: Figure) -> str:
    value = _scaled(figure)
    if _GROUPS[figure.kind] == "share" or figure.unit == "percent":
        return _number(value) + "%"
    if figure.kind == "money":
        unit = (figure.unit or "GBP").upper()
        sign = _CURRENCY_SIGNS.get(unit)
        return f"{sign}{_number(value)}" if sign else f"{_number(value)} {unit}"
    return _number(value)
