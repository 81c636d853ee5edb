#!/usr/bin/env python3
"""Reads the harness's JSON lines (from every run of every side) and prints one markdown
table: the median over runs of each side's figure, and beside each peer's figure how many
times faster ours is (">1x": ours faster; for accuracy and memory, the plain ratio).

    python table.py results.jsonl [--env env.json]

Standard library only.
"""
import json
import statistics
import sys
from collections import defaultdict

PEERS = ["numpy", "torch", "jax", "dfdx", "matrixmultiply"]

# Figures the issue reports for peers we do not run here (same kind of machine, 1 thread).
REPORTED = {
    "MLP train step b=32": "JAX 0.75 ms, burn 1.0 ms, dfdx 0.47 ms, candle 6.7 ms",
    "MLP train step b=1024": "JAX 5.4 ms, Keras 8.4 ms, burn 13 ms",
    "MNIST epoch (b=32, 48k images)": "JAX 1.3 s, dfdx 1.7 s, burn 2.4 s",
    "MNIST peak RSS": "JAX 645 MB, Keras 1190 MB",
    "scalar graph 100k ops fwd+bwd": "dfdx 900, candle 3800, burn 117000 ns/op",
}


def rows():
    """(section, key, threads, unit, target) in table order. target: (description, check)
    where check(ours, peers) -> bool or None."""

    def faster(**mins):
        def check(ours, peers, speedup):
            ok = [speedup(ours, peers[p]) >= m for p, m in mins.items() if p in peers]
            return all(ok) if ok else None

        return check

    def at_most(limit):
        return lambda ours, peers, speedup: ours <= limit

    def matmul_target(ours, peers, speedup):
        ok = []
        if "numpy" in peers:
            ok.append(speedup(ours, peers["numpy"]) >= 0.9)
        for p in ("dfdx", "matrixmultiply"):
            if p in peers:
                ok.append(speedup(ours, peers[p]) > 1.0)
        return all(ok) if ok else None

    s = "MLP 784-128-64-10 + Adam, one train step, 1 thread"
    yield s, "MLP train step b=32", 1, "ms", ("<= 1/2 dfdx, <= 1/5 torch", faster(dfdx=2, torch=5))
    yield s, "MLP train step b=1024", 1, "ms", ("<= fastest peer", faster(dfdx=1, torch=1, jax=1))
    s = "MNIST example (examples/classification), batch 32, 1 thread"
    yield s, "MNIST epoch (b=32, 48k images)", 1, "s", ("<= 1/2 fastest peer", faster(jax=2, torch=2))
    yield s, "MNIST wall time, 1 epoch incl. loading and test", 1, "s", ("", None)
    yield s, "MNIST peak RSS", 1, "MB", ("<= 1/4 JAX's", faster(jax=4))
    yield s, "MNIST test accuracy after 1 epoch", 1, "%", ("", None)
    yield s, "MNIST test accuracy after 5 epochs", 1, "%", ("same as before", None)
    mm_t = ("n >= 256: >= 0.9x numpy, > Rust peers", matmul_target)
    for threads in (1, 2):
        s = f"matmul, square n x n, GFLOP/s, {threads} thread{'s' if threads > 1 else ''}"
        for dt in ("f32", "f64"):
            for n in (64, 256, 1024, 2048):
                yield s, f"matmul {dt} {n}", threads, "GFLOP/s", mm_t if n >= 256 else ("> Rust peers", None)
    s = "matmul, the MLP's first layer and its backward, GFLOP/s, 1 thread"
    for dt in ("f32", "f64"):
        for b in (32, 1024):
            for name in (f"fwd {b}x784 . 784x128", f"dW 784x{b} . {b}x128 (x^T g)", f"dX {b}x128 . 128x784 (g W^T)"):
                yield s, f"matmul {dt} {name}", 1, "GFLOP/s", ("> Rust peers", None)
    for threads in (1, 2):
        s = f"elementwise and reductions over 10^7 f32, Gelem/s, {threads} thread{'s' if threads > 1 else ''}"
        for op in ("exp", "add", "mul", "relu", "tanh", "sum", "max"):
            yield s, f"elementwise {op} 1e7 f32", threads, "Gelem/s", (">= 0.8x numpy", faster(numpy=0.8))
    s = "fusion candidates (forward + backward on a tape, or one optimizer step), us, 1 thread"
    for k in (
        "softmax+CE fwd+bwd 1024x10",
        "softmax+CE fwd+bwd 256x1000",
        "bias+ReLU fwd+bwd 32x128",
        "bias+ReLU fwd+bwd 1024x128",
        "dense+bias+ReLU fwd+bwd 32x784 . 784x128",
        "dense+bias+ReLU fwd+bwd 1024x784 . 784x128",
        "Adam update, 109,386 params",
    ):
        yield s, k, 1, "us", ("", None)
    s = "scalar graph: 100,000 recorded scalar ops (mul, sin, add, tanh, exp), 1 thread"
    yield s, "scalar graph 100k ops fwd+bwd", 1, "ns/op", ("<= 100 ns/op", at_most(100))


