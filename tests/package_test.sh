#!/usr/bin/env bash
# The Debian package, as a user gets it: built with CPack from this build,
# installed with dpkg into a scratch root (not this machine's /usr), then
# checked: the binary runs and names its commit, `man mig-lint` renders,
# bash completion completes, the stdlib sources are there, and apt can
# satisfy the package's dependencies on this system (--simulate).
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "package_test: $*" >&2; exit 1; }

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/package" > "$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack failed"; }
deb=$(ls "$work"/package/*.deb)
info=$(dpkg-deb --info "$deb")
grep -q "^ Package: mig$" <<< "$info" || fail "no package name: $info"
grep -Eq "^ Depends:.*libantlr4-runtime" <<< "$info" || fail "no shared-library dependencies: $info"

root=$work/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
dpkg --root="$root" --force-depends --force-not-root --force-script-chrootless \
  --log=/dev/null -i "$deb" > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i failed"; }
grep -q "^Package: mig$" "$root/var/lib/dpkg/status" || fail "dpkg did not record the package"

version=$("$root/usr/bin/mig" --version)
[[ $version =~ ^mig\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "--version: $version"
# The commit the build read from git (cli/generated/mig_version.h), not
# HEAD: a commit made since the last build must not fail this test.
commit=$(sed -n 's/^#define MIG_COMMIT "\(.*\)"$/\1/p' "$build/cli/generated/mig_version.h")
if [[ -n $commit ]]; then
  [[ $version == *"(commit $commit)" ]] || fail "--version does not name commit $commit: $version"
fi

manpage=$(MANPATH="$root/usr/share/man" MANWIDTH=80 man mig-lint 2>&1 | col -b)
grep -q "mig-lint - Parse and check plans; report problems" <<< "$manpage" ||
  fail "man mig-lint: $manpage"
for command in lint fmt explain compile graph plan run resume rollback status log; do
  [[ -f $root/usr/share/man/man1/mig-$command.1 ]] || fail "no man page for $command"
done

completed=$(bash -c "source '$root/usr/share/bash-completion/completions/mig'
  COMP_WORDS=(mig lint --format s); COMP_CWORD=3; _mig; echo \"\${COMPREPLY[*]}\"")
[[ $completed == sarif ]] || fail "bash completion of 'mig lint --format s': '$completed'"
[[ -f $root/usr/share/zsh/vendor-completions/_mig ]] || fail "no zsh completion"
[[ -f $root/usr/share/mig/stdlib/std/postgres.mig ]] || fail "no stdlib sources"
[[ -f $root/usr/share/doc/mig/kinds.md ]] || fail "no docs"

apt-get install --simulate "$deb" > "$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fail "apt cannot satisfy the dependencies"; }
grep -q "^Inst mig\|mig is already the newest" "$work/apt.log" || { cat "$work/apt.log" >&2; fail "apt would not install mig"; }
echo "package_test: $(basename "$deb") installs; $version"
