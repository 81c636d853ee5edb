#!/usr/bin/env python3
"""Turns one MNIST run into the harness's JSON lines.

    parse_mnist.py ours  STDOUT TIME_V_FILE EPOCHS   # examples/classification's output
    parse_mnist.py torch STDOUT TIME_V_FILE EPOCHS   # mnist_peers.py's output (or jax)

From `/usr/bin/time -v`: peak RSS and wall time. From the example's Keras-style epoch line
(`1500/1500 [====] - 1s 451us/step - ...`, validation included, as in Keras): the epoch time
as steps x time per step; its closing line gives the test accuracy. Standard library only.
"""
import json
import re
import sys


def time_v(path):
    txt = open(path).read()
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", txt).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", txt).group(1)
    secs = 0.0
    for part in wall.split(":"):
        secs = secs * 60 + float(part)
    return rss_kb / 1024, secs


def main():
    side, out_path, time_path, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    out = open(out_path).read()
    rss_mb, wall = time_v(time_path)
    e = f"{epochs} epoch{'s' if epochs > 1 else ''}"
    lines = []
    if side == "ours":
        steps = [(int(m.group(1)), float(m.group(2)), m.group(3))
                 for m in re.finditer(r"(\d+)/\1 \[=+\] - \S+ ([\d.]+)(us|ms|s)/step", out)]
        scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
        epoch_s = [n * t * scale[u] for n, t, u in steps]
        if not epoch_s:  # fall back on the closing line's "0.7s per epoch"
            m = re.search(r"([\d.]+)s per epoch", out)
            epoch_s = [float(m.group(1))] if m else []
        acc = float(re.search(r"test accuracy ([\d.]+)%", out).group(1))
        if epoch_s:
            epoch_s.sort()
            lines.append({"key": "MNIST epoch (b=32, 48k images)", "sec": epoch_s[len(epoch_s) // 2]})
    else:
        for line in out.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                if r["key"].startswith("MNIST epoch"):
                    lines.append({"key": r["key"], "sec": r["sec"]})
                elif r["key"].startswith("MNIST test accuracy"):
                    acc = r["value"]
    lines.append({"key": f"MNIST test accuracy after {e}", "value": acc})
    if epochs == 1:
        lines.append({"key": "MNIST peak RSS", "value": rss_mb})
        lines.append({"key": "MNIST wall time, 1 epoch incl. loading and test", "sec": wall})
    else:
        lines = [l for l in lines if "accuracy" in l["key"]]
    for l in lines:
        print(json.dumps({**l, "impl": side, "threads": 1}))


if __name__ == "__main__":
    main()
