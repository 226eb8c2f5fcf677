#!/usr/bin/env bash
# S3-compatible object storage on this machine for a lake at s3a://atelier/lake (`--env objectstore`):
# S3Proxy (Apache jclouds' S3 server, one Java jar from Maven Central) on 127.0.0.1, storing buckets
# as folders under $ATELIER_OBJECTSTORE_DIR/data. Access keys come from AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY, else are generated once into $ATELIER_OBJECTSTORE_DIR/credentials.env (mode 600).
# Usage: scripts/objectstore.sh up|down|status. Jobs then need those two variables in their environment:
#   set -a; . var/objectstore/credentials.env; set +a
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/process.sh
dir=$(realpath -m "${ATELIER_OBJECTSTORE_DIR:-var/objectstore}")
port=${ATELIER_OBJECTSTORE_PORT:-9000}
bucket=${ATELIER_OBJECTSTORE_BUCKET:-atelier}
version=2.6.0
jar_dir=${ATELIER_CACHE:-$HOME/.cache/atelier}/tools
jar="$jar_dir/s3proxy-$version-jar-with-dependencies.jar"
url="https://repo1.maven.org/maven2/org/gaul/s3proxy/$version/$(basename "$jar")"

alive() { [ -f "$dir/s3proxy.pid" ] && grep -qa s3proxy "/proc/$(cat "$dir/s3proxy.pid")/cmdline" 2>/dev/null; }

fetch() {  # the jar, checked against Maven Central's SHA-1
  [ -f "$jar" ] && return
  mkdir -p "$jar_dir"
  curl -fsSL -o "$jar.part" "$url"
  [ "$(sha1sum "$jar.part" | cut -d' ' -f1)" = "$(curl -fsSL "$url.sha1" | cut -c1-40)" ] \
    || { echo "[objectstore] checksum mismatch for $url" >&2; rm -f "$jar.part"; exit 1; }
  mv "$jar.part" "$jar"
}

credentials() {  # the access keys: from the environment, else generated once
  if [ -n "${AWS_ACCESS_KEY_ID:-}" ] && [ -n "${AWS_SECRET_ACCESS_KEY:-}" ]; then return; fi
  if [ ! -f "$dir/credentials.env" ]; then
    (umask 077; printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' \
      "atelier-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
      "$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')" >"$dir/credentials.env")
    echo "[objectstore] generated access keys in $dir/credentials.env"
  fi
  set -a; . "$dir/credentials.env"; set +a
}

up() {
  if alive; then echo "[objectstore] already running (pid $(cat "$dir/s3proxy.pid"))"; return; fi
  mkdir -p "$dir/data/$bucket"   # a folder under the base directory is a bucket
  fetch
  credentials
  (umask 077; cat >"$dir/s3proxy.conf" <<EOF
s3proxy.endpoint=http://127.0.0.1:$port
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$AWS_ACCESS_KEY_ID
s3proxy.credential=$AWS_SECRET_ACCESS_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$dir/data
EOF
)
  nohup java -jar "$jar" --properties "$dir/s3proxy.conf" >"$dir/s3proxy.log" 2>&1 </dev/null &
  echo $! >"$dir/s3proxy.pid"
  for _ in $(seq 1 60); do
    # An unsigned request gets 403 once the server answers.
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" || true)" = 403 ] && {
      echo "[objectstore] s3a://$bucket on http://127.0.0.1:$port up (data under $dir/data)"; return; }
    alive || { echo "[objectstore] S3Proxy exited; its log:" >&2; tail -n 20 "$dir/s3proxy.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "[objectstore] S3Proxy not answering on port $port after 30 s (log: $dir/s3proxy.log)" >&2; down; exit 1
}

down() {
  if alive; then stop_pid "$dir/s3proxy.pid" "[objectstore] S3Proxy" 10; fi
  rm -f "$dir/s3proxy.pid"
}

status() {
  if alive; then echo "S3Proxy: running (pid $(cat "$dir/s3proxy.pid")) on http://127.0.0.1:$port"; else echo "S3Proxy: stopped"; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
