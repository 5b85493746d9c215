"""Facets and filters the archive needs beyond Datasette's own.

- `value` facet: rows per value of a column, like Datasette's column facet (same results, same
  toggles, shown the same way), but counted in the shared scans below.
- `year` facet: documents per year of a date column, toggled with `COLUMN__startswith=YYYY`.
- `kind` facet: rows per kind of source (watchdog, news...), toggled with `_source_kind`.
- `entity` facet: documents per entity named in them, through `mentions`, toggled with
  Datasette's own `_through` filter.
- `source` facet: rows of a table with a `document_id` (figures, versions...) per source of
  their document, toggled with `_source`.

Datasette runs one query per facet, each wrapping the page's SQL, so a `_search` page re-ran the
full-text match (and read every matching row) once per facet. Here every facet of these types
on a page is counted by at most two queries, whichever facet asks first, and the others read
the result left on the request:
- the groups query reads the page's rows once, grouped by every key the facets need (on
  `documents`, source, type and year: a few hundred groups), and counts each facet from those
  groups; covering indexes on `documents` let it read the keys without reading the documents'
  large rows;
- the ids query takes the page's ids in ascending order, so that looking up their `mentions`
  walks that index in order, and counts documents per entity.
The two run at the same time, on two of Datasette's SQL threads. Each facet is one `union all`
branch with its own order and limit, so counts and truncation are exactly those of separate
queries. (One query over a materialized CTE of the rows was tried first: it was slower, since
the rows come out of the covering index in no useful order for the `mentions` lookups.)

The `_source` and `_source_kind` filters are plain parameters rather than `_where`, so they keep
working on a locked-down deployment where arbitrary SQL is off.
"""

from __future__ import annotations

import asyncio
import json
import re
import weakref
from collections.abc import Callable

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.filters import FilterArguments
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

#: The SQL Datasette facets over when a table page has no filter at all.
UNFILTERED = re.compile(r"select [^()]+ from \[?documents\]?", re.IGNORECASE)

#: The groups query's CTE: one row per combination of the facets' keys, with its row count `n`.
GROUPS = "oversight_facet_groups"
#: The ids query's CTE: the page's `id`s, ascending.
IDS = "oversight_facet_ids"
#: A year facet counts values starting with a plausible year, as ISO dates do.
YEAR_GLOB = "'[12][0-9][0-9][0-9]*'"

#: Shared counts per request: {request: {(database, sql, params): task}}. Weak, so a finished
#: request takes its counts with it.
_COUNTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class SharedScanFacet(Facet):
    """A facet counted by the shared groups or ids query of its page (see `shared_counts`).

    A subclass gives the keys it groups on (`keys`, SQL over the page's columns; none to read
    `IDS` instead) and its grouping (`grouping_sql`, a select of value, label and count over
    `GROUPS` or `IDS`, ordered the way its results are listed); queries, toggle links and
    time-outs are handled here.
    """

    type = ""
    toggle_key = ""
    #: The type reported with the results (and shown in brackets when not "column").
    result_type = ""

    def keys(self, config: dict) -> list[str]:
        """SQL expressions over the page's columns that `grouping_sql` reads from `GROUPS`."""
        return [escape_sqlite(self.facet_name(config))]

    def grouping_sql(self, config: dict, key: Callable[[str], str]) -> str:
        """The grouping query of this facet type; every subclass defines its own.

        `key(expression)` is the `GROUPS` column holding one of the expressions of `keys`.
        """
        return ""

    def toggle(self, config: dict, value: str) -> tuple[str, str]:
        return self.toggle_key, str(value)

    def facet_name(self, config: dict) -> str:
        return config.get("column") or config["simple"]

    def display_name(self, config: dict) -> str:
        """The facet's heading; Datasette adds the type in brackets: "published (year)"."""
        return self.facet_name(config)

    async def labels(self, config: dict, values: list) -> dict:
        """Labels for values whose grouping gave none; the value itself by default."""
        return {}

    async def facet_results(self):
        results, timed_out = [], []
        counts = await shared_counts(self)
        qs_pairs = self.get_querystring_pairs()
        facet_size = self.get_facet_size()
        for index, source_and_config in enumerate(self.get_configs()):
            config = source_and_config["config"]
            name = self.facet_name(config)
            rows = counts.get((self.type, index))
            if rows is None:
                timed_out.append(name)
                continue
            shown = rows[:facet_size]
            labels = await self.labels(config, [row[0] for row in shown])
            values = []
            for value, label, count in shown:
                pair = self.toggle(config, value)
                selected = pair in qs_pairs
                if selected:
                    path = path_with_removed_args(self.request, {pair[0]: pair[1]})
                else:
                    path = path_with_added_args(self.request, {pair[0]: pair[1]})
                values.append(
                    {
                        "value": value,
                        "label": labels.get(value, value if label is None else label),
                        "count": count,
                        "toggle_url": self.ds.absolute_url(self.request, self.ds.urls.path(path)),
                        "selected": selected,
                    }
                )
            results.append(
                {
                    "name": self.display_name(config),
                    "type": self.result_type or self.type,
                    "hideable": source_and_config["source"] != "metadata",
                    "toggle_url": self.ds.urls.path(
                        path_with_removed_args(self.request, {f"_facet_{self.type}": name})
                    ),
                    "results": values,
                    "truncated": len(rows) > facet_size,
                }
            )
        return results, timed_out