def convert(rec, unit):
    if unit == "ms":
        return rec["sec"] * 1e3
    if unit == "us":
        return rec["sec"] * 1e6
    if unit == "s":
        return rec["sec"]
    if unit == "GFLOP/s":
        return rec["flops"] / rec["sec"] / 1e9
    if unit == "Gelem/s":
        return rec["elems"] / rec["sec"] / 1e9
    if unit == "ns/op":
        return rec["sec"] / rec["ops"] * 1e9
    return rec["value"]  # MB, %


def higher_is_better(unit):
    return unit in ("GFLOP/s", "Gelem/s", "%")


def fmt(v):
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def main():
    path = sys.argv[1]
    env = None
    if "--env" in sys.argv:
        with open(sys.argv[sys.argv.index("--env") + 1]) as f:
            env = json.load(f)
    recs = defaultdict(list)
    loads = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "load1" in r:
                loads.append(r["load1"])
                continue
            recs[(r["key"], r["impl"], r.get("threads", 1))].append(r)
    present = [p for p in PEERS if any(k[1] == p for k in recs)]

    def speedup_for(unit):
        def speedup(o, p):
            if unit == "%":
                return o / p
            return o / p if higher_is_better(unit) else p / o

        return speedup

    # Medians per row, grouped by section (columns: the peers with a figure in that section).
    sections = []
    for sec, key, threads, unit, target in rows():
        vals = {}
        for imp in ["ours"] + present:
            rs = recs.get((key, imp, threads))
            if rs:
                vals[imp] = statistics.median(convert(r, unit) for r in rs)
        if not vals:
            continue
        if not sections or sections[-1][0] != sec:
            sections.append((sec, []))
        sections[-1][1].append((key, threads, unit, target, vals))

    if env:
        print("Machine: " + ", ".join(f"{k} {v}" for k, v in env.items()))
        print()
    print("Each figure is the median over runs of each side's per-run median. Beside a peer's figure, (N x) says")
    print("how many times faster ours is (> 1: ours is faster; for %, ours / peer; for MB, peer / ours).")
    if loads:
        print()
        print(
            f"Load average (1 min) at the start of each round: {min(loads):.1f} to {max(loads):.1f}"
            + (
                " -- the machine was busy: figures with 2 threads (and to a lesser degree all) are unreliable."
                if max(loads) > 1.0
                else "."
            )
        )
    for sec, items in sections:
        cols = [p for p in present if any(p in it[4] for it in items)]
        print()
        print(f"**{sec}**")
        print()
        head = ["workload", "unit", "ours"] + cols + ["target", "met", "reported by the issue"]
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join([" --- "] * 2 + [" ---: "] * (1 + len(cols)) + [" --- "] * 3) + "|")
        for key, threads, unit, (target, check), vals in items:
            speedup = speedup_for(unit)
            label = key + (f", {threads} threads" if threads > 1 else "")
            cells = [label, unit, fmt(vals["ours"]) if "ours" in vals else "-"]
            for p in cols:
                if p in vals:
                    c = fmt(vals[p])
                    if "ours" in vals and vals[p] > 0:
                        c += f" ({speedup(vals['ours'], vals[p]):.2f}x)"
                    cells.append(c)
                else:
                    cells.append("-")
            met = ""
            if check and "ours" in vals:
                r = check(vals["ours"], {p: vals[p] for p in cols if p in vals}, speedup)
                met = "" if r is None else ("yes" if r else "**no**")
            cells += [target, met, REPORTED.get(key, "")]
            print("| " + " | ".join(cells) + " |")
    runs = sorted(set(len(v) for v in recs.values()))
    print()
    print(f"Runs per figure: {', '.join(map(str, runs))}.")


if __name__ == "__main__":
    main()
