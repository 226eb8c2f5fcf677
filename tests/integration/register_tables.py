"""One of several processes that register the same lake tables in a shared catalog at one moment
(test_concurrent_jobs.py), as jobs that write new tables at once do.

    python -m tests.integration.register_tables BARRIER_DIR PROCESSES DB.TABLE... --set=KEY=VALUE...

Each process starts its session, then marks itself ready in BARRIER_DIR and waits until PROCESSES
processes are ready: all of them register at once, however long each took to start.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from atelier.config.loader import load_platform
from atelier.spark.session import build_session
from atelier.spark.tables import Lake

READY_TIMEOUT_S = 300


def wait_for_all(barrier: Path, processes: int) -> None:
    """Mark this process ready in `barrier`; return when `processes` processes are (fail after a timeout)."""
    (barrier / f"{os.getpid()}.ready").touch()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while len(list(barrier.glob("*.ready"))) < processes:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(barrier.glob('*.ready')))} of {processes} processes ready")
        time.sleep(0.01)


def main(args: list[str]) -> None:
    overrides = [a.removeprefix("--set=") for a in args if a.startswith("--set=")]
    barrier, processes, *names = [a for a in args if not a.startswith("--set=")]
    platform = load_platform(overrides=overrides)
    spark = build_session(platform, "register-tables")
    spark.sql("SHOW DATABASES").collect()  # the session and its catalog client ready before the barrier
    wait_for_all(Path(barrier), int(processes))
    for name in names:
        Lake(spark, platform).register(name)
    print(f"registered {len(names)} tables")


if __name__ == "__main__":
    main(sys.argv[1:])
