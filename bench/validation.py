"""Benchmark the validation gate against building the features it validates, in one run.

Prints, for the full year's feature table: the features job's time, the gate's time on the same
rows (one pass for all row rules + the Great Expectations suite and its Data Docs page), and
the row rules counted one Spark job per rule (the way GX computes them) vs in one pass.

    .venv/bin/python bench/validation.py [--work var/bench_validation]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import time
from pathlib import Path

from atelier.collect.ingest import collect
from atelier.config.loader import load_platform, load_use_case
from atelier.features.build import run_features
from atelier.runtime import setup_logging
from atelier.spark.session import build_session
from atelier.spark.tables import Lake
from atelier.validation.gate import Scope, check, write_quarantine
from atelier.validation.report import DataDocs
from atelier.validation.rules import applicable, flag_rows, measure, row_valid

YEAR = (dt.date(2013, 1, 1), dt.date(2013, 12, 31))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("var/bench_validation"))
    args = parser.parse_args()
    setup_logging("WARNING")
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    platform = load_platform(
        overrides=[
            f"lake_root={work / 'lake'}",
            f"metastore_dir={work / 'metastore'}",
            f"cache_dir={work / 'cache'}",
            f"reports_dir={work / 'reports'}",
        ]
    )
    spark = build_session(platform, app_name="atelier-bench-validation")
    unvalidated = load_use_case("flights_delay", overrides=["validation.on_write=false"])
    validated = load_use_case("flights_delay")
    rules = validated.validation.tables["features"]

    collect(Lake(spark, platform), unvalidated, *YEAR)
    run_features(Lake(spark, platform), unvalidated, *YEAR)  # warm-up: JIT, caches, table creation
    plain, gated = [], []
    for _ in range(2):  # alternated, best of two: the machine is noisy
        plain.append(timed(lambda: run_features(Lake(spark, platform), unvalidated, *YEAR)))
        gated.append(timed(lambda: run_features(Lake(spark, platform), validated, *YEAR)))
    build_s, gated_s = min(plain), min(gated)

    gold = Lake(spark, platform).read(validated.tables.features).cache()
    rows = gold.count()
    expected = {c: "double" for c in validated.feature_columns("numeric")}
    scope = Scope("bench", "bench", validated.tables.features, validated.date_column, *YEAR)

    def gate_only() -> None:
        outcome = check(Lake(spark, platform), scope, gold, rules, expected)
        write_quarantine(Lake(spark, platform), outcome)
        outcome.flagged.unpersist()

    gate_s = timed(gate_only)
    docs = DataDocs(work / "reports" / "gx_only")
    gx_s = timed(lambda: docs.validate(gold, scope.table, "bench", rules, list(expected), 365))

    # Row rules over a table read from Delta (not cached): one Spark job per rule vs one pass for all.
    bronze = Lake(spark, platform).read("bronze.flights")
    flight_rules = applicable(bronze, validated.validation.tables["flights"].row_rules)
    per_rule_s = min(timed(lambda: [bronze.filter(~row_valid(r)).count() for r in flight_rules]) for _ in range(2))
    one_pass_s = min(
        timed(lambda: measure(flag_rows(bronze, flight_rules), "_batch_date", flight_rules, [])) for _ in range(2)
    )

    print(
        f"feature table, full year: {rows:,} rows, {len(rules.row_rules)} row rules, {len(rules.table_rules)} table rules"
    )
    print(f"features job without validation: {build_s:6.1f} s")
    print(f"features job with validation:    {gated_s:6.1f} s  -> validation adds {100 * (gated_s / build_s - 1):.0f}%")
    print(f"gate alone on the cached table:  {gate_s:6.1f} s  ({gate_s / build_s:.2f} of the job)")
    print(f"  of which Great Expectations:   {gx_s:6.1f} s  (its suite + Data Docs page)")
    print(
        f"bronze.flights, {len(flight_rules)} row rules: one Spark job per rule {per_rule_s:.2f} s, "
        f"one pass for all (counts per date and rule) {one_pass_s:.2f} s -> {per_rule_s / one_pass_s:.1f}x"
    )


if __name__ == "__main__":
    main()
