#!/usr/bin/env bash
# Builds the four .deb packages from an existing build (cpack into a temp dir) and checks them:
# each holds its binary, systemd unit(s), example config (a conffile) and maintainer scripts, with
# the right Depends; the units carry the hardening and pass `systemd-analyze verify` (when it is
# installed); and every unit's ExecStart line works: the packaged binary, run with exactly that
# command line and the packaged config, plus flags that point it at temp paths, starts and
# answers (ledger, vendor server, gateway on their ports; the device agent's boot against them).
# Usage: package_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
fail() { echo "package_test: FAIL: $*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/fwchain-package-XXXXXX")
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ $rc -ne 0 ]; then
    for log in "$work"/logs/*.log; do [ -f "$log" ] && { echo "== $log" >&2; tail -n 20 "$log" >&2; }; done
  fi
  if [ $rc -eq 0 ] && [ -z "${FWCHAIN_KEEP_TMP:-}" ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT
mkdir -p "$work/logs"

# --- build the packages
cpack --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/logs/cpack.log" 2>&1 ||
  { cat "$work/logs/cpack.log" >&2; fail "cpack failed"; }
declare -A deb
for p in ledger gateway vendor-server device-agent; do
  f=$(ls "$work"/out/fwchain-"$p"_*.deb 2>/dev/null | head -n1)
  [ -n "$f" ] || fail "no fwchain-$p .deb in $(ls "$work/out")"
  deb[$p]=$f
done

# --- contents, control fields, maintainer scripts
units_of() { case $1 in vendor-server) echo "fwchain-vendor-server fwchain-vendor-watch" ;; *) echo "fwchain-$1" ;; esac; }
configs_of() { case $1 in vendor-server) echo "vendor-server vendor-watch" ;; *) echo "$1" ;; esac; }
root="$work/root"
mkdir -p "$root"
for p in "${!deb[@]}"; do
  f=${deb[$p]}
  [ "$(dpkg-deb -f "$f" Package)" = "fwchain-$p" ] || fail "$f: Package is not fwchain-$p"
  depends=$(dpkg-deb -f "$f" Depends)
  for d in libc6 'libstdc++6' adduser init-system-helpers; do
    grep -q "\(^\|, \)$d\b" <<<"$depends" || fail "fwchain-$p: Depends lacks $d: $depends"
  done
  case $p in
    ledger) grep -q libsqlite3 <<<"$depends" || fail "fwchain-ledger: Depends lacks libsqlite3: $depends" ;;
    gateway) grep -q libtorrent-rasterbar <<<"$depends" || fail "fwchain-gateway: Depends lacks libtorrent: $depends" ;;
    vendor-server) grep -q libgit2 <<<"$depends" || fail "fwchain-vendor-server: Depends lacks libgit2: $depends" ;;
  esac
  listing=$(dpkg-deb -c "$f" | awk '{print $1, $6}')
  want=("-rwxr-xr-x ./usr/bin/fwchain-$p" "./usr/share/doc/fwchain-$p/README.md")
  for u in $(units_of "$p"); do want+=("./lib/systemd/system/$u.service"); done
  for c in $(configs_of "$p"); do want+=("-rw-r--r-- ./etc/fwchain/$c.toml"); done
  for w in "${want[@]}"; do
    grep -qF -- "$w" <<<"$listing" || fail "fwchain-$p lacks $w; it holds:"$'\n'"$listing"
  done
  ctrl="$work/control/$p"
  mkdir -p "$ctrl"
  dpkg-deb -e "$f" "$ctrl"
  for s in postinst prerm postrm; do
    [ -x "$ctrl/$s" ] || fail "fwchain-$p has no executable $s"
    sh -n "$ctrl/$s" || fail "fwchain-$p: $s is not valid sh"
  done
  grep -q 'adduser .*--system .*fwchain' "$ctrl/postinst" || fail "fwchain-$p: postinst makes no fwchain user"
  for c in $(configs_of "$p"); do
    grep -qx "/etc/fwchain/$c.toml" "$ctrl/conffiles" || fail "fwchain-$p: $c.toml is not a conffile"
  done
  dpkg-deb -x "$f" "$root"
done
grep -q 'deb-systemd-helper enable fwchain-device-agent.service' "$work/control/device-agent/postinst" ||
  fail "the device agent's unit is not enabled at install"

# --- units: hardening, state and config dirs, ExecStart
for p in "${!deb[@]}"; do
  for u in $(units_of "$p"); do
    unit="$root/lib/systemd/system/$u.service"
    for line in User=fwchain NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
                PrivateTmp=yes CapabilityBoundingSet= "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
                ConfigurationDirectory=fwchain "StateDirectory=fwchain/" "WantedBy=multi-user.target"; do
      grep -q "^$line" "$unit" || fail "$u.service lacks $line"
    done
    grep -q '^ExecStart=/usr/bin/fwchain-[a-z-]* [a-z]* --config /etc/fwchain/[a-z-]*\.toml$' "$unit" ||
      fail "$u.service: ExecStart is not '/usr/bin/fwchain-PROGRAM COMMAND --config /etc/fwchain/X.toml'"
  done
done
da="$root/lib/systemd/system/fwchain-device-agent.service"
grep -q '^Type=oneshot' "$da" || fail "the device agent's unit is not a oneshot"
grep -q '^ReadWritePaths=/var/lib/fwchain/device-agent' "$da" || fail "the device agent cannot write its slots"
grep -q '^SuccessExitStatus=10 20' "$da" || fail "exit 10/20 of the device agent would count as failures"

if command -v systemd-analyze >/dev/null; then
  # --root: ExecStart binaries are looked up in the extracted packages, not on this machine; the
  # targets the units refer to come from this machine's units.
  vroot="$work/verify-root"
  cp -a "$root" "$vroot"
  cp -rn /lib/systemd/system/. "$vroot/lib/systemd/system/" 2>/dev/null || true
  for u in "$root"/lib/systemd/system/*.service; do
    name=$(basename "$u")
    log="$work/logs/verify-$name.log"
    systemd-analyze verify --root="$vroot" --man=no "$vroot/lib/systemd/system/$name" >"$log" 2>&1 ||
      { cat "$log" >&2; fail "systemd-analyze verify $name"; }
    # An unknown or misspelled directive is only a warning (exit 0): ours must have none.
    if grep -F "$name" "$log" >&2; then fail "systemd-analyze verify warns about $name"; fi
  done
  echo "systemd-analyze verify: ok"
else
  echo "systemd-analyze not installed: unit verification skipped"
fi

# --- every ExecStart line, run: the unit's own command line with the packaged config, and flags
# that move its paths and ports into the temp dir (flags override the config file).
exec_start() {  # the unit's ExecStart, its /usr/bin and /etc/fwchain paths in the extracted root
  sed -n 's/^ExecStart=//p' "$root/lib/systemd/system/$1.service" |
    sed "s|/usr/bin/|$root/usr/bin/|; s|/etc/fwchain/|$root/etc/fwchain/|"
}
url=""
start() {  # start NAME CMD...: runs CMD in the background, waits for "listening on", sets $url
  local name=$1; shift
  "$@" >"$work/logs/$name.log" 2>&1 &
  pids+=($!)
  # Reads the log as it is written (tail follows it and ends with the process): no polling.
  grep -q -m1 '^listening on ' < <(timeout 60 tail --pid="${pids[-1]}" -n +1 -F \
    "$work/logs/$name.log" 2>/dev/null) ||
    fail "$name did not start: $(cat "$work/logs/$name.log")"
  url="http://$(grep -m1 '^listening on ' "$work/logs/$name.log" | awk '{print $3}')"
}
answers() { curl -fsS --max-time 10 -o /dev/null "$1" || fail "no answer from $1"; }

vs="$root/usr/bin/fwchain-vendor-server"
genesis=$("$vs" init --data "$work/vendor" --vendor acme --bits 8 --json | sed -n 's/.*"genesis_hash": "\([0-9a-f]*\)".*/\1/p')
[ -n "$genesis" ] || fail "vendor-server init printed no genesis hash"

