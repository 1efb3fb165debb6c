#!/usr/bin/env bash
# Runs nvim_session.lua in a headless Neovim against the mig binary given
# as $1. Exits 77 (skipped) when nvim is not installed.
set -euo pipefail
mig=$1
if ! command -v nvim >/dev/null; then
  echo "nvim is not installed: skipped (scripts/setup.sh installs it)"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export MIG_BINARY=$mig MIG_LSP_DIR=$dir XDG_CACHE_HOME=$dir/cache XDG_STATE_HOME=$dir/state
script=$(cd "$(dirname "$0")" && pwd)/nvim_session.lua
timeout 120 nvim --headless --clean -n -i NONE -c "luafile $script" </dev/null
