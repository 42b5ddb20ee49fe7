#!/usr/bin/env bash
# Installs Bun from npm (the `bun` package ships its binary as a registry
# package) for the interop test against Bun's compressed frames
# (tests/deflate/bun_interop_test.ts). Idempotent; prints the binary's path.
set -euo pipefail

dir="${BUN_INSTALL_DIR:-/tmp/wsx-bun}"
bin="$dir/node_modules/bun/bin/bun.exe"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  log="$(mktemp)"
  if ! npm install --prefix "$dir" --no-audit --no-fund bun@1.3.5 >"$log" 2>&1; then
    echo "install_bun: npm install failed:" >&2
    tail -n 20 "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
fi
"$bin" --version >/dev/null
echo "$bin"