# shellcheck disable=SC2046 # the command line is split into words as systemd splits it
start ledger $(exec_start fwchain-ledger) --data "$work/ledger" --listen 127.0.0.1:0 \
  --genesis "$genesis" --genesis-file "$work/vendor/genesis.json"
ledger=$url; answers "$ledger/v1/tip"
# shellcheck disable=SC2046
start vendor $(exec_start fwchain-vendor-server) --data "$work/vendor" --listen 127.0.0.1:0 --bt-listen 127.0.0.1:0 \
  --ledger "$ledger"
vendor=$url; answers "$vendor/v1/health"
# shellcheck disable=SC2046
start gateway $(exec_start fwchain-gateway) --data "$work/gateway" --vendor "$vendor" \
  --ledger "$ledger" --root "$work/vendor/metadata/root/1.json" --listen 127.0.0.1:0 \
  --bt-listen 127.0.0.1:0
gateway=$url; answers "$gateway/v1/health"
grep -q 'poll' "$root/etc/fwchain/gateway.toml" || fail "gateway.toml sets no poll interval"

# The watcher's example config leaves the repository to the admin: it must say so by name.
set +e
# shellcheck disable=SC2046
$(exec_start fwchain-vendor-watch) --data "$work/vendor" --once >"$work/logs/watch.log" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] && grep -q -- '--repo' "$work/logs/watch.log" ||
  fail "vendor-watch without a repo: exit $rc, $(cat "$work/logs/watch.log")"
git init -q "$work/fw"
git -C "$work/fw" -c user.name=ci -c user.email=ci@fwchain.invalid commit -q --allow-empty -m empty
# shellcheck disable=SC2046
$(exec_start fwchain-vendor-watch) --data "$work/vendor" --repo "$work/fw" --image-path fw.bin \
  --product cam --hardware rev-b --ledger "$ledger" --once >"$work/logs/watch.log" 2>&1 ||
  fail "vendor-watch --once with the packaged config: $(cat "$work/logs/watch.log")"

"$vs" provision --data "$work/vendor" --device-id cam-001 --product cam --hardware rev-b \
  --out "$work/device" --ledger "$ledger" >"$work/logs/provision.log" 2>&1 ||
  fail "provision: $(cat "$work/logs/provision.log")"
set +e
# shellcheck disable=SC2046
$(exec_start fwchain-device-agent) --state "$work/device" --gateway "$gateway" --json \
  >"$work/logs/device-agent.log" 2>&1
rc=$?
set -e
[ $rc -eq 0 ] && grep -q '"up-to-date"' "$work/logs/device-agent.log" ||
  fail "device-agent boot with the packaged config: exit $rc, $(cat "$work/logs/device-agent.log")"

echo "package_test: ok: ${deb[*]}"
