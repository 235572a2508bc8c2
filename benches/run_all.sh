#!/usr/bin/env bash
# One run of every bench of issue 5, then the table of BENCHMARKS.md.
#
#   benches/run_all.sh [OUT_DIR]     # default: target/bench-report
#
# Wall time (criterion, hot_path), instructions (callgrind, icount), memory per key (memory),
# compile cost (compile_cost.sh); then benches/table.py writes OUT_DIR/table.md.
# Takes about 20 minutes on 2 cores. Needs valgrind (apt-get install valgrind) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
out=${1:-$target/bench-report}
mkdir -p "$out"

{
    echo "date: $(date -u +%FT%TZ)"
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- runtime macros src benches || echo ' (with local changes)')"
    echo "rustc: $(rustc --version)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') × $(nproc)"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt"

# Wall time moves by up to ±20 % from one criterion pass to the next on a shared VM: three
# passes, and the table takes each row's median of the three medians (and shows their range).
passes=${PASSES:-3}
dirs=()
for i in $(seq 1 "$passes"); do
    cargo bench --bench hot_path 2>&1 | tee "$out/criterion-$i.txt"
    rm -rf "$out/criterion-$i"
    cp -r "$target/criterion" "$out/criterion-$i"
    dirs+=("$out/criterion-$i")
done
benches/callgrind.sh | tee "$out/icount.txt"
cargo bench --bench memory 2>&1 | grep -E "B/key|keys" | tee "$out/memory.txt"
benches/compile_cost.sh | tee "$out/compile.txt"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"

python3 benches/table.py --criterion "${dirs[@]}" --icount "$out/icount.txt" \
    --memory "$out/memory.txt" --compile "$out/compile.txt" >"$out/table.md"
echo "table: $out/table.md"
