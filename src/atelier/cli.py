"""The `atelier` command: run jobs, list tables, query the catalog with SQL, generate data.

Each job sub-command is also a `spark-submit`-able file in jobs/ that calls the same function here.
"""
from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from atelier import runtime
from atelier.errors import ConfigError
from atelier.runtime import add_config_args, add_summary_arg, add_use_case_args, open_job, write_summary

if TYPE_CHECKING:
    from atelier.config.schema import UseCaseConfig

log = logging.getLogger("atelier")

JOBS_DIR = Path(__file__).resolve().parents[2] / "jobs"
EXAMPLE_DATE = "--use-case flights_delay --date 2013-01-01"


def cmd_collect(args: argparse.Namespace) -> None:
    from atelier.collect.ingest import collect

    with open_job(args, "collect") as job:
        report = collect(job.lake, job.use_case, job.dates.start, job.dates.end)
        for table, rows in report.rows.items():
            log.info("%-28s %9d rows%s", table, rows, "  (unchanged)" if table in report.unchanged else "")


def cmd_features(args: argparse.Namespace) -> None:
    from atelier.features.build import run_features

    with open_job(args, "features") as job:
        report = run_features(job.lake, job.use_case, job.dates.start, job.dates.end)
        for table, version in report.versions.items():
            log.info("%-28s version %d", table, version)


def cmd_validate(args: argparse.Namespace) -> None:
    from atelier.validation.operations import validate_table

    with open_job(args, "validate") as job:
        counts = validate_table(job.lake, job.use_case, args.table, job.dates.start, job.dates.end)
    log.info("validated %s: %s", args.table, counts)


def cmd_quarantine(args: argparse.Namespace) -> None:
    from atelier.validation.operations import quarantine_summary, release

    if args.action == "list":
        with open_job(args, "quarantine", use_case=False) as job:
            result = quarantine_summary(job.lake)
            rows = [tuple(str(v) for v in r) for r in result.collect()]
        print(_format_table(result.columns, rows))
        return
    if not args.use_case or not args.table:
        raise ConfigError("quarantine release needs --use-case and --table (and --date or --start/--end)")
    with open_job(args, "quarantine") as job:
        counts = release(job.lake, job.use_case, args.table, job.dates.start, job.dates.end)
    log.info("release %s: %s", args.table, counts)


def cmd_tables(args: argparse.Namespace) -> None:
    with open_job(args, "tables", use_case=False) as job:
        rows = [(t.name, str(t.version), str(t.rows), f"{t.last_write:%Y-%m-%d %H:%M:%S}", t.last_operation, t.location)
                for t in job.lake.tables()]
    print(_format_table(["table", "version", "rows", "last write", "operation", "location"], rows))


def cmd_sql(args: argparse.Namespace) -> None:
    """Run one read-only statement (a query, SHOW, DESCRIBE or EXPLAIN) and print its rows."""
    from atelier.spark.readonly import check_query

    with open_job(args, "sql", use_case=False) as job:
        check_query(job.spark, args.query)
        result = job.spark.sql(args.query)
        rows = [tuple("NULL" if v is None else str(v) for v in r) for r in result.limit(args.limit).collect()]
    print(_format_table(result.columns, rows))


def cmd_synth(args: argparse.Namespace) -> None:
    from atelier.collect.synth import synthesize

    with open_job(args, "synth", dated=False) as job:
        path = synthesize(job.lake, job.use_case, args.rows, args.seed, args.out)
    print(path)


