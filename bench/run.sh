#!/usr/bin/env bash
# `mig run -j 2` of 2,000 and 10,000 no-op steps (`true`), journal on,
# against ninja -j2 running the same graph (the same commands, the same
# dependencies, one phony edge per phase barrier). Each run starts from a
# fresh journal and a fresh ninja log. The ratio mig/ninja is the figure.
#
#   bench/run.sh            (MIG=build/cli/mig, RUNS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
MIG=$(realpath "${MIG:-build/cli/mig}")
RUNS=${RUNS:-5}
for tool in hyperfine ninja; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 2; }
done
work=$(mktemp -d /tmp/mig-bench-run.XXXXXX)
trap 'rm -rf "$work"' EXIT

for steps in 2000 10000; do
  dir=$work/$steps
  mkdir -p "$dir"
  python3 bench/generate_plan.py "$steps" "$dir/plan.mig" --plain --ninja "$dir/build.ninja"
  hyperfine --warmup 1 --runs "$RUNS" --export-json "$work/$steps.json" \
    --prepare "rm -rf $dir/.mig $dir/.ninja_log $dir/.ninja_deps" \
    "cd $dir && $MIG run plan.mig -j 2 > /dev/null" \
    "cd $dir && ninja -j2 > /dev/null" > /dev/null
done
python3 - "$work" <<'PY'
import json, sys
for steps in (2000, 10000):
    mig, ninja = (r for r in json.load(open(f"{sys.argv[1]}/{steps}.json"))["results"])
    per_step = (mig["mean"] - ninja["mean"]) / steps * 1e6
    print(f"| {steps:,} steps, -j 2 | mig run {mig['mean']:.2f} s ± {mig['stddev']:.2f} | "
          f"ninja {ninja['mean']:.2f} s ± {ninja['stddev']:.2f} | {mig['mean']/ninja['mean']:.2f}x | "
          f"{per_step:.0f} µs/step more |")
PY
