#!/usr/bin/env bash
# The demo: installs what is missing, builds mig, and takes the example
# plans through lint and formatting checks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mig=build/cli/mig

echo
echo "== mig lint examples/*.mig"
"$mig" lint examples/*.mig
echo
echo "== mig fmt --check examples/*.mig"
"$mig" fmt --check examples/*.mig && echo "formatted"
echo
echo "== a plan with mistakes: mig lint"
broken=$(mktemp --suffix=.mig)
trap 'rm -f "$broken"' EXIT
sed -e 's/retain 72h/retain 12h/' -e 's/allow "203.0.113.7"   "bastion"/allow "0.0.0.0\/0" "anyone"/' \
    examples/acme_postgres.mig > "$broken"
"$mig" lint "$broken" || true
