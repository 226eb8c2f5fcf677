"""Minutes per test file and per phase from pytest's `--durations=0` report (docs/testing.md).

make test PYTEST_ARGS=--durations=0 2>&1 | tee var/test.log
.venv/bin/python scripts/durations_table.py var/test.log
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

LINE = re.compile(r"^(\d+\.\d+)s (setup|call|teardown)\s+(\S+?)::")


def tally(lines: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds per test file and per phase (setup, call, teardown)."""
    per_file: dict[str, float] = defaultdict(float)
    per_phase: dict[str, float] = defaultdict(float)
    for line in lines:
        if found := LINE.match(line.strip()):
            seconds, phase, path = float(found[1]), found[2], found[3]
            per_file[path] += seconds
            per_phase[phase] += seconds
    return per_file, per_phase


def main(path: str) -> None:
    per_file, per_phase = tally(Path(path).read_text(errors="replace").splitlines())
    print(" ".join(f"{phase} {seconds / 60:.1f} min" for phase, seconds in sorted(per_phase.items())))
    for name, seconds in sorted(per_file.items(), key=lambda item: -item[1]):
        print(f"{seconds / 60:6.2f}  {name}")


if __name__ == "__main__":
    main(sys.argv[1])
