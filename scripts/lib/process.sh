# Shared by the scripts that run background servers (cluster.sh, objectstore.sh). Source it.

# stop_pid PID_FILE LABEL [SECONDS]: stop the process of PID_FILE (TERM, then KILL after SECONDS,
# default 15) and remove the file. The caller checks first that the pid is still its server's.
stop_pid() {
  local pid_file=$1 label=$2 seconds=${3:-15}
  local pid; pid=$(cat "$pid_file")
  kill "$pid"
  for _ in $(seq 1 $((seconds * 2))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  echo "$label stopped (pid $pid)"
  rm -f "$pid_file"
}
