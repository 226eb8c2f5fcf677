"""atelier's DAGs: per use case, `<use_case>_daily` and `<use_case>_retrain`, from the DAG plan.

Only the Airflow wiring lives here: operators, dependencies, schedules. Every Spark task is a
`spark-submit` of a job in jobs/ (the same file a data engineer runs by hand), with the jobs
environment's launcher and the connection `spark_default` (its host is the Spark master). What the
tasks decide and pass (dates, windows, skips, arguments, summaries, the outcome file) is in
`atelier.orchestration.tasks` and `atelier.outcome`, modules of the standard library alone that this file
imports from the checkout's src/ (see `atelier.orchestration.tasks`). The plan,
`var/airflow/plan.json` (or $ATELIER_PLAN), is written by `atelier airflow-plan` in the jobs
environment, so parsing this file imports only Airflow, the standard library and those modules.
A job that refuses its input records its error in the try's outcome file ($ATELIER_OUTCOME_FILE),
and its task then fails at once, unretried, naming that error.

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

import json
import os
import sys
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronTriggerTimetable, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.append(str(REPO / "src"))  # the package atelier alone; see atelier.orchestration.tasks

from atelier import outcome  # noqa: E402
from atelier.errors import EXIT_REFUSED  # noqa: E402
from atelier.orchestration import tasks  # noqa: E402

PLAN = Path(os.environ.get("ATELIER_PLAN", REPO / "var" / "airflow" / "plan.json"))


class AtelierJob(SparkSubmitOperator):
    """`spark-submit jobs/<job>.py`; a job that refuses its input (exit status 2) fails at once, unretried."""

    def execute(self, context):
        try:
            return super().execute(context)
        except AirflowException as exc:
            error = outcome.refusal(self.env_vars[outcome.ENV])
            if error:
                raise AirflowFailException(
                    f"{self.task_id}: the job refused its input (exit status {EXIT_REFUSED}): {error}. Not retried."
                ) from exc
            raise


def _jobs(plan: dict, use_case: str, jobs: dict[str, list[str]]) -> dict[str, AtelierJob]:
    """One task per job (task id = job name), in the Spark pool."""
    orchestration = plan["orchestration"]
    return {
        job: AtelierJob(
            task_id=job,
            application=f"{plan['jobs_dir']}/{job}.py",
            conn_id=orchestration["spark_conn_id"],
            spark_binary=plan["spark_submit"],
            env_vars=tasks.job_env(plan, use_case, job),
            conf=plan["conf"],
            name=f"atelier-{job}",
            application_args=args,
            pool=orchestration["pool"],
        )
        for job, args in jobs.items()
    }


def retrain_asset(use_case: str) -> Asset:
    return Asset(name=f"{use_case}_retrain_request", uri=f"atelier://{use_case}/retrain_request")


def daily_dag(plan: dict, name: str, uc: dict) -> DAG:
    with DAG(
        f"{name}_daily",
        description=f"{uc['description']} Daily: collect to monitor.",
        schedule="@daily",
        start_date=tasks.utc_day(uc["start"]),
        end_date=tasks.utc_day(uc["end"]),
        catchup=plan["orchestration"]["catchup"],
        max_active_runs=1,
        default_args=tasks.task_defaults(plan["orchestration"]),
        tags=["atelier", name, "daily"],
        doc_md=__doc__,
    ) as dag:
        spark = _jobs(plan, name, tasks.daily_jobs(plan, name))
        in_service = ShortCircuitOperator(
            task_id="in_service", python_callable=tasks.on_or_after, op_kwargs={"first": uc["scoring_start"], "lag": 0}
        )
        matured = ShortCircuitOperator(
            task_id="matured",
            python_callable=tasks.on_or_after,
            op_kwargs={"first": uc["scoring_start"], "lag": uc["maturity_days"]},
        )

        @task(task_id="request_retrain", outlets=[retrain_asset(name)])
        def request_retrain(path: str, *, outlet_events=None) -> list[str]:
            """Emit the retraining asset when monitoring recorded retraining requests; skip otherwise."""
            request = tasks.retrain_request(path, name)
            if request is None:
                raise AirflowSkipException("monitoring asked for no retraining")
            outlet_events[retrain_asset(name)].extra = request
            return request["request_dates"]

        (
            spark["collect"]
            >> spark["features"]
            >> spark["validate"]
            >> in_service
            >> spark["score"]
            >> matured
            >> spark["reconcile"]
            >> spark["monitor"]
            >> request_retrain(tasks.summary_path(plan, name, "monitor"))
        )
    return dag


def retrain_dag(plan: dict, name: str, uc: dict) -> DAG:
    orchestration = plan["orchestration"]
    schedule = AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(orchestration["retrain_schedule"], timezone="UTC"), assets=retrain_asset(name)
    )
    with DAG(
        f"{name}_retrain",
        description=f"{uc['description']} Retrain, then promote through the gate.",
        schedule=schedule,
        start_date=tasks.utc_day(uc["start"]),
        catchup=False,
        max_active_runs=1,
        default_args=tasks.task_defaults(orchestration),
        tags=["atelier", name, "retrain"],
        doc_md=__doc__,
    ) as dag:

        @task(task_id="window")
        def window(**context) -> str:
            """The training window's last day, from the triggering retraining requests or the run's date."""
            events = (context.get("triggering_asset_events") or {}).get(retrain_asset(name), [])
            when = context.get("logical_date") or context["dag_run"].run_after
            return tasks.training_window_end(
                [event.extra for event in events], when.date(), uc["maturity_days"], uc["end"]
            )

        @task(task_id="trained")
        def trained(path: str) -> str:
            return tasks.trained_version(path)

        @task(task_id="notify")
        def notify(path: str) -> dict:
            return tasks.notify(path, os.environ.get("ATELIER_NOTIFY_WEBHOOK"))

        spark = _jobs(plan, name, tasks.retrain_jobs(plan, name, window_task="window", trained_task="trained"))
        (
            window()
            >> spark["train"]
            >> trained(tasks.summary_path(plan, name, "train"))
            >> spark["promote"]
            >> notify(tasks.summary_path(plan, name, "promote"))
        )
    return dag


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
