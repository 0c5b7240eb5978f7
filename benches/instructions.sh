#!/usr/bin/env bash
# Instructions each allocator adds, counted by valgrind's callgrind: deterministic (the
# same binary and inputs give the same count however busy the machine is), so it
# resolves differences far below what timing on a shared VM can. It counts
# instructions, not time: read it next to the timed benches (`benches/all.sh`).
#
#   benches/instructions.sh            # holmes vs System, then the peers
#   benches/instructions.sh --no-peers # holmes vs System only
#
# Each allocator runs a case once with 1 and once with 11 repetitions; the difference
# divided by 10 is the cost of one repetition without start-up. Cases: a HashMap of
# 20 000 formatted strings built and dropped (also with each allocator as the binary's
# own global allocator), 100 000 alloc+free pairs of 64 B / 4 KiB.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

# The bench executable cargo builds in the current directory (extra cargo args allowed).
bench_bin() {
    cargo bench --no-run --message-format=json "$@" 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1
}

# count BIN SPEC: instructions of one run with HOLMES_BENCH_COUNT=SPEC.
count() {
    HOLMES_BENCH_COUNT="$2" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

# per_rep BIN SPEC_WITHOUT_N: instructions of one repetition.
per_rep() {
    local one eleven
    one=$(count "$1" "$2:1")
    eleven=$(count "$1" "$2:11")
    echo $(((eleven - one) / 10))
}

# row LABEL UNITS CANDIDATE BASELINE
row() {
    awk -v l="$1" -v u="$2" -v c="$3" -v b="$4" 'BEGIN {
        printf "  %-40s %14d %14d %+9.2f%% %+9.1f\n", l, c, b, (c / b - 1) * 100, (c - b) / u }'
}
header() {
    printf '\n%s (instructions per repetition)\n' "$1"
    printf '  %-40s %14s %14s %10s %9s\n' "allocator vs its baseline" "allocator" "baseline" "overhead" "per call"
}

alloc_bin=$(cd holmes-runtime && bench_bin -p holmes-runtime --bench alloc)
global_system=$(cd holmes-runtime && bench_bin -p holmes-runtime --bench global_system)
global_holmes=$(cd holmes-runtime && bench_bin -p holmes-runtime --bench global_holmes)
[ -x "$alloc_bin" ] && [ -x "$global_system" ] && [ -x "$global_holmes" ] ||
    { echo "could not build the alloc benches" >&2; exit 1; }
# The map as a program has it: each allocator the binary's own #[global_allocator]
# (the alloc bench below reaches both through one switching allocator).
header "map, #[global_allocator] holmes<System> vs #[global_allocator] System (per call = per entry)"
row "holmes<System> vs System" 20000 \
    "$(per_rep "$global_holmes" map)" "$(per_rep "$global_system" map)"
for case in map pair64; do
    units=20000
    [ "$case" = pair64 ] && units=100000
    header "holmes-runtime alloc bench, $case (per call = per map entry or per pair)"
    row "holmes<System> vs System" "$units" \
        "$(per_rep "$alloc_bin" "$case-holmes")" "$(per_rep "$alloc_bin" "$case-system")"
done

[ "${1:-}" = "--no-peers" ] && exit 0
prof_bin=$(cd benches/alloc-peers && bench_bin)
plain_bin=$(cd benches/alloc-peers && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/plain-jemalloc" bench_bin --no-default-features)
[ -x "$prof_bin" ] && [ -x "$plain_bin" ] || { echo "could not build the peer bench" >&2; exit 1; }
for case in map pair64 pair4k; do
    units=20000
    [ "$case" != map ] && units=100000
    sys=$(per_rep "$prof_bin" "$case:System")
    je=$(per_rep "$plain_bin" "$case:jemalloc")
    header "peers, $case (jemalloc+prof: profiling build; jemalloc and holmes<jemalloc>: plain build)"
    row "holmes<System> vs System" "$units" "$(per_rep "$prof_bin" "$case:holmes<System>")" "$sys"
    row "pprof-alloc vs System" "$units" "$(per_rep "$prof_bin" "$case:pprof-alloc")" "$sys"
    row "jemalloc+prof vs plain jemalloc" "$units" "$(per_rep "$prof_bin" "$case:jemalloc+prof")" "$je"
    row "holmes<jemalloc> vs plain jemalloc" "$units" "$(per_rep "$plain_bin" "$case:holmes<jemalloc>")" "$je"
done
