"""The source registry: `sources.toml` loaded into validated `Source` records.

A bad file is refused with the file, the source id and the field named, because the person who
reads the error is the one editing the TOML.
"""

from __future__ import annotations

import ipaddress
import math
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_SOURCES = Path(__file__).with_name("sources.toml")
KINDS = ("watchdog", "inspectorate", "government", "police", "news", "ngo")
API_TYPES = ("govuk-search", "wordpress")


@dataclass
class Api:
    """A discovery API: `govuk-search` (GOV.UK Search API) or `wordpress` (WP REST posts)."""

    type: str
    url: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Source:
    """One site Oversight watches, as declared in `sources.toml`."""

    id: str
    name: str
    kind: str
    homepage: str
    allowed_domains: list[str]
    feeds: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    start_urls: list[str] = field(default_factory=list)
    follow: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    apis: list[Api] = field(default_factory=list)
    delay: float = 2.0
    concurrency: int = 1  # requests in flight at once to this source
    every: str | None = None  # e.g. "6h": how often `oversight watch` crawls this source
    max_pages: int = (
        500  # listing pages walked per run: a listing that paginates forever stops here
    )
    recheck_days: float = 30.0  # a document unchanged by its dates is re-checked after this age
    unverified: list[str] = field(default_factory=list)  # endpoints nobody has seen answer yet
    notes: str = ""

    def __post_init__(self) -> None:
        self._follow = [re.compile(p) for p in self.follow]
        self._documents = [re.compile(p) for p in self.documents]
        self._exclude = [re.compile(p) for p in self.exclude]

    def is_excluded(self, url: str) -> bool:
        return any(p.search(url) for p in self._exclude)

    def is_document(self, url: str) -> bool:
        """A URL is a document when it matches `documents`, or `documents` is empty."""
        return not self.is_excluded(url) and self.wants_document(url)

    def wants_document(self, url: str) -> bool:
        """`is_document` before `exclude` has its say: whether a refused sitemap entry is worth
        a warning (one `documents` leaves out is not)."""
        return not self._documents or any(p.search(url) for p in self._documents)

    def matches_document(self, url: str) -> bool:
        """True only for an explicit `documents` match (used to pick links worth following)."""
        return not self.is_excluded(url) and any(p.search(url) for p in self._documents)

    def is_listing(self, url: str) -> bool:
        return not self.is_excluded(url) and any(p.search(url) for p in self._follow)


class SourcesError(Exception):
    """A sources file that cannot be used; the message names the file, the source and the field."""


_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_URL_LISTS = ("feeds", "sitemaps", "start_urls")
_REGEX_LISTS = ("follow", "documents", "exclude")
_FIELDS = {f.name for f in fields(Source)}
_REQUIRED = ("id", "name", "kind", "homepage", "allowed_domains")
_API_KEYS = {"type", "url", "params"}


def load_sources(path: str | Path | None = None) -> list[Source]:
    """Read and validate a sources file (the built-in `crawler/sources.toml` when `path` is None).

    Every field is checked (types, unknown keys, URLs inside `allowed_domains`, regexes that
    compile) so a mistake surfaces when the file is loaded, not hours into a crawl.
    """
    path = Path(path) if path is not None else DEFAULT_SOURCES
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise SourcesError(f"{path}: cannot read ({error.strerror or error})") from None
    except tomllib.TOMLDecodeError as error:
        raise SourcesError(f"{path}: not valid TOML ({error})") from None
    except UnicodeDecodeError as error:
        raise SourcesError(
            f"{path}: not UTF-8 text, as TOML must be (byte {error.start}: {error.reason}); "
            "save it as UTF-8"
        ) from None
    unknown = sorted(set(data) - {"sources"})
    if unknown:
        raise SourcesError(
            f"{path}: unknown top-level key(s) {', '.join(map(repr, unknown))}; "
            "sources go in [[sources]] tables"
        )
    entries = data.get("sources")
    if not isinstance(entries, list) or not entries:
        raise SourcesError(f"{path}: no [[sources]] tables: nothing to crawl")
    sources: list[Source] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        source = _validate(entry, _Where(str(path), number))
        if source.id in seen:
            raise SourcesError(f"{path}: source '{source.id}': field 'id': used by two sources")
        seen.add(source.id)
        sources.append(source)
    return sources


