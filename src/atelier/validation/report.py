"""Great Expectations: the configured rules as a GX 1.x suite, run on the batch, one Data Docs page per run.

The suite is built from the YAML at run time (no hand-kept GX JSON). GX computes its own
results (one Spark job per expectation); atelier's gate decides on its one-pass measures, and
GX's page is the report a user opens.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame

from atelier.config.validation import RowRule, TableRule, TableValidation

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

    if rule.type == "not_null":
        return [gxe.ExpectColumnValuesToNotBeNull(column=c, description=rule.name) for c in rule.checked_columns()]
    if rule.type == "between":
        return [
            gxe.ExpectColumnValuesToBeBetween(
                column=rule.column, min_value=rule.min, max_value=rule.max, description=rule.name
            )
        ]
    if rule.type == "in_set":
        return [gxe.ExpectColumnValuesToBeInSet(column=rule.column, value_set=list(rule.values), description=rule.name)]
    if rule.type == "regex":
        return [gxe.ExpectColumnValuesToMatchRegex(column=rule.column, regex=rule.pattern, description=rule.name)]
    condition = rule.condition.replace("{", "{{").replace("}", "}}")  # GX formats the query: braces are its own
    query = f"SELECT * FROM {{batch}} WHERE NOT coalesce(({condition}), false)"
    return [gxe.UnexpectedRowsExpectation(unexpected_rows_query=query, description=rule.name)]


def table_expectations(rule: TableRule, expected_columns: list[str], dates: int) -> list[Any]:
    """Table rules GX can express on one batch; volume against history and freshness are atelier's."""
    import great_expectations.expectations as gxe

    if rule.type == "schema":
        return [
            gxe.ExpectTableColumnsToMatchSet(
                column_set=rule.columns or expected_columns, exact_match=False, description=rule.name
            )
        ]
    if rule.type == "unique":
        if len(rule.columns) == 1:
            return [gxe.ExpectColumnValuesToBeUnique(column=rule.columns[0], description=rule.name)]
        return [gxe.ExpectCompoundColumnsToBeUnique(column_list=rule.columns, description=rule.name)]
    if rule.type == "row_count":
        return [gxe.ExpectTableRowCountToBeBetween(min_value=rule.min_rows * dates, description=rule.name)]
    return []


class DataDocs:
    """An ephemeral GX context (no project folder) whose Data Docs site is `folder`.

    Validation results are kept as JSON files beside the site: GX rebuilds its index on every
    run and deletes pages whose results it no longer knows, so an in-memory store would lose
    the pages of earlier processes.
    """

    def __init__(self, folder: Path) -> None:
        logging.getLogger("great_expectations").setLevel(logging.ERROR)  # before the import, which logs
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        warnings.filterwarnings("ignore", module="great_expectations")
        self.folder = folder.resolve()
        defaults = InMemoryStoreBackendDefaults()
        stores = defaults.stores
        stores[defaults.validation_results_store_name]["store_backend"] = {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(self.folder.parent / "validation_results"),
        }
        site = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.folder)},
        }
        config = DataContextConfig(
            store_backend_defaults=defaults,
            stores=stores,
            data_docs_sites={SITE: site},
            progress_bars=ProgressBarsConfig(globally=False),
            analytics_enabled=False,
        )
        self.context = gx.get_context(mode="ephemeral", project_config=config)

    def validate(
        self, df: DataFrame, table: str, run_name: str, rules: TableValidation, expected_columns: list[str], dates: int
    ) -> GxReport:
        """Run the table's suite on `df` and write its Data Docs page; return the page and the results."""
        import great_expectations as gx
        from great_expectations.checkpoint import UpdateDataDocsAction

        n = next(_names)
        expectations = [e for rule in rules.row_rules for e in row_expectations(rule)]
        expectations += [e for rule in rules.table_rules for e in table_expectations(rule, expected_columns, dates)]
        if not expectations:
            return GxReport(True, None, [])
        suite = gx.ExpectationSuite(name=table, expectations=expectations)
        # persist=False: the gate hands GX a frame it has persisted already (GX's own cache would leak).
        asset = self.context.data_sources.add_spark(name=f"spark_{n}", persist=False).add_dataframe_asset(name=table)
        batch = asset.add_batch_definition_whole_dataframe(f"batch_{n}")
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{table}_{n}", data=batch, suite=self.context.suites.add_or_update(suite))
        )
        checkpoint = self.context.checkpoints.add(
            gx.Checkpoint(
                name=f"checkpoint_{n}",
                validation_definitions=[definition],
                actions=[UpdateDataDocsAction(name="docs", site_names=[SITE])],
                result_format={"result_format": "BASIC"},
            )
        )
        run_id = gx.RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC))
        result = checkpoint.run(batch_parameters={"dataframe": df}, run_id=run_id)
        identifier, suite_result = next(iter(result.run_results.items()))
        urls = self.context.get_docs_sites_urls(resource_identifier=identifier, site_names=[SITE])
        page = Path(urls[0]["site_url"].removeprefix("file://")) if urls else None
        results = [
            {
                "rule": r.expectation_config.description,
                "expectation": r.expectation_config.type,
                "success": r.success,
                **{k: v for k, v in (r.result or {}).items() if k in ("observed_value", "unexpected_count")},
            }
            for r in suite_result.results
        ]
        return GxReport(bool(result.success), page, results)
