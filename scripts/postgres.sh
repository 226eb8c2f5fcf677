#!/usr/bin/env bash
# A throwaway PostgreSQL (Debian's package) for the tests of the tracking store on PostgreSQL.
#   scripts/postgres.sh install    apt-get install postgresql when its binaries are missing
#   scripts/postgres.sh start DIR  a new cluster in DIR on 127.0.0.1 (a free port, no Unix socket, trust
#                                  login for user atelier) with database mlflow; prints its URI
#   scripts/postgres.sh stop DIR   stop it and remove DIR
# As root, the server runs as `nobody` (initdb and postgres refuse to run as root).
set -euo pipefail

bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

case "${1:-}" in
install)
  [ -n "$(bindir)" ] && exit 0
  . "$(dirname "$0")/lib/apt.sh"
  apt_install "for the tracking-store tests" postgresql
  ;;
start)
  dir=${2:?usage: $0 start DIR}
  bin=$(bindir)
  [ -n "$bin" ] || { echo "no PostgreSQL under /usr/lib/postgresql: run $0 install" >&2; exit 1; }
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown nobody "$dir"; fi
  chmod 700 "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_owner "$bin/initdb" -D "$dir/data" -U atelier --auth=trust -E UTF8 --locale=C >"$dir/initdb.log"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=''" >/dev/null
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U atelier mlflow
  echo "postgresql://atelier@127.0.0.1:$port/mlflow"
  ;;
stop)
  dir=${2:?usage: $0 stop DIR}
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop >/dev/null
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 install | start DIR | stop DIR" >&2
  exit 2
  ;;
esac
