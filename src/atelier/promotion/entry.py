"""The promotion gate's commands: `atelier promote` (jobs/promote.py) and `rollback`."""

from __future__ import annotations

import argparse

from atelier.command import Command
from atelier.runtime import add_summary_arg, add_use_case_args, open_job, write_summary


def cmd_promote(args: argparse.Namespace) -> None:
    """Move `champion` through the promotion gate (or `challenger` directly), recorded in ml.registry_events."""
    from atelier.promotion.gate import PromotionRefused, promote
    from atelier.tracking import registry, store

    with open_job(args, "promote", dated=False) as job:
        store.use_platform(job.platform)
        model, comparison = job.use_case.model_name, None
        if args.alias != "champion":
            event = registry.move_alias(
                job.lake, model, args.alias, args.version, "assign", args.reason or f"assigned as {args.alias}"
            )
        else:
            try:
                event, comparison = promote(job.lake, job.use_case, args.version, args.force, args.reason)
            except PromotionRefused as refused:
                if not args.allow_refusal:
                    raise
                _print_gains(refused.comparison)
                print(f"{model}: champion stays at version {refused.comparison.champion} (refused: {refused})")
                write_summary(
                    args.summary_json,
                    {
                        "model": model,
                        "version": args.version,
                        "promoted": False,
                        "champion": refused.comparison.champion,
                        "reason": str(refused),
                        "evidence_run_id": refused.comparison.evidence_run_id,
                    },
                )
                return
            _print_gains(comparison)
    print(f"{event.model}: {event.alias} {event.from_version} -> {event.to_version} ({event.action}: {event.reason})")
    write_summary(
        args.summary_json,
        {
            "model": model,
            "version": args.version,
            "promoted": True,
            "champion": event.to_version,
            "reason": event.reason,
            "evidence_run_id": comparison.evidence_run_id if comparison else None,
        },
    )


def _print_gains(comparison) -> None:
    """The gate's evidence, one line per metric."""
    for metric, gain in comparison.gains.items():
        if gain.gain is None:
            print(f"  {metric}: candidate {gain.candidate:.4f} (no champion yet)")
        else:
            print(
                f"  {metric}: candidate {gain.candidate:.4f}, champion {gain.champion:.4f}, gain "
                f"{gain.gain:+.4f} (CI {gain.ci_low:+.4f}..{gain.ci_high:+.4f}), margin {gain.margin:+.4f}"
            )


def add_promote_arguments(parser: argparse.ArgumentParser) -> None:
    add_use_case_args(parser, dated=False)
    parser.add_argument("--version", required=True, help="the registered model version")
    parser.add_argument(
        "--alias",
        choices=["champion", "challenger", "shadow"],
        default="champion",
        help="champion goes through the gate; challenger and shadow are assigned directly",
    )
    parser.add_argument("--force", action="store_true", help="promote even if the gate refuses (needs --reason)")
    parser.add_argument(
        "--allow-refusal",
        action="store_true",
        help="a refusal by the gate is an outcome, not an error: print the evidence and exit 0",
    )
    parser.add_argument("--reason", default="", help="why; recorded in ml.registry_events")
    add_summary_arg(parser)


def cmd_rollback(args: argparse.Namespace) -> None:
    from atelier.promotion.gate import rollback
    from atelier.tracking import store

    with open_job(args, "rollback", dated=False) as job:
        store.use_platform(job.platform)
        event = rollback(job.lake, job.use_case, args.reason or "")
    print(f"{event.model}: champion {event.from_version} -> {event.to_version} (rollback: {event.reason})")


def add_rollback_arguments(parser: argparse.ArgumentParser) -> None:
    add_use_case_args(parser, dated=False)
    parser.add_argument("--reason", default="", help="why; recorded in ml.registry_events")


PROMOTE = Command(
    "promote",
    "Make a registered version the champion if it beats the current one on the same held-out rows by the "
    "use case's promotion margins (paired bootstrap intervals in the report); --alias challenger|shadow assigns "
    "without the gate. Every move goes to ml.registry_events.",
    "--use-case flights_delay --version 3",
    cmd_promote,
    add_promote_arguments,
)
ROLLBACK = Command(
    "rollback",
    "Move the champion back to the version it replaced (recorded).",
    '--use-case flights_delay --reason "calibration drifted"',
    cmd_rollback,
    add_rollback_arguments,
)
