"""Benchmark the collect -> clean -> features path; prints rates and ratios measured in one run.

1. The full year of real data through collect + features (Delta, as the jobs run it).
2. Synthetic flights (`atelier synth`) at growing sizes: rows/s at each and the growth exponent
   of time vs rows (1.0 = linear).
3. The same cleaning, joins and feature transforms in Spark and in DuckDB SQL over the same
   Parquet inputs, written to Parquet: Spark time / DuckDB time (best of 3 each).

    .venv/bin/python bench/features.py [--sizes 1000000,4000000,16000000] [--work var/bench]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import holidays
import numpy as np
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from atelier.catalog import BATCH_DATE, INGESTED_AT, SOURCE
from atelier.collect.ingest import check_source, collect
from atelier.collect.synth import synthesize
from atelier.config.loader import load_platform, load_use_case
from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig
from atelier.features.build import build_gold, build_silver, run_features
from atelier.features.transforms import BuildWindow
from atelier.runtime import setup_logging
from atelier.spark.session import build_session
from atelier.spark.tables import Lake

log = logging.getLogger("bench")
YEAR = (dt.date(2013, 1, 1), dt.date(2013, 12, 31))


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best_of(n: int, fn: Callable[[], object]) -> float:
    return min(timed(fn) for _ in range(n))


def pipeline(spark: SparkSession, platform: PlatformConfig, use_case: UseCaseConfig) -> float:
    lake = Lake(spark, platform)
    return timed(lambda: (collect(lake, use_case, *YEAR), run_features(lake, use_case, *YEAR)))


def full_year(spark: SparkSession, platform: PlatformConfig, use_case: UseCaseConfig) -> None:
    rows = 336_776
    seconds = pipeline(spark, platform, use_case)
    print(f"full year, real data, collect + features (Delta): {seconds:7.1f} s  {rows / seconds:9,.0f} rows/s")


def synthetic(spark: SparkSession, platform: PlatformConfig, sizes: list[int], work: Path) -> None:
    base = load_use_case("flights_delay")
    results = []
    for n in sizes:
        out = work / f"synth_{n}"
        if not out.exists():
            synthesize(Lake(spark, platform), base, n, 13, out)
        use_case = load_use_case(
            "flights_delay",
            overrides=[
                "sources.flights.format=parquet",
                f"sources.flights.path={out}",
                "sources.flights.package=",
            ],
        )
        seconds = pipeline(spark, platform, use_case)
        results.append((n, seconds))
        print(f"synthetic {n:>11,} flights, collect + features:  {seconds:7.1f} s  {n / seconds:9,.0f} rows/s")
    if len(results) > 1:
        slope = np.polyfit([math.log(n) for n, _ in results], [math.log(s) for _, s in results], 1)[0]
        print(f"growth exponent of time vs rows: {slope:.2f} (1.00 = linear)")


def export_inputs(
    spark: SparkSession, platform: PlatformConfig, use_case: UseCaseConfig, work: Path
) -> dict[str, Path]:
    """The typed sources as Parquet, the flights without their outcome columns (what bronze holds)."""
    paths = {}
    for name, source in use_case.sources.items():
        checked = check_source(Lake(spark, platform), use_case, name, source, *YEAR)
        path = work / "inputs" / name
        checked.rows.drop(*source.outcome_columns, SOURCE, INGESTED_AT, BATCH_DATE).write.mode("overwrite").parquet(
            str(path)
        )
        paths[name] = path
    return paths


def spark_features(spark: SparkSession, use_case: UseCaseConfig, inputs: dict[str, Path], out: Path) -> None:
    frames = {n: spark.read.parquet(str(p)) for n, p in inputs.items()}
    stamp = {BATCH_DATE: F.lit(YEAR[0]), INGESTED_AT: F.lit(dt.datetime(2013, 1, 1)), SOURCE: F.lit("bench")}
    primary = frames[use_case.clean.primary].withColumns(stamp)
    silver = build_silver(primary, frames, use_case)
    build_gold(silver, use_case, BuildWindow(*YEAR)).write.mode("overwrite").parquet(str(out))


def duckdb_sql(inputs: dict[str, Path], out: Path) -> str:
    """The flights_delay use case's cleaning, joins and features written by hand in DuckDB SQL."""
    days = sorted(holidays.country_holidays("US", years=range(2012, 2015)))
    holiday_list = ", ".join(f"DATE '{d}'" for d in days)
    p = {n: f"read_parquet('{path}/*.parquet')" for n, path in inputs.items()}
    return f"""
    COPY (
    WITH f0 AS (
      SELECT *, make_date(year, month, day) AS flight_date,
             make_timestamp(year, month, day, sched_dep_time // 100, sched_dep_time % 100, 0) AS sched_dep_local
      FROM {p["flights"]}
      WHERE sched_dep_time BETWEEN 0 AND 2359 AND sched_dep_time % 100 < 60
        AND origin IS NOT NULL AND dest IS NOT NULL AND carrier IS NOT NULL
    ), f1 AS (
      SELECT * REPLACE (CASE WHEN distance > 0 THEN distance END AS distance),
             timezone('UTC', timezone('America/New_York', sched_dep_local)) AS sched_dep_ts,
             substr(sha256(concat_ws(chr(31), coalesce(CAST(year AS VARCHAR), chr(0)), coalesce(CAST(month AS VARCHAR), chr(0)),
               coalesce(CAST(day AS VARCHAR), chr(0)), coalesce(carrier, chr(0)), coalesce(CAST(flight AS VARCHAR), chr(0)),
               coalesce(origin, chr(0)), coalesce(CAST(sched_dep_time AS VARCHAR), chr(0)))), 1, 24) AS flight_id
      FROM f0
      QUALIFY row_number() OVER (PARTITION BY flight_id ORDER BY hash(tailnum, dest, distance, sched_arr_time)) = 1
    ), wx AS (
      SELECT f1.flight_id, w.time_hour AS wx_observed_at, w.temp, w.dewp, w.humid, w.wind_speed, w.wind_gust,
             w.precip, w.pressure, w.visib
      FROM f1 ASOF JOIN {p["weather"]} w ON f1.origin = w.origin AND f1.sched_dep_ts >= w.time_hour
      WHERE w.time_hour >= f1.sched_dep_ts - INTERVAL 3 HOUR
    ), silver AS (
      SELECT f1.*, wx.* EXCLUDE (flight_id), pl.year AS plane_year0, pl.manufacturer AS plane_manufacturer,
             pl.engines AS plane_engines, pl.seats AS plane_seats, ap.tzone AS dest_tzone,
             make_timestamp(f1.year, f1.month, f1.day, (sched_arr_time // 100) % 24, sched_arr_time % 100, 0) AS sched_arr_local
      FROM f1
      LEFT JOIN wx USING (flight_id)
      LEFT JOIN (SELECT DISTINCT ON (tailnum) * FROM {p["planes"]}) pl ON f1.tailnum = pl.tailnum
      LEFT JOIN (SELECT DISTINCT ON (carrier) * FROM {p["airlines"]}) al ON f1.carrier = al.carrier
      LEFT JOIN (SELECT DISTINCT ON (faa) * FROM {p["airports"]}) ap ON f1.dest = ap.faa
    ), enriched AS (
      SELECT *, CASE WHEN arr_raw < sched_dep_ts THEN arr_raw + INTERVAL 1 DAY ELSE arr_raw END AS sched_arr_ts,
             CASE WHEN plane_year0 BETWEEN 1900 AND year THEN plane_year0 END AS plane_year
      FROM (SELECT *, timezone('UTC', timezone(coalesce(dest_tzone, 'America/New_York'), sched_arr_local)) AS arr_raw FROM silver)
    )
    SELECT flight_id, flight_date, sched_dep_ts, carrier, origin, dest, origin || '-' || dest AS route,
           coalesce(plane_manufacturer, 'UNKNOWN') AS plane_manufacturer, CAST(distance AS DOUBLE) AS distance,
           date_diff('second', sched_dep_ts, sched_arr_ts) / 60.0 AS sched_block_minutes,
           sin(2 * pi() * (hour(sched_dep_local) + minute(sched_dep_local) / 60.0) / 24) AS dep_hour_sin,
           cos(2 * pi() * (hour(sched_dep_local) + minute(sched_dep_local) / 60.0) / 24) AS dep_hour_cos,
           sin(2 * pi() * (dayofweek(flight_date)) / 7) AS weekday_sin, cos(2 * pi() * (dayofweek(flight_date)) / 7) AS weekday_cos,
           sin(2 * pi() * (dayofyear(flight_date) - 1) / 365.25) AS day_of_year_sin,
           cos(2 * pi() * (dayofyear(flight_date) - 1) / 365.25) AS day_of_year_cos,
           CAST(least(list_min(list_transform([{holiday_list}], lambda h: abs(date_diff('day', flight_date, h)))), 30) AS DOUBLE) AS days_to_holiday,
           CAST(year - plane_year AS DOUBLE) AS aircraft_age, CAST(plane_seats AS DOUBLE) AS plane_seats,
           CAST(plane_engines AS DOUBLE) AS plane_engines, temp AS wx_temp, dewp AS wx_dewp, humid AS wx_humid,
           wind_speed AS wx_wind_speed, wind_gust AS wx_wind_gust, precip AS wx_precip, pressure AS wx_pressure,
           visib AS wx_visib, date_diff('second', wx_observed_at, sched_dep_ts) / 60.0 AS wx_age_minutes
    FROM enriched
    ) TO '{out}' (FORMAT parquet)
    """


