"""spark-submit entry point: the promote job (same arguments as `atelier promote`).

atelier submit promote -- --use-case flights_delay --version 3
spark-submit --packages io.delta:delta-spark_2.12:3.3.3 jobs/promote.py --use-case flights_delay --version 3
"""

from __future__ import annotations

import sys

from atelier.promotion.entry import PROMOTE

if __name__ == "__main__":
    sys.exit(PROMOTE.main(sys.argv[1:]))
