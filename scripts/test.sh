#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, builds, and runs every test (unit, golden, CLI, and the
# end-to-end tests against real PostgreSQL and Redis servers they start),
# then the unit tests again under the address and undefined sanitizers, and
# the front end under libFuzzer for a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j2 --timeout 900)
scripts/sanitize.sh
# The front end under libFuzzer for a bounded time (scripts/fuzz.sh).
scripts/fuzz.sh 60