def cmd_train(args: argparse.Namespace) -> None:
    """Train a use case (or rerun a past run with --from-run), log it to MLflow, register the model."""
    from atelier.config.loader import load_platform, load_use_case
    from atelier.spark.session import build_session
    from atelier.spark.tables import Lake
    from atelier.training.experiments import past_run
    from atelier.training.job import train

    platform = load_platform(args.conf_dir, args.env, args.overrides)
    versions, tags = None, {"atelier.kind": "train"}
    if args.from_run:
        past = past_run(platform, args.from_run, args.overrides)
        if args.use_case and args.use_case != past.use_case.name:
            raise ConfigError(f"--from-run {args.from_run} trained use case '{past.use_case.name}', not '{args.use_case}'")
        use_case, versions = past.use_case, past.versions
        tags["atelier.from_run"] = args.from_run
        log.info("rerunning %s on the same data versions %s", args.from_run, versions)
    elif args.use_case:
        use_case = load_use_case(args.use_case, args.conf_dir, args.env, args.overrides)
    else:
        raise ConfigError("give --use-case NAME, or --from-run RUN_ID to rerun a past run")
    spark = build_session(platform, app_name=f"atelier-train-{use_case.name}")
    report = train(Lake(spark, platform), use_case, versions=versions, run_name=args.run_name, tags=tags)
    print(f"run {report.run_id}: model {report.model_name} version {report.model_version}")
    tested = {k: v for k, v in sorted(report.metrics.items()) if k.startswith("test_")}
    print("  " + "  ".join(f"{k}={v:.4f}" for k, v in tested.items()))
    write_summary(args.summary_json, {"run_id": report.run_id, "model": report.model_name,
                                      "version": str(report.model_version), "metrics": tested})


def cmd_sweep(args: argparse.Namespace) -> None:
    from atelier.training.experiments import describe, parse_grid, sweep
    from atelier.model.metrics import headline

    grid = parse_grid(args.grid)
    with open_job(args, "sweep", dated=False) as job:
        parent, results, best = sweep(job.lake, job.use_case.name, args.overrides, grid,
                                      args.random, args.seed, args.conf_dir, args.env)
    key = f"validation_{headline(job.use_case.label.task)[0]}"
    print(describe(results, key))
    print(f"sweep run {parent}: best trial {best.run_id} ({key} {best.metrics[key]:.4f}), "
          f"registered as {best.model_name} version {best.model_version}")


def cmd_runs(args: argparse.Namespace) -> None:
    from atelier.config.loader import load_platform
    from atelier.training.experiments import list_runs

    platform = load_platform(args.conf_dir, args.env, args.overrides)
    frame = list_runs(platform, args.use_case, args.filter or "", args.max)
    rows = [tuple("" if v is None or v != v else (f"{v:.4f}" if isinstance(v, float) else str(v)) for v in r)
            for r in frame.itertuples(index=False)]
    print(_format_table(list(frame.columns), rows))


def cmd_ui(args: argparse.Namespace) -> None:
    """Start the MLflow UI on 127.0.0.1 over the platform's tracking store and registry."""
    from atelier.config.loader import load_platform
    from atelier.tracking.store import resolve_uri

    platform = load_platform(args.conf_dir, args.env, args.overrides)
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(args.port),
               "--backend-store-uri", resolve_uri(platform.mlflow.tracking_uri),
               "--default-artifact-root", Path(platform.mlflow.artifact_root).resolve().as_uri()]
    if platform.mlflow.registry_uri:
        command += ["--registry-store-uri", resolve_uri(platform.mlflow.registry_uri)]
    log.info("MLflow UI on http://127.0.0.1:%d (Ctrl-C stops it)", args.port)
    os.execv(sys.executable, command)


def cmd_score(args: argparse.Namespace) -> None:
    from atelier.scoring.batch import score_dates

    with open_job(args, "score") as job:
        report = score_dates(job.lake, job.use_case, job.dates.start, job.dates.end)
    log.info("scored %s..%s (run %s): %s", job.dates.start, job.dates.end, report.run_id,
             ", ".join(f"{arm} {n} rows" for arm, n in sorted(report.rows.items())))


