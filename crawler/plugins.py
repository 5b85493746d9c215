"""The Datasette plugins of `datasette_config/plugins/`, loaded as modules outside Datasette.

The CLI's search and the watches read a query exactly as Datasette's search does by calling the
search plugin's own `fts_query`. This module imports nothing of Datasette's app, so a crawl that
checks its watches does not pay for loading the web server.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

import crawler

CONFIG_DIR = Path(crawler.__file__).resolve().parent.parent / "datasette_config"


def load_plugin(name: str) -> Any:
    """One of `datasette_config/plugins/` as a module: the CLI searches as Datasette does.

    The plugins import nothing of Oversight's, so a published copy runs under a bare Datasette.
    """
    spec = importlib.util.spec_from_file_location(name, CONFIG_DIR / "plugins" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def _search_plugin() -> Any:
    return load_plugin("oversight_search")


def fts_query(query: str | None) -> str:
    """What FTS5 is asked when a person searches for `query`: theirs when FTS5 can parse it,
    else the nearest query it can (`oversight_search.fts_query`; `stop-and-search` is searched
    as a phrase, not refused). Anything without a word to search for becomes `""`."""
    return _search_plugin().fts_query(query)
