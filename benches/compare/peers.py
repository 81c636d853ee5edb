#!/usr/bin/env python3
"""The Python side of the comparison harness: numpy, PyTorch (eager) and JAX (jit) running
the same workloads as `ours/` (see README.md beside this file and docs/performance.md).
JAX runs only the MLP train step (the issue's targets compare that and the MNIST epoch
with JAX); run it pinned to one core (`taskset -c 0`) for one thread, as run.sh does.

Prints one JSON object per line:
    {"key": ..., "impl": "numpy" | "torch" | "jax", "threads": n, "sec": median seconds per call, ...}
with "flops" / "elems" / "ops" where the table converts to a rate.

Timing is the harness's common method (the same in ours/ and peer-rust/): one call to
calibrate, calls grouped so that a sample lasts about 2 ms, ~0.1 s of warm-up, then samples
until at least 5 and ~0.3 s (3 samples minimum for calls over 0.1 s); the median sample
divided by its calls.

    python peers.py --threads 1 --only mlp,matmul,elementwise,fused
    python peers.py --threads 2 --only matmul-square
"""
import argparse
import json
import math
import statistics
import sys
import time


def bench(f, min_samples=5, budget=0.3):
    f()  # calibrate (and first-touch)
    t0 = time.perf_counter()
    f()
    one = time.perf_counter() - t0
    k = max(1, math.ceil(2e-3 / max(one, 1e-9)))
    if one > 0.1:
        min_samples = 3
    w0 = time.perf_counter()
    while time.perf_counter() - w0 < 0.1:
        f()
    samples = []
    s0 = time.perf_counter()
    while len(samples) < min_samples or (time.perf_counter() - s0 < budget and len(samples) < 1000):
        t = time.perf_counter()
        for _ in range(k):
            f()
        samples.append((time.perf_counter() - t) / k)
    return statistics.median(samples)


def emit(key, impl, threads, sec, **extra):
    print(json.dumps({"key": key, "impl": impl, "threads": threads, "sec": sec, **extra}), flush=True)


# ---------------------------------------------------------------- matmul

SQUARE = [64, 256, 1024, 2048]


def mlp_shapes(batch):
    """(name, a's shape, b's shape, transpose a, transpose b): the MLP's first layer and its backward."""
    return [
        (f"fwd {batch}x784 . 784x128", (batch, 784), (784, 128), False, False),
        (f"dW 784x{batch} . {batch}x128 (x^T g)", (batch, 784), (batch, 128), True, False),
        (f"dX {batch}x128 . 128x784 (g W^T)", (batch, 128), (784, 128), False, True),
    ]


def matmul_cases(groups):
    """Yields (key, a_shape, b_shape, ta, tb, dtype, flops)."""
    for dtype in ["f32", "f64"]:
        if "matmul-square" in groups:
            for n in SQUARE:
                yield f"matmul {dtype} {n}", (n, n), (n, n), False, False, dtype, 2 * n**3
        if "matmul-mlp" in groups:
            for batch in [32, 1024]:
                for name, sa, sb, ta, tb in mlp_shapes(batch):
                    m, k = (sa[1], sa[0]) if ta else sa
                    n = sb[0] if tb else sb[1]
                    yield f"matmul {dtype} {name}", sa, sb, ta, tb, dtype, 2 * m * k * n


def run_numpy_matmul(groups, threads):
    import numpy as np

    rng = np.random.default_rng(0)
    for key, sa, sb, ta, tb, dtype, flops in matmul_cases(groups):
        dt = np.float32 if dtype == "f32" else np.float64
        a = rng.uniform(-1, 1, sa).astype(dt)
        b = rng.uniform(-1, 1, sb).astype(dt)
        a2 = a.T if ta else a  # views: BLAS gets the transpose flag, no copy
        b2 = b.T if tb else b
        emit(key, "numpy", threads, bench(lambda: a2 @ b2), flops=flops)