def cmd_reconcile(args: argparse.Namespace) -> None:
    from atelier.monitoring.reconcile import reconcile

    with open_job(args, "reconcile") as job:
        report = reconcile(job.lake, job.use_case, job.dates.start, job.dates.end)
    metric = "auc" if job.use_case.label.task == "binary" else "rmse"
    rows = [(str(r["score_date"]), r["arm"], r["model_version"], str(r["rows_scored"]),
             f"{r['label_completeness']:.1%}", "-" if r[metric] is None else f"{r[metric]:.4f}") for r in report.rows]
    print(_format_table(["date", "arm", "version", "scored", "labelled", f"live {metric}"], rows))
    log.info("reconciled %s..%s into %s version %d (run %s)", job.dates.start, job.dates.end,
             job.use_case.monitoring.live_metrics_table, report.version, report.run_id)


def cmd_monitor(args: argparse.Namespace) -> None:
    from atelier.monitoring.alerts import raise_alerts
    from atelier.monitoring.drift import drift

    with open_job(args, "monitor") as job:
        uc, start, end = job.use_case, job.dates.start, job.dates.end
        drift(job.lake, uc, start, end)
        report = raise_alerts(job.lake, uc, start, end)
    kinds = Counter(a.kind for a in report.alerts)
    print(f"{len(report.alerts)} alert(s) for {start}..{end}: "
          + (", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none")
          + (f"; retraining requested for {len(report.retrain_dates)} date(s)" if report.retrain_dates else ""))
    for alert in report.alerts[-args.show:]:
        print(f"  {alert.alert_date} {alert.kind:<18} {alert.message}")
    if len(report.alerts) > args.show:
        print(f"  (the latest {args.show}; all of them: atelier sql \"SELECT * FROM {uc.monitoring.alerts_table}\")")
    write_summary(args.summary_json, {"use_case": uc.name, "start": start, "end": end, "alerts": dict(kinds),
                                      "retrain_dates": [str(d) for d in report.retrain_dates],
                                      "reasons": {str(d): r for d, r in report.retrain_reasons.items()}})


def cmd_report(args: argparse.Namespace) -> None:
    from atelier.monitoring.report import write_report

    with open_job(args, "report") as job:
        path = write_report(job.lake, job.use_case, job.dates.start, job.dates.end)
    print(f"monitoring report: {path.resolve()}")


def cmd_ab_report(args: argparse.Namespace) -> None:
    from atelier.monitoring.abtest import ab_readout, format_report, write_html
    from atelier.tracking import store

    with open_job(args, "ab-report") as job:
        store.use_platform(job.platform)
        report = ab_readout(job.lake, job.use_case, job.dates.start, job.dates.end)
    print(format_report(report))
    print(f"HTML: {write_html(report, Path(job.platform.reports_dir) / job.use_case.name).resolve()}")


def cmd_promote(args: argparse.Namespace) -> None:
    """Move `champion` through the promotion gate (or `challenger` directly), recorded in ml.registry_events."""
    from atelier.tracking import registry, store
    from atelier.promotion.gate import PromotionRefused, promote

    with open_job(args, "promote", dated=False) as job:
        store.use_platform(job.platform)
        model, comparison = job.use_case.model_name, None
        if args.alias != "champion":
            event = registry.move_alias(job.lake, model, args.alias,
                                        args.version, "assign", args.reason or f"assigned as {args.alias}")
        else:
            try:
                event, comparison = promote(job.lake, job.use_case, args.version, args.force,
                                            args.reason)
            except PromotionRefused as refused:
                if not args.allow_refusal:
                    raise
                _print_gains(refused.comparison)
                print(f"{model}: champion stays at version {refused.comparison.champion} (refused: {refused})")
                write_summary(args.summary_json, {"model": model, "version": args.version, "promoted": False,
                                                  "champion": refused.comparison.champion, "reason": str(refused),
                                                  "evidence_run_id": refused.comparison.evidence_run_id})
                return
            _print_gains(comparison)
    print(f"{event.model}: {event.alias} {event.from_version} -> {event.to_version} ({event.action}: {event.reason})")
    write_summary(args.summary_json, {"model": model, "version": args.version, "promoted": True,
                                      "champion": event.to_version, "reason": event.reason,
                                      "evidence_run_id": comparison.evidence_run_id if comparison else None})