class ValueFacet(SharedScanFacet):
    """Datasette's column facet, counted in the shared scan: `value: source_id` in metadata."""

    type = "value"
    result_type = "column"

    def grouping_sql(self, config, key):
        k = key(escape_sqlite(self.facet_name(config)))
        return f"""
            select {k} as value, null as label, sum(n) as count from {GROUPS}
            where {k} is not null group by {k} order by count desc, value
        """

    def toggle(self, config, value):
        column = self.facet_name(config)
        return (f"{column}__exact" if column.startswith("_") else column), str(value)

    async def labels(self, config, values):
        if not self.table or not values:
            return {}
        column = self.facet_name(config)
        expanded = await self.ds.expand_foreign_keys(self.database, self.table, column, values)
        return {value: label for (_, value), label in expanded.items()}


class YearFacet(SharedScanFacet):
    type = "year"

    def keys(self, config):
        col = escape_sqlite(self.facet_name(config))
        return [f"substr({col}, 1, 4)", f"{col} glob {YEAR_GLOB}"]

    def grouping_sql(self, config, key):
        year, is_dated = (key(expression) for expression in self.keys(config))
        return f"""
            select {year} as value, null as label, sum(n) as count from {GROUPS}
            where {is_dated} group by {year} order by value desc
        """

    def toggle(self, config, value):
        return f"{self.facet_name(config)}__startswith", str(value)


class SourceKindFacet(SharedScanFacet):
    type = "kind"
    toggle_key = "_source_kind"

    def display_name(self, config):
        return "source"

    def grouping_sql(self, config, key):
        # Rows per source first, then the sources of each kind added up.
        column = escape_sqlite(self.facet_name(config))
        k = key(column)
        if column == "[document_id]":
            per_source = (
                f"select d.source_id, sum(g.n) as count from {GROUPS} g"
                f" join documents d on d.id = g.{k} group by d.source_id"
            )
        else:
            per_source = f"select {k} as source_id, sum(n) as count from {GROUPS} group by {k}"
        return f"""
            select s.kind as value, null as label, sum(p.count) as count
            from ({per_source}) p join sources s on s.id = p.source_id
            where s.kind is not null group by s.kind order by count desc, value
        """


class DocumentSourceFacet(SharedScanFacet):
    type = "source"
    toggle_key = "_source"

    def display_name(self, config):
        return "document"

    def grouping_sql(self, config, key):
        k = key(escape_sqlite(self.facet_name(config)))
        return f"""
            select p.value as value, coalesce(s.name, p.value) as label, p.count as count
            from (
                select d.source_id as value, sum(g.n) as count
                from {GROUPS} g join documents d on d.id = g.{k} group by d.source_id
            ) p left join sources s on s.id = p.value
            order by count desc, value
        """


class EntityFacet(SharedScanFacet):
    type = "entity"

    def keys(self, config):
        return []

    def grouping_sql(self, config, key):
        # Unfiltered, every mention counts: group the mentions index alone, which is far
        # faster than looking up each document's mentions. Otherwise look up the mentions of
        # the page's ids in order (cross join keeps it). Names are looked up per entity after
        # grouping, not per mention.
        if UNFILTERED.fullmatch(self.sql.strip()):
            mentions = "mentions m"
        else:
            mentions = f"{IDS} t cross join mentions m on m.document_id = t.id"
        return f"""
            select p.value as value, coalesce(e.name, p.value) as label, p.count as count
            from (
                select m.entity_id as value, count(*) as count from {mentions}
                group by m.entity_id
            ) p left join entities e on e.id = p.value
            order by count desc, value
        """

    def toggle(self, config, value):
        through = {"table": "mentions", "column": "entity_id", "value": value}
        return "_through", json.dumps(through, separators=(",", ":"))


#: Every facet type counted in the shared scans, in the order their results are listed.
SHARED_FACETS: list[type[SharedScanFacet]] = [
    ValueFacet,
    YearFacet,
    SourceKindFacet,
    DocumentSourceFacet,
    EntityFacet,
]


