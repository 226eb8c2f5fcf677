"""atelier's DAGs: per use case, `<use_case>_daily` and `<use_case>_retrain`, from the DAG plan.

No business logic lives here: every Spark task is a `spark-submit` of a job in jobs/ (the same
file a data engineer runs by hand), with the jobs environment's launcher and the connection
`spark_default` (its host is the Spark master). The plan, `var/airflow/plan.json` (or
$ATELIER_PLAN), is written by `atelier airflow-plan` in the jobs environment, so parsing this file
imports only Airflow and the standard library.

    <use_case>_daily    collect -> features -> validate -> in_service -> score -> matured
                        -> reconcile -> monitor -> request_retrain
    <use_case>_retrain  window -> train -> trained -> promote -> notify

`in_service` skips scoring and what follows for dates before the use case's first scoring date;
`matured` skips reconciliation and monitoring until the date `maturity_days` back was scored.
Reconcile and monitor run for the logical date minus `maturity_days`, whose outcomes have arrived.
`request_retrain` emits the use case's retraining asset when monitoring asked for retraining;
the retraining DAG runs on that asset or on its weekly schedule, whichever comes first.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import urllib.request
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronTriggerTimetable, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

log = logging.getLogger(__name__)

PLAN = Path(os.environ.get("ATELIER_PLAN", Path(__file__).resolve().parents[1] / "var" / "airflow" / "plan.json"))
REFUSED_INPUT = 2  # atelier's exit status for bad input or configuration: retrying cannot help
DAY = "{{ ds }}"


class AtelierJob(SparkSubmitOperator):
    """`spark-submit jobs/<job>.py`; a job that refuses its input (exit status 2) fails at once, unretried."""

    def execute(self, context):
        try:
            return super().execute(context)
        except AirflowException as exc:
            process = getattr(getattr(self, "_hook", None), "_submit_sp", None)
            if getattr(process, "returncode", None) == REFUSED_INPUT:
                raise AirflowFailException(
                    f"{self.task_id}: the job refused its input (exit status {REFUSED_INPUT}); "
                    "its error is the last ERROR line of the log above. Not retried.") from exc
            raise


def _job(plan: dict, job: str, *args: str) -> AtelierJob:
    orchestration = plan["orchestration"]
    return AtelierJob(
        task_id=job, application=f"{plan['jobs_dir']}/{job}.py",
        conn_id=orchestration["spark_conn_id"], spark_binary=plan["spark_submit"], env_vars=plan["env"],
        conf=plan["conf"], name=f"atelier-{job}", application_args=[*plan["config_args"], *args],
        pool=orchestration["pool"])


def _summary(plan: dict, use_case: str, job: str) -> str:
    """Where a job writes its JSON summary for the run's later tasks."""
    return f"{plan['summaries_dir']}/{use_case}/{job}/{{{{ run_id | replace(':', '_') }}}}.json"


def _read(path: str) -> dict:
    with open(path) as handle:
        return json.load(handle)


def _on_or_after(ds: str, first: str | None, lag: int) -> bool:
    """True when the logical date minus `lag` days is on or after `first` (ISO dates compare as text)."""
    day = (dt.date.fromisoformat(ds) - dt.timedelta(days=lag)).isoformat()
    log.info("date %s, first scoring date %s: %s", day, first, "runs" if not first or day >= first else "skipped")
    return not first or day >= first


def retrain_asset(use_case: str) -> Asset:
    return Asset(name=f"{use_case}_retrain_request", uri=f"atelier://{use_case}/retrain_request")


def daily_dag(plan: dict, name: str, uc: dict) -> DAG:
    lag = uc["maturity_days"]
    matured_day = f"{{{{ macros.ds_add(ds, -{lag}) }}}}"
    with DAG(f"{name}_daily", description=f"{uc['description']} Daily: collect to monitor.",
             schedule="@daily", start_date=_date(uc["start"]), end_date=_date(uc["end"]),
             catchup=plan["orchestration"]["catchup"],
             max_active_runs=1, default_args=_defaults(plan), tags=["atelier", name, "daily"],
             doc_md=__doc__) as dag:
        collect = _job(plan, "collect", "--use-case", name, "--date", DAY)
        features = _job(plan, "features", "--use-case", name, "--date", DAY)
        validate = _job(plan, "validate", "--use-case", name, "--table", "features", "--date", DAY)
        in_service = ShortCircuitOperator(task_id="in_service", python_callable=_on_or_after,
                                          op_kwargs={"first": uc["scoring_start"], "lag": 0})
        score = _job(plan, "score", "--use-case", name, "--date", DAY)
        matured = ShortCircuitOperator(task_id="matured", python_callable=_on_or_after,
                                       op_kwargs={"first": uc["scoring_start"], "lag": lag})
        reconcile = _job(plan, "reconcile", "--use-case", name, "--date", matured_day)
        summary = _summary(plan, name, "monitor")
        monitor = _job(plan, "monitor", "--use-case", name, "--date", matured_day, "--summary-json", summary)

        @task(task_id="request_retrain", outlets=[retrain_asset(name)])
        def request_retrain(path: str, *, outlet_events=None) -> list[str]:
            """Emit the retraining asset when monitoring recorded retraining requests; skip otherwise."""
            found = _read(path)
            if not found["retrain_dates"]:
                raise AirflowSkipException("monitoring asked for no retraining")
            outlet_events[retrain_asset(name)].extra = {"request_dates": found["retrain_dates"],
                                                        "reasons": found["reasons"]}
            log.warning("retraining requested for %s: %s", name, found["reasons"])
            return found["retrain_dates"]

        (collect >> features >> validate >> in_service >> score >> matured >> reconcile >> monitor
         >> request_retrain(summary))
    return dag


