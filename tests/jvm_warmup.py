"""spark-submit app run once to fill the tests' class-data-sharing archive (tests/jvm_archive.py).

Does what jobs do on a few rows, so that the JVM loads their classes: the Hive catalog, Delta
writes (replaceWhere by date, append, merge), reads, SQL, and an Arrow UDF.

    spark-submit <atelier's submit flags> tests/jvm_warmup.py LAKE_ROOT
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pandas as pd
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from atelier.config.platform import PlatformConfig
from atelier.spark.session import build_session
from atelier.spark.tables import Lake


def main(lake_root: str) -> None:
    root = Path(lake_root).parent
    platform = PlatformConfig(lake_root=lake_root, metastore_dir=str(root / "metastore"), cache_dir=str(root / "cache"))
    spark = build_session(platform, app_name="atelier-jvm-warmup")
    lake = Lake(spark, platform)
    day = dt.date(2013, 1, 1)
    rows = spark.range(200).select(F.col("id").alias("key"), F.lit(day).alias("day"), (F.col("id") % 7).alias("x"))
    lake.replace_dates(rows, "bronze.warmup", "day", day, day)
    lake.append(rows.limit(5), "ops.warmup_log")

    @F.pandas_udf("double")
    def doubled(x: pd.Series) -> pd.Series:
        return x * 2.0

    scored = lake.read("bronze.warmup").withColumn("y", doubled("x"))
    scored.groupBy("day").agg(F.avg("y"), F.count("*")).collect()
    (
        DeltaTable.forPath(spark, lake.path("bronze.warmup"))
        .alias("t")
        .merge(rows.alias("r"), "t.key = r.key")
        .whenNotMatchedInsertAll()
        .execute()
    )
    spark.sql("SHOW TABLES IN bronze").collect()
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1])