class FacetQuery:
    """One shared query: its rows are (branch, value, label, count), branch i counting the
    facet named by names[i], a (type, config index) pair.

    A plain class: Datasette loads plugins without registering them in `sys.modules`, which
    `dataclass` needs.
    """

    def __init__(self) -> None:
        self.names: list[tuple[str, int]] = []
        self.branches: list[str] = []
        self.sql = ""

    def add(self, name: tuple[str, int], grouping: str, limit: int) -> None:
        self.branches.append(
            f"select {len(self.branches)} as branch, value, label, count"
            f" from ({grouping} limit {limit})"
        )
        self.names.append(name)


def shared_scan_sql(facet: SharedScanFacet) -> list[FacetQuery]:
    """The groups and ids queries counting every shared-scan facet on `facet`'s page.

    None, one or both, as the page's configured facets need them.
    """
    groups, ids = FacetQuery(), FacetQuery()
    keys: dict[str, str] = {}

    def key(expression: str) -> str:
        return keys.setdefault(expression, f"k{len(keys)}")

    for klass in SHARED_FACETS:
        sibling = klass(
            facet.ds,
            facet.request,
            facet.database,
            sql=facet.sql,
            table=facet.table,
            params=facet.params,
            metadata=facet.metadata,
            row_count=facet.row_count,
        )
        limit = sibling.get_facet_size() + 1
        for index, source_and_config in enumerate(sibling.get_configs()):
            config = source_and_config["config"]
            grouping = sibling.grouping_sql(config, key)
            query = groups if sibling.keys(config) else ids
            query.add((sibling.type, index), grouping, limit)
    union = "\nunion all\n".join
    if groups.branches:
        selected = ", ".join(f"{expression} as {alias}" for expression, alias in keys.items())
        groups.sql = (
            f"with {GROUPS} as materialized (select {selected}, count(*) as n"
            f" from ({facet.sql}) group by {', '.join(keys.values())})\n" + union(groups.branches)
        )
    if ids.branches:
        # LIMIT -1 keeps the ORDER BY, which SQLite otherwise drops from a CTE as meaningless.
        ids.sql = (
            f"with {IDS} as materialized (select id from ({facet.sql}) order by id limit -1)\n"
            + union(ids.branches)
        )
    return [query for query in (groups, ids) if query.branches]


async def shared_counts(facet: SharedScanFacet) -> dict[tuple[str, int], list | None]:
    """Counts of every shared-scan facet on `facet`'s page: {(type, config index): rows}.

    Computed once per request, page SQL and parameters, by whichever facet asks first; rows are
    (value, label, count) tuples, at most facet size + 1 per facet, or None for a facet whose
    query hit its time limit (the facet time limit times the number of facets it counts).
    """
    per_request = _COUNTS.setdefault(facet.request, {})
    key = (facet.database, facet.sql, json.dumps(facet.params, sort_keys=True, default=str))
    if key not in per_request:
        per_request[key] = asyncio.ensure_future(_count_facets(facet))
    return await per_request[key]


async def _count_facets(facet: SharedScanFacet) -> dict[tuple[str, int], list | None]:
    queries = shared_scan_sql(facet)
    answers = await asyncio.gather(*(_run(facet, query) for query in queries))
    counts: dict[tuple[str, int], list | None] = {}
    for query, rows in zip(queries, answers, strict=True):
        for name in query.names:
            counts[name] = None if rows is None else []
        for branch, value, label, count in rows or []:
            counts[query.names[branch]].append((value, label, count))
    return counts


async def _run(facet: SharedScanFacet, query: FacetQuery) -> list | None:
    try:
        results = await facet.ds.execute(
            facet.database,
            query.sql,
            facet.params,
            truncate=False,
            custom_time_limit=facet.ds.setting("facet_time_limit_ms") * len(query.names),
        )
    except QueryInterrupted:
        return None
    return results.rows


@hookimpl
def register_facet_classes():
    return list(SHARED_FACETS)


@hookimpl
def filters_from_request(request, database, table, datasette):
    async def inner():
        if database != "archive" or not table:
            return None
        where, params, described = [], {}, []
        columns = await datasette.get_database(database).table_columns(table)
        kind = request.args.get("_source_kind")
        source = request.args.get("_source")
        if kind:
            if table == "documents":
                where.append("source_id in (select id from sources where kind = :oversight_kind)")
            elif "document_id" in columns:
                where.append(
                    "document_id in (select d.id from documents d join sources s"
                    " on s.id = d.source_id where s.kind = :oversight_kind)"
                )
            elif "source_id" in columns:
                where.append("source_id in (select id from sources where kind = :oversight_kind)")
            if where:
                params["oversight_kind"] = kind
                described.append(f'source kind is "{kind}"')
        if source and "document_id" in columns and table != "documents":
            where.append(
                "document_id in (select id from documents where source_id = :oversight_source)"
            )
            params["oversight_source"] = source
            described.append(f'document source is "{source}"')
        if not where:
            return None
        return FilterArguments(where, params, described)

    return inner
