"""What the DAGs' tasks decide and pass, apart from Airflow: dates, windows, skips, job arguments, summaries.

dags/atelier_dags.py only wires these into operators. Airflow runs in its own environment
(.venv-airflow) without atelier's stack, so this module and `atelier.outcome` import only the standard
library (and atelier.errors, which does too), and the package's `__init__` files import nothing.
The DAG file finds them where it finds the default plan, in its checkout: it appends `<repo>/src`
to `sys.path`, which holds the package `atelier` alone; nothing is installed into .venv-airflow and
the modules are those of the checkout that wrote the plan. tests/unit/test_orchestration_tasks.py
imports them in an interpreter without site-packages.

Strings in `{{ }}` are Airflow templates, rendered when the task runs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.request
from collections.abc import Iterable

from atelier import outcome

log = logging.getLogger(__name__)

DAY = "{{ ds }}"
RUN = "{{ run_id | replace(':', '_') }}"  # the run id as a file name


def utc_day(text: str | None) -> dt.datetime | None:
    """A plan's ISO date as midnight UTC (a DAG's start or end date)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC) if text else None


def task_defaults(orchestration: dict) -> dict:
    """Every task's retries, backoff and timeout, from the plan's orchestration settings."""
    o = orchestration
    return {
        "owner": "atelier",
        "retries": o["retries"],
        "retry_delay": dt.timedelta(seconds=o["retry_delay_s"]),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(seconds=o["max_retry_delay_s"]),
        "execution_timeout": dt.timedelta(minutes=o["task_timeout_minutes"]),
    }


def on_or_after(ds: str, first: str | None, lag: int) -> bool:
    """True when the logical date `ds` less `lag` days is on or after the first scoring date `first`
    (none: always). The daily DAG's skips: `in_service` (lag 0) and `matured` (lag maturity_days)."""
    day = (dt.date.fromisoformat(ds) - dt.timedelta(days=lag)).isoformat()
    runs = not first or day >= first  # ISO dates compare as text
    log.info("date %s, first scoring date %s: %s", day, first, "runs" if runs else "skipped")
    return runs


def summary_path(plan: dict, use_case: str, job: str) -> str:
    """Where a job writes its JSON summary (--summary-json) for the run's later tasks."""
    return f"{plan['summaries_dir']}/{use_case}/{job}/{RUN}.json"


def outcome_path(plan: dict, use_case: str, job: str) -> str:
    """Where a job records why it failed ($ATELIER_OUTCOME_FILE, atelier.outcome), per try."""
    return f"{plan['summaries_dir']}/{use_case}/outcomes/{job}/{RUN}.try{{{{ ti.try_number }}}}.json"


def job_env(plan: dict, use_case: str, job: str) -> dict[str, str]:
    """The environment of a job's spark-submit: the plan's launcher settings and the try's outcome file."""
    return {**plan["env"], outcome.ENV: outcome_path(plan, use_case, job)}


def daily_jobs(plan: dict, use_case: str) -> dict[str, list[str]]:
    """The daily DAG's Spark jobs in run order, each with its arguments (the plan's configuration flags first).
    Reconcile and monitor run for the date `maturity_days` back, whose outcomes have arrived."""
    matured = f"{{{{ macros.ds_add(ds, -{plan['use_cases'][use_case]['maturity_days']}) }}}}"
    uc = ["--use-case", use_case]
    jobs = {
        "collect": [*uc, "--date", DAY],
        "features": [*uc, "--date", DAY],
        "validate": [*uc, "--table", "features", "--date", DAY],
        "score": [*uc, "--date", DAY],
        "reconcile": [*uc, "--date", matured],
        "monitor": [*uc, "--date", matured, "--summary-json", summary_path(plan, use_case, "monitor")],
    }
    return {job: [*plan["config_args"], *args] for job, args in jobs.items()}


def retrain_jobs(plan: dict, use_case: str, window_task: str, trained_task: str) -> dict[str, list[str]]:
    """The retraining DAG's Spark jobs in run order with their arguments: train on the window that
    `window_task` returned, promote the version that `trained_task` returned (a refusal is an outcome)."""
    uc = ["--use-case", use_case]
    jobs = {
        "train": [
            *uc,
            "--set",
            f"training.window.end={{{{ ti.xcom_pull(task_ids='{window_task}') }}}}",
            "--run-name",
            "airflow {{ run_id }}",
            "--summary-json",
            summary_path(plan, use_case, "train"),
        ],
        "promote": [
            *uc,
            "--version",
            f"{{{{ ti.xcom_pull(task_ids='{trained_task}') }}}}",
            "--allow-refusal",
            "--reason",
            "retrain DAG {{ run_id }}",
            "--summary-json",
            summary_path(plan, use_case, "promote"),
        ],
    }
    return {job: [*plan["config_args"], *args] for job, args in jobs.items()}


def read_summary(path: str) -> dict:
    """A job's JSON summary."""
    with open(path) as handle:
        return json.load(handle)


def retrain_request(path: str, use_case: str) -> dict | None:
    """The retraining request in monitor's summary at `path` (the asset event's extra), or None when it asked none."""
    found = read_summary(path)
    if not found["retrain_dates"]:
        return None
    log.warning("retraining requested for %s: %s", use_case, found["reasons"])
    return {"request_dates": found["retrain_dates"], "reasons": found["reasons"]}


def training_window_end(requests: Iterable[dict | None], day: dt.date, maturity_days: int, last: str | None) -> str:
    """The training window's last day: the newest date the retraining requests (asset events' extras)
    name, else `day` less `maturity_days`; never after the use case's last date `last`."""
    requested = [date for extra in requests for date in (extra or {}).get("request_dates", [])]
    end = max(requested) if requested else (day - dt.timedelta(days=maturity_days)).isoformat()
    end = min(end, last) if last else end
    log.info("training window ends on %s (requests: %s)", end, requested or "none")
    return end


def trained_version(path: str) -> str:
    """The model version that train registered, from its summary at `path`."""
    found = read_summary(path)
    log.info("run %s registered %s version %s: %s", found["run_id"], found["model"], found["version"], found["metrics"])
    return found["version"]


def notify(path: str, webhook: str | None) -> dict:
    """Log the promotion gate's outcome (promote's summary at `path`); POST it as JSON to `webhook` when given."""
    found = read_summary(path)
    log.warning(
        "%s version %s: %s (%s)",
        found["model"],
        found["version"],
        "promoted to champion" if found["promoted"] else "kept out by the gate",
        found["reason"],
    )
    if webhook:
        request = urllib.request.Request(
            webhook, data=json.dumps(found).encode(), method="POST", headers={"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=10).close()
    return found
