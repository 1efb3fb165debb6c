#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, builds, and runs every test (unit, golden, CLI, and the
# end-to-end tests against real PostgreSQL and Redis servers they start).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
ctest --output-on-failure -j2 --timeout 900
# A bounded fuzzing run of the front end (its own clang build in build-fuzz).
../scripts/fuzz.sh 60
