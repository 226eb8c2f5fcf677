"""spark-submit entry point: the features job (same arguments as `atelier features`).

atelier submit features -- --use-case flights_delay --date 2013-01-01
spark-submit --packages io.delta:delta-spark_2.12:3.3.3 jobs/features.py --use-case flights_delay --date 2013-01-01
"""

from __future__ import annotations

import sys

from atelier.features.entry import FEATURES

if __name__ == "__main__":
    sys.exit(FEATURES.main(sys.argv[1:]))
