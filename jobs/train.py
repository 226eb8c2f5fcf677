"""spark-submit entry point: the train job (same arguments as `atelier train`).

atelier submit train -- --use-case flights_delay
spark-submit --packages io.delta:delta-spark_2.12:3.3.3 jobs/train.py --use-case flights_delay
"""

from __future__ import annotations

import sys

from atelier.training.entry import TRAIN

if __name__ == "__main__":
    sys.exit(TRAIN.main(sys.argv[1:]))
