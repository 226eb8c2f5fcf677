# Shared by the set-up scripts that install a Debian package when it is missing. Source it.

# apt_install WHY PACKAGE...: apt-get install the packages (with sudo when not root), saying why.
# Set-up scripts run side by side (make setup): they take turns on one lock file, as apt holds one lock.
apt_install() {
  local why=$1; shift
  echo "[setup] installing Debian's $* ($why)"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  local lock="${TMPDIR:-/tmp}/atelier-apt.lock"
  flock "$lock" $sudo apt-get update -q >/dev/null
  flock "$lock" $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null
}
