"""spark-submit entry point: the score job (same arguments as `atelier score`).

atelier submit score -- --use-case flights_delay --date 2013-10-01
spark-submit --packages io.delta:delta-spark_2.12:3.3.3 jobs/score.py --use-case flights_delay --date 2013-10-01
"""

from __future__ import annotations

import sys

from atelier.scoring.entry import SCORE

if __name__ == "__main__":
    sys.exit(SCORE.main(sys.argv[1:]))
