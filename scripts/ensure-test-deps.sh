#!/bin/sh
# Installs what the tests start as real processes (redis-server, Debian package) when it is
# missing. Idempotent and quick when present: `npm test` runs it before every run.
set -eu
if command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps: redis-server is missing and apt-get is not available; install redis-server 7.x by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends redis-server
# Debian starts a system service on 6379; the tests never use it (they start their own).
redis-server --version