def run_torch_matmul(groups, threads):
    import torch

    g = torch.Generator().manual_seed(0)
    for key, sa, sb, ta, tb, dtype, flops in matmul_cases(groups):
        dt = torch.float32 if dtype == "f32" else torch.float64
        a = (torch.rand(sa, generator=g, dtype=dt) * 2 - 1)
        b = (torch.rand(sb, generator=g, dtype=dt) * 2 - 1)
        a2 = a.t() if ta else a
        b2 = b.t() if tb else b
        emit(key, "torch", threads, bench(lambda: torch.matmul(a2, b2)), flops=flops)


# ---------------------------------------------------------------- elementwise and reductions

N_ELEM = 10_000_000


def run_numpy_elementwise(threads):
    import numpy as np

    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, N_ELEM).astype(np.float32)
    y = rng.uniform(-2, 2, N_ELEM).astype(np.float32)
    ops = {
        "exp": lambda: np.exp(x),
        "add": lambda: x + y,
        "mul": lambda: x * y,
        "relu": lambda: np.maximum(x, np.float32(0)),
        "tanh": lambda: np.tanh(x),
        "sum": lambda: x.sum(),
        "max": lambda: x.max(),
    }
    for name, f in ops.items():
        emit(f"elementwise {name} 1e7 f32", "numpy", threads, bench(f), elems=N_ELEM)


def run_torch_elementwise(threads):
    import torch

    g = torch.Generator().manual_seed(1)
    x = torch.rand(N_ELEM, generator=g) * 4 - 2
    y = torch.rand(N_ELEM, generator=g) * 4 - 2
    ops = {
        "exp": lambda: torch.exp(x),
        "add": lambda: x + y,
        "mul": lambda: x * y,
        "relu": lambda: torch.relu(x),
        "tanh": lambda: torch.tanh(x),
        "sum": lambda: x.sum(),
        "max": lambda: x.max(),
    }
    with torch.no_grad():
        for name, f in ops.items():
            emit(f"elementwise {name} 1e7 f32", "torch", threads, bench(f), elems=N_ELEM)


# ---------------------------------------------------------------- fused-kernel candidates


def torch_mlp():
    import torch

    torch.manual_seed(42)
    return torch.nn.Sequential(
        torch.nn.Linear(784, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    )


def run_torch_fused(threads):
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(7)
    for rows, classes in [(1024, 10), (256, 1000)]:
        z0 = torch.randn(rows, classes, generator=g)
        labels = torch.tensor([(i * 7) % classes for i in range(rows)])

        def sce():
            z = z0.detach().requires_grad_()
            F.cross_entropy(z, labels).backward()
            return z.grad

        emit(f"softmax+CE fwd+bwd {rows}x{classes}", "torch", threads, bench(sce))
    for rows in [32, 1024]:
        h0 = torch.randn(rows, 128, generator=g)
        b0 = torch.randn(128, generator=g)

        def bias_relu():
            h = h0.detach().requires_grad_()
            b = b0.detach().requires_grad_()
            torch.relu(h + b).sum().backward()
            return h.grad, b.grad

        emit(f"bias+ReLU fwd+bwd {rows}x128", "torch", threads, bench(bias_relu))
    for rows in [32, 1024]:
        x0 = torch.rand(rows, 784, generator=g)
        w0 = torch.randn(128, 784, generator=g) * 0.05
        b0 = torch.randn(128, generator=g) * 0.05

        def dense_relu():
            w = w0.detach().requires_grad_()
            b = b0.detach().requires_grad_()
            torch.relu(F.linear(x0, w, b)).sum().backward()
            return w.grad, b.grad

        emit(f"dense+bias+ReLU fwd+bwd {rows}x784 . 784x128", "torch", threads, bench(dense_relu))
    model = torch_mlp()
    for p in model.parameters():
        p.grad = (torch.rand(p.shape, generator=g) * 2 - 1) * 1e-2
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    emit("Adam update, 109,386 params", "torch", threads, bench(opt.step))


# ---------------------------------------------------------------- MLP train step


def run_torch_mlp(threads):
    import torch
    import torch.nn.functional as F

    for b in [32, 1024]:
        g = torch.Generator().manual_seed(b)
        x = torch.rand(b, 784, generator=g)
        y = torch.randint(0, 10, (b,), generator=g)
        model = torch_mlp()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()

        emit(f"MLP train step b={b}", "torch", threads, bench(step))


def jax_mlp_init(seed):
    """PyTorch's Linear initialisation (uniform in +-1/sqrt(fan_in)) for 784-128-64-10."""
    import numpy as np

    rng = np.random.default_rng(seed)
    params = []
    for fi, fo in [(784, 128), (128, 64), (64, 10)]:
        bound = 1.0 / math.sqrt(fi)
        params.append(
            (
                rng.uniform(-bound, bound, (fi, fo)).astype(np.float32),
                rng.uniform(-bound, bound, (fo,)).astype(np.float32),
            )
        )
    return params


def jax_train_step(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """A jitted train step: forward, cross-entropy from logits against one-hot targets,
    gradients, and Adam (PyTorch's formula) over the parameter tree; buffers donated."""
    import jax
    import jax.numpy as jnp

    def forward(params, x):
        (w1, c1), (w2, c2), (w3, c3) = params
        h = jax.nn.relu(x @ w1 + c1)
        h = jax.nn.relu(h @ w2 + c2)
        return h @ w3 + c3

    def loss_fn(params, x, y):
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(forward(params, x)), axis=-1))

    def step(params, m, v, t, x, y):
        loss, g = jax.value_and_grad(loss_fn)(params, x, y)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        bc1 = 1 - b1**t
        bc2 = 1 - b2**t
        params = jax.tree_util.tree_map(
            lambda p, m, v: p - (lr / bc1) * m / (jnp.sqrt(v / bc2) + eps), params, m, v
        )
        return params, m, v, t, loss

    predict = jax.jit(lambda params, x: jnp.argmax(forward(params, x), axis=-1))
    return jax.jit(step, donate_argnums=(0, 1, 2)), predict


