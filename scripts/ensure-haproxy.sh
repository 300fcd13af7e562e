#!/bin/sh
# Installs HAProxy (Debian's package, 2.6 on bookworm) for the fleet tests when missing.
# Idempotent: exits at once when `haproxy` is already on PATH. The package's own service is
# neither started nor enabled: the tests run their own haproxy processes on loopback ports.
set -eu
if command -v haproxy >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-haproxy: haproxy is missing and apt-get is not available; install HAProxy 2.6+ by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# policy-rc.d exit 101 keeps dpkg from starting the packaged service (it would bind :80).
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=""
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  CREATED_POLICY=1
fi
cleanup() { if [ -n "$CREATED_POLICY" ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends haproxy
haproxy -v | head -n 1
