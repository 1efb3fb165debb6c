#!/usr/bin/env bash
# Regenerates the golden outputs of the lint tests from the built mig:
# tests/lint/RULE/bad.expected is what `mig lint tests/lint/RULE/bad.mig`
# prints. Read the diff before committing: a golden is only as right as the
# output it was made from.
set -euo pipefail
cd "$(dirname "$0")/.."
mig=${MIG:-build/cli/mig}
for dir in tests/lint/*/; do
  rule=$(basename "$dir")
  NO_COLOR=1 "$mig" lint "tests/lint/$rule/bad.mig" > "tests/lint/$rule/bad.expected" || true
done
git --no-pager diff --stat -- tests/lint || true

# Compiled plans and pictures of the examples.
mkdir -p tests/golden
for plan in examples/*.mig; do
  name=$(basename "$plan" .mig)
  "$mig" compile "$plan" -o "tests/golden/$name.json"
  "$mig" graph "$plan" --format dot -o "tests/golden/$name.dot"
  "$mig" graph "$plan" --format mermaid -o "tests/golden/$name.mmd"
done
git --no-pager diff --stat -- tests/golden || true

# What `mig plan` shows, as of a fixed instant.
for plan in examples/*.mig; do
  name=$(basename "$plan" .mig)
  NO_COLOR=1 "$mig" plan "$plan" --now 2026-11-25T12:00Z > "tests/golden/$name.plan.txt"
done
