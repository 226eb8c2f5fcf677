# Shared by the set-up scripts that install a Debian package when it is missing. Source it.

# apt_install WHY PACKAGE...: apt-get install the packages (with sudo when not root), saying why.
apt_install() {
  local why=$1; shift
  echo "[setup] installing Debian's $* ($why)"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null
}
