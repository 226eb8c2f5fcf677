"""spark-submit entry point: the validate job (same arguments as `atelier validate`).

    atelier submit validate -- --use-case flights_delay --table flights --date 2013-02-12
"""
from __future__ import annotations

import sys

from atelier.cli import main

if __name__ == "__main__":
    sys.exit(main(["validate", *sys.argv[1:]]))
