"""spark-submit entry point: the monitor job (same arguments as `atelier monitor`).

atelier submit monitor -- --use-case flights_delay --date 2013-10-01
spark-submit --packages io.delta:delta-spark_2.12:3.3.3 jobs/monitor.py --use-case flights_delay --date 2013-10-01
"""

from __future__ import annotations

import sys

from atelier.monitoring.entry import MONITOR

if __name__ == "__main__":
    sys.exit(MONITOR.main(sys.argv[1:]))
