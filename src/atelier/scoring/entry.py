"""The scoring stage's command: `atelier score` (jobs/score.py)."""

from __future__ import annotations

import argparse
import logging

from atelier.command import Command
from atelier.runtime import add_use_case_args, open_job

log = logging.getLogger("atelier")


def cmd_score(args: argparse.Namespace) -> None:
    from atelier.scoring.batch import score_dates

    with open_job(args, "score") as job:
        report = score_dates(job.lake, job.use_case, job.dates.start, job.dates.end)
    log.info(
        "scored %s..%s (run %s): %s",
        job.dates.start,
        job.dates.end,
        report.run_id,
        ", ".join(f"{arm} {n} rows" for arm, n in sorted(report.rows.items())),
    )


SCORE = Command(
    "score",
    "Score a date's (or a range's) feature rows with every arm of the use case (champion, challenger on its "
    "share, shadows) into ml.predictions, replacing those dates.",
    "--use-case flights_delay --date 2013-10-01",
    cmd_score,
    add_use_case_args,
)
