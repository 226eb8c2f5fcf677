"""One of several processes that register the same lake tables in a shared catalog at one moment
(test_concurrent_jobs.py), as jobs that write new tables at once do.

    python -m tests.integration.register_tables EPOCH_SECONDS DB.TABLE... --set=KEY=VALUE...
"""
from __future__ import annotations

import sys
import time

from atelier.config.loader import load_platform
from atelier.spark import tables
from atelier.spark.session import build_session


def main(args: list[str]) -> None:
    overrides = [a.removeprefix("--set=") for a in args if a.startswith("--set=")]
    start, *names = [a for a in args if not a.startswith("--set=")]
    platform = load_platform(overrides=overrides)
    spark = build_session(platform, "register-tables")
    spark.sql("SHOW DATABASES").collect()  # the session and its catalog client ready before the moment
    time.sleep(max(0.0, float(start) - time.time()))
    for name in names:
        tables.ensure_table_registered(spark, platform, name)
    print(f"registered {len(names)} tables")


if __name__ == "__main__":
    main(sys.argv[1:])
