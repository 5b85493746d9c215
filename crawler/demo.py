"""The offline demo: the bundled demo sites served on loopback, and a sources.toml pointing at them.

`oversight demo` calls `serve_demo_sites()`, crawls the sources it returns into a fresh archive and
prints a summary. Tests use `sources_toml_for()` the same way to point a crawl at fixture sites.
"""

from __future__ import annotations

import contextlib
import math
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from crawler.siteserver import Site, serve_sites

DEMO_ROOT = Path(__file__).with_name("demo_sites")
DEMO_SITES = ("watchdog", "news")
BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class DemoSites:
    """The running demo sites and the sources.toml text that crawls them."""

    sites: dict[str, Site]
    sources_toml: str

    @property
    def base_urls(self) -> dict[str, str]:
        """Base URL of each site, e.g. {"watchdog": "http://127.0.0.2:41234"}."""
        return {name: site.base_url for name, site in self.sites.items()}

    def write_sources(self, path: Path) -> Path:
        path.write_text(self.sources_toml)
        return path


@contextlib.contextmanager
def serve_demo_sites(first_host: int = 2) -> Iterator[DemoSites]:
    """Serve the demo watchdog and news sites on 127.0.0.<first_host> and the next address, each on
    a free port, until the block ends.

    >>> with serve_demo_sites() as demo:
    ...     demo.write_sources(tmp / "sources.toml")   # then crawl it
    """
    roots = {name: DEMO_ROOT / name for name in DEMO_SITES}
    with serve_sites(roots, first_host=first_host) as sites:
        yield DemoSites(sites, sources_toml_for(sites.values()))


def source_entries(site: Site) -> list[dict]:
    """The `[[sources]]` entries of a site's `source.toml`, rendered with its current address."""
    return tomllib.loads(site.source_entry()).get("sources", [])


def sources_toml_for(
    sites: Iterable[Site], per_site: dict[str, dict] | None = None, **overrides: object
) -> str:
    """A sources.toml for `sites`: each site's own entry, with `overrides` applied to every source
    and `per_site[site.name]` to that site's sources only (e.g. {"news": {"exclude": [...]}}).
    `delay` is 0 unless overridden: loopback crawls need no politeness.
    """
    entries = []
    for site in sites:
        for entry in source_entries(site):
            entry["delay"] = 0
            entry.update(overrides)
            entry.update((per_site or {}).get(site.name, {}))
            entries.append(entry)
    return dump_sources(entries)


def dump_sources(entries: list[dict]) -> str:
    """Write `[[sources]]` entries as TOML (tomllib reads, the stdlib writes nothing)."""
    blocks = []
    for entry in entries:
        lines = ["[[sources]]"]
        lines += [
            f"{_key(key)} = {_value(value)}" for key, value in entry.items() if value is not None
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _key(key: str) -> str:
    return key if BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    # Literal strings keep regexes readable; fall back to an escaped basic string when they can't.
    if "'" not in text and "\n" not in text and "\r" not in text:
        return f"'{text}'"
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} to sources.toml")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to sources.toml")
