#!/usr/bin/env python3
"""The table of BENCHMARKS.md, from one run of the benches.

    benches/table.py [--criterion DIR] [--icount FILE] [--memory FILE] [--compile FILE]

--criterion: criterion's output folder, or several (one per pass of `cargo bench --bench
hot_path`: each row then takes the median of the passes' medians; default: $CARGO_TARGET_DIR/criterion
or target/criterion);
--icount: what `benches/callgrind.sh` printed; --memory: what `cargo bench --bench memory`
printed; --compile: what `benches/compile_cost.sh` printed. Wall time is the median of criterion's samples, in ns per call.
"""
import argparse
import json
import os
import re
import sys

# (label, criterion id, icount variant, anchor label or None)
ROWS = [
    ("**floor**", None, None, None),
    ("bare call", "floor/bare_call", "bare_call", None),
    ("`Instant::now()`", "floor/instant_now", "instant_now", None),
    ("uncontended atomic RMW", "floor/atomic_rmw", "atomic_rmw", None),
    ("**parts, sync** (ours: a policy with that part only, through `Policy::call`)", None, None, None),
    ("ours: a policy with no part", "parts/ours_no_part", "ours_no_part", None),
    ("ours: limiter", "parts/ours_limiter", "ours_limiter", "governor direct `check()`"),
    ("governor direct `check()`", "parts/governor_direct", "governor_direct", None),
    ("ours: keyed limiter, 1 key", "parts/ours_keyed/1", "ours_keyed_1", "governor keyed, 1 key"),
    ("governor keyed, 1 key", "parts/governor_keyed/1", "governor_keyed_1", None),
    ("ours: keyed limiter, 10,000 keys", "parts/ours_keyed/10000", "ours_keyed_10000", "governor keyed, 10,000 keys"),
    ("governor keyed, 10,000 keys", "parts/governor_keyed/10000", "governor_keyed_10000", None),
    ("ours: breaker", "parts/ours_breaker", "ours_breaker", "failsafe breaker"),
    ("failsafe breaker", "parts/failsafe", "failsafe", None),
    ("ours: retry", "parts/ours_retry", "ours_retry", "backon retry (blocking)"),
    ("backon retry (blocking)", "parts/backon", "backon", None),
    ("ours: bulkhead", "parts/ours_bulkhead", "ours_bulkhead", "tokio `Semaphore::try_acquire`"),
    ("tokio `Semaphore::try_acquire`", "parts/tokio_semaphore", "tokio_semaphore", None),
    ("**parts, async**", None, None, None),
    ("ours: retry, async", "stack_async/part_ours_retry", "async_ours_retry", "backon retry, async"),
    ("backon retry, async", "stack_async/part_backon", "async_backon", None),
    ("**full stack, sync**", None, None, None),
    ("ours: `#[resilient]` fn", "stack_sync/ours_attribute", "sync_ours_attribute", "hand-combined, sync"),
    ("ours: builder, `Policy::call`", "stack_sync/ours_builder", "sync_ours_builder", "hand-combined, sync"),
    ("hand-combined, sync", "stack_sync/hand_combined", "sync_hand_combined", None),
    ("tower `ServiceBuilder`, polled once", "stack_sync/tower_polled", "sync_tower_polled", None),
    ("**full stack, async** (current-thread tokio runtime)", None, None, None),
    ("ours: `#[resilient]` async fn", "stack_async/ours_attribute", "async_ours_attribute", "hand-combined, async"),
    ("ours: builder, `Policy::call_async`", "stack_async/ours_builder", "async_ours_builder", "hand-combined, async"),
    ("hand-combined, async", "stack_async/hand_combined", "async_hand_combined", None),
    ("tower `ServiceBuilder`, async", "stack_async/tower", "async_tower", None),
]

THREADS = [
    ("`#[resilient]` fn", "threads/attribute_1_thread", "threads/attribute_2_threads_one_policy", "threads/attribute_2_threads_two_policies"),
    ("builder", "threads/builder_1_thread", "threads/builder_2_threads_one_policy", "threads/builder_2_threads_two_policies"),
    ("hand-combined", "threads/hand_combined_1_thread", "threads/hand_combined_2_threads_one_stack", "threads/hand_combined_2_threads_two_stacks"),
]

