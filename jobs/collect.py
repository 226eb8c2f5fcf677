"""spark-submit entry point: the collect job (same arguments as `atelier collect`).

atelier submit collect -- --use-case flights_delay --date 2013-01-01
spark-submit --packages io.delta:delta-spark_2.12:3.3.3 jobs/collect.py --use-case flights_delay --date 2013-01-01
"""

from __future__ import annotations

import sys

from atelier.collect.entry import COLLECT

if __name__ == "__main__":
    sys.exit(COLLECT.main(sys.argv[1:]))
