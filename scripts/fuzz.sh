#!/usr/bin/env bash
# Fuzzes the front end (parse + check + printers + fmt) with libFuzzer for
# SECONDS (default 60): builds mig_fuzz with clang, libFuzzer, ASan and
# UBSan in build-fuzz (the compiler libraries and the target only), seeds
# it with every plan and module in the repository, and runs it with a
# per-input time and memory limit. New inputs that reach new code are kept
# in build-fuzz/corpus for the next run.
#
# A crash, a hang or a broken fmt invariant stops the run and leaves the
# input in build-fuzz/artifacts/; reproduce with
#   build-fuzz/fuzz/mig_fuzz build-fuzz/artifacts/crash-...
# then fix it and add the input under tests/fuzz/ (the fuzz_regression
# test runs every file there through the same checks).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-60}
build=${MIG_FUZZ_BUILD:-$root/build-fuzz}
jobs=${MIG_FUZZ_BUILD_JOBS:-2}

mkdir -p "$build"
cmake -G Ninja -B "$build" -S "$root" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DMIG_FUZZ=ON -DMIG_BUILD_TESTS=OFF > "$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" --target mig_fuzz -j "$jobs"

# Seeds: the examples, the lint goldens' plans, the stdlib and every input
# that once broke something. Copied under unique names (the goldens are
# all called bad.mig and good.mig).
seeds=$build/seeds
rm -rf "$seeds"
mkdir -p "$seeds" "$build/corpus" "$build/artifacts"
for file in examples/*.mig tests/lint/*/*.mig stdlib/std/*.mig tests/fuzz/*.mig; do
  [[ -f $file ]] && cp "$file" "$seeds/${file//\//_}"
done

# Run where relative imports find nothing of the repository, with
# MIG_PATH unset, so that only the input and the embedded stdlib count.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
env -u MIG_PATH "$build/fuzz/mig_fuzz" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
  -dict="$root/fuzz/mig.dict" -artifact_prefix="$build/artifacts/" -print_final_stats=1 \
  "$build/corpus" "$seeds"
