#!/usr/bin/env bash
# `mig compile` of generated plans of 10,000 and 50,000 steps, against
# `ninja -n` (a dry run: parse the manifest, build the graph, print every
# command) on the same graph written as a build.ninja. Both are measured in
# the same run on the same machine; the ratio is what counts.
#
#   bench/compile.sh            (MIG=build/cli/mig, RUNS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
MIG=${MIG:-build/cli/mig}
RUNS=${RUNS:-5}
for tool in hyperfine ninja; do
  command -v "$tool" >/dev/null || { echo "compile.sh: $tool is not installed" >&2; exit 2; }
done
work=$(mktemp -d /tmp/mig-bench-compile.XXXXXX)
trap 'rm -rf "$work"' EXIT

for steps in 10000 50000; do
  mkdir -p "$work/$steps"
  python3 bench/generate_plan.py "$steps" "$work/$steps/plan.mig" --ninja "$work/$steps/build.ninja"
  hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$work/$steps.json" \
    "$MIG compile $work/$steps/plan.mig -o $work/$steps/plan.json" \
    "ninja -C $work/$steps -n" > /dev/null
done
python3 - "$work" <<'PY'
import json, sys
means = {}
for steps in (10000, 50000):
    mig, ninja = (r["mean"] for r in json.load(open(f"{sys.argv[1]}/{steps}.json"))["results"])
    means[steps] = mig
    print(f"| {steps:,} steps | mig compile {mig*1000:.0f} ms | ninja -n {ninja*1000:.0f} ms | {mig/ninja:.2f}x |")
print(f"| growth 50k / 10k (linear: 5.0) | {means[50000]/means[10000]:.2f} | | |")
PY
