#!/usr/bin/env bash
# Instructions per call of every `icount` variant, under callgrind (deterministic: the same
# binary gives the same counts on any machine).
#
# Callgrind counts only inside the bench's `measured*` loops, after 1,000 warm-up calls (so the
# policy build, the runtime start and the clock's calibration, whose count depends on how long
# it takes, are not counted). Each variant runs twice, with N1 and N2 calls;
# (Ir(N2) - Ir(N1)) / (N2 - N1) is the cost of one call with what remains of setup (the first
# pass over 10,000 keys) cancelled out. `net` subtracts the empty loop of the same kind
# (sync or async), so it is what the call itself costs.
#
#   benches/callgrind.sh                 # every variant, a table on stdout
#   benches/callgrind.sh ours_limiter    # some variants
#   PROFILE=sync_ours_attribute benches/callgrind.sh --profile
#                                        # per-function and per-line costs of one variant
set -euo pipefail
cd "$(dirname "$0")/.."

N1=${N1:-20000}
N2=${N2:-120000}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

# Debug info in the optimised bench binary, so callgrind can name inlined source lines.
export CARGO_PROFILE_BENCH_DEBUG=${CARGO_PROFILE_BENCH_DEBUG:-line-tables-only}
bin=$(cargo bench --bench icount --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "icount" and m.get("executable"):
        print(m["executable"])')
[ -x "$bin" ] || { echo "could not build the icount bench" >&2; exit 1; }

irs() { # variant n -> total instructions
    local f="$OUT/$1.$2.out"
    valgrind --tool=callgrind --toggle-collect='*measured*' --callgrind-out-file="$f" "$bin" "$1" "$2" >/dev/null 2>&1
    awk '/^(summary|totals):/ {print $2; exit}' "$f"
}

per_call() { # variant -> instructions per call (one decimal)
    local a b
    a=$(irs "$1" "$N1")
    b=$(irs "$1" "$N2")
    python3 -c "print(f'{($b - $a) / ($N2 - $N1):.1f}')"
}

if [ "${1:-}" = "--profile" ]; then
    v=${PROFILE:?set PROFILE to a variant}
    n=${N:-200000}
    f="$OUT/$v.profile.out"
    valgrind --tool=callgrind --toggle-collect='*measured*' --dump-instr=no --callgrind-out-file="$f" "$bin" "$v" "$n" >/dev/null 2>&1
    callgrind_annotate --inclusive=yes "$f" >"$f.inclusive.txt"
    callgrind_annotate --auto=yes --show-percs=no "$f" >"$f.lines.txt" 2>/dev/null
    echo "# $v, $n calls: divide by $n for per-call counts"
    echo "# per function, inclusive (all of it: $f.inclusive.txt)"
    sed -n 20,70p "$f.inclusive.txt"
    echo "# per source line, exclusive: $f.lines.txt"
    exit 0
fi

if [ $# -gt 0 ]; then variants=("$@"); else mapfile -t variants < <("$bin" list); fi

base_sync=$(per_call empty_loop)
base_async=$(per_call async_empty_loop)
printf '%-24s %10s %10s\n' variant Ir/call net
for v in "${variants[@]}"; do
    ir=$(per_call "$v")
    case $v in async_*) base=$base_async ;; *) base=$base_sync ;; esac
    printf '%-24s %10s %10s\n' "$v" "$ir" "$(python3 -c "print(f'{$ir - $base:.1f}')")"
done
