#!/usr/bin/env bash
# What holmes' symbolization costs in resident memory, on the demo service built the way
# a user ships it (`--release`, `debug = "line-tables-only"`, no frame pointers): its RSS
# once started, right after an incident's dumps (a CPU profile of a spinning thread and a
# thread dump: every frame symbolized), the highest RSS so far (VmHWM), and 12 s later.
#
#   benches/symbolizer_rss.sh                  # builds examples/http_service, measures it
#   benches/symbolizer_rss.sh <http_service>   # measures a binary built elsewhere (an
#                                              # older holmes, for comparison)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
if [ -z "$bin" ]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
    CARGO_PROFILE_RELEASE_DEBUG=line-tables-only RUSTFLAGS="-C force-frame-pointers=no" \
        cargo build -q --release --features tokio --example http_service
    bin="$CARGO_TARGET_DIR/release/examples/http_service"
fi
dir=$(mktemp -d)
log="$dir/stderr"
trap 'kill "$pid" 2>/dev/null; [ -n "${HOLMES_KEEP_LOG:-}" ] && cp "$log" "$HOLMES_KEEP_LOG"; rm -rf "$dir"' EXIT
# One incident: after the warm-up (10 ticks) the next tick fires the CPU rule (a spinning
# thread: 100 % > abs 5 %) and the threads rule (abs 1 thread); both then cool down for
# minutes (the service's attribute).
PORT=0 RUST_LOG=holmes=info HOLMES_INTERVAL=100ms HOLMES_DUMP_DIR="$dir/dumps" \
    HOLMES_CPU=1,1,5 HOLMES_THREADS=1,1,1 HOLMES_TASKS=off HOLMES_MEM=off HOLMES_HEAP=off \
    HOLMES_COOLDOWN=300ms HOLMES_CPU_PROFILE=1s \
    "$bin" >"$dir/stdout" 2>"$log" &
pid=$!
rss() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
dumps() { grep -c 'dump [a-z]* #' "$log" || true; }
for _ in $(seq 100); do
    grep -q 'listening on' "$dir/stdout" 2>/dev/null && break
    sleep 0.1
done
port=$(sed -n 's|listening on http://127.0.0.1:||p' "$dir/stdout")
sleep 0.5 # the warm-up thread's checks; the rules arm after 10 ticks (1 s)
echo "binary: $bin ($(du -m "$bin" | cut -f1) MB)"
echo "started:                         RSS $(rss VmRSS) MiB"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /cpuex HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
for _ in $(seq 300); do
    [ "$(dumps)" -ge 2 ] && break
    sleep 0.1
done
sleep 0.2
echo "after $(dumps) dumps:                 RSS $(rss VmRSS) MiB (highest so far, VmHWM: $(rss VmHWM) MiB)"
sleep 12
echo "12 s after the last dump:        RSS $(rss VmRSS) MiB"
