#!/bin/bash
# Runs the tests in tests/ad/ against a real Active Directory domain: installs the packages when
# missing, sets the domain up (domain.sh up), runs the node tests inside the joined workstation
# ws01, and tears everything down again, whatever happened. Needs root.
#
#   tests/ad/run.sh [--no-browser] [test files…]
#
# Environment: GATEHOUSE_HOST_BIN, GATEHOUSE_CLI_BIN (default target/debug/…), and for the
# browser scenarios GATEHOUSE_EXTENSION_DIR, CHROMIUM (as for tests/browser/) and
# GATEHOUSE_APPROVAL_BIN (the approval desk, default target/debug/gatehouse-approval); `cargo
# xtask test` sets them all. GATEHOUSE_AD_KEEP=1 leaves the domain folder's logs in place on failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
browser=1
files=()
for a in "$@"; do
  case "$a" in
    --no-browser) browser=0 ;;
    *) files+=("$(cd "$(dirname "$a")" && pwd)/$(basename "$a")") ;;
  esac
done
if [ ${#files[@]} -eq 0 ]; then
  files=("$here/host.test.mjs" "$here/principal.test.mjs")
  if [ $browser = 1 ] && [ -f "$here/browser.test.mjs" ]; then files+=("$here/browser.test.mjs"); fi
  if [ $browser = 1 ] && [ -f "$here/desk.test.mjs" ]; then files+=("$here/desk.test.mjs"); fi
fi

export GATEHOUSE_HOST_BIN=${GATEHOUSE_HOST_BIN:-$repo/target/debug/gatehouse-host}
export GATEHOUSE_CLI_BIN=${GATEHOUSE_CLI_BIN:-$repo/target/debug/gatehouse}
export GATEHOUSE_APPROVAL_BIN=${GATEHOUSE_APPROVAL_BIN:-$repo/target/debug/gatehouse-approval}
for b in "$GATEHOUSE_HOST_BIN" "$GATEHOUSE_CLI_BIN"; do
  [ -x "$b" ] || { echo "run.sh: $b is not built (cargo build -p gatehouse-host -p gatehouse-admin)" >&2; exit 1; }
done
for f in "${files[@]}"; do
  if [ "$(basename "$f")" = desk.test.mjs ] && [ ! -x "$GATEHOUSE_APPROVAL_BIN" ]; then
    echo "run.sh: $GATEHOUSE_APPROVAL_BIN is not built (cargo build -p gatehouse-approval)" >&2; exit 1
  fi
done
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (namespaces, mounts, a domain controller)" >&2; exit 1; }

start=$(date +%s%N)
"$here/domain.sh" packages
B=$(mktemp -d /tmp/gatehouse-ad.XXXXXX)
status=1
cleanup() {
  if [ $status -ne 0 ] && [ -n "${GATEHOUSE_AD_KEEP:-}" ]; then
    mkdir -p "$B.logs"
    cp -a "$B"/dc/*.log "$B"/dc/samba.out "$B"/ws01/*.log "$B"/ws01/sssd.out "$B.logs/" 2>/dev/null || true
    echo "run.sh: logs kept in $B.logs"
  fi
  "$here/domain.sh" down "$B" || echo "run.sh: teardown failed; see $B" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$here/domain.sh" up "$B"
# The desk's binary, copied: the target folder is shared, and a build elsewhere relinking it
# mid-run made it vanish for a moment (seen once).
if [ -x "$GATEHOUSE_APPROVAL_BIN" ]; then
  cp "$GATEHOUSE_APPROVAL_BIN" "$B/gatehouse-approval"
  export GATEHOUSE_APPROVAL_BIN=$B/gatehouse-approval
fi
setup_ms=$(sed -n 's/^setup=//p' "$B/timings")

tests_start=$(date +%s%N)
set +e
"$here/domain.sh" ws01 "$B" env GATEHOUSE_AD_DIR="$B" \
  node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
status=$?
set -e
tests_ms=$((($(date +%s%N) - tests_start) / 1000000))
printf 'run.sh: domain setup %d ms, tests %d ms, total (with teardown after this line) %d ms\n' \
  "$setup_ms" "$tests_ms" $((($(date +%s%N) - start) / 1000000))
exit $status
