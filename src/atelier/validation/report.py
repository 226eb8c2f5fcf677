"""Great Expectations: the configured rules as a GX 1.x suite, run on the batch, one Data Docs page per run.

The suite is built from the YAML at run time (no hand-kept GX JSON). GX computes its own
results (one Spark job per expectation); atelier's gate decides on its one-pass measures, and
GX's page is the report a user opens.
"""
from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame

from atelier.config.schema import RowRule, TableRule, TableValidation

log = logging.getLogger(__name__)
SITE = "atelier"
_names = itertools.count()


@dataclass(frozen=True)
class GxReport:
    success: bool
    page: Path | None
    results: list[dict[str, Any]]


def row_expectations(rule: RowRule) -> list[Any]:
    import great_expectations.expectations as gxe

    meta = {"description": rule.name}
    if rule.type == "not_null":
        return [gxe.ExpectColumnValuesToNotBeNull(column=c, **meta) for c in rule.checked_columns()]
    if rule.type == "between":
        return [gxe.ExpectColumnValuesToBeBetween(column=rule.column, min_value=rule.min, max_value=rule.max, **meta)]
    if rule.type == "in_set":
        return [gxe.ExpectColumnValuesToBeInSet(column=rule.column, value_set=list(rule.values), **meta)]
    if rule.type == "regex":
        return [gxe.ExpectColumnValuesToMatchRegex(column=rule.column, regex=rule.pattern, **meta)]
    query = f"SELECT * FROM {{batch}} WHERE NOT coalesce(({rule.condition}), false)"
    return [gxe.UnexpectedRowsExpectation(unexpected_rows_query=query, **meta)]


def table_expectations(rule: TableRule, expected_columns: list[str], dates: int) -> list[Any]:
    """Table rules GX can express on one batch; volume against history and freshness are atelier's."""
    import great_expectations.expectations as gxe

    meta = {"description": rule.name}
    if rule.type == "schema":
        return [gxe.ExpectTableColumnsToMatchSet(column_set=rule.columns or expected_columns, exact_match=False, **meta)]
    if rule.type == "unique":
        if len(rule.columns) == 1:
            return [gxe.ExpectColumnValuesToBeUnique(column=rule.columns[0], **meta)]
        return [gxe.ExpectCompoundColumnsToBeUnique(column_list=rule.columns, **meta)]
    if rule.type == "row_count":
        return [gxe.ExpectTableRowCountToBeBetween(min_value=rule.min_rows * dates, **meta)]
    return []


class DataDocs:
    """An ephemeral GX context whose Data Docs site is a folder (default var/reports/data_docs)."""

    def __init__(self, folder: Path) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx

        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module="great_expectations")
        self.folder = folder.resolve()
        self.context = gx.get_context(mode="ephemeral")
        for name in list(self.context.list_data_docs_sites()):
            self.context.delete_data_docs_site(name)  # the default site points at a throw-away temp dir
        self.context.add_data_docs_site(site_name=SITE, site_config={
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.folder)},
        })

    def validate(
        self, df: DataFrame, table: str, run_name: str, rules: TableValidation, expected_columns: list[str], dates: int
    ) -> GxReport:
        """Run the table's suite on `df` and write its Data Docs page; return the page and the results."""
        import great_expectations as gx
        from great_expectations.checkpoint import UpdateDataDocsAction

        n = next(_names)
        suite = gx.ExpectationSuite(name=table)
        for rule in rules.row_rules:
            for expectation in row_expectations(rule):
                suite.add_expectation(expectation)
        for rule in rules.table_rules:
            for expectation in table_expectations(rule, expected_columns, dates):
                suite.add_expectation(expectation)
        if not suite.expectations:
            return GxReport(True, None, [])
        asset = self.context.data_sources.add_spark(name=f"spark_{n}").add_dataframe_asset(name=table)
        batch = asset.add_batch_definition_whole_dataframe(f"batch_{n}")
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{table}_{n}", data=batch, suite=self.context.suites.add_or_update(suite))
        )
        checkpoint = self.context.checkpoints.add(gx.Checkpoint(
            name=f"checkpoint_{n}", validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="docs", site_names=[SITE])], result_format={"result_format": "BASIC"},
        ))
        run_id = gx.RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.timezone.utc))
        result = checkpoint.run(batch_parameters={"dataframe": df}, run_id=run_id)
        identifier, suite_result = next(iter(result.run_results.items()))
        urls = self.context.get_docs_sites_urls(resource_identifier=identifier, site_names=[SITE])
        page = Path(urls[0]["site_url"].removeprefix("file://")) if urls else None
        results = [
            {"rule": r.expectation_config.description, "expectation": r.expectation_config.type,
             "success": r.success, **{k: v for k, v in (r.result or {}).items() if k in ("observed_value", "unexpected_count")}}
            for r in suite_result.results
        ]
        return GxReport(bool(result.success), page, results)
