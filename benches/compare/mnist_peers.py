#!/usr/bin/env python3
"""The peers' side of the MNIST rows: the same run as `examples/classification`
(784-128(ReLU)-64(ReLU)-10, Adam lr 1e-3, cross-entropy, batch 32, shuffled, the last 20% of
the 60k training images held out for validation, so 48,000 training images an epoch), on the
same gzip IDX files, one thread, in PyTorch (eager) or JAX (a jitted step, see peers.py).

An epoch is timed like the example's (training steps + the validation pass). Batches are
sliced from one array with a random permutation each epoch (no DataLoader: that would only
slow PyTorch down). Prints JSON lines for the harness's table; run it under `/usr/bin/time -v`
for peak memory (and JAX under `taskset -c 0` for one thread).

    python mnist_peers.py --impl torch --data ../../examples/data/mnist --epochs 1
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../examples/data/mnist"))
    ap.add_argument("--impl", choices=["torch", "jax"], default="torch")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    t0 = time.perf_counter()
    xi = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    yi = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz"))
    xt = read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))
    yt = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))
    x = xi.reshape(len(xi), -1).astype(np.float32) / 255.0
    y = yi.astype(np.int64)
    x_test = xt.reshape(len(xt), -1).astype(np.float32) / 255.0
    y_test = yt.astype(np.int64)
    n_fit = int(len(x) * 0.8)
    load_s = time.perf_counter() - t0
    train = torch_run if args.impl == "torch" else jax_run
    epoch_s, val, test = train(args, x[:n_fit], y[:n_fit], x[n_fit:], y[n_fit:], x_test, y_test)
    e = args.epochs
    out = [
        ("MNIST epoch (b=32, 48k images)", {"sec": float(np.median(epoch_s))}),
        (f"MNIST test accuracy after {e} epoch{'s' if e > 1 else ''}", {"value": 100.0 * test}),
    ]
    for key, d in out:
        print(json.dumps({"key": key, "impl": args.impl, "threads": args.threads, **d, "val_accuracy": val, "load_s": load_s}))


def torch_run(args, x_train, y_train, x_val, y_val, x_test, y_test):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x_train, y_train, x_val, y_val, x_test, y_test = map(
        torch.from_numpy, (x_train, y_train, x_val, y_val, x_test, y_test)
    )
    n_fit = len(x_train)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def accuracy(xs, ys):
        model.eval()
        with torch.no_grad():
            hits = 0
            for i in range(0, len(xs), 256):
                hits += (model(xs[i : i + 256]).argmax(1) == ys[i : i + 256]).sum().item()
        model.train()
        return hits / len(xs)

    batch = 32
    epoch_s = []
    for _ in range(args.epochs):
        t = time.perf_counter()
        perm = torch.randperm(n_fit)
        total = 0.0
        for i in range(0, n_fit, batch):
            idx = perm[i : i + batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            total += loss.item()
        val = accuracy(x_val, y_val)
        epoch_s.append(time.perf_counter() - t)
    return epoch_s, val, accuracy(x_test, y_test)


def jax_run(args, x_train, y_train, x_val, y_val, x_test, y_test):
    import jax.numpy as jnp

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from peers import jax_state, jax_train_step

    step, predict = jax_train_step()
    state = list(jax_state(args.seed))
    eye = np.eye(10, dtype=np.float32)
    rng = np.random.default_rng(args.seed)
    n_fit = len(x_train)

    def accuracy(xs, ys):
        hits = 0
        for i in range(0, len(xs), 256):
            hits += int((np.asarray(predict(state[0], xs[i : i + 256])) == ys[i : i + 256]).sum())
        return hits / len(xs)

    batch = 32
    # Compile before timing (the step on a throwaway state, the prediction for each batch
    # shape it will see): epoch times are those of a warmed-up jit, as from the second epoch on.
    step(*jax_state(args.seed), x_train[:batch], eye[y_train[:batch]])
    for rows in {256, len(x_val) % 256, len(x_test) % 256} - {0}:
        predict(state[0], x_test[:rows])
    epoch_s = []
    for _ in range(args.epochs):
        t = time.perf_counter()
        perm = rng.permutation(n_fit)
        total = 0.0
        for i in range(0, n_fit, batch):
            idx = perm[i : i + batch]
            params, m, v, tt, loss = step(*state, x_train[idx], eye[y_train[idx]])
            state[:] = [params, m, v, tt]
            total += float(loss)
        val = accuracy(x_val, y_val)
        epoch_s.append(time.perf_counter() - t)
    return epoch_s, val, accuracy(x_test, y_test)


if __name__ == "__main__":
    main()
