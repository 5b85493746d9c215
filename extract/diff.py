"""Versions of a document: the content hash that decides whether a re-fetch is a new version, and
readable word-level diffs between consecutive versions.

The hash is taken over a normalised form so that re-rendered markup, curly versus straight quotes
or a changed non-breaking space never create a version: only a change a reader could see in the
words does.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from difflib import SequenceMatcher

# Unchanged words kept either side of a change in `word_diff`.
CONTEXT_WORDS = 4
# Beyond this many differing words, difflib's "popular word" heuristic keeps a diff of two long,
# heavily rewritten versions fast; below it every word is matched exactly.
_EXACT_BELOW = 4000

# One kind of quote and dash; invisible characters that markup changes add or remove (soft
# hyphen, zero-width spaces and joiners, word joiner, byte-order mark) dropped.
_UNIFIED_AS = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4`", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63", "-"),
    **dict.fromkeys("\u00ad\u200b\u200c\u200d\u2060\ufeff", ""),
}
# A regular expression finds the few such characters a page holds; `str.translate` looked every
# character of the page up in a table (a fifth of a millisecond).
_UNIFIED = re.compile("[" + "".join(_UNIFIED_AS) + "]")


def _unified(match: re.Match[str]) -> str:
    return _UNIFIED_AS[match.group()]


def normalise_for_hash(title: str | None, text: str) -> str:
    """Title and text as a reader sees them: NFKC, one kind of quote and dash, single spaces."""

    def clean(value: str) -> str:
        if not value.isascii():
            value = _UNIFIED.sub(_unified, unicodedata.normalize("NFKC", value))
        return " ".join(value.split())

    return f"{clean(title or '')}\n{clean(text or '')}"


def content_hash(title: str | None, text: str) -> str:
    """SHA-256 (hex) of the normalised title and text: equal hashes mean the same version."""
    return hashlib.sha256(normalise_for_hash(title, text).encode("utf-8")).hexdigest()


def diff_ops(old: str, new: str) -> list[tuple[str, str]]:
    """The whole new text as runs of ("equal" | "delete" | "insert", words).

    Words are joined by single spaces and runs are to be joined by a space, so the publishing
    layer can render each run in turn (`<del>`, `<ins>`) without re-diffing. A replacement is a
    delete followed by an insert.
    """
    a, b = old.split(), new.split()
    runs: list[tuple[str, list[str]]] = []

    def emit(op: str, words: list[str]) -> None:
        if not words:
            return
        if runs and runs[-1][0] == op:
            runs[-1][1].extend(words)
        else:
            runs.append((op, list(words)))

    for tag, i1, i2, j1, j2 in _opcodes(a, b):
        if tag == "equal":
            emit("equal", a[i1:i2])
        else:
            emit("delete", a[i1:i2])
            emit("insert", b[j1:j2])
    return [(op, " ".join(words)) for op, words in runs]


def word_diff(old: str, new: str, context: int = CONTEXT_WORDS) -> str:
    """A plain-text diff: `[-removed words-]`, `{+added words+}`, `context` words around each
    change and " … " between changes far apart. Empty when the words are the same.
    """
    ops = [(op, text.split()) for op, text in diff_ops(old, new)]
    if all(op == "equal" for op, _ in ops):
        return ""
    parts: list[str] = []
    for index, (op, words) in enumerate(ops):
        if op == "delete":
            parts.append("[-" + " ".join(words) + "-]")
        elif op == "insert":
            parts.append("{+" + " ".join(words) + "+}")
        else:
            head = context if index > 0 else 0
            tail = context if index < len(ops) - 1 else 0
            parts.append(_trimmed(words, head, tail))
    return " ".join(parts)


def _trimmed(words: list[str], head: int, tail: int) -> str:
    """Unchanged words: `head` words after the previous change, `tail` before the next one."""
    if len(words) <= head + tail:
        return " ".join(words)
    return " ".join([*words[:head], "…", *words[len(words) - tail :]])


def _opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """difflib opcodes, with the shared start and end taken off first: edits to published
    statements are usually local, and this keeps long documents cheap to compare.
    """
    start = 0
    limit = min(len(a), len(b))
    while start < limit and a[start] == b[start]:
        start += 1
    end = 0
    while end < limit - start and a[-1 - end] == b[-1 - end]:
        end += 1
    middle_a, middle_b = a[start : len(a) - end], b[start : len(b) - end]
    exact = max(len(middle_a), len(middle_b)) < _EXACT_BELOW
    matcher = SequenceMatcher(None, middle_a, middle_b, autojunk=not exact)
    codes = []
    if start:
        codes.append(("equal", 0, start, 0, start))
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        codes.append((tag, i1 + start, i2 + start, j1 + start, j2 + start))
    if end:
        codes.append(("equal", len(a) - end, len(a), len(b) - end, len(b)))
    return codes