def _print_gains(comparison) -> None:
    """The gate's evidence, one line per metric."""
    for metric, gain in comparison.gains.items():
        if gain.gain is None:
            print(f"  {metric}: candidate {gain.candidate:.4f} (no champion yet)")
        else:
            print(f"  {metric}: candidate {gain.candidate:.4f}, champion {gain.champion:.4f}, gain "
                  f"{gain.gain:+.4f} (CI {gain.ci_low:+.4f}..{gain.ci_high:+.4f}), margin {gain.margin:+.4f}")


def cmd_rollback(args: argparse.Namespace) -> None:
    from atelier.tracking import store
    from atelier.promotion.gate import rollback

    with open_job(args, "rollback", dated=False) as job:
        store.use_platform(job.platform)
        event = rollback(job.lake, job.use_case, args.reason or "")
    print(f"{event.model}: champion {event.from_version} -> {event.to_version} (rollback: {event.reason})")


def _registry_use_case(args: argparse.Namespace) -> tuple[str, UseCaseConfig]:
    """The use case, with MLflow pointed at the platform's store (no Spark needed); (tracking URI, use case)."""
    from atelier.config.loader import load_platform, load_use_case
    from atelier.tracking.store import use_platform

    platform = load_platform(args.conf_dir, args.env, args.overrides)
    return use_platform(platform), load_use_case(args.use_case, args.conf_dir, args.env, args.overrides)


def cmd_serve(args: argparse.Namespace) -> None:
    """Serve a use case's model alias over HTTP on 127.0.0.1 (MLflow's scoring server, this environment)."""
    from atelier.tracking import registry

    uri, use_case = _registry_use_case(args)
    version = registry.alias_version(use_case.model_name, args.alias)
    if version is None:
        raise ConfigError(f"model {use_case.model_name} has no alias '{args.alias}' (atelier promote ...)")
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{use_case.model_name}@{args.alias}",
               "--host", "127.0.0.1", "--port", str(args.port), "--env-manager", "local"]
    log.info("serving %s version %s (%s) on http://127.0.0.1:%d/invocations", use_case.model_name, version,
             args.alias, args.port)
    bin_dir = Path(sys.executable).parent  # MLflow starts `uvicorn` from PATH: this environment's
    os.execve(sys.executable, command, {**os.environ, "MLFLOW_TRACKING_URI": uri,
                                        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})


def cmd_export(args: argparse.Namespace) -> None:
    from atelier.config.loader import load_platform
    from atelier.safe_paths import platform_folders

    if args.format == "onnx":
        from atelier.tracking.onnx_export import export_onnx as export
    else:
        from atelier.tracking.export import export

    _, use_case = _registry_use_case(args)
    protected = platform_folders(load_platform(args.conf_dir, args.env, args.overrides))
    print(export(use_case, args.alias, args.to, protected))


def cmd_airflow_plan(args: argparse.Namespace) -> None:
    from atelier.orchestration.plan import DEFAULT_PLAN, write_plan

    print(write_plan(args.out or DEFAULT_PLAN, args.conf_dir, args.env, args.overrides))


def cmd_submit(args: argparse.Namespace) -> None:
    """spark-submit a job file with Delta's jars and the platform's Spark settings."""
    from atelier.config.loader import load_platform
    from atelier.spark.session import submit_args, submit_env

    platform = load_platform(args.conf_dir, args.env, args.overrides)
    job_file = JOBS_DIR / f"{args.job}.py"
    if not job_file.is_file():
        raise ConfigError(f"no job file {job_file}; jobs: {sorted(p.stem for p in JOBS_DIR.glob('*.py'))}")
    command = [str(Path(sys.executable).parent / "spark-submit"), *submit_args(platform), str(job_file), *args.job_args]
    log.info("running: %s", shlex.join(command))
    code = subprocess.call(command, env=submit_env(platform))
    if code:
        raise SystemExit(code)