def domain_allowed(url: str, allowed_domains: list[str]) -> bool:
    """True when the URL's host is an allowed domain or a subdomain of one (ports ignored).

    IP addresses match only themselves: 127.0.0.5 allows 127.0.0.5, nothing "under" it.
    """
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    host = _normal_host(host)
    for domain in allowed_domains:
        allowed = _normal_host(domain)
        if not allowed:
            continue
        if host == allowed or (not _is_ip(allowed) and host.endswith("." + allowed)):
            return True
    return False


def _normal_host(host: str) -> str:
    host = host.strip().strip("[]").rstrip(".").lower().lstrip(".")
    if host and not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return host
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass
class _Where:
    """Where a value sits, for error messages: file, source id (or number), field."""

    path: str
    number: int
    source_id: str | None = None

    def error(self, field_name: str, problem: str) -> SourcesError:
        who = f"source '{self.source_id}'" if self.source_id else f"source #{self.number}"
        return SourcesError(f"{self.path}: {who}: field '{field_name}': {problem}")


def _validate(entry: Any, where: _Where) -> Source:
    if not isinstance(entry, dict):
        raise SourcesError(f"{where.path}: source #{where.number}: must be a [[sources]] table")
    raw_id = entry.get("id")
    if isinstance(raw_id, str) and raw_id:
        where.source_id = raw_id
    for key in _REQUIRED:
        if key not in entry:
            raise where.error(key, "missing (required)")
    for key in entry:
        if key not in _FIELDS:
            raise where.error(key, f"unknown field (known: {', '.join(sorted(_FIELDS))})")
    if not isinstance(raw_id, str) or not _SLUG.match(raw_id):
        raise where.error("id", "must be a slug of lower-case letters, digits and hyphens")
    values: dict[str, Any] = {"id": raw_id}
    for key in ("name", "notes"):
        if key in entry:
            if not isinstance(entry[key], str) or (key == "name" and not entry[key].strip()):
                raise where.error(
                    key, "must be a non-empty string" if key == "name" else "must be a string"
                )
            values[key] = entry[key]
    if entry["kind"] not in KINDS:
        raise where.error("kind", f"must be one of {', '.join(KINDS)}: got {entry['kind']!r}")
    values["kind"] = entry["kind"]
    domains = _string_list(entry, "allowed_domains", where)
    if not domains:
        raise where.error("allowed_domains", "must list at least one domain")
    for domain in domains:
        if not _valid_host(domain):
            raise where.error(
                "allowed_domains",
                f"{domain!r} is not a bare host name like 'example.org' (no scheme, path or port)",
            )
    values["allowed_domains"] = domains
    values["homepage"] = _url(entry["homepage"], "homepage", domains, where)
    for key in _URL_LISTS:
        values[key] = [_url(u, key, domains, where) for u in _string_list(entry, key, where)]
    for key in _REGEX_LISTS:
        values[key] = _string_list(entry, key, where)
        for pattern in values[key]:
            try:
                re.compile(pattern)
            except re.error as error:
                raise where.error(key, f"regex {pattern!r} does not compile: {error}") from None
    values["apis"] = _apis(entry.get("apis", []), domains, where)
    if not (values["feeds"] or values["sitemaps"] or values["start_urls"] or values["apis"]):
        raise where.error("start_urls", "no feeds, sitemaps, start_urls or apis: nothing to crawl")
    for key, minimum, kind in (
        ("delay", 0, float),
        ("recheck_days", 0, float),
        ("max_pages", 1, int),
        ("concurrency", 1, int),
    ):
        if key in entry and key in _FIELDS:
            values[key] = _number(entry[key], key, minimum, kind, where)
    if "every" in entry:
        values["every"] = _every(entry["every"], where)
    if "unverified" in entry:
        values["unverified"] = _unverified(entry, values, where)
    return Source(**values)


