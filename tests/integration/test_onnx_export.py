"""Library deployment for JVM services: the ONNX export scores like the pyfunc, in Python and in Java (`mvn test`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F
from tests.conftest import REPO
from tests.integration.conftest import training_use_case

from atelier.config.platform import MlflowConfig, PlatformConfig
from atelier.model.onnx_graph import TOLERANCE, ort_scores, session
from atelier.spark.tables import Lake
from atelier.tracking.onnx_export import MANIFEST_FILE, MODEL_FILE, export_onnx, write_rows
from atelier.tracking.store import use_platform
from atelier.training.job import train

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
JAVA = REPO / "java"
GOLDEN = JAVA / "target" / "golden"  # kept after the test: rerun `mvn test` by hand on it (java/README.md)


@pytest.fixture
def own_registry(training_lake: PlatformConfig, tmp_path: Path) -> PlatformConfig:
    """The shared lake with an MLflow store of its own: other tests expect the shared registry's aliases untouched."""
    yield training_lake.model_copy(
        update={
            "mlflow": MlflowConfig(
                tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", artifact_root=str(tmp_path / "artifacts")
            )
        }
    )
    use_platform(training_lake)


def unseen_and_nulls(rows: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Real rows, with a category never seen in training in 1 of 10, null categories in 1, null numbers in 1."""
    rows = rows.reset_index(drop=True)
    rows.loc[rows.index % 10 == 1, categorical[0]] = "never seen in training"
    rows.loc[rows.index % 10 == 2, categorical] = None
    rows.loc[rows.index % 10 == 3, numeric] = np.nan
    return rows


def test_the_onnx_export_scores_like_the_pyfunc_in_python_and_in_java(spark, own_registry, tmp_path: Path) -> None:
    mvn = shutil.which("mvn")
    assert mvn, "Maven (mvn) runs the Java library's tests: apt-get install maven"
    uc = training_use_case("training.backend=local")
    version = train(Lake(spark, own_registry), uc).model_version
    mlflow.MlflowClient().set_registered_model_alias(uc.model_name, "champion", version)
    folder = export_onnx(uc, "champion", GOLDEN / "model")
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    assert (manifest["version"], manifest["threshold"]) == (version, uc.training.threshold)
    assert [i["name"] for i in manifest["inputs"]] == uc.model_columns()
    assert manifest["check"]["max_abs_diff"] <= TOLERANCE

    start, end = mlflow.get_run(manifest["training_run_id"]).data.params["data.test_dates"].split("..")
    rows = (
        Lake(spark, own_registry)
        .read(uc.tables.features)
        .filter(F.col(uc.date_column).between(start, end))
        .orderBy(uc.entity.key)
        .select(*uc.model_columns())
        .toPandas()
    )
    rows = unseen_and_nulls(rows, uc.model_columns("numeric"), uc.model_columns("categorical"))
    expected = mlflow.pyfunc.load_model(f"models:/{uc.model_name}/{version}").predict(rows)["score"].to_numpy()
    python_diff = np.abs(ort_scores(session(folder / MODEL_FILE), rows) - expected).max()
    assert len(rows) > 2000 and python_diff <= TOLERANCE, (len(rows), python_diff)
    golden = write_rows(GOLDEN / "rows.json", rows, expected)

    out = subprocess.run(
        [mvn, "-q", "-B", "-Dstyle.color=never", "test", f"-Datelier.export={folder}", f"-Datelier.golden={golden}"],
        cwd=JAVA,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    report = (JAVA / "target" / "surefire-reports" / "dev.atelier.scoring.AtelierModelTest.txt").read_text()
    assert re.search(r"Tests run: [1-9]\d*, Failures: 0, Errors: 0, Skipped: 0", report), report
    java = [line for line in out.stdout.splitlines() if "max |java - python|" in line]
    print(f"{len(rows)} rows ({start}..{end}): onnxruntime vs pyfunc {python_diff:.3g}; java: {java}")
