"""Online and library deployment: `atelier serve` over real HTTP, `atelier export` loaded without atelier."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pytest
from pyspark.sql import functions as F
from tests.conftest import CONF, free_port
from tests.integration.conftest import training_use_case

from atelier.scoring.batch import score_dates
from atelier.spark.tables import Lake
from atelier.tracking import registry
from atelier.tracking.export import export
from atelier.tracking.store import use_platform
from atelier.training.job import train

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
DAY = dt.date(2013, 7, 4)


def test_served_champion_answers_like_the_batch_job(spark, training_lake, tmp_path: Path) -> None:
    uc = training_use_case("training.backend=local", "scoring.arms=[{name: champion, role: champion, alias: champion}]")
    version = train(Lake(spark, training_lake), uc).model_version
    registry.move_alias(Lake(spark, training_lake), uc.model_name, "champion", version, "assign", "serving test")
    day = DAY
    score_dates(Lake(spark, training_lake), uc, day, day)
    batch = (
        Lake(spark, training_lake)
        .read("ml.predictions")
        .filter((F.col("score_date") == day) & (F.col("arm") == "champion"))
        .select("flight_id", "score")
    )
    rows = (
        Lake(spark, training_lake)
        .read(uc.tables.features)
        .filter(F.col("flight_date") == day)
        .join(batch, "flight_id")
        .orderBy("flight_id")
        .limit(50)
        .toPandas()
    )

    port = free_port()
    overrides = [f"--set=platform.mlflow.tracking_uri={training_lake.mlflow.tracking_uri}"]
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "atelier"),
            "serve",
            "--use-case",
            "flights_delay",
            "--port",
            str(port),
            "--conf-dir",
            str(CONF),
            *overrides,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ},
        start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()[-3000:]
                assert time.time() < deadline, "the scoring server did not come up in 120 s"
                time.sleep(1)
        payload = {"dataframe_split": json.loads(rows[uc.model_columns()].to_json(orient="split", index=False))}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        answer = json.loads(urllib.request.urlopen(request, timeout=30).read())
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
    served = np.array([p["score"] for p in answer["predictions"]])
    # Same model, same rows: equal up to float32 rounding (batches of different sizes take other kernels).
    np.testing.assert_allclose(served, rows["score"].to_numpy(), rtol=0, atol=1e-6)


LOAD_WITHOUT_ATELIER = """
import json, sys
sys.path.append(sys.argv[1])  # site-packages without its .pth files: atelier's editable install is not on the path
try:
    import atelier
    raise SystemExit("atelier is importable: the test would prove nothing")
except ImportError:
    pass
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[2])
frame = pd.read_parquet(sys.argv[3])
print(json.dumps(model.predict(frame)["score"].tolist()))
"""


def test_exported_model_loads_where_atelier_is_not_installed(spark, training_lake, tmp_path: Path) -> None:
    uc = training_use_case()
    use_platform(training_lake)
    if registry.alias_version(uc.model_name, "champion") is None:
        version = train(Lake(spark, training_lake), training_use_case("training.backend=local")).model_version
        registry.move_alias(Lake(spark, training_lake), uc.model_name, "champion", version, "assign", "export test")
    folder = export(uc, "champion", tmp_path / "bundle")
    assert {"README.md", "requirements.txt", "model"} <= {p.name for p in folder.iterdir()}
    assert "torch==" in (folder / "requirements.txt").read_text()
    rows = (
        Lake(spark, training_lake)
        .read(uc.tables.features)
        .filter(F.col("flight_date") == DAY)
        .orderBy("flight_id")
        .limit(20)
        .toPandas()[uc.model_columns()]
    )
    rows.to_parquet(tmp_path / "rows.parquet", index=False)
    out = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            LOAD_WITHOUT_ATELIER,
            sysconfig.get_paths()["purelib"],
            str(folder / "model"),
            str(tmp_path / "rows.parquet"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    expected = mlflow.pyfunc.load_model(str(folder / "model")).predict(rows)["score"].to_numpy()
    np.testing.assert_allclose(json.loads(out.stdout.strip().splitlines()[-1]), expected, atol=1e-9)
