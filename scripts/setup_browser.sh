#!/usr/bin/env bash
# Debian's Chromium for the UI test (driven by Playwright from .venv-airflow with executablePath).
set -euo pipefail
browser=${ATELIER_CHROMIUM:-/usr/bin/chromium}
[ -x "$browser" ] && exit 0
echo "[setup] installing Debian's chromium (for the Airflow UI test)"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends chromium >/dev/null
