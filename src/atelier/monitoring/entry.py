"""The monitoring stage's commands: `atelier reconcile` and `atelier monitor` (jobs/reconcile.py, jobs/monitor.py),
`atelier report` and `atelier ab-report`."""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from pathlib import Path

from atelier.command import Command, format_table
from atelier.runtime import add_summary_arg, add_use_case_args, open_job, write_summary

log = logging.getLogger("atelier")


def cmd_reconcile(args: argparse.Namespace) -> None:
    from atelier.monitoring.reconcile import reconcile

    with open_job(args, "reconcile") as job:
        report = reconcile(job.lake, job.use_case, job.dates.start, job.dates.end)
    metric = "auc" if job.use_case.label.task == "binary" else "rmse"
    rows = [
        (
            str(r["score_date"]),
            r["arm"],
            r["model_version"],
            str(r["rows_scored"]),
            f"{r['label_completeness']:.1%}",
            "-" if r[metric] is None else f"{r[metric]:.4f}",
        )
        for r in report.rows
    ]
    print(format_table(["date", "arm", "version", "scored", "labelled", f"live {metric}"], rows))
    log.info(
        "reconciled %s..%s into %s version %d (run %s)",
        job.dates.start,
        job.dates.end,
        job.use_case.monitoring.live_metrics_table,
        report.version,
        report.run_id,
    )


def cmd_monitor(args: argparse.Namespace) -> None:
    from atelier.monitoring.alerts import raise_alerts
    from atelier.monitoring.drift import drift

    with open_job(args, "monitor") as job:
        uc, start, end = job.use_case, job.dates.start, job.dates.end
        drift(job.lake, uc, start, end)
        report = raise_alerts(job.lake, uc, start, end)
    kinds = Counter(a.kind for a in report.alerts)
    print(
        f"{len(report.alerts)} alert(s) for {start}..{end}: "
        + (", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none")
        + (f"; retraining requested for {len(report.retrain_dates)} date(s)" if report.retrain_dates else "")
    )
    for alert in report.alerts[-args.show :]:
        print(f"  {alert.alert_date} {alert.kind:<18} {alert.message}")
    if len(report.alerts) > args.show:
        print(f'  (the latest {args.show}; all of them: atelier sql "SELECT * FROM {uc.monitoring.alerts_table}")')
    write_summary(
        args.summary_json,
        {
            "use_case": uc.name,
            "start": start,
            "end": end,
            "alerts": dict(kinds),
            "retrain_dates": [str(d) for d in report.retrain_dates],
            "reasons": {str(d): r for d, r in report.retrain_reasons.items()},
        },
    )


def add_monitor_arguments(parser: argparse.ArgumentParser) -> None:
    add_use_case_args(parser)
    parser.add_argument("--show", type=int, default=10, help="alerts to print, latest first (default 10)")
    add_summary_arg(parser)


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


RECONCILE = Command(
    "reconcile",
    "Join the predictions scored on a date (or range) with the outcomes that arrived within the maturity "
    "window and write live metrics per date, version, arm and population (all rows, served rows) to "
    "ml.live_metrics, replacing those dates (rerun when late outcomes arrive).",
    "--use-case flights_delay --date 2013-10-01",
    cmd_reconcile,
    add_use_case_args,
)
MONITOR = Command(
    "monitor",
    "Drift of a date's (or range's) features and scores against the champion's reference profile "
    "(ml.feature_drift), then the alerts (ml.alerts, webhook) and retraining requests (ml.retrain_requests) for "
    "those dates.",
    "--use-case flights_delay --start 2013-10-01 --end 2013-10-31",
    cmd_monitor,
    add_monitor_arguments,
)
REPORT = Command(
    "report",
    "Write the monitoring report (HTML + PNG charts: live metrics per arm, label completeness, drift "
    "heatmap, score distribution, alerts) under var/reports/<use case>/monitoring and log it to the champion's "
    "MLflow run.",
    "--use-case flights_delay --start 2013-10-01 --end 2013-12-31",
    cmd_report,
    add_use_case_args,
)
AB_REPORT = Command(
    "ab-report",
    "A/B read-out over reconciled dates: challenger vs champion on the rows each served, every arm vs "
    "the champion on all rows, with bootstrap intervals; printed and as HTML.",
    "--use-case flights_delay --start 2013-10-01 --end 2013-12-31",
    cmd_ab_report,
    add_use_case_args,
)
