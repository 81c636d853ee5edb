"""Checks in PyTorch that the files `nn` writes load, with strict=True, into the module a
PyTorch user would write, and compute the same thing. Needs torch, safetensors and numpy; the
Rust build and tests never need Python (see docs/user-guide.md, "Saving and loading").

The README's MNIST model (784-128(ReLU)-64(ReLU)-10(softmax)):

    cargo run --release -p examples --bin classification -- --save mnist.safetensors
    python3 crates/nn/examples/check_in_pytorch.py mnist mnist.safetensors [examples/data/mnist]

loads into torch.nn.Sequential(Linear(784, 128), ReLU(), Linear(128, 64), ReLU(),
Linear(64, 10)) and is evaluated on the 10,000 MNIST test images: the accuracy must be the one
the Rust run printed. (Its hidden widths are read from the file, so `--hidden 64` works too.)

A small model and its outputs (Linear, ReLU, Linear, Softmax):

    cargo run --release -p nn --example export_for_pytorch -- DIR
    python3 crates/nn/examples/check_in_pytorch.py export DIR
"""
import gzip
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file


def read_idx(path):
    data = gzip.open(path, "rb").read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist(weights, data_dir):
    sd = load_file(weights)
    print({k: tuple(v.shape) for k, v in sd.items()})
    indices = sorted(int(k.split(".")[0]) for k in sd if k.endswith(".weight"))
    # Linear layers at even indices, a ReLU between each two (PyTorch numbering).
    assert indices == list(range(0, 2 * len(indices), 2)), f"expected Linear layers at 0, 2, 4, ...; got {indices}"
    layers = []
    for n, i in enumerate(indices):
        out_f, in_f = sd[f"{i}.weight"].shape
        layers.append(torch.nn.Linear(in_f, out_f))
        if n + 1 < len(indices):
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    print(net)
    net.load_state_dict(sd, strict=True)
    images = read_idx(Path(data_dir) / "t10k-images-idx3-ubyte.gz").reshape(-1, 784)
    labels = read_idx(Path(data_dir) / "t10k-labels-idx1-ubyte.gz")
    x = torch.from_numpy(images.astype(np.float32) / np.float32(255.0))
    with torch.no_grad():
        pred = net(x).argmax(dim=1).numpy()
    acc = float((pred == labels).mean())
    print(f"strict load OK; test accuracy in PyTorch: {acc:.4f} ({100 * acc:.2f}%) on {len(labels)} images")


def export(directory):
    d = Path(directory)
    sd = load_file(d / "model.safetensors")
    print({k: tuple(v.shape) for k, v in sd.items()})
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3), torch.nn.Softmax(-1))
    net.load_state_dict(sd, strict=True)
    io = load_file(d / "io.safetensors")
    with torch.no_grad():
        p = net(io["x"])
    print("strict load OK; max abs diff vs Rust predictions:", (p - io["probs"]).abs().max().item())


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "mnist":
        mnist(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "examples/data/mnist")
    elif len(sys.argv) == 3 and sys.argv[1] == "export":
        export(sys.argv[2])
    else:
        sys.exit(__doc__)
