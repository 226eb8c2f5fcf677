#!/usr/bin/env bash
# A Spark standalone cluster on this machine: a master and N workers on 127.0.0.1, started from the
# jobs environment's own Spark (spark-class), with pid files, logs and work dirs under $ATELIER_CLUSTER_DIR.
# Usage: scripts/cluster.sh up|down|status. Jobs reach it with `--env standalone` (conf/standalone/).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/process.sh
venv=${ATELIER_VENV:-.venv}
dir=$(realpath -m "${ATELIER_CLUSTER_DIR:-var/cluster}")
port=${ATELIER_CLUSTER_PORT:-7077}
ui_port=${ATELIER_CLUSTER_UI_PORT:-8080}
worker_ui_port=${ATELIER_CLUSTER_WORKER_UI_PORT:-8081}   # worker i gets this + i - 1; 0: any free port
workers=${ATELIER_CLUSTER_WORKERS:-2}
cores=${ATELIER_CLUSTER_WORKER_CORES:-1}
memory=${ATELIER_CLUSTER_WORKER_MEMORY:-1536m}
timeout=${ATELIER_CLUSTER_TIMEOUT:-90}
[ -x "$venv/bin/python" ] || { echo "[cluster] no $venv: run make venv first" >&2; exit 1; }
SPARK_HOME=$("$venv/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
spark_class="$SPARK_HOME/bin/spark-class"
# SPARK_LOCAL_IP binds every RPC endpoint and web UI to loopback (the UIs bind 0.0.0.0 without it).
export SPARK_HOME SPARK_LOCAL_IP=127.0.0.1

alive() {  # alive PID_FILE: its process runs and is a Spark daemon (not another process that got the pid)
  [ -f "$1" ] && grep -qa org.apache.spark.deploy "/proc/$(cat "$1")/cmdline" 2>/dev/null
}
names() { echo master; for i in $(seq 1 "$workers"); do echo "worker-$i"; done; }

start() {  # start NAME CLASS ARGS...: spark-class in the background, its pid in NAME.pid, its output in logs/NAME.log
  local name=$1; shift
  if alive "$dir/$name.pid"; then echo "[cluster] $name already running (pid $(cat "$dir/$name.pid"))"; return; fi
  nohup "$spark_class" "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}

alive_workers() {  # how many workers the master counts as alive (0 while its UI is not up)
  "$venv/bin/python" -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1], timeout=2))["aliveworkers"])' \
    "http://127.0.0.1:$ui_port/json/" 2>/dev/null || echo 0
}

up() {
  mkdir -p "$dir/logs"
  start master org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$port" --webui-port "$ui_port"
  for i in $(seq 1 "$workers"); do
    local wui=$((worker_ui_port == 0 ? 0 : worker_ui_port + i - 1))
    mkdir -p "$dir/worker-$i"
    start "worker-$i" org.apache.spark.deploy.worker.Worker "spark://127.0.0.1:$port" --host 127.0.0.1 \
      --cores "$cores" --memory "$memory" --work-dir "$dir/worker-$i" --webui-port "$wui"
  done
  local waited=0
  until [ "$(alive_workers)" -ge "$workers" ]; do
    for name in $(names); do
      alive "$dir/$name.pid" || { echo "[cluster] $name exited; its log:" >&2; tail -n 20 "$dir/logs/$name.log" >&2; down; exit 1; }
    done
    if [ "$waited" -ge "$timeout" ]; then
      echo "[cluster] $workers workers not registered after ${timeout}s (logs: $dir/logs)" >&2; down; exit 1
    fi
    sleep 1; waited=$((waited + 1))
  done
  echo "[cluster] spark://127.0.0.1:$port up: $workers workers x $cores core(s), $memory (UI http://127.0.0.1:$ui_port)"
}

down() {
  for name in $(names | tac); do  # workers first: each stops its executors
    local pid_file="$dir/$name.pid"
    if alive "$pid_file"; then stop_pid "$pid_file" "[cluster] $name"; fi
    rm -f "$pid_file"
  done
}

status() {
  for name in $(names); do
    if alive "$dir/$name.pid"; then echo "$name: running (pid $(cat "$dir/$name.pid"))"; else echo "$name: stopped"; fi
  done
  echo "alive workers: $(alive_workers) (master spark://127.0.0.1:$port, UI http://127.0.0.1:$ui_port, logs $dir/logs)"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
