#!/bin/bash
# A real Active Directory domain for the tests in tests/ad/: a Samba AD domain controller
# (dc1.corp.example, realm CORP.EXAMPLE) and a workstation ws01.corp.example joined to it through
# realmd/SSSD, plus ws02.corp.example on the same network that was never joined. Everything runs
# in private mount/net/uts namespaces; the real /etc, /var and /run are never written (overlays
# and a tmpfs take the writes; apt-get, when packages are missing, is the one exception).
#
#   domain.sh packages        install the packages when missing (apt-get; needs root)
#   domain.sh up DIR          set up the domain in DIR (a fresh folder); prints timings
#   domain.sh down DIR        stop everything started by `up` and remove DIR
#   domain.sh dc-stop DIR     stop the domain controller (the workstation "leaves the network")
#   domain.sh dc-start DIR    start it again and wait until it answers
#   domain.sh ws01 DIR CMD…   run CMD inside the joined workstation
#   domain.sh ws02 DIR CMD…   run CMD inside the workstation that was never joined
#
# For the approval desk (tests/ad/desk.test.mjs) `up` also makes the group "Gatehouse Approvers"
# with bob in it only through the nested group "Desk Team", the service account desksvc with the
# SPN HTTP/desk.corp.example (AES keys) exported to DIR/desk/desk.keytab, the account's own keys
# (for the desk's Kerberos bind to the directory) to DIR/desk/desksvc.keytab, its password in
# DIR/desk/directory-password (all owner-only) and a DNS name desk.corp.example → 127.0.0.3.
#
# `up` writes DIR/domain.env (sourced by this script, read by tests/ad/lib/domain.mjs):
# holder pids, user names and passwords, uids, ticket caches.
set -euo pipefail

PACKAGES=(samba samba-ad-dc samba-ad-provision krb5-user adcli bind9-dnsutils sssd-ad sssd-tools realmd openssl)
REALM=CORP.EXAMPLE
DOMAIN=corp.example
ADMINPW='Adm1n-Passw0rd!'
# Domain users: name and password (alice asks, bob approves, mallory is signed in but no approver).
USERS=(alice bob mallory)
declare -A USERPW=([alice]='Al1ce-Passw0rd!' [bob]='B0b-Passw0rd!!' [mallory]='Mall0ry-Passw0rd!')
# The approval desk's service account: the LDAP bind and the SPN HTTP/desk.corp.example.
DESKSVC=desksvc
DESKPW='D3sk-Svc-Passw0rd!'
APPROVERS_GROUP='Gatehouse Approvers'
NESTED_GROUP='Desk Team'

die() { echo "domain.sh: $*" >&2; exit 1; }
now() { date +%s%N; }
lap() { # lap NAME: prints the time since the last lap and records it
  local t; t=$(now)
  printf 'domain.sh: %-24s %6d ms\n' "$1" $(((t - LAP) / 1000000))
  echo "$1=$(((t - LAP) / 1000000))" >> "$B/timings"
  LAP=$t
}

packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && { echo "domain.sh: packages present"; return 0; }
  [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}) and not root"
  echo "domain.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # The packages' services must not run on the real machine: they start only in the namespace.
  for s in samba-ad-dc smbd nmbd winbind sssd realmd; do
    if command -v systemctl >/dev/null && systemctl is-active -q "$s" 2>/dev/null; then systemctl stop "$s" || true; fi
  done
}

