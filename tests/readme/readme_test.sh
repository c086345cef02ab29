#!/usr/bin/env bash
# Runs README.md's "Running the pieces by hand" block as written, so that it cannot rot: from a
# directory where build/bin is this build's bin dir, with the README's fixed ports replaced by
# free ones (tests run in parallel). Passes only if the device ends up running 1.0.0.
# Usage: readme_test.sh SOURCE_DIR BIN_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
bin=$(cd "$2" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/fwchain-readme-XXXXXX")
cleanup() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "readme_test: FAILED (exit $rc); the block run is $work/by-hand.sh" >&2
    for log in "$work"/tmp/*/*.log; do [ -f "$log" ] && { echo "== $log" >&2; tail -n 15 "$log" >&2; }; done
  fi
  if [ $rc -eq 0 ] && [ -z "${FWCHAIN_KEEP_TMP:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# The first ```sh block after the heading.
awk '/^## Running the pieces by hand/ {on = 1; next}
     on && /^```sh$/ {block = 1; next}
     block && /^```$/ {exit}
     block {print}' "$src/README.md" >"$work/block.sh"
[ -s "$work/block.sh" ] || { echo "readme_test: no sh block under 'Running the pieces by hand'" >&2; exit 1; }
grep -q 'device-agent boot' "$work/block.sh" || { echo "readme_test: the block boots no device" >&2; exit 1; }

# Free ports for the README's 7400 (ledger), 7410 (vendor), 7420 (gateway), 7430 (BitTorrent).
# (Ports where nothing listens now, below the kernel's ephemeral range so that no client socket
# of a test running in parallel holds one; a port taken in between fails the test with "address
# in use", not silently.)
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    case " ${taken:-} " in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then taken="${taken:-} $p"; echo "$p"; return; fi
  done
}
taken=""
p0=$(free_port); taken="$taken $p0"; p1=$(free_port); taken="$taken $p1"
p2=$(free_port); taken="$taken $p2"; p3=$(free_port)
sed -e "s/127\.0\.0\.1:7400/127.0.0.1:$p0/g" -e "s/127\.0\.0\.1:7410/127.0.0.1:$p1/g" \
    -e "s/127\.0\.0\.1:7420/127.0.0.1:$p2/g" -e "s/127\.0\.0\.1:7430/127.0.0.1:$p3/g" \
    "$work/block.sh" >"$work/ported.sh"

{
  echo 'set -e'
  # Whatever happens, the servers the block started in the background are stopped.
  echo 'trap '\''kill $(jobs -p) 2>/dev/null || true; wait'\'' EXIT'
  echo 'trap "exit 143" TERM'
  cat "$work/ported.sh"
  echo '[ "$($b/device-agent status --state dev1 --json | jq -r .installed.version)" = 1.0.0 ] ||'
  echo '  { echo "the device does not run 1.0.0"; $b/device-agent status --state dev1; exit 1; }'
  echo 'echo "readme_test: the device runs 1.0.0"'
} >"$work/by-hand.sh"

mkdir -p "$work/repo/build" "$work/tmp"
ln -s "$bin" "$work/repo/build/bin"
cd "$work/repo"
# The block makes its own directory with mktemp -d: inside $work/tmp.
# The block waits for its servers without a deadline (a person would notice); here a server that
# fails to start must fail the test in minutes (the demo runs in ~10 s).
TMPDIR="$work/tmp" timeout --kill-after=10 "${FWCHAIN_README_TIMEOUT:-300}" bash "$work/by-hand.sh"
