#!/usr/bin/env bash
# Airflow on embedded defaults: AIRFLOW_HOME=var/airflow, SQLite metadata, the DAGs of dags/, the UI
# on 127.0.0.1 with a login. Usage:
#   scripts/airflow.sh start        write the DAG plan, migrate, then run the API server/UI, scheduler and
#                                   DAG processor in the foreground (Ctrl-C stops all three)
#   scripts/airflow.sh init         only the plan, the metadata database, the pool and the login
#   scripts/airflow.sh cli ARGS...  the `airflow` command in this environment (dags list, backfill create ...)
# Settings from the environment: ATELIER_AIRFLOW_PORT (8080), ATELIER_AIRFLOW_HOST (127.0.0.1),
# ATELIER_AIRFLOW_USER (admin), ATELIER_AIRFLOW_PASSWORD (else generated once and printed once),
# ATELIER_AIRFLOW_STOP_S (30: how long a stop waits for Airflow to finish before it kills what is left),
# AIRFLOW_HOME, AIRFLOW_CONN_SPARK_DEFAULT (else the platform's spark.master), ATELIER_PLAN_ARGS
# (flags for `atelier airflow-plan`, e.g. "--env standalone"), and any AIRFLOW__SECTION__KEY.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
# shellcheck source=lib/process.sh
. scripts/lib/process.sh
venv=${ATELIER_AIRFLOW_VENV:-$repo/.venv-airflow}
jobs_venv=${ATELIER_VENV:-$repo/.venv}
export AIRFLOW_HOME=${AIRFLOW_HOME:-$repo/var/airflow}
export ATELIER_PLAN=${ATELIER_PLAN:-$AIRFLOW_HOME/plan.json}
host=${ATELIER_AIRFLOW_HOST:-127.0.0.1}
port=${ATELIER_AIRFLOW_PORT:-8080}
user=${ATELIER_AIRFLOW_USER:-admin}
secrets=$AIRFLOW_HOME/secrets
mkdir -p "$AIRFLOW_HOME" "$secrets"
chmod 700 "$secrets"

# A secret made once per AIRFLOW_HOME, readable by its owner only, never in the repository.
secret() {
  local file=$secrets/$1
  [ -s "$file" ] || (umask 077 && "$venv/bin/python" -c "$2" > "$file")
  cat "$file"
}
token='import secrets; print(secrets.token_urlsafe(32))'

export AIRFLOW__CORE__DAGS_FOLDER=$repo/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}
# LocalExecutor starts this many worker processes up front (Airflow's default, 32, is for a large machine);
# the Spark tasks share a one-slot pool, so a few workers keep the Python steps beside them moving.
export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-8}
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-$user:admin}
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=$secrets/passwords.json
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://$host:$port/execution/
export AIRFLOW__API__HOST=$host
export AIRFLOW__API__PORT=$port
export AIRFLOW__API__BASE_URL=${AIRFLOW__API__BASE_URL:-http://$host:$port}
export AIRFLOW__API_AUTH__JWT_SECRET=${AIRFLOW__API_AUTH__JWT_SECRET:-$(secret jwt "$token")}
export AIRFLOW__API__SECRET_KEY=${AIRFLOW__API__SECRET_KEY:-$(secret api "$token")}
export AIRFLOW__CORE__FERNET_KEY=${AIRFLOW__CORE__FERNET_KEY:-$(secret fernet \
  'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')}
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-30}
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=False
export AIRFLOW__LOGGING__BASE_LOG_FOLDER=$AIRFLOW_HOME/logs

plan_value() {
  "$jobs_venv/bin/python" -c 'import json, sys; print(eval(sys.argv[2], {"plan": json.load(open(sys.argv[1]))}))' \
    "$ATELIER_PLAN" "$1"
}

spark_connection() {
  if [ -z "${AIRFLOW_CONN_SPARK_DEFAULT:-}" ]; then
    AIRFLOW_CONN_SPARK_DEFAULT="{\"conn_type\": \"spark\", \"host\": \"$(plan_value 'plan["master"]')\"}"
    export AIRFLOW_CONN_SPARK_DEFAULT
  fi
}

init() {
  # shellcheck disable=SC2086  # ATELIER_PLAN_ARGS is a list of flags
  "$jobs_venv/bin/atelier" airflow-plan --out "$ATELIER_PLAN" ${ATELIER_PLAN_ARGS:-} >/dev/null
  spark_connection
  "$venv/bin/airflow" db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
  "$venv/bin/airflow" pools set "$(plan_value 'plan["orchestration"]["pool"]')" \
    "$(plan_value 'plan["orchestration"]["pool_slots"]')" "atelier's Spark jobs (see OrchestrationConfig)" >/dev/null
  passwords=$secrets/passwords.json
  if [ -n "${ATELIER_AIRFLOW_PASSWORD:-}" ]; then
    (umask 077 && ATELIER_USER=$user "$venv/bin/python" -c \
      'import json, os; print(json.dumps({os.environ["ATELIER_USER"]: os.environ["ATELIER_AIRFLOW_PASSWORD"]}))' > "$passwords")
  elif ! grep -q "\"$user\"" "$passwords" 2>/dev/null; then
    (umask 077 && ATELIER_USER=$user "$venv/bin/python" -c \
      'import json, os, secrets; print(json.dumps({os.environ["ATELIER_USER"]: secrets.token_urlsafe(12)}))' > "$passwords")
    echo "[airflow] generated the password of '$user' (shown once; stored in $passwords, mode 600):"
    "$venv/bin/python" -c 'import json, sys; print("  " + json.load(open(sys.argv[1]))[sys.argv[2]])' "$passwords" "$user"
  fi
}

start() {
  init
  pids=()
  stop_all() {
    trap - EXIT INT TERM
    stop_tree "${ATELIER_AIRFLOW_STOP_S:-30}" "${pids[@]}" \
      || echo "[airflow] still running ${ATELIER_AIRFLOW_STOP_S:-30} s after the stop: killed" >&2
  }
  trap stop_all EXIT INT TERM
  # --skip-serve-logs: the scheduler's log server would listen on every interface (port 8793); with the
  # LocalExecutor the API server reads task logs from disk, so it is not needed.
  for part in "api-server --host $host --port $port" "scheduler --skip-serve-logs" dag-processor; do
    name=${part%% *}
    # shellcheck disable=SC2086
    "$venv/bin/airflow" $part >"$AIRFLOW_HOME/$name.log" 2>&1 &
    pids+=($!)
  done
  for _ in $(seq 120); do
    "$venv/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
      "http://$host:$port/api/v2/version" >/dev/null 2>&1 && break
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { echo "[airflow] a process stopped; logs in $AIRFLOW_HOME/*.log" >&2; exit 1; }
    done
    sleep 1
  done
  echo "[airflow] UI on http://$host:$port (user '$user'), DAGs from $AIRFLOW__CORE__DAGS_FOLDER, logs in $AIRFLOW_HOME"
  echo "[airflow] new DAGs start paused: unpause one in the UI to run its schedule (catch-up over its dates)"
  wait -n "${pids[@]}"
  echo "[airflow] a process stopped; logs in $AIRFLOW_HOME/*.log" >&2
  exit 1
}

case "${1:-start}" in
  init) init ;;
  start) start ;;
  cli) shift; [ -f "$ATELIER_PLAN" ] || init >/dev/null; spark_connection; exec "$venv/bin/airflow" "$@" ;;
  *) echo "usage: $0 start|init|cli ARGS..." >&2; exit 2 ;;
esac