def retrain_dag(plan: dict, name: str, uc: dict) -> DAG:
    orchestration = plan["orchestration"]
    schedule = AssetOrTimeSchedule(timetable=CronTriggerTimetable(orchestration["retrain_schedule"], timezone="UTC"),
                                   assets=retrain_asset(name))
    with DAG(f"{name}_retrain", description=f"{uc['description']} Retrain, then promote through the gate.",
             schedule=schedule, start_date=_date(uc["start"]), catchup=False, max_active_runs=1,
             default_args=_defaults(plan), tags=["atelier", name, "retrain"], doc_md=__doc__) as dag:

        @task(task_id="window")
        def window(**context) -> str:
            """The training window's last day: the newest request date, else the run's date less the maturity."""
            requested = [day for event in (context.get("triggering_asset_events") or {}).get(retrain_asset(name), [])
                         for day in (event.extra or {}).get("request_dates", [])]
            when = context.get("logical_date") or context["dag_run"].run_after
            day = max(requested) if requested else (when.date() - dt.timedelta(days=uc["maturity_days"])).isoformat()
            end = min(day, uc["end"]) if uc["end"] else day
            log.info("training window ends on %s (requests: %s)", end, requested or "none")
            return end

        end = "{{ ti.xcom_pull(task_ids='window') }}"
        trained_summary, promote_summary = _summary(plan, name, "train"), _summary(plan, name, "promote")
        train = _job(plan, "train", "--use-case", name, "--set", f"training.window.end={end}",
                     "--run-name", "airflow {{ run_id }}", "--summary-json", trained_summary)

        @task(task_id="trained")
        def trained(path: str) -> str:
            found = _read(path)
            log.info("run %s registered %s version %s: %s", found["run_id"], found["model"], found["version"],
                     found["metrics"])
            return found["version"]

        promote = _job(plan, "promote", "--use-case", name, "--version", "{{ ti.xcom_pull(task_ids='trained') }}",
                       "--allow-refusal", "--reason", "retrain DAG {{ run_id }}", "--summary-json", promote_summary)

        @task(task_id="notify")
        def notify(path: str) -> dict:
            """Log the gate's outcome; POST it to $ATELIER_NOTIFY_WEBHOOK when set."""
            outcome = _read(path)
            log.warning("%s version %s: %s (%s)", outcome["model"], outcome["version"],
                        "promoted to champion" if outcome["promoted"] else "kept out by the gate", outcome["reason"])
            hook = os.environ.get("ATELIER_NOTIFY_WEBHOOK")
            if hook:
                request = urllib.request.Request(hook, data=json.dumps(outcome).encode(), method="POST",
                                                 headers={"Content-Type": "application/json"})
                urllib.request.urlopen(request, timeout=10).close()
            return outcome

        version = trained(trained_summary)
        window() >> train >> version >> promote >> notify(promote_summary)
    return dag


def _date(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc) if text else None


def _defaults(plan: dict) -> dict:
    o = plan["orchestration"]
    return {"owner": "atelier", "retries": o["retries"], "retry_delay": dt.timedelta(seconds=o["retry_delay_s"]),
            "retry_exponential_backoff": True, "max_retry_delay": dt.timedelta(seconds=o["max_retry_delay_s"]),
            "execution_timeout": dt.timedelta(minutes=o["task_timeout_minutes"])}


def build(plan: dict) -> dict[str, DAG]:
    """Every use case's daily and retraining DAGs, by DAG id."""
    dags = {}
    for name, uc in plan["use_cases"].items():
        for factory in (daily_dag, retrain_dag):
            dag = factory(plan, name, uc)
            dags[dag.dag_id] = dag
    return dags


if not PLAN.is_file():
    raise FileNotFoundError(f"no DAG plan at {PLAN}: run `make airflow` (or `.venv/bin/atelier airflow-plan`)")
globals().update(build(json.loads(PLAN.read_text())))