TOWER = {"hand-combined, sync": "tower `ServiceBuilder`, polled once", "hand-combined, async": "tower `ServiceBuilder`, async"}


def criterion_passes(roots, bench_id):
    """Each pass's median, in ns per call."""
    out = []
    for root in roots:
        path = os.path.join(root, bench_id, "new", "estimates.json")
        try:
            with open(path) as f:
                out.append(json.load(f)["median"]["point_estimate"])
        except OSError:
            pass
    return out


def criterion(roots, bench_id):
    """The median of the passes' medians."""
    xs = sorted(criterion_passes(roots, bench_id))
    if not xs:
        return None
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def spread(roots, bench_id):
    xs = criterion_passes(roots, bench_id)
    return f"{min(xs):.1f}–{max(xs):.1f}" if len(xs) > 1 else ""


def icounts(path):
    out = {}
    if path:
        for line in open(path):
            m = re.match(r"^(\S+)\s+([\d.]+)\s+(-?[\d.]+)\s*$", line)
            if m:
                out[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return out


def fmt(x, digits=1):
    return "–" if x is None else f"{x:,.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main():
    ap = argparse.ArgumentParser()
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    ap.add_argument("--criterion", nargs="+", default=[os.path.join(target, "criterion")])
    ap.add_argument("--icount")
    ap.add_argument("--memory")
    ap.add_argument("--compile")
    a = ap.parse_args()
    ir = icounts(a.icount)

    ns = {}
    irs = {}
    for label, cid, var, _ in ROWS:
        if cid is not None:
            ns[label] = criterion(a.criterion, cid)
            irs[label] = ir.get(var, (None, None))[1]
    base = "ours: a policy with no part"

    def minus(x, y):
        return None if x is None or y is None else x - y

    print("| row | ns/call | passes: ns | Ir/call (net) | ours/anchor ns | ours/anchor Ir | part alone: ns, Ir (minus no-part policy) | anchor |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for label, cid, var, anchor in ROWS:
        if cid is None:
            print(f"| {label} | | | | | | | |")
            continue
        rn = fmt(ratio(ns[label], ns.get(anchor)), 2) if anchor else ""
        ri = fmt(ratio(irs[label], irs.get(anchor)), 2) if anchor else ""
        alone = ""
        if anchor and cid.startswith("parts/"):
            alone = f"{fmt(minus(ns[label], ns[base]))}, {fmt(minus(irs[label], irs[base]), 0)}"
        print(f"| {label} | {fmt(ns[label])} | {spread(a.criterion, cid)} | {fmt(irs[label], 0)} | {rn} | {ri} | {alone} | {anchor or ''} |")
        if anchor in TOWER:
            t = TOWER[anchor]
            print(f"| ↳ same, vs tower | | | | {fmt(ratio(ns[label], ns.get(t)), 2)} | {fmt(ratio(irs[label], irs.get(t)), 2)} | | {t} |")

    print()
    print("| 2 threads | 1 thread, ns/call | 2 threads, one policy: ns per pair | 2 threads, two policies: ns per pair | throughput ×, one policy | throughput ×, two policies |")
    print("|---|---:|---:|---:|---:|---:|")
    speedups = {}
    for label, one, shared, apart in THREADS:
        t1, ts, ta = (criterion(a.criterion, x) for x in (one, shared, apart))
        s_shared = ratio(2 * t1, ts) if t1 else None
        s_apart = ratio(2 * t1, ta) if t1 else None
        speedups[label] = s_apart
        print(f"| {label} | {fmt(t1)} | {fmt(ts)} | {fmt(ta)} | {fmt(s_shared, 2)} | {fmt(s_apart, 2)} |")

    mem = {}
    if a.memory:
        for line in open(a.memory):
            m = re.match(r"^(\w+).*empty\s+(\d+) B.*live\s+(\d+) B = *([\d.]+) B/key\s+peak\s+(\d+) B = *([\d.]+) B/key", line)
            if m:
                mem[m.group(1)] = (int(m.group(3)), float(m.group(4)), float(m.group(6)), int(m.group(2)))
        print()
        print("| keyed limiter, 1,000,000 keys | empty limiter, B | keys: live B | live B/key | peak B/key |")
        print("|---|---:|---:|---:|---:|")
        for k, (live, per, peak, fixed) in mem.items():
            print(f"| {k} | {fixed:,} | {live:,} | {per:.3f} | {peak:.3f} |")

    if a.compile:
        print()
        print("| compile cost, crate alone after a warm dependency build | 200 annotated fns | same fns, no attribute | difference | per annotated fn |")
        print("|---|---:|---:|---:|---:|")
        for line in open(a.compile):
            m = re.match(r"^(cargo [a-z -]+?)\s+([\d.]+)s\s+([\d.]+)s\s+(-?[\d.]+)s", line)
            if m:
                d = float(m.group(4))
                print(f"| `{m.group(1)}` | {m.group(2)} s | {m.group(3)} s | {d:.2f} s | {d / 200 * 1000:.1f} ms |")

    def verdict(ok):
        return "–" if ok is None else ("**met**" if ok else "**missed**")

    def le(x, bound):
        return None if x is None else x <= bound

    print()
    print("| target | measured | verdict |")
    print("|---|---|---|")
    for kind, ours, anchor in [
        ("sync", "ours: `#[resilient]` fn", "hand-combined, sync"),
        ("async", "ours: `#[resilient]` async fn", "hand-combined, async"),
    ]:
        rn, ri = ratio(ns[ours], ns[anchor]), ratio(irs[ours], irs[anchor])
        print(f"| full stack, {kind}, wall time ≤ 0.5 × hand-combined | {fmt(rn, 2)} × | {verdict(le(rn, 0.5))} |")
        print(f"| full stack, {kind}, instructions ≤ 0.5 × hand-combined | {fmt(ri, 2)} × | {verdict(le(ri, 0.5))} |")
    for what, ours, anchor, bound in [
        ("breaker ≤ 0.2 × failsafe", "ours: breaker", "failsafe breaker", 0.2),
        ("limiter ≤ 1 × governor (direct)", "ours: limiter", "governor direct `check()`", 1.0),
        ("limiter ≤ 1 × governor (keyed, 1 key)", "ours: keyed limiter, 1 key", "governor keyed, 1 key", 1.0),
        ("limiter ≤ 1 × governor (keyed, 10,000 keys)", "ours: keyed limiter, 10,000 keys", "governor keyed, 10,000 keys", 1.0),
        ("bulkhead ≤ 0.5 × tokio `Semaphore`", "ours: bulkhead", "tokio `Semaphore::try_acquire`", 0.5),
    ]:
        rn, ri = ratio(ns[ours], ns[anchor]), ratio(irs[ours], irs[anchor])
        both = None if rn is None else (rn <= bound and (ri is None or ri <= bound))
        print(f"| {what} | {fmt(rn, 2)} × (ns), {fmt(ri, 2)} × (Ir) | {verdict(both)} |")
    if mem:
        ours, gov = mem.get("staunch"), mem.get("governor")
        r = ratio(ours[0], gov[0]) if ours and gov else None
        v = verdict(le(r, 1.0))
        if r is not None and r > 1.0:
            v += f" by {ours[0] - gov[0]:,} B in all ({(r - 1) * 100:.4f} %)"
        print(f"| keyed limiter, 1M keys, memory ≤ governor's | {fmt(r, 4)} × (live bytes of the keys) | {v} |")
    s = speedups.get("`#[resilient]` fn")
    print(f"| 2 threads on two policies ≥ 1.7 × one thread | {fmt(s, 2)} × | {verdict(None if s is None else s >= 1.7)} |")


if __name__ == "__main__":
    sys.exit(main())