# A holder process owns a namespace set; everything else enters it with nsenter.
start_holder() { # start_holder PIDFILE [nsenter-args…] -- unshare-args…
  local pidfile=$1; shift
  setsid "$@" sleep infinity </dev/null >/dev/null 2>&1 &
  echo $! > "$pidfile"
  local i
  for i in $(seq 50); do
    [ "$(readlink /proc/$!/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] && return 0
    sleep 0.05
  done
  die "namespace holder did not start"
}

in_ws01() { nsenter -t "$WS01_PID" -m -n -u "$@"; }
in_ws02() { nsenter -t "$WS02_PID" -m -n -u "$@"; }
dc_smb() { echo "$B/dc/etc/smb.conf"; }

# Makes the current mount namespace a workstation: private /etc, /var (overlays), /run (tmpfs).
machine_setup() { # machine_setup NAME IP STATE  (run inside the namespace)
  local name=$1 ip=$2 st=$3
  mkdir -p "$st"/{etc-up,etc-work,var-up,var-work}
  hostname "$name"
  mount -t overlay overlay -o "lowerdir=/etc,upperdir=$st/etc-up,workdir=$st/etc-work" /etc
  mount -t overlay overlay -o "lowerdir=/var,upperdir=$st/var-up,workdir=$st/var-work" /var
  mount -t tmpfs tmpfs /run
  printf '127.0.0.1 localhost\n%s %s.%s %s\n127.0.0.2 dc1.%s dc1\n' "$ip" "$name" "$DOMAIN" "$name" "$DOMAIN" > /etc/hosts
  echo "$name" > /etc/hostname
  printf 'search %s\nnameserver 127.0.0.2\n' "$DOMAIN" > /etc/resolv.conf
  # A machine that was never joined has no trace of a previous join in its copy of /etc.
  rm -f /etc/krb5.keytab /etc/sssd/sssd.conf
}

# Running, and not a zombie waiting for init to reap it (our daemons outlive their parent).
alive() {
  local stat
  read -r stat < "/proc/$1/stat" 2>/dev/null || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

dc_running() {
  in_ws01 dig +time=1 +tries=1 @127.0.0.2 "_ldap._tcp.dc._msdcs.$DOMAIN" SRV +short 2>/dev/null | grep -q dc1 &&
    in_ws01 bash -c 'exec 3<>/dev/tcp/127.0.0.2/88 && exec 3<>/dev/tcp/127.0.0.2/389' 2>/dev/null
}

dc_start() {
  [ -s "$B/samba.pid" ] && alive "$(cat "$B/samba.pid")" && die "the DC is already running"
  # `unshare --uts` gives the DC its own host name; the exec chain makes $! the samba pid.
  setsid nsenter -t "$WS01_PID" -m -n -u unshare --uts bash -c \
    "hostname dc1; exec samba -s '$(dc_smb)' -F --no-process-group" >> "$B/dc/samba.out" 2>&1 </dev/null &
  echo $! > "$B/samba.pid"
  local deadline=$((SECONDS + 60))
  until dc_running; do
    alive "$(cat "$B/samba.pid")" || die "samba exited; see $B/dc/samba.out and $B/dc/log.samba"
    [ $SECONDS -lt $deadline ] || die "the DC did not answer within 60 s"
    sleep 0.2
  done
}

dc_stop() {
  local pid; pid=$(cat "$B/samba.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 100); do alive "$pid" || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
  # Its children (the per-service processes) notice the parent is gone; wait until nothing
  # listens on the DC's address any more.
  for i in $(seq 100); do
    in_ws01 bash -c 'for port in 53 88 389; do (exec 3<>/dev/tcp/127.0.0.2/$port) && exit 0; done; exit 1' 2>/dev/null || break
    sleep 0.1
  done
  : > "$B/samba.pid"
}

# The DC's TLS certificate (LDAPS), from a CA made for this run. Samba's own autogenerated
# certificate has no subjectAltName, which certificate validation (RFC 6125, webpki) requires.
dc_certificate() { # dc_certificate DIR
  local d=$1
  mkdir -p "$d"
  chmod 700 "$d"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 \
    -subj "/CN=Gatehouse test domain CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2> /dev/null
  openssl req "${ec[@]}" -keyout "$d/key.pem" -out "$d/dc1.csr" -subj "/CN=dc1.$DOMAIN" 2> /dev/null
  printf 'subjectAltName=DNS:dc1.%s,IP:127.0.0.2\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n' "$DOMAIN" > "$d/dc1.ext"
  openssl x509 -req -in "$d/dc1.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -out "$d/cert.pem" -days 2 -extfile "$d/dc1.ext" 2> /dev/null || die "making the DC's certificate failed"
  chmod 600 "$d/key.pem" "$d/ca.key"
  chmod 644 "$d/ca.pem" "$d/cert.pem"
}

# The approval desk's pieces in the directory (see the top of this file).
desk_setup() {
  local T=$B/dc
  local S=(-s "$(dc_smb)" -H "$T/private/sam.ldb")
  in_ws01 samba-tool group add "$APPROVERS_GROUP" "${S[@]}" > /dev/null
  in_ws01 samba-tool group add "$NESTED_GROUP" "${S[@]}" > /dev/null
  in_ws01 samba-tool group addmembers "$APPROVERS_GROUP" "$NESTED_GROUP" "${S[@]}" > /dev/null
  in_ws01 samba-tool group addmembers "$NESTED_GROUP" bob "${S[@]}" > /dev/null
  in_ws01 samba-tool user create "$DESKSVC" "$DESKPW" "${S[@]}" > /dev/null
  in_ws01 samba-tool user setexpiry "$DESKSVC" --noexpiry "${S[@]}" > /dev/null
  in_ws01 samba-tool spn add "HTTP/desk.$DOMAIN" "$DESKSVC" "${S[@]}" > /dev/null
  # AES before exporting (KERBEROS-SSO.md): samba-tool has no switch for
  # msDS-SupportedEncryptionTypes; Samba's own Python bindings (Debian's python3) set it.
  in_ws01 /usr/bin/python3 - "$(dc_smb)" "$T/private/sam.ldb" "$DESKSVC" <<'PY' > /dev/null
import sys
import ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB
lp = LoadParm()
lp.load(sys.argv[1])
db = SamDB(url=sys.argv[2], session_info=system_session(), lp=lp)
res = db.search(base=db.domain_dn(), expression="(sAMAccountName=%s)" % sys.argv[3], attrs=["dn"])
m = ldb.Message()
m.dn = res[0].dn
m["msDS-SupportedEncryptionTypes"] = ldb.MessageElement("24", ldb.FLAG_MOD_REPLACE, "msDS-SupportedEncryptionTypes")
db.modify(m)
PY
  mkdir -p "$B/desk"
  chmod 700 "$B/desk"
  in_ws01 samba-tool domain exportkeytab "$B/desk/desk.keytab" --principal="HTTP/desk.$DOMAIN" \
    -s "$(dc_smb)" > "$B/desk/exportkeytab.log" 2>&1 || { cat "$B/desk/exportkeytab.log" >&2; die "exportkeytab failed"; }
  chmod 600 "$B/desk/desk.keytab"
  # The account's own keys, for the desk's Kerberos bind to the directory (an SPN cannot ask
  # for a ticket-granting ticket; the account name can).
  in_ws01 samba-tool domain exportkeytab "$B/desk/desksvc.keytab" --principal="$DESKSVC" \
    -s "$(dc_smb)" > "$B/desk/exportkeytab.log" 2>&1 || { cat "$B/desk/exportkeytab.log" >&2; die "exportkeytab failed"; }
  chmod 600 "$B/desk/desksvc.keytab"
  (umask 077; printf '%s\n' "$DESKPW" > "$B/desk/directory-password")
  in_ws01 samba-tool dns add 127.0.0.2 "$DOMAIN" desk A 127.0.0.3 -U "Administrator%$ADMINPW" > /dev/null 2>&1 ||
    die "samba-tool dns add desk.$DOMAIN failed"
  local base="DC=${DOMAIN//./,DC=}"
  cat >> "$B/domain.env" <<EOF
DESK_FQDN=desk.$DOMAIN
DESK_SPN=HTTP/desk.$DOMAIN
DESK_KEYTAB=$B/desk/desk.keytab
DESK_CLIENT_KEYTAB=$B/desk/desksvc.keytab
DESK_BIND=$DESKSVC@$DOMAIN
DESK_PASSWORD_FILE=$B/desk/directory-password
DC_CA=$T/tls/ca.pem
BASE_DN='$base'
APPROVERS_GROUP_DN='CN=$APPROVERS_GROUP,CN=Users,$base'
NESTED_GROUP_DN='CN=$NESTED_GROUP,CN=Users,$base'
EOF
}

up() {
  [ "$(id -u)" = 0 ] || die "needs root (namespaces, mounts)"
  mkdir -p "$B"
  [ -z "$(ls -A "$B")" ] || die "$B is not empty"
  B=$(cd "$B" && pwd)
  LAP=$(now); local t0=$LAP
  mkdir -p "$B"/{dc,ws01,ws02,ccache}
  chmod 755 "$B" "$B/ccache"

  # --- ws01's namespaces (the DC lives in the same network namespace, with its own UTS) ----
  start_holder "$B/ws01.pid" unshare --mount --net --uts --propagation private
  WS01_PID=$(cat "$B/ws01.pid")
  echo "WS01_PID=$WS01_PID" > "$B/domain.env"
  in_ws01 ip link set lo up
  in_ws01 ip addr add 127.0.0.2/8 dev lo
  in_ws01 ip addr add 127.0.0.3/8 dev lo
  in_ws01 ip addr add 127.0.0.4/8 dev lo
  in_ws01 bash -c "$(declare -f machine_setup); DOMAIN=$DOMAIN; machine_setup ws01 127.0.0.3 '$B/ws01'"
  # ws02: the same network, its own /etc, never joined.
  start_holder "$B/ws02.pid" nsenter -t "$WS01_PID" -n unshare --mount --uts --propagation private
  WS02_PID=$(cat "$B/ws02.pid")
  echo "WS02_PID=$WS02_PID" >> "$B/domain.env"
  in_ws02 bash -c "$(declare -f machine_setup); DOMAIN=$DOMAIN; machine_setup ws02 127.0.0.4 '$B/ws02'"
  lap namespaces

  # --- the domain controller ------------------------------------------------------------
  : > "$B/dc/empty.conf"
  local T=$B/dc
  dc_certificate "$T/tls"
  if ! in_ws01 unshare --uts bash -c "hostname dc1; samba-tool domain provision -s '$T/empty.conf' \
      --targetdir='$T' --realm=$REALM --domain=CORP --server-role=dc \
      --dns-backend=SAMBA_INTERNAL --adminpass='$ADMINPW' --host-name=dc1 --host-ip=127.0.0.2 \
      --option='interfaces = 127.0.0.2' --option='bind interfaces only = yes' \
      --option='pid directory = $T/run' --option='log file = $T/log.samba' \
      --option='ntp signd socket directory = $T/ntp_signd' --option='ncalrpc dir = $T/ncalrpc' \
      --option='winbindd socket directory = $T/winbindd' --option='dns forwarder = 127.0.0.1' \
      --option='tls keyfile = $T/tls/key.pem' --option='tls certfile = $T/tls/cert.pem' \
      --option='tls cafile = $T/tls/ca.pem'" \
      > "$T/provision.log" 2>&1; then
    tail -20 "$T/provision.log" >&2; die "samba-tool domain provision failed"
  fi
  lap dc-provision
  dc_start
  lap dc-start

  for u in "${USERS[@]}"; do
    in_ws01 samba-tool user create "$u" "${USERPW[$u]}" --given-name="${u^}" \
      -s "$(dc_smb)" -H "$T/private/sam.ldb" > /dev/null
    in_ws01 samba-tool user setexpiry "$u" --noexpiry -s "$(dc_smb)" -H "$T/private/sam.ldb" > /dev/null
  done
  lap users
  desk_setup
  lap desk-account

  # --- join ws01 (realmd in install mode: sssd.conf, krb5.conf, krb5.keytab into the overlay)
  if ! echo "$ADMINPW" | in_ws01 realm --install=/ join -U Administrator "$DOMAIN" > "$B/ws01/join.log" 2>&1; then
    cat "$B/ws01/join.log" >&2; die "realm join failed"
  fi
  lap realm-join

  # --- SSSD, so domain users exist for NSS (getpwnam/getpwuid) on ws01 -----------------------
  setsid nsenter -t "$WS01_PID" -m -n -u sssd -i --logger=stderr > "$B/ws01/sssd.out" 2>&1 </dev/null &
  echo $! > "$B/sssd.pid"
  local deadline=$((SECONDS + 60))
  for u in "${USERS[@]}"; do
    until in_ws01 id -u "$u@$DOMAIN" > /dev/null 2>&1; do
      alive "$(cat "$B/sssd.pid")" || { tail -20 "$B/ws01/sssd.out" >&2; die "sssd exited"; }
      [ $SECONDS -lt $deadline ] || die "sssd did not resolve $u@$DOMAIN within 60 s"
      sleep 0.2
    done
    local uid gid
    uid=$(in_ws01 id -u "$u@$DOMAIN"); gid=$(in_ws01 id -g "$u@$DOMAIN")
    echo "${u^^}_UID=$uid" >> "$B/domain.env"
    echo "${u^^}_GID=$gid" >> "$B/domain.env"
    echo "${u^^}_PASSWORD='${USERPW[$u]}'" >> "$B/domain.env"
  done
  lap sssd-users

  # --- a real Kerberos ticket per user, in a cache the user owns --------------------------
  for u in "${USERS[@]}"; do
    local cc=$B/ccache/krb5cc_$u
    echo "${USERPW[$u]}" | in_ws01 env KRB5CCNAME="FILE:$cc" kinit "$u@$REALM" > /dev/null
    local uid; uid=$(in_ws01 id -u "$u@$DOMAIN")
    chown "$uid" "$cc"
    echo "${u^^}_CCACHE=$cc" >> "$B/domain.env"
  done
  lap kinit

  cat >> "$B/domain.env" <<EOF
REALM=$REALM
DOMAIN=$DOMAIN
ADMIN_PASSWORD='$ADMINPW'
DC_IP=127.0.0.2
WS01_IP=127.0.0.3
WS02_IP=127.0.0.4
EOF
  echo "setup=$((($(now) - t0) / 1000000))" >> "$B/timings"
  printf 'domain.sh: %-24s %6d ms\n' "domain ready" $((($(now) - t0) / 1000000))
}

kill_pidfile() {
  local pid; pid=$(cat "$1" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 50); do alive "$pid" || return 0; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
}

down() {
  [ -f "$B/domain.env" ] || [ -f "$B/ws01.pid" ] || { rm -rf "$B"; return 0; }
  kill_pidfile "$B/sssd.pid"
  if [ -n "${WS01_PID:-}" ]; then dc_stop; fi
  # Anything still running inside the namespaces (a test's leftover) goes with them.
  for ns in ws02 ws01; do
    local holder; holder=$(cat "$B/$ns.pid" 2>/dev/null || true)
    [ -n "$holder" ] || continue
    if [ -e "/proc/$holder/ns/mnt" ]; then
      for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = "$holder" ] && continue
        # -ef: the same namespace (same nsfs inode); a test builtin, no process per check.
        if [ "$p/ns/mnt" -ef "/proc/$holder/ns/mnt" ]; then kill -9 "${p#/proc/}" 2>/dev/null || true; fi
      done
    fi
    kill_pidfile "$B/$ns.pid"
  done
  rm -rf "$B"
}

load_env() {
  [ -f "$B/domain.env" ] || die "no domain in $B (run: domain.sh up $B)"
  # shellcheck disable=SC1091
  . "$B/domain.env"
}

cmd=${1:-}; shift || true
case "$cmd" in
  packages) packages ;;
  up) B=${1:?usage: domain.sh up DIR}; up ;;
  down) B=${1:?usage: domain.sh down DIR}; [ -f "$B/domain.env" ] && . "$B/domain.env"; down ;;
  dc-stop) B=${1:?}; load_env; dc_stop ;;
  dc-start) B=${1:?}; load_env; dc_start ;;
  ws01) B=${1:?}; shift; load_env; nsenter -t "$WS01_PID" -m -n -u --wd="$PWD" "$@" ;;
  ws02) B=${1:?}; shift; load_env; nsenter -t "$WS02_PID" -m -n -u --wd="$PWD" "$@" ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
