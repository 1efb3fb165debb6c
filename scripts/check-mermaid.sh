#!/usr/bin/env bash
# Renders `mig graph --format mermaid` of every example with Mermaid 11 in
# headless Chromium. Not part of the test command: it needs Chromium and the
# npm registry, which a CI machine may not reach. The DOT output is checked
# with graphviz by the tests.
#
#   scripts/check-mermaid.sh            (MIG=build/cli/mig)
set -euo pipefail
cd "$(dirname "$0")/.."
MIG=$(realpath "${MIG:-build/cli/mig}")

if ! command -v chromium >/dev/null; then
  if [[ $(id -u) -ne 0 ]]; then sudo=sudo; else sudo=; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium
fi
work=$(mktemp -d /tmp/mig-mermaid.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp scripts/mermaid/render.js "$work/"
(cd "$work" && npm init -y >/dev/null && npm install --silent mermaid@11 playwright-core >/dev/null)

diagrams=()
for plan in examples/*.mig; do
  diagram="$work/$(basename "$plan" .mig).mmd"
  "$MIG" graph "$plan" --format mermaid > "$diagram"
  diagrams+=("$diagram")
done
(cd "$work" && node render.js "${diagrams[@]}")
