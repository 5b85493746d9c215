"""SQL helpers for the canned queries: a forgiving full-text query and ISO timestamps for Atom.

Registered on every read connection Datasette opens, so canned queries (and a user's own SQL)
can call them. Both are pure functions of their arguments.
"""

from __future__ import annotations

import re
from functools import lru_cache

from datasette import hookimpl

#: Queries made only of words, quotes, prefixes, brackets and FTS5 operators are passed through,
#: so "corruption NEAR referral*" and '"stop and search"' keep their meaning.
FTS_SYNTAX = re.compile(r'[\w\s"*()]+')
FTS_OPERATORS = {"AND", "OR", "NOT"}


def fts_query(query: str | None) -> str:
    """A query FTS5 accepts: the user's syntax when it is valid-looking, else quoted words.

    "stop-and-search", "£1.2m" or an unbalanced quote would make FTS5 raise a syntax error; such
    queries are searched as quoted terms instead, which is what the person meant.
    """
    query = (query or "").strip()
    if not query:
        return '""'
    if (
        FTS_SYNTAX.fullmatch(query)
        and query.count('"') % 2 == 0
        and _brackets_balanced(query)
        and not _dangling_operator(query)
    ):
        return query
    terms = [t for t in re.split(r"\s+", query) if t.strip('"')]
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms) or '""'


def _brackets_balanced(query: str) -> bool:
    depth = 0
    for char in query:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _dangling_operator(query: str) -> bool:
    words = query.replace("(", " ").replace(")", " ").split()
    return bool(words) and (words[0] in FTS_OPERATORS or words[-1] in FTS_OPERATORS | {"NEAR"})


def atom_time(value: str | None) -> str | None:
    """An ISO 8601 timestamp with an offset, as Atom requires: a bare date gets midnight UTC."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value + "T00:00:00+00:00"
    if re.fullmatch(r"\d{4}-\d{2}", value):
        return value + "-01T00:00:00+00:00"
    if re.fullmatch(r"\d{4}", value):
        return value + "-01-01T00:00:00+00:00"
    value = value.replace(" ", "T", 1)
    if value.endswith(("Z", "z")) or re.search(r"[+-]\d{2}:?\d{2}$", value.split("T", 1)[-1]):
        return value
    return value + "+00:00"


def matches_all_words(text: str | None, words: str | None) -> bool:
    """True when every word of `words` occurs in `text`, ignoring case and a plural "s".

    Used by `figures_search` on the sentences of documents FTS has already found, so "corruption
    referrals" finds "118 referrals about corruption". Called once per figure: the words are
    parsed once per query.
    """
    stems = _word_stems(words or "")
    haystack = (text or "").lower()
    return all(stem in haystack for stem in stems)


@lru_cache(maxsize=256)
def _word_stems(words: str) -> tuple[str, ...]:
    stems = []
    for word in re.findall(r"[\w£$€%.,/-]+", words.lower()):
        if word.upper() in FTS_OPERATORS | {"NEAR"}:
            continue
        stems.append(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return tuple(stems)


@hookimpl
def prepare_connection(conn):
    conn.create_function("oversight_fts", 1, fts_query, deterministic=True)
    conn.create_function("oversight_atom_time", 1, atom_time, deterministic=True)
    conn.create_function("oversight_matches", 2, matches_all_words, deterministic=True)
