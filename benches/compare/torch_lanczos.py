"""The same Lanczos loop as critpt's (full reorthogonalization, classical Gram-Schmidt twice) in
PyTorch, float64, with double-backward Hessian-vector products, on the same MLP shape and data.

    /tmp/torchvenv/bin/python benches/compare/torch_lanczos.py --layers 64,128,128,10 --hvps 264 \
        [--weights model.safetensors]

Prints the wall time of the HVP loop and the extreme Ritz values. With --weights (a model saved
by `critpt train`, nn.Sequential layout) the Hessian is the one `critpt analyze` decomposes, so
the Ritz values can be compared too; without, PyTorch's default initialization (seed 0).
Peak memory (max RSS) is printed at the end.
"""
import argparse
import csv
import resource
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--data", default="data/digits.csv")
p.add_argument("--layers", default="64,128,128,10")
p.add_argument("--hvps", type=int, default=264)
p.add_argument("--threads", type=int, default=0)
p.add_argument("--weights", default=None)
a = p.parse_args()
if a.threads:
    torch.set_num_threads(a.threads)
torch.manual_seed(0)
rows = list(csv.reader(open(a.data)))[1:]
x = torch.tensor([[float(v) for v in r[:-1]] for r in rows], dtype=torch.float64)
y = torch.tensor([int(float(r[-1])) for r in rows])
x = (x - x.mean(0)) / torch.where(x.std(0, unbiased=False) > 0, x.std(0, unbiased=False), 1.0)
sizes = [int(s) for s in a.layers.split(",")]
mods = []
for i in range(len(sizes) - 1):
    mods.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
    if i + 2 < len(sizes):
        mods.append(torch.nn.Tanh())
net = torch.nn.Sequential(*mods).double()
if a.weights:
    from safetensors.torch import load_file

    state = {k: t.double() for k, t in load_file(a.weights).items()}
    net.load_state_dict(state)
params = [q for q in net.parameters()]
n = sum(q.numel() for q in params)


def hvp(v):
    loss = torch.nn.functional.cross_entropy(net(x), y)
    g = torch.autograd.grad(loss, params, create_graph=True)
    flat = torch.cat([t.reshape(-1) for t in g])
    hv = torch.autograd.grad(flat @ v, params)
    return torch.cat([t.reshape(-1) for t in hv])


gen = torch.Generator().manual_seed(0)
v = torch.randn(n, dtype=torch.float64, generator=gen)
v /= v.norm()
basis = [v]
alphas, betas = [], []
start = time.perf_counter()
for j in range(a.hvps):
    w = hvp(basis[-1])
    alphas.append(float(basis[-1] @ w))
    V = torch.stack(basis, 1)
    for _ in range(2):
        w = w - V @ (V.T @ w)
    b = float(w.norm())
    betas.append(b)
    if j + 1 < a.hvps:
        basis.append(w / b)
seconds = time.perf_counter() - start
T = torch.diag(torch.tensor(alphas)) + torch.diag(torch.tensor(betas[:-1]), 1) + torch.diag(
    torch.tensor(betas[:-1]), -1
)
ev = torch.linalg.eigvalsh(T)
print(f"parameters {n} hvps {a.hvps} seconds {seconds:.3f} per_hvp {seconds / a.hvps:.4f}")
print("smallest", [f"{e:.4e}" for e in ev[:5].tolist()], "largest", [f"{e:.4e}" for e in ev[-5:].tolist()])
print(f"max_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
