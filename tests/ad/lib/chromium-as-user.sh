#!/bin/sh
# Chromium as a domain user of the test domain: the browser tests' harness (tests/browser/lib/
# harness.mjs) starts this as its CHROMIUM, as root, inside the private mount namespace it made
# for /etc/chromium. This gives the scenario's own folders (profile, home, tmp, the extension
# copy, the per-user approvals and audit folders) to the user, and execs the real Chromium under
# that uid, so Chromium, and the native host it starts, run as the domain user SSSD resolves.
# The policy folder and the machine-wide approvals folder stay root's, as on a managed desktop.
#
#   GATEHOUSE_AD_BROWSER_USER   uid:gid:name (e.g. 371001103:371000513:alice@corp.example)
#   GATEHOUSE_AD_REAL_CHROMIUM  the browser binary (default /usr/lib/chromium/chromium)
set -eu
spec=${GATEHOUSE_AD_BROWSER_USER:?uid:gid:name of the user to run Chromium as}
uid=${spec%%:*}; rest=${spec#*:}; gid=${rest%%:*}; name=${rest#*:}
profile=
for a in "$@"; do
  case "$a" in --user-data-dir=*) profile=${a#--user-data-dir=} ;; esac
done
[ -n "$profile" ] || { echo "chromium-as-user.sh: no --user-data-dir" >&2; exit 92; }
root=$(dirname "$profile")
chmod 755 "$root"
for d in profile home tmp extension audit approvals-user; do
  if [ -e "$root/$d" ]; then chown -R "$uid:$gid" "$root/$d"; fi
done
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- \
  env USER="$name" LOGNAME="$name" "${GATEHOUSE_AD_REAL_CHROMIUM:-/usr/lib/chromium/chromium}" "$@"
