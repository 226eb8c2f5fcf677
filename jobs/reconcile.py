"""spark-submit entry point: the reconcile job (same arguments as `atelier reconcile`).

atelier submit reconcile -- --use-case flights_delay --date 2013-10-01
spark-submit --packages io.delta:delta-spark_2.12:3.3.3 jobs/reconcile.py --use-case flights_delay --date 2013-10-01
"""

from __future__ import annotations

import sys

from atelier.monitoring.entry import RECONCILE

if __name__ == "__main__":
    sys.exit(RECONCILE.main(sys.argv[1:]))
