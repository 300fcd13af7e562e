#!/bin/sh
# Installs what the status-page tests drive when missing: Debian's chromium (driven by
# playwright-core, which downloads no browser) and tmux (a pseudo-terminal for `drover top`).
# Idempotent: when both are present it only checks and exits.
set -eu
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-browser:$missing missing and apt-get is not available; install them by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# One process at a time: parallel test files may both call this.
exec 9>"${TMPDIR:-/tmp}/drover-ensure-browser.lock"
flock 9
[ -x /usr/bin/chromium ] && command -v tmux >/dev/null 2>&1 && exit 0
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
