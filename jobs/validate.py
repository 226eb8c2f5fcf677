"""spark-submit entry point: the validate job (same arguments as `atelier validate`).

atelier submit validate -- --use-case flights_delay --table flights --date 2013-02-12
"""

from __future__ import annotations

import sys

from atelier.validation.entry import VALIDATE

if __name__ == "__main__":
    sys.exit(VALIDATE.main(sys.argv[1:]))
