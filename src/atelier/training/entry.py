"""The training stage's commands: `atelier train` (jobs/train.py), `atelier sweep` and `atelier runs`."""

from __future__ import annotations

import argparse
import logging

from atelier.command import Command, format_table
from atelier.errors import ConfigError
from atelier.runtime import add_summary_arg, add_use_case_args, open_job, write_summary

log = logging.getLogger("atelier")


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
            raise ConfigError(
                f"--from-run {args.from_run} trained use case '{past.use_case.name}', not '{args.use_case}'"
            )
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
    write_summary(
        args.summary_json,
        {"run_id": report.run_id, "model": report.model_name, "version": str(report.model_version), "metrics": tested},
    )


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--use-case", help="use case name: conf/base/use_cases/<NAME>.yaml")
    parser.add_argument(
        "--from-run",
        metavar="RUN_ID",
        help="rerun this MLflow run's configuration and data versions (--set changes it)",
    )
    parser.add_argument("--run-name", help="MLflow run name")
    add_summary_arg(parser)


def cmd_sweep(args: argparse.Namespace) -> None:
    from atelier.model.metrics import headline
    from atelier.training.experiments import describe, parse_grid, sweep

    grid = parse_grid(args.grid)
    with open_job(args, "sweep", dated=False) as job:
        parent, results, best = sweep(
            job.lake, job.use_case.name, args.overrides, grid, args.random, args.seed, args.conf_dir, args.env
        )
    key = f"validation_{headline(job.use_case.label.task)[0]}"
    print(describe(results, key))
    print(
        f"sweep run {parent}: best trial {best.run_id} ({key} {best.metrics[key]:.4f}), "
        f"registered as {best.model_name} version {best.model_version}"
    )


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    add_use_case_args(parser, dated=False)
    parser.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="KEY=V1|V2",
        help="a configuration key and its values, separated by | (repeatable)",
    )
    parser.add_argument("--random", type=int, help="draw this many trials from the grid instead of all")
    parser.add_argument("--seed", type=int, default=13, help="seed for --random (default 13)")


def cmd_runs(args: argparse.Namespace) -> None:
    from atelier.config.loader import load_platform
    from atelier.training.experiments import list_runs

    platform = load_platform(args.conf_dir, args.env, args.overrides)
    frame = list_runs(platform, args.use_case, args.filter or "", args.max)
    rows = [
        tuple("" if v is None or v != v else (f"{v:.4f}" if isinstance(v, float) else str(v)) for v in r)
        for r in frame.itertuples(index=False)
    ]
    print(format_table(list(frame.columns), rows))


def add_runs_arguments(parser: argparse.ArgumentParser) -> None:
    add_use_case_args(parser, dated=False)
    parser.add_argument("--filter", help="an MLflow search filter, e.g. \"params.training.backend = 'horovod'\"")
    parser.add_argument("--max", type=int, default=20, help="runs to list (default 20)")


TRAIN = Command(
    "train",
    "Train a use case on its training window (features joined with outcomes, split by time, input Delta "
    "versions pinned) with the configured model, loader and backend; log the run to MLflow and register the model. "
    "--from-run reruns a past run, same data versions.",
    "--use-case flights_delay --set training.backend=local --set training.epochs=2",
    cmd_train,
    add_train_arguments,
)
SWEEP = Command(
    "sweep",
    "Train several variants as child runs of one MLflow run (grid, or --random N of it); the best by "
    "validation metric is named and registered.",
    "--use-case flights_delay --grid training.learning_rate=0.001|0.003 --grid training.model.name=mlp|linear",
    cmd_sweep,
    add_sweep_arguments,
)
RUNS = Command(
    "runs",
    "List a use case's MLflow runs, newest first (filter with MLflow's syntax).",
    '--use-case flights_delay --filter "metrics.test_auc > 0.6"',
    cmd_runs,
    add_runs_arguments,
)
