# Shared helpers for scripts/bench/*: a Release build, background processes that are always
# stopped, readiness by polling a log line, and the BENCH line format of CONVENTIONS.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${FWCHAIN_BENCH_BUILD_DIR:-$root/build/release}"

# FWCHAIN_BENCH_NO_BUILD=1 uses the binaries already in $build/bin (e.g. a Release build made by
# scripts/build, FWCHAIN_BENCH_BUILD_DIR=build); FWCHAIN_JOBS caps the build's parallelism.
bench_build() {
  "$root/scripts/setup" --bench
  # FWCHAIN_BENCH_NO_BUILD=1 with FWCHAIN_BENCH_BUILD_DIR=DIR: use DIR's binaries as they are.
  [ "${FWCHAIN_BENCH_NO_BUILD:-0}" = 1 ] && return 0
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFWCHAIN_TESTS=OFF >/dev/null
  cmake --build "$build" -j "${FWCHAIN_JOBS:-$(nproc)}" --target "$@"
}

bench_pids=()
bench_cleanup() {
  for pid in "${bench_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${bench_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${bench_work:-}" ] && rm -rf "$bench_work"
}
trap bench_cleanup EXIT
bench_work="$(mktemp -d "${TMPDIR:-/tmp}/fwchain-bench-XXXXXX")"

# bench_start NAME CMD...: runs CMD in the background, waits for "listening on HOST:PORT" and
# sets $url to http://HOST:PORT. Call it directly, not as $(...): a subshell would lose the pid.
bench_start() {
  local name=$1; shift
  "$@" >"$bench_work/$name.log" 2>&1 &
  bench_pids+=($!)
  local deadline=$((SECONDS + 60))
  until grep -q '^listening on ' "$bench_work/$name.log"; do
    if ! kill -0 "${bench_pids[-1]}" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      echo "bench: $name did not start" >&2; cat "$bench_work/$name.log" >&2; return 1
    fi
    sleep 0.1
  done
  url="http://$(grep -m1 '^listening on ' "$bench_work/$name.log" | awk '{print $3}')"
}

# bench_line NAME VALUE UNIT REFERENCE TARGET_RATIO HIGHER_IS_BETTER(1|0)
bench_line() {
  local name=$1 value=$2 unit=$3 reference=$4 target=$5 higher=$6
  awk -v n="$name" -v v="$value" -v u="$unit" -v r="$reference" -v t="$target" -v h="$higher" \
    'BEGIN { ratio = (r > 0) ? v / r : 0;
             ok = (h == 1) ? (ratio >= t) : (ratio <= t);
             printf "BENCH %s value=%.4g unit=%s reference=%.4g ratio=%.3f target=%s%s ok=%s\n",
                    n, v, u, r, ratio, (h == 1 ? ">=" : "<="), t, (ok ? "yes" : "no") }'
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000))
}

# nginx serving DIR on 127.0.0.1:PORT with sendfile, no logs; sets $url.
bench_nginx() {
  local dir=$1 port; port=$(free_port)
  mkdir -p "$bench_work/nginx"
  cat >"$bench_work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $bench_work/nginx/nginx.pid;
error_log $bench_work/nginx/error.log;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 100000;
  default_type application/octet-stream;
  server { listen 127.0.0.1:$port; root $dir; }
}
CONF
  nginx -c "$bench_work/nginx/nginx.conf" -p "$bench_work/nginx" -g 'daemon off; user root;' \
    >"$bench_work/nginx.log" 2>&1 &
  bench_pids+=($!)
  local deadline=$((SECONDS + 20))
  until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
    [ $SECONDS -ge $deadline ] && { echo "bench: nginx did not start" >&2; cat "$bench_work/nginx.log" >&2; return 1; }
    sleep 0.1
  done
  url="http://127.0.0.1:$port"
}

# wrk_field OUTPUT_FILE: requests/s, p99 (ms), transfer MB/s
wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
wrk_p99_ms() {
  awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
                     else if (v ~ /ms$/) { sub(/ms$/, "", v) }
                     else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
                     print v }' "$1"
}
wrk_mbps() {
  awk '/^Transfer\/sec:/ { v = $2; if (v ~ /GB$/) { sub(/GB$/, "", v); v *= 1024 }
                           else if (v ~ /MB$/) { sub(/MB$/, "", v) }
                           else if (v ~ /KB$/) { sub(/KB$/, "", v); v /= 1024 }
                           print v }' "$1"
}
