#!/usr/bin/env bash
# The test suite in two tiers (docs/testing.md), what `make test` and CI run once the set-up is done:
#   1. fast: unit tests and the in-process Spark tests, in one process (one SparkSession);
#   2. e2e: the end-to-end tests (marker `e2e`: subprocess jobs, Airflow, clusters, servers), on
#      ATELIER_TEST_WORKERS pytest-xdist workers (default 2), each test file on one worker.
# A broken unit fails the run after tier 1, in minutes. Arguments are passed to both tiers' pytest;
# when they select tests of one tier only, the other's "no tests collected" (exit 5) is not an error;
# when neither tier has a test to run, the run fails with exit status 5.
set -uo pipefail
cd "$(dirname "$0")/.."
py=${ATELIER_VENV:-.venv}/bin/python
workers=${ATELIER_TEST_WORKERS:-2}
started=$SECONDS

tier() {
  local name=$1; shift
  echo "[test] tier $name: pytest $*"
  "$py" -m pytest "$@"
  local code=$?
  if [ "$code" -eq 5 ] && [ "$selected" = yes ]; then
    echo "[test] tier $name: none of the selected tests"
    empty=$((empty + 1))
    return 0
  fi
  return "$code"
}

selected=no
empty=0
[ $# -gt 0 ] && selected=yes
tier fast -m "not e2e" "$@" || exit $?
fast=$((SECONDS - started))
if [ "$workers" -gt 1 ]; then
  tier e2e -m e2e -n "$workers" --dist loadfile "$@" || exit $?
else
  tier e2e -m e2e "$@" || exit $?
fi
if [ "$empty" -eq 2 ]; then
  echo "[test] no test was selected in either tier" >&2
  exit 5
fi
echo "[test] both tiers passed: fast $((fast / 60)) min $((fast % 60)) s, e2e $(((SECONDS - started - fast) / 60)) min $(((SECONDS - started - fast) % 60)) s"
