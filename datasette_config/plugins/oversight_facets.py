"""Facets and filters the archive needs beyond Datasette's column facets.

- `year` facet: documents per year of a date column, toggled with `COLUMN__startswith=YYYY`.
- `kind` facet: rows per kind of source (watchdog, news...), toggled with `_source_kind`.
- `entity` facet: documents per entity named in them, through `mentions`, toggled with
  Datasette's own `_through` filter.
- `source` facet: rows of a table with a `document_id` (figures, versions...) per source of
  their document, toggled with `_source`.
The `_source` and `_source_kind` filters are plain parameters rather than `_where`, so they keep
working on a locked-down deployment where arbitrary SQL is off.
"""

from __future__ import annotations

import json
import re

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.filters import FilterArguments
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

#: The SQL Datasette facets over when a table page has no filter at all.
UNFILTERED = re.compile(r"select [^()]+ from \[?documents\]?", re.IGNORECASE)


class _SimpleFacet(Facet):
    """Shared plumbing: run one grouping query per configured facet and build toggle links."""

    type = ""
    toggle_key = ""

    def facet_sql(self, config: dict, limit: int) -> str:
        """The grouping query of this facet type; every subclass defines its own."""
        return ""

    def toggle(self, config: dict, value: str) -> tuple[str, str]:
        return self.toggle_key, str(value)

    def facet_name(self, config: dict) -> str:
        return config.get("column") or config["simple"]

    def display_name(self, config: dict) -> str:
        """The facet's heading; Datasette adds the type in brackets: "published (year)"."""
        return self.facet_name(config)

    async def facet_results(self):
        results, timed_out = [], []
        qs_pairs = self.get_querystring_pairs()
        facet_size = self.get_facet_size()
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            name = self.facet_name(config)
            try:
                rows = await self.ds.execute(
                    self.database,
                    self.facet_sql(config, facet_size + 1),
                    self.params,
                    truncate=False,
                    custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                )
            except QueryInterrupted:
                timed_out.append(name)
                continue
            values = []
            for row in rows.rows[:facet_size]:
                pair = self.toggle(config, row["value"])
                selected = pair in qs_pairs
                if selected:
                    path = path_with_removed_args(self.request, {pair[0]: pair[1]})
                else:
                    path = path_with_added_args(self.request, {pair[0]: pair[1]})
                values.append(
                    {
                        "value": row["value"],
                        "label": row["label"] if "label" in row.keys() else row["value"],
                        "count": row["count"],
                        "toggle_url": self.ds.absolute_url(self.request, self.ds.urls.path(path)),
                        "selected": selected,
                    }
                )
            results.append(
                {
                    "name": self.display_name(config),
                    "type": self.type,
                    "hideable": source_and_config["source"] != "metadata",
                    "toggle_url": self.ds.urls.path(
                        path_with_removed_args(self.request, {f"_facet_{self.type}": name})
                    ),
                    "results": values,
                    "truncated": len(rows.rows) > facet_size,
                }
            )
        return results, timed_out


class YearFacet(_SimpleFacet):
    type = "year"

    def facet_sql(self, config, limit):
        col = escape_sqlite(self.facet_name(config))
        return f"""
            select substr({col}, 1, 4) as value, count(*) as count from ({self.sql})
            where {col} glob '[12][0-9][0-9][0-9]*'
            group by value order by value desc limit {limit}
        """

    def toggle(self, config, value):
        return f"{self.facet_name(config)}__startswith", str(value)


class SourceKindFacet(_SimpleFacet):
    type = "kind"
    toggle_key = "_source_kind"

    def display_name(self, config):
        return "source"

    def facet_sql(self, config, limit):
        col = escape_sqlite(self.facet_name(config))
        if col == "[document_id]":
            join = f"join documents d on d.id = t.{col} join sources s on s.id = d.source_id"
        else:
            join = f"join sources s on s.id = t.{col}"
        return f"""
            select s.kind as value, count(*) as count from ({self.sql}) t {join}
            where s.kind is not null group by s.kind order by count desc, value limit {limit}
        """


class DocumentSourceFacet(_SimpleFacet):
    type = "source"
    toggle_key = "_source"

    def display_name(self, config):
        return "document"

    def facet_sql(self, config, limit):
        col = escape_sqlite(self.facet_name(config))
        return f"""
            select d.source_id as value, coalesce(s.name, d.source_id) as label,
                   count(*) as count
            from ({self.sql}) t join documents d on d.id = t.{col}
            left join sources s on s.id = d.source_id
            group by d.source_id order by count desc, value limit {limit}
        """


class EntityFacet(_SimpleFacet):
    type = "entity"

    def facet_sql(self, config, limit):
        # Unfiltered, every mention counts: group the mentions index alone, which is far
        # faster than checking each mention against the whole documents table.
        if UNFILTERED.fullmatch(self.sql.strip()):
            documents = ""
        else:
            documents = f"where m.document_id in (select id from ({self.sql}))"
        return f"""
            select m.entity_id as value, coalesce(e.name, m.entity_id) as label,
                   count(*) as count
            from mentions m left join entities e on e.id = m.entity_id
            {documents}
            group by m.entity_id order by count desc, value limit {limit}
        """

    def toggle(self, config, value):
        through = {"table": "mentions", "column": "entity_id", "value": value}
        return "_through", json.dumps(through, separators=(",", ":"))


@hookimpl
def register_facet_classes():
    return [YearFacet, SourceKindFacet, DocumentSourceFacet, EntityFacet]


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
