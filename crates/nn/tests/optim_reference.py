"""Prints the parameters that torch.optim reaches in the optimizer tests of optim.rs
(dampening, amsgrad, lr_decay), for the TORCH_* constants there. Needs torch; the Rust
build and tests never need Python.

    python3 crates/nn/tests/optim_reference.py
"""
import torch

P0 = [1.0, -2.0, 0.5]
GRADS = [[0.5, -1.0, 0.25], [0.1, 0.3, -2.0], [-0.2, 0.4, 0.0]]
AMSGRAD_GRADS = [[0.5, -1.0, 0.25], [0.01, -0.01, 0.01], [-0.02, 0.04, 0.0]]


def run(make, grads):
    p = torch.tensor(P0, dtype=torch.float64, requires_grad=True)
    opt = make([p])
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return [float(v) for v in p.detach()]


def show(name, values):
    print(f"const {name}: [f64; 3] = [{', '.join(repr(v) for v in values)}];")


print(f"# torch {torch.__version__}")
show("TORCH_SGD_DAMPENING", run(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.05), GRADS))
show("TORCH_ADAM_AMSGRAD", run(lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.001), AMSGRAD_GRADS))
show("TORCH_ADAGRAD_LR_DECAY", run(lambda ps: torch.optim.Adagrad(ps, lr=0.1, lr_decay=0.5, weight_decay=0.2), GRADS))
