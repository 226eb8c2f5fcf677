#!/usr/bin/env bash
# Debian's Chromium for the UI test (driven by Playwright from .venv-airflow with executablePath).
set -euo pipefail
browser=${ATELIER_CHROMIUM:-/usr/bin/chromium}
[ -x "$browser" ] && exit 0
. "$(dirname "$0")/lib/apt.sh"
apt_install "for the Airflow UI test" chromium
