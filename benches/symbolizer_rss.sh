#!/usr/bin/env bash
# What holmes' symbolization costs in resident memory, on the demo service built the way
# a user ships it (`--release`, `debug = "line-tables-only"`, no frame pointers): the
# service's RSS once started, after its first CPU and thread dumps, the highest RSS
# while dumping (VmHWM) and after 50 dumps. Each dump symbolizes a CPU profile of a
# spinning thread or the stacks of every thread.
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
trap 'kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
# Every tick after the warm-up fires the CPU rule (a spinning thread: 100 % > abs 5 %)
# and the threads rule (abs 1): one CPU profile of 200 ms and one thread dump per
# ~300 ms cooldown.
PORT=0 RUST_LOG=holmes=info HOLMES_INTERVAL=100ms HOLMES_DUMP_DIR="$dir/dumps" \
    HOLMES_CPU=1,1,5 HOLMES_THREADS=1,1,1 HOLMES_MEM=off HOLMES_HEAP=off HOLMES_TASKS=off \
    HOLMES_COOLDOWN=300ms HOLMES_CPU_PROFILE=200ms \
    "$bin" >"$dir/stdout" 2>"$log" &
pid=$!
rss() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
dumps() { grep -c 'dump #' "$log" || true; }
for _ in $(seq 100); do
    grep -q 'listening on' "$dir/stdout" 2>/dev/null && break
    sleep 0.1
done
port=$(sed -n 's|listening on http://127.0.0.1:||p' "$dir/stdout")
sleep 0.5 # the warm-up thread's checks
echo "binary: $bin ($(du -m "$bin" | cut -f1) MB)"
echo "started:            RSS $(rss VmRSS) MiB"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /cpuex HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
until [ "$(dumps)" -ge 2 ]; do sleep 0.05; done
sleep 0.1 # the dumper releases its symbolizer after logging
echo "after 2 dumps:      RSS $(rss VmRSS) MiB"
until [ "$(dumps)" -ge 50 ]; do sleep 0.1; done
echo "after 50 dumps:     RSS $(rss VmRSS) MiB, highest while dumping (VmHWM) $(rss VmHWM) MiB"