def spark_vs_duckdb(spark: SparkSession, platform: PlatformConfig, use_case: UseCaseConfig, work: Path) -> None:
    import duckdb

    inputs = export_inputs(spark, platform, use_case, work)
    spark_out, duck_out = work / "out_spark", work / "out_duckdb.parquet"
    spark_s = best_of(3, lambda: spark_features(spark, use_case, inputs, spark_out))
    connection = duckdb.connect()
    connection.execute("SET threads = 2")
    duck_s = best_of(3, lambda: connection.execute(duckdb_sql(inputs, duck_out)))
    spark_rows = spark.read.parquet(str(spark_out)).count()
    duck_rows = connection.execute(f"SELECT count(*) FROM '{duck_out}'").fetchone()[0]
    print(
        f"same joins + transforms over Parquet, full year: Spark local {spark_s:.2f} s ({spark_rows:,} rows), "
        f"DuckDB {duck_s:.2f} s ({duck_rows:,} rows)"
    )
    print(f"Spark time / DuckDB time: {spark_s / duck_s:.1f}x")
    checks = (
        "count(*), count(wx_temp), round(sum(sched_block_minutes)), round(sum(days_to_holiday)), "
        "round(sum(dep_hour_sin), 3), round(sum(aircraft_age)), count(DISTINCT flight_id)"
    )
    spark_sums = connection.execute(f"SELECT {checks} FROM '{spark_out}/*.parquet'").fetchone()
    duck_sums = connection.execute(f"SELECT {checks} FROM '{duck_out}'").fetchone()
    same = all(math.isclose(a, b, rel_tol=1e-5) for a, b in zip(spark_sums, duck_sums))
    verdict = "agree (to 1e-5)" if same else f"DIFFER: spark {spark_sums} duckdb {duck_sums}"
    print(f"the two outputs {verdict} on row count, weather matches, block times, holidays, encodings, keys")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes", default="1000000,4000000,16000000", help="synthetic sizes, comma-separated ('' to skip)"
    )
    parser.add_argument("--work", type=Path, default=Path("var/bench"))
    parser.add_argument("--skip-full-year", action="store_true")
    args = parser.parse_args()
    setup_logging("WARNING")
    work = args.work.resolve()
    shutil.rmtree(work / "lake", ignore_errors=True)
    shutil.rmtree(work / "metastore", ignore_errors=True)
    platform = load_platform(
        overrides=[
            f"lake_root={work / 'lake'}",
            f"metastore_dir={work / 'metastore'}",
            f"cache_dir={work / 'cache'}",
        ]
    )
    spark = build_session(platform, app_name="atelier-bench")
    use_case = load_use_case("flights_delay")
    print(f"Spark {spark.version} {platform.spark.master}, {spark.sparkContext.defaultParallelism} cores")
    spark_vs_duckdb(spark, platform, use_case, work)
    if not args.skip_full_year:
        full_year(spark, platform, use_case)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if sizes:
        synthetic(spark, platform, sizes, work)


if __name__ == "__main__":
    main()
