"""Reads the files written by `cargo run --release -p nn --example export_for_pytorch -- DIR`
(run from DIR) into torch.nn.Sequential and compares its outputs with the Rust ones.
Needs torch and safetensors; the Rust build and tests never need Python."""
import torch
from safetensors.torch import load_file
sd = load_file("./model.safetensors")
print({k: tuple(v.shape) for k, v in sd.items()})
net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3), torch.nn.Softmax(-1))
net.load_state_dict(sd)
io = load_file("./io.safetensors")
with torch.no_grad():
    p = net(io["x"])
print("max abs diff vs Rust predictions:", (p - io["probs"]).abs().max().item())
