"""Library deployment: a registered model as a self-contained folder another team loads with MLflow.

The folder holds the pyfunc (with the atelier modules it imports, as MLflow code paths), its pinned
requirements, and a README naming the model, version, training run, inputs and outputs. Loading it
needs mlflow, torch, numpy and pandas, not atelier.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.entities import Run

from atelier.config.use_case import UseCaseConfig
from atelier.safe_paths import Output, check_replaceable
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

WRITES = Output("atelier export --format mlflow", "model/MLmodel", ("model", "requirements.txt", "README.md"))


@dataclass(frozen=True)
class Source:
    """The registered version behind an alias, and the run that trained it."""

    model: str
    version: str
    alias: str
    run: Run

    def download(self, folder: Path) -> Path:
        """The version's pyfunc folder, downloaded to `folder`."""
        return Path(mlflow.artifacts.download_artifacts(f"models:/{self.model}/{self.version}", dst_path=str(folder)))


def source(use_case: UseCaseConfig, alias: str) -> Source:
    """The version `alias` names, or a RegistryError."""
    model = use_case.model_name
    version = registry.alias_version(model, alias)
    if version is None:
        raise registry.RegistryError(f"model {model} has no alias '{alias}' to export")
    client = mlflow.MlflowClient()
    run_id = client.get_model_version(model, version).run_id
    if run_id is None:
        raise registry.RegistryError(f"model {model} version {version} ('{alias}') has no training run to export from")
    return Source(model, version, alias, client.get_run(run_id))


def input_columns(pyfunc_folder: Path) -> list[str]:
    """The pyfunc's input columns, in its signature's order."""
    return mlflow.models.Model.load(str(pyfunc_folder / "MLmodel")).get_input_schema().input_names()


@contextmanager
def staged(target: Path, output: Output, protected: Iterable[Path] = ()) -> Iterator[Path]:
    """A staging folder beside `target` that replaces it when the block succeeds; `target` is checked
    first (safe_paths: a previous export of the same format is replaced, anything else refused)."""
    target = check_replaceable(target, output, "--to", protected)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def export(use_case: UseCaseConfig, alias: str, target: Path, protected: Iterable[Path] = ()) -> Path:
    """Write the model behind `alias` to `target` (a previous export there is replaced); the folder.

    `protected`: folders `target` must stay out of (the platform's, see safe_paths.platform_folders).
    """
    found = source(use_case, alias)
    with staged(target, WRITES, protected) as staging:
        local = found.download(staging / "model")
        shutil.copy(local / "requirements.txt", staging / "requirements.txt")
        binary = use_case.label.task == "binary"
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(found.run.data.metrics.items()) if k.startswith("test_"))
        (staging / "README.md").write_text(
            README.format(
                model=found.model,
                version=found.version,
                alias=alias,
                use_case=use_case.name,
                run_id=found.run.info.run_id,
                score="probability of the positive class" if binary else "predicted value",
                prediction=f"label at threshold {use_case.training.threshold}" if binary else "the same value",
                features=use_case.tables.features,
                columns=", ".join(f"`{c}`" for c in input_columns(local)),
                metrics=metrics,
            )
        )
    return target.resolve()