def _string_list(entry: dict[str, Any], key: str, where: _Where) -> list[str]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise where.error(key, "must be a list of non-empty strings")
    return [v.strip() for v in value]


def _valid_host(domain: str) -> bool:
    host = domain.strip().lower().rstrip(".")
    if _is_ip(host.strip("[]")):
        return True
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    return all(_HOST_LABEL.match(label) for label in host.split("."))


def _url(value: Any, key: str, domains: list[str], where: _Where) -> str:
    if not isinstance(value, str):
        raise where.error(key, f"must be a URL string: got {value!r}")
    url = value.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as error:
        raise where.error(key, f"{url!r} is not a valid URL ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise where.error(key, f"{url!r} must be an absolute http(s) URL")
    if not domain_allowed(url, domains):
        raise where.error(
            key,
            f"{url!r} is outside allowed_domains ({', '.join(domains)}): it would never be fetched",
        )
    return url


def _apis(value: Any, domains: list[str], where: _Where) -> list[Api]:
    if not isinstance(value, list):
        raise where.error(
            "apis", 'must be a list of tables like { type = "wordpress", url = "..." }'
        )
    apis: list[Api] = []
    for index, raw in enumerate(value):
        name = f"apis[{index}]"
        if not isinstance(raw, dict):
            raise where.error(name, "must be a table with type, url and optional params")
        unknown = sorted(set(raw) - _API_KEYS)
        if unknown:
            raise where.error(f"{name}.{unknown[0]}", "unknown key (known: params, type, url)")
        if raw.get("type") not in API_TYPES:
            raise where.error(
                f"{name}.type", f"must be one of {', '.join(API_TYPES)}: got {raw.get('type')!r}"
            )
        if "url" not in raw:
            raise where.error(f"{name}.url", "missing (required)")
        url = _url(raw["url"], f"{name}.url", domains, where)
        params = raw.get("params", {})
        if not isinstance(params, dict):
            raise where.error(f"{name}.params", "must be a table of query parameters")
        clean: dict[str, Any] = {}
        for key, param in params.items():
            if isinstance(param, bool) or not isinstance(param, str | int | float | list):
                raise where.error(
                    f"{name}.params.{key}", "must be a string, a number or a list of strings"
                )
            if isinstance(param, list):
                if not all(isinstance(p, str) for p in param):
                    raise where.error(f"{name}.params.{key}", "a list must hold only strings")
                clean[key] = list(param)
            else:
                clean[key] = str(param)
        apis.append(Api(type=raw["type"], url=url, params=clean))
    return apis


def _number(value: Any, key: str, minimum: float, kind: type, where: _Where) -> Any:
    wanted = "a whole number" if kind is int else "a number"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (kind is int and not isinstance(value, int))
    ):
        raise where.error(key, f"must be {wanted} >= {minimum:g}: got {value!r}")
    if not math.isfinite(value) or value < minimum:
        raise where.error(key, f"must be {wanted} >= {minimum:g}: got {value!r}")
    return kind(value)


def _every(value: Any, where: _Where) -> str:
    from crawler.schedule import ScheduleError, parse_every

    if not isinstance(value, str):
        raise where.error("every", f'must be a string such as "6h": got {value!r}')
    try:
        parse_every(value)
    except ScheduleError as error:
        raise where.error("every", str(error)) from None
    return value.strip()


def _unverified(entry: dict[str, Any], values: dict[str, Any], where: _Where) -> list[str]:
    """Each unverified endpoint must be one the source declares, so a typo cannot hide."""
    marked = _string_list(entry, "unverified", where)
    declared = {values["homepage"], *values["feeds"], *values["sitemaps"], *values["start_urls"]}
    declared |= {api.url for api in values["apis"]}
    for url in marked:
        if url not in declared:
            raise where.error(
                "unverified",
                f"{url!r} is not one of this source's homepage, feeds, sitemaps, start_urls or apis",
            )
    return marked
