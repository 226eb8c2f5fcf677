# Shared by the scripts that run background servers (airflow.sh, cluster.sh, objectstore.sh). Source it.

# descendants PID...: every process below the PIDs, each child before its own children.
descendants() {
  local pid child
  for pid in "$@"; do
    for child in $(pgrep -P "$pid" || true); do
      echo "$child"
      descendants "$child"
    done
  done
}

# stop_tree SECONDS PID...: TERM the PIDs, wait up to SECONDS for them to exit, then KILL whatever is left
# of them and of the processes that were below them (a stuck worker must not keep a port or a lock).
# Returns 1 when something had to be killed.
stop_tree() {
  local seconds=$1 pid alive tree
  shift
  tree=$(descendants "$@")
  kill "$@" 2>/dev/null || true
  for _ in $(seq 1 $((seconds * 2))); do
    alive=()
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ ${#alive[@]} = 0 ] && return 0
    sleep 0.5
  done
  # shellcheck disable=SC2086  # tree is a list of pids
  kill -9 "${alive[@]}" $tree 2>/dev/null || true
  return 1
}

# stop_pid PID_FILE LABEL [SECONDS]: stop the process of PID_FILE and what runs below it (TERM, then KILL
# after SECONDS, default 15) and remove the file. The caller checks first that the pid is still its server's.
stop_pid() {
  local pid_file=$1 label=$2 seconds=${3:-15}
  local pid; pid=$(cat "$pid_file")
  stop_tree "$seconds" "$pid" || echo "$label did not stop in $seconds s: killed"
  echo "$label stopped (pid $pid)"
  rm -f "$pid_file"
}
