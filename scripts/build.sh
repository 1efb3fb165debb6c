#!/usr/bin/env bash
# Configures and builds mig in ./build (Ninja, two jobs).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMIG_WERROR=ON > /dev/null
ninja -C build -j2
