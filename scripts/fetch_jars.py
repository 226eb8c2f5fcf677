"""Fetch the jars the jobs need into the Ivy cache by starting a tiny Spark session (for images).

    .venv/bin/python scripts/fetch_jars.py [MAVEN_COORDINATE ...]

The jobs' jars (`atelier.spark.session.runtime_packages`: Delta's, at the version of the installed
delta-spark, ONNX Runtime's for the jvm scoring engine, and hadoop-aws for a lake on object storage) land where every later session takes them
from without network (`jar_conf`); extra coordinates (e.g. org.postgresql:postgresql:42.7.4 for a
PostgreSQL catalog) land beside them in ~/.ivy2/jars.
"""

from __future__ import annotations

import logging
import sys

from pyspark.sql import SparkSession

from atelier.config.platform import PlatformConfig
from atelier.spark.session import jar_conf, runtime_packages

log = logging.getLogger("fetch_jars")


def main(extra: list[str]) -> int:
    logging.basicConfig(level="INFO", format="%(message)s")
    # A platform whose lake is on object storage needs every package the jobs may add.
    platform = PlatformConfig(lake_root="s3a://any/lake")
    if "spark.jars" in jar_conf(platform) and not extra:
        log.info("the jobs' jars are already in the Ivy cache")
        return 0
    packages = ",".join([*runtime_packages(platform), *extra])
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("fetch-jars")
        .config("spark.ui.enabled", "false")
        .config("spark.jars.packages", packages)
        .getOrCreate()
    )
    spark.stop()
    if "spark.jars" not in jar_conf(platform):
        log.error("the jobs' jars are not in the Ivy cache after resolving %s", packages)
        return 1
    log.info("fetched %s", packages)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
