#!/usr/bin/env bash
# Runs every holmes benchmark and prints their tables (ratios against a baseline measured
# in the same run). Release builds; takes a few minutes on 2 cores.
#
#   benches/all.sh            # everything, including the allocator peers (builds jemalloc)
#   benches/all.sh --no-peers # holmes' own benchmarks only
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

echo "machine: $(nproc) cores, $(uname -m), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for bench in sampler alloc cpu_profile threads idle; do
    echo
    echo "## $bench"
    cargo bench -q -p holmes-runtime --bench "$bench" 2>/dev/null
done
if [ "${1:-}" != "--no-peers" ]; then
    echo
    echo "## alloc-peers (jemalloc built with profiling support)"
    (cd benches/alloc-peers && cargo bench -q 2>/dev/null)
fi
