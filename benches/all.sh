#!/usr/bin/env bash
# Runs every holmes benchmark and prints their tables (ratios against a baseline measured
# in the same run). Release builds; takes a few minutes on 2 cores.
#
#   benches/all.sh            # everything, including the allocator peers (builds jemalloc twice:
#                             # with profiling and plain, and compares them through System)
#   benches/all.sh --no-peers # holmes' own benchmarks only
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

echo "machine: $(nproc) cores, $(uname -m), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for bench in sampler alloc cpu_profile threads walk idle; do
    echo
    echo "## $bench"
    cargo bench -q -p holmes-runtime --bench "$bench" 2>/dev/null
done
if [ "${1:-}" != "--no-peers" ]; then
    prof=$(mktemp)
    plain=$(mktemp)
    trap 'rm -f "$prof" "$plain"' EXIT
    echo
    echo "## alloc-peers (jemalloc built with profiling support)"
    (cd benches/alloc-peers && cargo bench -q 2>/dev/null) | tee "$prof"
    echo
    echo "## alloc-peers (plain jemalloc)"
    # A target dir of its own: the two jemalloc builds would rebuild each other.
    (cd benches/alloc-peers && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/plain-jemalloc" \
        cargo bench -q --no-default-features 2>/dev/null) | tee "$plain"
    echo
    echo "## jemalloc's profiler over plain jemalloc (two builds, compared through System)"
    echo "(jemalloc+prof / System in the profiling build) / (jemalloc / System in the plain build)"
    awk -F'\t' '
        FNR == NR && $1 ~ /ratio-to-System/ && $3 == "jemalloc+prof" { p[$2] = $4 }
        FNR != NR && $1 ~ /ratio-to-System/ && $3 == "jemalloc" { j[$2] = $4 }
        FNR != NR && $1 ~ /ratio-to-System/ && $3 == "holmes<System>" { h[$2] = $4 }
        END {
            printf "  %-14s %16s %22s\n", "case", "holmes<System>", "jemalloc+prof/plain"
            for (c in p) if (c in j)
                printf "  %-14s %+15.1f%% %+21.1f%%\n", c, (h[c] - 1) * 100, (p[c] / j[c] - 1) * 100
        }' "$prof" "$plain"
fi
