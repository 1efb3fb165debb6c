#!/usr/bin/env bash
# Installs what mig needs to build, test and run its demo on Debian 12.
# Idempotent: installs only what is missing, so a second run is quick.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  antlr4 libantlr4-runtime-dev
  libfmt-dev libspdlog-dev libboost-dev libboost-filesystem-dev
  nlohmann-json3-dev libcli11-dev libsqlite3-dev libhowardhinnant-date-dev tzdata
  libgtest-dev googletest
  libpq-dev libhiredis-dev libmariadb-dev
  # the fuzz target (scripts/fuzz.sh): clang with libFuzzer and the sanitizers
  clang libclang-rt-14-dev
  # tests and demo: real servers, and the tools the stdlib runs
  postgresql postgresql-contrib redis-server redis-tools pgbouncer
  mariadb-server mariadb-client
  # remote steps: the ssh client mig runs, and sshd for the tests
  openssh-client openssh-server
  python3 python3-jsonschema python3-yaml graphviz procps iproute2 util-linux patch
  # packaging: the .deb (dpkg-shlibdeps), its man pages and completions
  dpkg-dev man-db groff-base bsdextrautils zsh
  # the editor test: Neovim's built-in LSP client against `mig lsp`
  neovim
  # benchmarks
  hyperfine bc
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The Debian packages start their own PostgreSQL, Redis and ssh services where
# an init system runs; mig's tests and demo start private servers on their
# own loopback ports and need none of them.
