"""A job started by spark-submit writes a table that a fresh spark-sql process finds by name; the job's first
boot of the catalog sets aside a Derby database whose creation a kill cut short."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
ATELIER = str(Path(sys.executable).parent / "atelier")


def test_submitted_collect_is_queryable_from_spark_sql(tmp_path: Path) -> None:
    where = [
        f"--set=lake_root={tmp_path / 'lake'}",
        f"--set=metastore_dir={tmp_path / 'metastore'}",
        f"--set=cache_dir={tmp_path / 'cache'}",
        f"--set=reports_dir={tmp_path / 'reports'}",
        "--set=spark.master=local[2]",
    ]
    # what a kill -9 during the catalog's first boot leaves: Derby's folders, no service.properties
    unfinished = tmp_path / "metastore" / "metastore_db"
    for folder in ("log", "seg0"):
        (unfinished / folder).mkdir(parents=True)
    job = [ATELIER, "submit", *where, "collect", "--", "--use-case", "flights_delay", "--date", "2013-01-01", *where]
    submitted = subprocess.run(job, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    # spark-submit's Python driver writes its log to stdout
    assert "bronze.flights                     842 rows" in submitted.stdout + submitted.stderr
    assert "was never fully created" in submitted.stdout + submitted.stderr
    aside = [p.name for p in unfinished.parent.glob("metastore_db.unfinished-*")]
    assert len(aside) == 1 and {p.name for p in (unfinished.parent / aside[0]).iterdir()} == {"log", "seg0"}

    query = [
        ATELIER,
        "spark-sql",
        *where,
        "--",
        "-e",
        "SELECT count(*), min(_batch_date) FROM bronze.flights; SHOW TABLES IN bronze",
    ]
    answered = subprocess.run(query, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert answered.returncode == 0, answered.stderr[-3000:]
    lines = answered.stdout.split("\n")
    assert "842\t2013-01-01" in lines
    assert {"flights", "weather", "planes", "airlines", "airports"} <= set(lines)