def jax_state(seed):
    import jax
    import jax.numpy as jnp

    params = jax.tree_util.tree_map(jnp.asarray, jax_mlp_init(seed))
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return params, zeros, jax.tree_util.tree_map(jnp.zeros_like, params), jnp.asarray(0.0, dtype=jnp.float32)


def run_jax_mlp(threads):
    import jax.numpy as jnp
    import numpy as np

    step, _ = jax_train_step()
    for b in [32, 1024]:
        rng = np.random.default_rng(b)
        x = jnp.asarray(rng.uniform(0, 1, (b, 784)).astype(np.float32))
        y = jnp.asarray(np.eye(10, dtype=np.float32)[rng.integers(0, 10, b)])
        state = list(jax_state(42))

        def one():
            params, m, v, t, loss = step(*state, x, y)
            state[:] = [params, m, v, t]
            return float(loss)  # waits for the result, like .item()

        emit(f"MLP train step b={b}", "jax", threads, bench(one))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", default="mlp,matmul-square,matmul-mlp,elementwise,fused")
    ap.add_argument("--impl", default="numpy,torch", help="numpy,torch,jax")
    args = ap.parse_args()
    groups = set(args.only.split(","))
    impls = set(args.impl.split(","))
    t = args.threads
    if "torch" in impls:
        import torch

        torch.set_num_threads(t)
    if "numpy" in impls:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=t)
    if "mlp" in groups and "torch" in impls:
        run_torch_mlp(t)
    if "mlp" in groups and "jax" in impls:
        run_jax_mlp(t)
    if groups & {"matmul-square", "matmul-mlp"}:
        if "numpy" in impls:
            run_numpy_matmul(groups, t)
        if "torch" in impls:
            run_torch_matmul(groups, t)
    if "elementwise" in groups:
        if "numpy" in impls:
            run_numpy_elementwise(t)
        if "torch" in impls:
            run_torch_elementwise(t)
    if "fused" in groups and "torch" in impls:
        run_torch_fused(t)


if __name__ == "__main__":
    sys.exit(main())
