"""Reading numbers as people write them: digits, number words, fractions, scales, currencies.

Small pure helpers for `extract.figures`. They know English number vocabulary and nothing about
sentences, so they can be tested (and reused, e.g. by a display plugin) on their own.
"""

from __future__ import annotations

import re

UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
SCALES = {
    "hundred": 100.0,
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "m": 1e6,
    "mn": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "tn": 1e12,
}
# Denominators of spelled fractions, singular and plural ("a third", "two-thirds").
FRACTIONS = {
    "half": 2,
    "halves": 2,
    "third": 3,
    "thirds": 3,
    "quarter": 4,
    "quarters": 4,
    "fourth": 4,
    "fourths": 4,
    "fifth": 5,
    "fifths": 5,
    "sixth": 6,
    "sixths": 6,
    "seventh": 7,
    "sevenths": 7,
    "eighth": 8,
    "eighths": 8,
    "ninth": 9,
    "ninths": 9,
    "tenth": 10,
    "tenths": 10,
}
CURRENCY_SYMBOLS = {
    "£": "GBP",
    "$": "USD",
    "us$": "USD",
    "€": "EUR",
    "¥": "JPY",
    "₹": "INR",
    "rs": "INR",
    "rs.": "INR",
}
CURRENCY_WORDS = {
    "pound": "GBP",
    "pounds": "GBP",
    "sterling": "GBP",
    "dollar": "USD",
    "dollars": "USD",
    "euro": "EUR",
    "euros": "EUR",
}

_UNIT_WORDS = "|".join(sorted(UNITS, key=len, reverse=True))
_TEN_WORDS = "|".join(TENS)
# A spelled cardinal up to the billions: "twenty-one", "two hundred and fifty", "three thousand".
_SMALL = rf"(?:(?:{_TEN_WORDS})(?:[-\s](?:{_UNIT_WORDS}))?|{_UNIT_WORDS})"
_HUNDREDS = rf"(?:{_SMALL}\s+hundred(?:\s+(?:and\s+)?{_SMALL})?|{_SMALL})"
NUMBER_WORDS_PATTERN = (
    rf"(?:{_HUNDREDS}(?:\s+(?:thousand|million|billion)(?:(?:,?\s+|\s+and\s+){_HUNDREDS})?)?"
    r"|a\s+(?:dozen|hundred|thousand|million|billion)|dozen)"
)
DIGITS_PATTERN = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"

# Compiled once here: `parse_number` runs for every figure found, and `re.search` given a pattern
# string looks it up in `re`'s cache on every call, which costs more than the match itself.
_DIGITS = re.compile(DIGITS_PATTERN)
_AND_A_HALF = re.compile(r"[\s-]+and[\s-]+a[\s-]+half$", re.I)
_WORD_SPLIT = re.compile(r"[\s-]+")


def parse_digits(text: str) -> float:
    """ "81,142" -> 81142.0; "3.5" -> 3.5. Thousands separators are commas, decimals a point."""
    return float(text.replace(",", ""))


def parse_number_words(text: str) -> float | None:
    """ "twenty-one" -> 21; "two hundred and fifty" -> 250; "a dozen" -> 12; None if not a number."""
    words = [w for w in _WORD_SPLIT.split(text.lower().replace(",", " ")) if w and w != "and"]
    if not words:
        return None
    if words[0] == "a":
        words = ["one"] + words[1:]
    total = 0.0
    current = 0.0
    seen = False
    for word in words:
        if word in UNITS:
            current += UNITS[word]
        elif word in TENS:
            current += TENS[word]
        elif word == "dozen":
            current = (current or 1) * 12
        elif word == "hundred":
            current = (current or 1) * 100
        elif word in ("thousand", "million", "billion"):
            total += (current or 1) * SCALES[word]
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def parse_number(text: str) -> float | None:
    """Digits or words, with an optional "and a half": "2.5", "two and a half", "1,200"."""
    text = text.strip()
    half = 0.0
    match = _AND_A_HALF.search(text)
    if match:
        half = 0.5
        text = text[: match.start()]
    if _DIGITS.fullmatch(text):
        return parse_digits(text) + half
    value = parse_number_words(text)
    return None if value is None else value + half


def parse_fraction(text: str) -> float | None:
    """ "two-thirds" -> 0.667 (unrounded); "a quarter" -> 0.25; "half" -> 0.5."""
    words = [w for w in _WORD_SPLIT.split(text.lower()) if w]
    if not words:
        return None
    if len(words) == 1:
        return 0.5 if words[0] == "half" else None
    denominator = FRACTIONS.get(words[-1])
    numerator = 1.0 if words[0] in ("a", "an", "one") else parse_number_words(" ".join(words[:-1]))
    if denominator is None or numerator is None:
        return None
    return numerator / denominator


def scale_of(word: str | None) -> float:
    """The multiplier a scale word or suffix stands for ("million", "m", "bn", "k"); 1 if none."""
    if not word:
        return 1.0
    return SCALES.get(word.lower().rstrip("."), 1.0)


def currency_of(symbol_or_word: str) -> str | None:
    """ISO 4217 code for "£", "$", "€", "US$", "pounds", "euros"; None when unknown."""
    key = symbol_or_word.strip().lower()
    return CURRENCY_SYMBOLS.get(key) or CURRENCY_WORDS.get(key)


_IRREGULAR_PLURALS = {
    "people": "person",
    "persons": "person",
    "men": "man",
    "women": "woman",
    "children": "child",
    "police": "police",
    "staff": "staff",
    "personnel": "personnel",
    "data": "data",
    "cattle": "cattle",
    "sheep": "sheep",
    "feet": "foot",
    "teeth": "tooth",
    "mice": "mouse",
    "geese": "goose",
    "crises": "crisis",
    "analyses": "analysis",
    "series": "series",
    "species": "species",
    "mph": "mph",
    "knives": "knife",
    "lives": "life",
    "wives": "wife",
    "thieves": "thief",
    "halves": "half",
    "wolves": "wolf",
    "shelves": "shelf",
    "leaves": "leave",
    "police officers": "officer",
}
_NOT_PLURAL_ENDINGS = ("ss", "us", "is", "ous", "'s", "’s")


def looks_plural(word: str) -> bool:
    """Whether a lower-case word reads as a plural noun (or a mass noun counted like one)."""
    if word in _IRREGULAR_PLURALS:
        return True
    if len(word) < 3 or not word.endswith("s") or word.endswith(_NOT_PLURAL_ENDINGS):
        return False
    return word not in _NOT_NOUNS


# Words ending in -s that follow numbers but are not the counted thing.
_NOT_NOUNS = frozenset(
    "was has is does goes says its this thus yes less always perhaps as us his hers ours yours "
    "theirs whereas besides towards afterwards ones news means".split()
)


def singular(word: str) -> str:
    """A small English singulariser for counted nouns: "referrals" -> "referral".

    Rules rather than a dictionary, because the nouns journalists count are ordinary regular
    plurals; the irregular ones that matter in policing text are listed.
    """
    word = word.lower().strip("'’")
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    if not looks_plural(word):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zzes")):
        return word[:-2]
    return word[:-1]
