#!/usr/bin/env bash
# Create the orchestrator environment (default .venv-airflow): Airflow 3.3.2 and the Spark provider 6.3.x,
# apart from the jobs environment, whose pyspark 3.5 the provider's pyspark-client 4.x would overwrite
# (../shared/design/STACK.md). DAG tasks shell out to the jobs environment's spark-submit.
# Usage: scripts/setup_airflow_venv.sh [venv] [extra requirement ...]; $AIRFLOW_CONSTRAINTS: a constraints file or URL.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv-airflow}
shift $(($# > 0 ? 1 : 0))
python=${PYTHON:-python3.11}
want=("apache-airflow==3.3.2" "apache-airflow-providers-apache-spark>=6.3,<6.4" "$@")
stamp="$venv/.atelier-stamp"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${want[*]}" ]; then
  exit 0
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
echo "[setup] installing ${want[*]} into $venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet ${AIRFLOW_CONSTRAINTS:+-c "$AIRFLOW_CONSTRAINTS"} "${want[@]}"
AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW_HOME=$(mktemp -d) "$venv/bin/airflow" version
echo "${want[*]}" > "$stamp"
echo "[setup] $venv ready"
