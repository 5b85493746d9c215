"""SQL helpers for the canned queries: a forgiving full-text query, ISO timestamps and entry ids
for Atom.

Registered on every read connection Datasette opens, so canned queries (and a user's own SQL)
can call them. All are pure functions of their arguments. The forgiving query also stands in for
Datasette's own `escape_fts`, so table search (`?_search=`) reads a query exactly as the `search`
canned query does.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import unicodedata
from functools import lru_cache
from urllib.parse import quote

from datasette import hookimpl

FTS_OPERATORS = {"AND", "OR", "NOT"}

# A phrase (with a prefix star), a bracket, a phrase left open at the end, or anything else up to
# a space, bracket or quote.
_TOKEN = re.compile(r'"[^"]*"\*?|[()]|"[^"]*$|[^\s()"]+')
_BAREWORD = re.compile(r"\w+\*?")
_probes = threading.local()


def fts_query(query: str | None) -> str:
    """A query FTS5 accepts: the user's own when FTS5 can parse it, else the nearest one it can.

    "stop-and-search", "£1.2m", "* police" or an unbalanced quote make FTS5 raise a syntax error.
    Only the words FTS5 cannot read as they stand are quoted (and stray stars, brackets and
    operators dropped), so "stop-and-search NOT corruption" keeps its NOT. FTS5 itself, on an
    empty table with the archive's columns, is the judge of what parses.
    """
    query = (query or "").strip()
    if not query:
        return '""'
    if _parses(query):
        return query
    tokens = _TOKEN.findall(query)
    balanced = _brackets_balanced(tokens)
    repaired: list[str] = []
    for token in tokens:
        if token in "()":
            if balanced:
                repaired.append(token)
        elif token.startswith('"') and (len(token) > 1 and token.rstrip("*").endswith('"')):
            repaired.append(token)
        elif token in FTS_OPERATORS or _BAREWORD.fullmatch(token):
            repaired.append(token)
        else:
            repaired.extend(_quoted(word) for word in token.strip('"').split() if _has_word(word))
    candidate = " ".join(_without_dangling_operators(repaired))
    if candidate and _parses(candidate):
        return candidate
    words = [word for word in re.split(r"\s+", query.replace('"', " ")) if _has_word(word)]
    return " ".join(_quoted(word) for word in words) or '""'


def _parses(query: str) -> bool:
    probe = getattr(_probes, "connection", None)
    if probe is None:
        probe = _probes.connection = sqlite3.connect(":memory:")
        probe.execute("create virtual table probe using fts5(title, text)")
    try:
        probe.execute("select rowid from probe where probe match ?", [query]).fetchall()
    except sqlite3.Error:
        return False
    return True


def _quoted(word: str) -> str:
    """A word as an FTS5 string; a trailing star stays outside the quotes as a prefix search."""
    star = "*" if word.endswith("*") and _has_word(word.rstrip("*")) else ""
    return '"' + word.rstrip("*").replace('"', '""') + '"' + star


def _has_word(text: str) -> bool:
    return any(char.isalnum() for char in text)


def _brackets_balanced(tokens: list[str]) -> bool:
    depth = 0
    for token in tokens:
        depth += {"(": 1, ")": -1}.get(token, 0)
        if depth < 0:
            return False
    return depth == 0


def _without_dangling_operators(tokens: list[str]) -> list[str]:
    """No operator first, last, after another or next to a bracket it cannot apply across."""
    kept: list[str] = []
    for token in tokens:
        if token in FTS_OPERATORS and (not kept or kept[-1] in FTS_OPERATORS or kept[-1] == "("):
            continue
        if token == ")" and kept and kept[-1] in FTS_OPERATORS:
            kept.pop()
        kept.append(token)
    while kept and kept[-1] in FTS_OPERATORS:
        kept.pop()
    return kept


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


def atom_tag(kind: str, *parts: object) -> str:
    """A stable Atom entry id, `tag:oversight,2024:KIND/PART/PART`, each part percent-encoded.

    Feeds whose rows have no lasting id of their own (a figure check is stored again whenever
    either document is re-read) name an entry by what it is about instead, so a feed reader
    does not see the same entry twice.
    """
    return f"tag:oversight,2024:{kind}/" + "/".join(quote(str(part), safe="") for part in parts)


def matches_all_words(text: str | None, words: str | None) -> bool:
    """True when `text` holds the words of `words` as full-text search reads them: every word,
    ignoring case, accents and a plural "s"; of words joined by OR, either side; a word after
    NOT, none of it.

    Used by `figures_search` on the sentences of documents FTS has already found, so "corruption
    referrals" finds "118 referrals about corruption" and "cafe" finds "café". FTS5 binds AND
    tighter than OR, so "a b OR c" is "a and b, or c". Brackets are not followed. Called once per
    figure: the words are parsed once per query.
    """
    groups = _word_groups(words or "")
    haystack = _folded((text or "").lower())
    return any(
        all(stem in haystack for stem in wanted) and not any(stem in haystack for stem in unwanted)
        for wanted, unwanted in groups
    )


@lru_cache(maxsize=256)
def _word_groups(words: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """The query as alternatives (split at OR), each its wanted and its NOT-ed word stems."""
    groups: list[tuple[list[str], list[str]]] = [([], [])]
    negate = False
    # Hyphens part words, as FTS5 does: "stop-and-search" finds "stop and search" too.
    for word in re.findall(r"[\w£$€%.,/]+", _folded(words.lower())):
        operator = word.upper()
        if operator == "OR":
            groups.append(([], []))
        elif operator == "NOT":
            negate = True
        elif operator not in FTS_OPERATORS | {"NEAR"}:
            stem = word[:-1] if len(word) > 3 and word.endswith("s") else word
            groups[-1][1 if negate else 0].append(stem)
            negate = False
    return tuple((tuple(wanted), tuple(unwanted)) for wanted, unwanted in groups)


def _folded(text: str) -> str:
    """`text` without accents ("café" as "cafe"), as FTS5's unicode61 tokenizer reads it."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@hookimpl
def prepare_connection(conn):
    conn.create_function("oversight_fts", 1, fts_query, deterministic=True)
    conn.create_function("oversight_atom_time", 1, atom_time, deterministic=True)
    conn.create_function("oversight_atom_tag", -1, atom_tag, deterministic=True)
    conn.create_function("oversight_matches", 2, matches_all_words, deterministic=True)


@hookimpl(specname="prepare_connection", trylast=True)
def prepare_connection_for_table_search(conn):
    """Table search runs `MATCH escape_fts(:search)`; Datasette's `escape_fts` quotes every word,
    so `refer*`, `OR`, `NEAR(...)` and `title:` lose their meaning there, and a lone `"` is an
    error page. Registered last, this replaces it with the search query's own reading."""
    conn.create_function("escape_fts", 1, fts_query, deterministic=True)
