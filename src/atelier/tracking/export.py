"""Library deployment: a registered model as a self-contained folder another team loads with MLflow.

The folder holds the pyfunc (with the atelier modules it imports, as MLflow code paths), its pinned
requirements, and a README naming the model, version, training run, inputs and outputs. Loading it
needs mlflow, torch, numpy and pandas, not atelier.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import mlflow

from atelier.config.schema import UseCaseConfig
from atelier.tracking import registry

README = """# {model} version {version} ({alias})

Exported from atelier use case `{use_case}` (MLflow run `{run_id}`).

    pip install -r requirements.txt
    python -c "import mlflow, pandas as pd; m = mlflow.pyfunc.load_model('model'); print(m.metadata.get_input_schema())"

```python
import mlflow
model = mlflow.pyfunc.load_model("model")     # this folder's model/
predictions = model.predict(frame)            # a pandas DataFrame with the input columns below
# -> columns `score` ({score}) and `prediction` ({prediction})
```

Inputs (raw feature columns, as in `{features}`): {columns}

Test metrics at training: {metrics}
"""


def export(use_case: UseCaseConfig, alias: str, target: Path) -> Path:
    """Write the model behind `alias` to `target` (replaced if present); the folder."""
    model = use_case.model_name
    version = registry.alias_version(model, alias)
    if version is None:
        raise registry.RegistryError(f"model {model} has no alias '{alias}' to export")
    client = mlflow.MlflowClient()
    run = client.get_run(client.get_model_version(model, version).run_id)
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{model}/{version}", dst_path=str(staging / "model")))
    shutil.copy(local / "requirements.txt", staging / "requirements.txt")
    columns = mlflow.models.Model.load(str(local / "MLmodel")).get_input_schema().input_names()
    binary = use_case.label.task == "binary"
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(run.data.metrics.items()) if k.startswith("test_"))
    (staging / "README.md").write_text(README.format(
        model=model, version=version, alias=alias, use_case=use_case.name, run_id=run.info.run_id,
        score="probability of the positive class" if binary else "predicted value",
        prediction=f"label at threshold {use_case.training.threshold}" if binary else "the same value",
        features=use_case.tables.features, columns=", ".join(f"`{c}`" for c in columns), metrics=metrics))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
