#!/usr/bin/env bash
# Installs Debian's chromium for the interop tests (tests/interop/), once.
# Idempotent and quiet: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium; } >"$log" 2>&1; then
  echo "install_chromium: apt-get failed:" >&2
  tail -n 30 "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"

if [ ! -x /usr/bin/chromium ]; then
  echo "install_chromium: /usr/bin/chromium is missing after the install" >&2
  exit 1
fi
echo "install_chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
