"""The DAG plan: a JSON file with everything the DAG factory (dags/atelier_dags.py) needs.

Airflow runs in its own environment (.venv-airflow, see STACK.md) and must parse DAG files fast,
so it cannot import atelier's configuration stack. `atelier airflow-plan` resolves the
configuration here, in the jobs environment, and writes: the jobs environment's `spark-submit`
with the SPARK_HOME and PYSPARK_PYTHON it needs, Delta's jars and the session settings, the
configuration arguments every task passes on, the orchestration settings and, per use case, its
dates. Regenerate it when conf/ changes (`make airflow` does).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path

import pyspark

from atelier.config.loader import list_use_cases, load_platform, load_use_case
from atelier.config.use_case import UseCaseConfig
from atelier.spark.session import launch_env, public_conf

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[3]
DEFAULT_PLAN = REPO / "var" / "airflow" / "plan.json"


def config_args(conf_dir: Path | None, env: str | None, overrides: list[str]) -> list[str]:
    """The configuration flags every task passes to its job, so tasks see the configuration the plan saw."""
    args = ["--conf-dir", str(conf_dir.resolve())] if conf_dir else []
    args += ["--env", env] if env else []
    return args + [f"--set={item}" for item in overrides]


def scoring_start(use_case: UseCaseConfig) -> dt.date | None:
    """The first date the daily schedule scores: `scoring.start`, else the day after the training window."""
    if use_case.scoring.start:
        return use_case.scoring.start
    window = use_case.training.window
    return window.end + dt.timedelta(days=1) if window else None


def build_plan(conf_dir: Path | None = None, env: str | None = None, overrides: list[str] | None = None) -> dict:
    """The plan for every use case under the configuration root, as a JSON-ready dict."""
    overrides = overrides or []
    platform = load_platform(conf_dir, env, overrides)
    use_cases = {}
    for name in list_use_cases(conf_dir):
        uc = load_use_case(name, conf_dir, env, overrides)
        first = scoring_start(uc)
        use_cases[name] = {
            "description": uc.description,
            "start": str(uc.data_range.start) if uc.data_range else None,
            "end": str(uc.data_range.end) if uc.data_range else None,
            "scoring_start": str(first) if first else None,
            "maturity_days": uc.monitoring.maturity_days,
            "model": uc.model_name,
        }
    bin_dir = Path(sys.executable).parent
    conf = public_conf(platform)  # the job files resolve secret settings from their environment
    conf["spark.pyspark.python"] = str(bin_dir / "python")
    return {
        "spark_submit": str(bin_dir / "spark-submit"),
        "master": platform.spark.master,
        # Without these the launcher finds the Airflow environment's pyspark-client and exits 127;
        # SPARK_LOCAL_IP keeps a local driver (and its UI, when on) on loopback.
        "env": {
            "SPARK_HOME": str(Path(pyspark.__file__).parent),
            "PYSPARK_PYTHON": str(bin_dir / "python"),
            **launch_env(platform),
        },
        "conf": conf,
        "jobs_dir": str(REPO / "jobs"),
        "config_args": config_args(conf_dir, env, overrides),
        "summaries_dir": str((Path(platform.reports_dir) / "airflow").resolve()),
        "orchestration": platform.orchestration.model_dump(),
        "use_cases": use_cases,
    }


def write_plan(
    path: Path, conf_dir: Path | None = None, env: str | None = None, overrides: list[str] | None = None
) -> Path:
    """Write the plan atomically (the DAG processor may be reading the old one)."""
    plan = build_plan(conf_dir, env, overrides)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(plan, indent=1, sort_keys=True))
    partial.replace(path)
    log.info("wrote the DAG plan for %s to %s", ", ".join(plan["use_cases"]), path)
    return path
