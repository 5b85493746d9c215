"""Shared fixtures: the fixture web in tests/sites/ served on loopback, and sources files for it.

The three sites run together (so the news site's `{{base:watchdog}}` and `{{base:offsite}}` links
resolve) on 127.0.0.21, .22 and .23, each on a free port. They are function-scoped: starting them
takes milliseconds, and every test gets a clean request log and pristine pages even after
`set_page()`. Expectations for each site are in tests/sites/<name>/expected.json
(`site.expected()` renders them with the site's address).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.demo import sources_toml_for
from crawler.siteserver import Site, serve_sites

SITES_ROOT = Path(__file__).parent / "sites"
FIXTURE_WEB = ("watchdog", "news", "offsite")
FIRST_HOST = 21  # 127.0.0.21 onwards; the demo uses .2/.3 and the crawl benchmark .9/.10


def make_sources(
    tmp_path: Path,
    *sites: Site,
    per_site: dict[str, dict] | None = None,
    filename: str = "sources.toml",
    **overrides: object,
) -> Path:
    """Write a sources.toml for `sites` (each site's own source.toml entry, `delay = 0`) into
    `tmp_path` and return its path. `overrides` apply to every source (`exclude=[...]`,
    `delay=1.0`); `per_site={"news": {...}}` to one site's sources.
    """
    path = tmp_path / filename
    path.write_text(sources_toml_for(sites, per_site=per_site, **overrides))
    return path


@pytest.fixture
def fixture_web() -> Iterator[dict[str, Site]]:
    """All fixture sites, running: {"watchdog": Site, "news": Site, "offsite": Site}."""
    roots = {name: SITES_ROOT / name for name in FIXTURE_WEB}
    with serve_sites(roots, first_host=FIRST_HOST) as sites:
        yield sites


@pytest.fixture
def watchdog_site(fixture_web: dict[str, Site]) -> Site:
    """A WordPress-like watchdog: gzipped sitemap index, /feed/, /news/page/N/, a PDF report,
    robots.txt disallowing a page its sitemap lists, and an old permalink that 301s."""
    return fixture_web["watchdog"]


@pytest.fixture
def news_site(fixture_web: dict[str, Site]) -> Site:
    """A news site: Atom feed with relative links and xml:base, a 301, a 404, a windows-1252 page
    declared only in <meta>, a 30 MB page, a gzip bomb and links to the offsite site."""
    return fixture_web["news"]


@pytest.fixture
def offsite_site(fixture_web: dict[str, Site]) -> Site:
    """A site outside every source's allowed_domains: any request in its log is a bug."""
    return fixture_web["offsite"]


@pytest.fixture(name="make_sources")
def make_sources_fixture():
    """`make_sources(tmp_path, *sites, **overrides) -> Path`, as a fixture for convenience."""
    return make_sources


@pytest.fixture
def tmp_archive(tmp_path: Path) -> Path:
    """Where a test's archive database goes (not created)."""
    return tmp_path / "archive.db"
