"""Entities: the police forces and oversight bodies named in a text.

The names live in `extract/data/gazetteer.toml` (data, maintained without touching code); this
module loads them and compiles every name into one regular expression, built as a word trie so the
cost per document is one linear scan whatever the gazetteer's size.

A former name counts as a mention of the body that carries it now ("IPCC" is the `iopc` entity):
journalists follow an organisation across a rename, and `Mention.surface` keeps the name the
document actually used.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from extract.records import Mention

KINDS = {
    "force",
    "watchdog",
    "inspectorate",
    "government",
    "police-body",
    "pcc",
    "prosecutor",
    "agency",
    "staff-association",
    "parliament",
}
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Between the words of a name: any run of spaces, line breaks or hyphens ("Dyfed Powys" for
# "Dyfed-Powys", a name broken across PDF lines).
_SEP = r"[\s\-\u2010\u2011]+"
_SPLIT = re.compile(_SEP)
# A force name directly followed by these is part of another name: "Kent Police and Crime
# Commissioner" is the PCC, "Norfolk Police Department" is in Virginia, "Kent Police Authority"
# was the PCC's predecessor. The match is abandoned so the rest can match on its own.
_NOT_FOLLOWED_BY = (
    r"(?!\w)(?!(?i:" + _SEP + r"(?:department|dept\b|authority\b|(?:and|&)" + _SEP + r"crime)"
    r"|,?\s*fire" + _SEP + r"(?:and|&)" + _SEP + r"crime))"
)


class GazetteerError(ValueError):
    """The gazetteer file is malformed; the message names the file, the entity and the field."""


@dataclass
class Entity:
    """One organisation of the gazetteer, as stored in the `entities` table."""

    id: str
    name: str
    kind: str
    aliases: list[str] = field(default_factory=list)
    former_names: list[str] = field(default_factory=list)
    country: str | None = None
    category: str | None = None  # forces: territorial, special, military, crown-dependency
    needs_context: list[str] = field(default_factory=list)  # aliases that are also other things

    @property
    def names(self) -> list[str]:
        """Every name that counts as a mention: current name, aliases, former names."""
        return [self.name, *self.aliases, *self.former_names]


@dataclass(frozen=True)
class _Alias:
    entity_id: str | None  # None: a name that is not an entity ("Met Office")
    needs_context: bool


@dataclass(frozen=True)
class _Matcher:
    pattern: re.Pattern[str]
    aliases: dict[str, _Alias]
    context: re.Pattern[str]
    window: int


def _default_path() -> Path:
    return Path(str(resources.files("extract").joinpath("data/gazetteer.toml")))


def load_gazetteer(path: str | Path | None = None) -> list[Entity]:
    """Read and validate the gazetteer; the default is the one shipped in `extract/data/`."""
    return list(_load(str(path) if path else str(_default_path()))[0])


def find_mentions(text: str) -> list[Mention]:
    """Count the gazetteer entities named in `text`, in order of first mention.

    Whole words only, acronyms in capitals only, the longest name wins; a `needs_context` alias
    ("CPS", "IPCC") counts only when the same entity is named unambiguously in the text, or a
    policing word occurs within the gazetteer's `context_window` characters of it.
    """
    if not text:
        return []
    matcher = _load(str(_default_path()))[1]
    found: list[tuple[str, str, bool, int, int]] = []
    for match in matcher.pattern.finditer(text):
        alias = matcher.aliases.get(_key(match.group()))
        if alias is None or alias.entity_id is None:
            continue
        found.append(
            (alias.entity_id, match.group(), alias.needs_context, match.start(), match.end())
        )
    named_plainly = {entity_id for entity_id, _, ambiguous, _, _ in found if not ambiguous}
    surfaces: dict[str, Counter[str]] = {}
    for entity_id, surface, ambiguous, start, end in found:
        if ambiguous and entity_id not in named_plainly:
            around = text[max(0, start - matcher.window) : end + matcher.window]
            if not matcher.context.search(around):
                continue
        surfaces.setdefault(entity_id, Counter())[" ".join(surface.split())] += 1
    return [
        Mention(entity_id, sum(counts.values()), counts.most_common(1)[0][0])
        for entity_id, counts in surfaces.items()
    ]


@lru_cache(maxsize=4096)
def _key(name: str) -> str:
    """The form a name and a matched span share: separators, apostrophes, commas and case dropped."""
    words = []
    for word in _SPLIT.split(name.strip()):
        word = word.replace("'", "").replace("\u2019", "").rstrip(",")
        words.append("and" if word == "&" else word)
    return " ".join(words).casefold()


def _atom(word: str, first: bool, lowercase_ok: set[str]) -> str:
    """The regex for one word of a name (see the matching rules at the top of the gazetteer)."""
    if word in ("and", "&"):
        return "(?:and|&)"
    if first and word.lower() == "the":
        return "[Tt]he"
    comma = word.endswith(",")
    word = word.rstrip(",")
    parts = []
    for i, ch in enumerate(word):
        if ch in "'\u2019":
            parts.append("['\u2019]?")
        elif i == 0 and not first and word in lowercase_ok:
            parts.append(f"[{ch.upper()}{ch.lower()}]")
        else:
            parts.append(re.escape(ch))
    return "".join(parts) + (",?" if comma else "")


def _trie_regex(node: dict) -> str:
    """An alternation that tries longer continuations first, so the longest name wins."""
    branches = []
    for atom in sorted((k for k in node if k), key=lambda a: (-len(a), a)):
        child = node[atom]
        if any(child):
            rest = _SEP + _trie_regex(child)
            branches.append(atom + (f"(?:{rest})?" if "" in child else f"(?:{rest})"))
        else:
            branches.append(atom)
    return "(?:" + "|".join(branches) + ")"


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[tuple[Entity, ...], _Matcher]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise GazetteerError(f"{path}: cannot read the gazetteer: {error}") from error
    settings = data.get("matching", {})
    lowercase_ok = set(settings.get("lowercase_ok", []))
    entities = [_entity(path, i, raw) for i, raw in enumerate(data.get("entities", []))]
    if not entities:
        raise GazetteerError(f"{path}: no [[entities]]")

    aliases: dict[str, _Alias] = {}
    trie: dict = {}
    initials: set[str] = set()  # every character a name can start with

    def add(name: str, alias: _Alias, owner: str) -> None:
        key = _key(name)
        seen = aliases.get(key)
        if seen is not None and seen.entity_id != alias.entity_id:
            raise GazetteerError(
                f"{path}: entity {owner!r}: name {name!r} is also a name of {seen.entity_id!r}"
            )
        if seen is None or (seen.needs_context and not alias.needs_context):
            aliases[key] = alias
        node = trie
        for i, word in enumerate(w for w in _SPLIT.split(name.strip()) if w):
            if i == 0:
                initials.update("Tt" if word.lower() == "the" else word[0])
            node = node.setdefault(_atom(word, i == 0, lowercase_ok), {})
        node[""] = {}

    ids = set()
    for entity in entities:
        if entity.id in ids:
            raise GazetteerError(f"{path}: entity {entity.id!r}: field 'id' is used twice")
        ids.add(entity.id)
        ambiguous = {_key(n) for n in entity.needs_context}
        for name in entity.names:
            add(name, _Alias(entity.id, _key(name) in ambiguous), entity.id)
    for name in settings.get("not_entities", []):
        for variant in (name, f"the {name}"):
            add(variant, _Alias(None, False), "matching.not_entities")

    words = sorted(settings.get("context_words", ["police"]), key=len, reverse=True)
    context = re.compile(
        r"\b(?:" + "|".join(_SEP.join(map(re.escape, w.split())) for w in words) + r")\b",
        re.IGNORECASE,
    )
    # The lookahead rejects a word that starts with no name's first letter (most words, being
    # lower case) before the alternation of a few hundred first words is tried: twice as fast.
    starts = "(?=[" + "".join(re.escape(c) for c in sorted(initials)) + "])"
    pattern = re.compile(r"(?<!\w)" + starts + _trie_regex(trie) + _NOT_FOLLOWED_BY)
    matcher = _Matcher(pattern, aliases, context, int(settings.get("context_window", 250)))
    return tuple(entities), matcher


def _entity(path: str, index: int, raw: dict) -> Entity:
    """Validate one [[entities]] block, naming the file, the entity and the field on error."""
    ident = raw.get("id")
    where = f"{path}: entity {ident!r}" if ident else f"{path}: entities[{index}]"
    if not isinstance(ident, str) or not _SLUG.match(ident):
        raise GazetteerError(f"{where}: field 'id' must be a lower-case slug")
    for name in ("name", "kind"):
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            raise GazetteerError(f"{where}: field {name!r} is required")
    if raw["kind"] not in KINDS:
        raise GazetteerError(f"{where}: field 'kind' must be one of {sorted(KINDS)}")
    lists = {}
    for name in ("aliases", "former_names", "needs_context"):
        value = raw.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise GazetteerError(f"{where}: field {name!r} must be a list of names")
        lists[name] = value
    unknown = set(raw) - {"id", "name", "kind", "country", "category", *lists}
    if unknown:
        raise GazetteerError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    known = set(lists["aliases"]) | set(lists["former_names"])
    for name in lists["needs_context"]:
        if name not in known:
            raise GazetteerError(
                f"{where}: field 'needs_context' names {name!r}, which is not an alias or former name"
            )
    return Entity(
        id=ident,
        name=raw["name"],
        kind=raw["kind"],
        aliases=lists["aliases"],
        former_names=lists["former_names"],
        country=raw.get("country"),
        category=raw.get("category"),
        needs_context=lists["needs_context"],
    )
