#!/bin/sh
# Installs the command-line tools the benchmarks drive (wrk, Debian package) when missing.
set -eu
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-tools: wrk is missing and apt-get is not available; install wrk 4.x by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk
wrk --version 2>&1 | head -n 1 || true
