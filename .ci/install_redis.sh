#!/usr/bin/env bash
# Installs Debian's redis-server for the Redis broker tests (tests/hub/), once.
# Idempotent and quiet: does nothing when /usr/bin/redis-server is already there.
# The tests start their own server on 127.0.0.1 and a free port; the package's
# system service is not needed.
set -euo pipefail

if [ -x /usr/bin/redis-server ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq redis-server; } >"$log" 2>&1; then
  echo "install_redis: apt-get failed:" >&2
  tail -n 30 "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"

if [ ! -x /usr/bin/redis-server ]; then
  echo "install_redis: /usr/bin/redis-server is missing after the install" >&2
  exit 1
fi
echo "install_redis: $(/usr/bin/redis-server --version | head -n 1)"
