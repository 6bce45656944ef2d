"""The Hessian, the Gauss-Newton matrix and the empirical Fisher of a trained MLP by curvlinops
(HessianLinearOperator, GGNLinearOperator, EFLinearOperator) against critpt on the same weights
and data: the five largest eigenvalues of each (scipy's eigsh on curvlinops' operator, and
`critpt analyze --method lanczos --which largest --top 5 --curvature C`), and curvlinops' time
per product (a block of 5 directions, the Lanczos block critpt uses).

    python benches/compare/curvature_operators.py MODEL.safetensors DATA.csv --critpt target/release/critpt

critpt's own time per product: `CRITPT_BENCH_MODEL=MODEL.safetensors cargo bench --bench netcurv
-- curvature_operators` in the same sitting. Needs torch, scipy, safetensors and
curvlinops-for-pytorch (PyPI)."""
import argparse, csv, json, subprocess, time
import numpy as np, torch
from safetensors import safe_open
from scipy.sparse.linalg import eigsh
from curvlinops import EFLinearOperator, GGNLinearOperator, HessianLinearOperator

ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("data")
ap.add_argument("--critpt", default="target/release/critpt")
ap.add_argument("--reps", type=int, default=5, help="timed blocks of 5 products")
a = ap.parse_args()
torch.set_default_dtype(torch.float64)
torch.set_num_threads(2)
f = safe_open(a.model, "pt"); meta = f.metadata() or {}
sd = {k: f.get_tensor(k).double() for k in f.keys()}
idx = sorted({int(k.split(".")[0]) for k in sd})
rows = list(csv.reader(open(a.data)))[1:]
X = np.array([[float(v) for v in r[:-1]] for r in rows]); y = np.array([int(float(r[-1])) for r in rows])
if "standardize_mean" in meta:
    X = (X - np.array(json.loads(meta["standardize_mean"]))) / np.array(json.loads(meta["standardize_std"]))
act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[meta.get("activation", "tanh")]
mods = []
for j, i in enumerate(idx):
    w = sd[f"{i}.weight"]; lin = torch.nn.Linear(w.shape[1], w.shape[0])
    lin.weight.data = w.clone(); lin.bias.data = sd[f"{i}.bias"].clone(); mods.append(lin)
    if j + 1 < len(idx): mods.append(act())
net = torch.nn.Sequential(*mods)
Xt, yt = torch.tensor(X), torch.tensor(y)
crit = torch.nn.CrossEntropyLoss()
params = [p for p in net.parameters()]; n = sum(p.numel() for p in params)
print(f"model {a.model}: {n} parameters, {len(y)} samples, loss {crit(net(Xt), yt).item():.10f}")
data = [(Xt, yt)]
ops = {
    "hessian": HessianLinearOperator(net, crit, params, data, check_deterministic=False),
    "ggn": GGNLinearOperator(net, crit, params, data, check_deterministic=False),
    "empirical-fisher": EFLinearOperator(net, crit, params, data, check_deterministic=False),
}
rng = np.random.default_rng(0)
V = torch.tensor(rng.standard_normal((n, 5)))
for name, op in ops.items():
    op @ V  # warm-up
    t0 = time.perf_counter()
    for _ in range(a.reps):
        op @ V
    per = (time.perf_counter() - t0) / (5 * a.reps)
    t0 = time.perf_counter()
    ev = np.sort(eigsh(op.to_scipy(), k=5, which="LA", tol=1e-10, return_eigenvectors=False))
    t_eig = time.perf_counter() - t0
    out = subprocess.run([a.critpt, "analyze", "--model", a.model, "--data", a.data, "--method", "lanczos",
                          "--which", "largest", "--top", "5", "--curvature", name, "--json"],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    ours = np.array(r["eigenvalues"])
    rel = np.max(np.abs(ours - ev)) / np.max(np.abs(ev))
    print(f"{name:17s} curvlinops {per * 1e3:8.2f} ms/product (eigsh {t_eig:6.2f} s)   critpt lanczos "
          f"{r['seconds']:6.2f} s, {r['hvps']} products   top-5 max rel diff {rel:.2e}")
    print(f"{'':17s} curvlinops {ev.tolist()}\n{'':17s} critpt     {ours.tolist()}")
