#!/usr/bin/env bash
# The unit tests built with AddressSanitizer and UndefinedBehaviorSanitizer
# (build-sanitize/, the `sanitize` preset's settings): the front end, the
# formatter, windows and the runtime's logic, with any report failing the run.
# CI runs it after the main suite; servers are not needed.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(front_test window_test lint_test fmt_test runtime_test)
cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMIG_SANITIZE=ON \
  -DMIG_WERROR=ON > /dev/null
ninja -C build-sanitize -j2 "${targets[@]}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for target in "${targets[@]}"; do
  echo "sanitize: $target"
  "build-sanitize/tests/$target" --gtest_brief=1
done