def cmd_spark_sql(args: argparse.Namespace) -> None:
    """Start Spark's own `spark-sql` shell on the same catalog, jars and settings as the jobs."""
    from atelier.config.loader import load_platform
    from atelier.spark.session import prepare_catalog, secret_properties, submit_args, submit_env

    platform = load_platform(args.conf_dir, args.env, args.overrides)
    prepare_catalog(platform)
    bin_dir = Path(sys.executable).parent
    # Delta answers min/max/count from its log as java.time.LocalDate, which the spark-sql shell
    # cannot print for DATE columns (ClassCastException); the shell reads the files instead.
    workaround = ["--conf", "spark.databricks.delta.optimizeMetadataQuery.enabled=false"]
    env = {**submit_env(platform), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    with secret_properties(platform) as secrets:
        command = [str(bin_dir / "spark-sql"), *submit_args(platform), *secrets, *workaround, *args.sql_args]
        code = subprocess.call(command, env=env)
    if code:
        raise SystemExit(code)


def _format_table(header: list[str], rows: list[tuple[str, ...]]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows), f"({len(rows)} rows)"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atelier", description="atelier: YAML use cases -> Spark + Delta ML loop.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, fn: Callable, help_: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, epilog=f"example:\n  atelier {name} {example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(fn=fn)
        add_config_args(p)
        return p

    p = command("collect", cmd_collect, "Collect a use case's sources into bronze Delta tables for a date (or "
                "range), and the outcomes that matured by then into the outcomes table.", EXAMPLE_DATE)
    add_use_case_args(p)
    p = command("features", cmd_features, "Build the silver (clean, joined) and gold (feature) tables of a use "
                "case for a date or range from bronze.",
                "--use-case flights_delay --start 2013-01-01 --end 2013-01-31")
    add_use_case_args(p)
    p = command("validate", cmd_validate, "Validate a table's dates against the use case's rules: rows that "
                "break a row rule move to the quarantine, a table-rule breach fails; the run goes to ops.validation_runs "
                "and a Data Docs page under var/reports/data_docs.",
                "--use-case flights_delay --table flights --date 2013-02-12")
    add_use_case_args(p)
    p.add_argument("--table", required=True, help="a source name (its bronze table), 'silver' or 'features'")
    p = command("quarantine", cmd_quarantine, "List quarantined rows by table, date and rule, or release the rows "
                "of a table's dates that pass the current rules back into it (exactly once).",
                "release --use-case flights_delay --table weather --date 2013-02-12")
    p.add_argument("action", choices=["list", "release"])
    p.add_argument("--use-case", help="use case name (release)")
    p.add_argument("--table", help="a source name, 'silver' or 'features' (release)")
    p.add_argument("--date", type=runtime.parse_date, help="date to release")
    p.add_argument("--start", type=runtime.parse_date, help="first date to release")
    p.add_argument("--end", type=runtime.parse_date, help="last date to release")
    command("tables", cmd_tables, "List every Delta table in the lake with its version, row count and last write.", "")
    p = command("sql", cmd_sql, "Run one read-only Spark SQL statement over the catalog (a query, SHOW, DESCRIBE "
                "or EXPLAIN; anything that writes is refused) and print the result.",
                "\"SELECT flight_date, count(*) FROM gold.flight_features GROUP BY 1 ORDER BY 1\"")
    p.add_argument("query", help="one Spark SQL query; tables by <database>.<table>")
    p.add_argument("--limit", type=int, default=100, help="rows to print (default 100)")
    p = command("synth", cmd_synth, "Write a seeded synthetic copy of a use case's primary source, N rows drawn "
                "from the real data's distributions, as Parquet (for benchmarks at scale).",
                "--use-case flights_delay --rows 1000000 --out var/synth/flights_1m")
    add_use_case_args(p, dated=False)
    p.add_argument("--rows", type=int, required=True, help="rows to generate")
    p.add_argument("--seed", type=int, default=13, help="random seed (default 13)")
    p.add_argument("--out", type=Path, required=True, help="output folder (Parquet): new, empty, or an earlier "
                   "synth output (replaced); any other folder is refused")
    p = command("train", cmd_train, "Train a use case on its training window (features joined with outcomes, "
                "split by time, input Delta versions pinned) with the configured model, loader and backend; "
                "log the run to MLflow and register the model. --from-run reruns a past run, same data versions.",
                "--use-case flights_delay --set training.backend=local --set training.epochs=2")
    p.add_argument("--use-case", help="use case name: conf/base/use_cases/<NAME>.yaml")
    p.add_argument("--from-run", metavar="RUN_ID", help="rerun this MLflow run's configuration and data versions "
                   "(--set changes it)")
    p.add_argument("--run-name", help="MLflow run name")
    add_summary_arg(p)
    p = command("sweep", cmd_sweep, "Train several variants as child runs of one MLflow run (grid, or --random N "
                "of it); the best by validation metric is named and registered.",
                "--use-case flights_delay --grid training.learning_rate=0.001|0.003 --grid training.model.name=mlp|linear")
    add_use_case_args(p, dated=False)
    p.add_argument("--grid", action="append", required=True, metavar="KEY=V1|V2",
                   help="a configuration key and its values, separated by | (repeatable)")
    p.add_argument("--random", type=int, help="draw this many trials from the grid instead of all")
    p.add_argument("--seed", type=int, default=13, help="seed for --random (default 13)")
    p = command("runs", cmd_runs, "List a use case's MLflow runs, newest first (filter with MLflow's syntax).",
                "--use-case flights_delay --filter \"metrics.test_auc > 0.6\"")
    add_use_case_args(p, dated=False)
    p.add_argument("--filter", help="an MLflow search filter, e.g. \"params.training.backend = 'horovod'\"")
    p.add_argument("--max", type=int, default=20, help="runs to list (default 20)")
    p = command("score", cmd_score, "Score a date's (or a range's) feature rows with every arm of the use case "
                "(champion, challenger on its share, shadows) into ml.predictions, replacing those dates.",
                "--use-case flights_delay --date 2013-10-01")
    add_use_case_args(p)
    p = command("reconcile", cmd_reconcile, "Join the predictions scored on a date (or range) with the outcomes "
                "that arrived within the maturity window and write live metrics per date, version, arm and population "
                "(all rows, served rows) to ml.live_metrics, replacing those dates (rerun when late outcomes arrive).",
                "--use-case flights_delay --date 2013-10-01")
    add_use_case_args(p)
    p = command("monitor", cmd_monitor, "Drift of a date's (or range's) features and scores against the champion's "
                "reference profile (ml.feature_drift), then the alerts (ml.alerts, webhook) and retraining requests "
                "(ml.retrain_requests) for those dates.", "--use-case flights_delay --start 2013-10-01 --end 2013-10-31")
    add_use_case_args(p)
    p.add_argument("--show", type=int, default=10, help="alerts to print, latest first (default 10)")
    add_summary_arg(p)
    p = command("report", cmd_report, "Write the monitoring report (HTML + PNG charts: live metrics per arm, label "
                "completeness, drift heatmap, score distribution, alerts) under var/reports/<use case>/monitoring and "
                "log it to the champion's MLflow run.", "--use-case flights_delay --start 2013-10-01 --end 2013-12-31")
    add_use_case_args(p)
    p = command("ab-report", cmd_ab_report, "A/B read-out over reconciled dates: challenger vs champion on the rows "
                "each served, every arm vs the champion on all rows, with bootstrap intervals; printed and as HTML.",
                "--use-case flights_delay --start 2013-10-01 --end 2013-12-31")
    add_use_case_args(p)
    p = command("promote", cmd_promote, "Make a registered version the champion if it beats the current one on the "
                "same held-out rows by the use case's promotion margins (paired bootstrap intervals in the report); "
                "--alias challenger|shadow assigns without the gate. Every move goes to ml.registry_events.",
                "--use-case flights_delay --version 3")
    add_use_case_args(p, dated=False)
    p.add_argument("--version", required=True, help="the registered model version")
    p.add_argument("--alias", choices=["champion", "challenger", "shadow"], default="champion",
                   help="champion goes through the gate; challenger and shadow are assigned directly")
    p.add_argument("--force", action="store_true", help="promote even if the gate refuses (needs --reason)")
    p.add_argument("--allow-refusal", action="store_true",
                   help="a refusal by the gate is an outcome, not an error: print the evidence and exit 0")
    p.add_argument("--reason", default="", help="why; recorded in ml.registry_events")
    add_summary_arg(p)
    p = command("rollback", cmd_rollback, "Move the champion back to the version it replaced (recorded).",
                "--use-case flights_delay --reason \"calibration drifted\"")
    add_use_case_args(p, dated=False)
    p.add_argument("--reason", default="", help="why; recorded in ml.registry_events")
    p = command("serve", cmd_serve, "Serve the model behind an alias over HTTP on 127.0.0.1 (POST /invocations "
                "with feature rows; the same answers as the score job).", "--use-case flights_delay --alias champion")
    add_use_case_args(p, dated=False)
    p.add_argument("--alias", default="champion", help="registry alias (default champion)")
    p.add_argument("--port", type=int, default=5001)
    p = command("export", cmd_export, "Write the model behind an alias as a self-contained folder: --format mlflow "
                "(pyfunc with its code, pinned requirements, README; loads with mlflow.pyfunc.load_model without "
                "atelier) or --format onnx (one ONNX graph with the preprocessing, and manifest.json, for the Java "
                "library in java/; checked against the pyfunc).",
                "--use-case flights_delay --alias champion --format onnx --to var/export/flights_delay_onnx")
    add_use_case_args(p, dated=False)
    p.add_argument("--alias", default="champion", help="registry alias (default champion)")
    p.add_argument("--format", choices=["mlflow", "onnx"], default="mlflow", help="what to write (default mlflow)")
    p.add_argument("--to", type=Path, required=True, help="target folder: new, empty, or an earlier export of the "
                   "same format (replaced); any other folder is refused")
    p = command("airflow-plan", cmd_airflow_plan, "Write the DAG plan the Airflow DAG factory (dags/) reads: "
                "the jobs environment's spark-submit, Spark settings, and every use case's dates; the configuration "
                "flags given here (--env, --set) are passed on to every task.", "--env standalone")
    p.add_argument("--out", type=Path, help="where to write it (default var/airflow/plan.json)")
    p = command("ui", cmd_ui, "Start a UI on 127.0.0.1: mlflow (runs, charts, registry).", "mlflow --port 5000")
    p.add_argument("app", choices=["mlflow"])
    p.add_argument("--port", type=int, default=5000)
    p = command("submit", cmd_submit, "spark-submit a job file from jobs/ with Delta's jars and the platform's "
                "Spark settings (what Airflow runs).", "collect -- --use-case flights_delay --date 2013-01-01")
    p.add_argument("job", help="job name: a file jobs/<JOB>.py")
    p.add_argument("job_args", nargs=argparse.REMAINDER, help="arguments for the job (after --)")
    p = command("spark-sql", cmd_spark_sql, "Open Spark's spark-sql shell (or run -e QUERY) on the lake's catalog.",
                "-- -e 'SELECT flight_date, count(*) FROM gold.flight_features GROUP BY 1'")
    p.add_argument("sql_args", nargs=argparse.REMAINDER, help="spark-sql arguments (after --), e.g. -e QUERY")
    return parser


def main(argv: list[str] | None = None) -> int:
    def run(args_list: list[str] | None) -> None:
        args = build_parser().parse_args(args_list)
        for rest in ("job_args", "sql_args"):
            if getattr(args, rest, None) and getattr(args, rest)[0] == "--":
                setattr(args, rest, getattr(args, rest)[1:])
        args.fn(args)

    return runtime.run_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
