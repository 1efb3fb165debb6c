#!/usr/bin/env bash
# How long `mig lint` takes on generated plans of 10,000 and 50,000 steps,
# and whether it grows linearly (the 50k/10k ratio should be about 5).
#
#   bench/lint.sh            (MIG=build/cli/mig, RUNS=10)
set -euo pipefail
cd "$(dirname "$0")/.."
MIG=${MIG:-build/cli/mig}
RUNS=${RUNS:-10}
command -v hyperfine >/dev/null || { echo "lint.sh: hyperfine is not installed" >&2; exit 2; }
work=$(mktemp -d /tmp/mig-bench-lint.XXXXXX)
trap 'rm -rf "$work"' EXIT

for steps in 10000 50000; do
  python3 bench/generate_plan.py "$steps" "$work/plan$steps.mig"
done
hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$work/lint.json" \
  "$MIG lint $work/plan10000.mig" "$MIG lint $work/plan50000.mig" > /dev/null
python3 - "$work/lint.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
small, large = (r["mean"] for r in results)
print(f"| mig lint, 10,000 steps | {small*1000:.0f} ms |")
print(f"| mig lint, 50,000 steps | {large*1000:.0f} ms |")
print(f"| growth 50k / 10k (linear: 5.0) | {large/small:.2f} |")
PY
