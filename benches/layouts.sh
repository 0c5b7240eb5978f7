#!/usr/bin/env bash
# The timed alloc bench (`cargo bench -p holmes-runtime --bench alloc`) over randomized
# code layouts: holmes::Allocator<System> vs System.
#
#   benches/layouts.sh                       # 16 layouts, all cases
#   LAYOUTS=24 CASES=map,pair64x1 benches/layouts.sh
#
# Why: a difference of a percent is within what code placement alone does to a run
# time (alignment of loops and branches, which functions share cache lines and branch
# predictor entries). The same System binary relinked with a padding function read
# -0.1..+2.9 % against itself here, and the alloc bench is one binary with one
# placement, so a placement that happens to favour one side lands in every round of
# every run of it. Here the bench binary is linked LAYOUTS times with lld's
# --shuffle-sections (one function order per seed; the code is unchanged), each layout
# runs the bench's paired rounds, and the overhead reported is the mean over layouts
# of each layout's median: placement becomes noise that averages out.
set -euo pipefail
cd "$(dirname "$0")/.."
LAYOUTS="${LAYOUTS:-16}" CASES="${CASES:-pair64x1,pair64x2,pair4kx1,pair4kx2,map}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
out="$CARGO_TARGET_DIR/layouts"
mkdir -p "$out"
command -v python3 >/dev/null || { echo "python3 is needed for the summary" >&2; exit 1; }
gcc_ld="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/gcc-ld"
[ -x "$gcc_ld/ld.lld" ] || { echo "no rust-lld in the toolchain ($gcc_ld)" >&2; exit 1; }

# `cargo rustc` passes the flags to the bench crate only: one relink per layout.
for seed in $(seq 1 "$LAYOUTS"); do
    exe=$(cargo rustc --release -p holmes-runtime --bench alloc --message-format=json -- \
        -C link-arg=-B"$gcc_ld" -C link-arg=-fuse-ld=lld \
        -C "link-arg=-Wl,--shuffle-sections=.text*=$seed" 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
    [ -x "$exe" ] || { echo "could not build the alloc bench" >&2; exit 1; }
    cp "$exe" "$out/alloc.$seed"
done

results="$out/results.tsv"
: >"$results"
for seed in $(seq 1 "$LAYOUTS"); do
    HOLMES_BENCH_TSV=1 HOLMES_BENCH_CASES="$CASES" "$out/alloc.$seed" |
        sed -n "s/^row\t/$seed\t/p" | tee -a "$results" >&2
done

python3 - "$results" "$LAYOUTS" <<'EOF'
import statistics as st, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
print(f"\nholmes<System> vs System, alloc bench over {sys.argv[2]} code layouts: mean of "
      "the layouts' median overheads, its standard error, and the layouts' range")
print(f"{'case':<10} {'overhead':>9} {'± s.e.':>7}   {'layouts: min..max':>18}")
for case in dict.fromkeys(r[1] for r in rows):
    v = [float(r[4]) for r in rows if r[1] == case]
    se = st.stdev(v) / len(v) ** 0.5 if len(v) > 1 else float("nan")
    print(f"{case:<10} {st.mean(v):>+8.2f}% {se:>6.2f}   {min(v):>+8.2f}..{max(v):>+6.2f}%")
EOF
