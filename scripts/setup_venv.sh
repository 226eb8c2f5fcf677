#!/usr/bin/env bash
# Create the jobs environment (.venv) with the pinned stack, the patched Horovod build and atelier.
# Idempotent: a stamp records the requirements' hash, so a second run takes a second.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${ATELIER_VENV:-.venv}
python=${PYTHON:-python3.11}
stamp="$venv/.atelier-stamp"
want=$(cat requirements.txt pyproject.toml scripts/build_horovod.sh | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
command -v javac >/dev/null || { echo "[setup] a JDK 17 is required (apt-get install openjdk-17-jdk-headless)" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating $venv with $python"
  "$python" -m venv "$venv"
fi
echo "[setup] installing the pinned stack into $venv (first time: several minutes)"
"$venv/bin/python" -m pip install --quiet --upgrade pip wheel
"$venv/bin/python" -m pip install --quiet -r requirements.txt
"$venv/bin/python" -m pip install --quiet --no-deps -e .
scripts/build_horovod.sh "$venv"
echo "[setup] fetching the jobs' jars (Delta, hadoop-aws) into ~/.ivy2"
"$venv/bin/python" scripts/fetch_jars.py
echo "$want" > "$stamp"
echo "[setup] $venv ready"
