#!/bin/sh
# Installs, from Debian's packages, what the tests start or drive as real programs, when it is
# missing: redis-server (store tests), haproxy (fleet tests), chromium (the status page's
# browser test, driven by playwright-core, which downloads no browser), tmux (`drover top` in a
# terminal) and sqlite3 (the private-files test reads the store as another user would).
# `npm test` runs it first; test helpers call it too. Quick when everything is present.
set -eu
need() { # need COMMAND-OR-PATH PACKAGE
  case "$1" in /*) [ -x "$1" ] ;; *) command -v "$1" >/dev/null 2>&1 ;; esac || missing="$missing $2"
}
check() {
  missing=""
  need redis-server redis-server
  need haproxy haproxy
  need /usr/bin/chromium chromium
  need tmux tmux
  need sqlite3 sqlite3
}
check
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps:$missing missing and apt-get is not available; install them by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# One install at a time: test files running in parallel may call this together.
exec 9>"${TMPDIR:-/tmp}/drover-ensure-test-deps.lock"
flock 9
check
[ -z "$missing" ] && exit 0
# policy-rc.d exit 101 keeps dpkg from starting the packages' services (redis on 6379,
# haproxy on :80): the tests run their own processes on free loopback ports.
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=""
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  CREATED_POLICY=1
fi
cleanup() { if [ -n "$CREATED_POLICY" ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT
echo "ensure-test-deps: installing$missing" >&2
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
