"""Top Hessian eigenvalues and the trace of a trained digits MLP, by the Python tools a researcher
would pick instead of critpt, on the same weights and data (the model is one `critpt train
--standardize` wrote; its metadata carries the standardization).

    python benches/compare/curvature_anchors.py MODEL.safetensors DATA.csv [--tools pyhessian,jax,curvlinops]

benches/compare/anchors.sh runs it beside critpt on the same weights, in one sitting.

Needs a Python with torch, jax, safetensors, scipy, pyhessian and curvlinops-for-pytorch (PyPI).

Prints, per tool, seconds, Hessian-vector products and the values, so that they can be set
beside `critpt analyze --method lanczos --top 5 [--trace]` run in the same sitting."""
import argparse, csv, json, time, resource
import numpy as np, torch
from safetensors import safe_open

ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("data")
ap.add_argument("--tools", default="pyhessian,jax,curvlinops")
ap.add_argument("--top", type=int, default=5)
ap.add_argument("--hvps", type=int, default=50, help="products timed for the per-product figure")
a = ap.parse_args()
torch.set_default_dtype(torch.float64)
f = safe_open(a.model, "pt"); meta = f.metadata() or {}
sd = {k: f.get_tensor(k).double() for k in f.keys()}
idx = sorted({int(k.split(".")[0]) for k in sd})
rows = list(csv.reader(open(a.data)))[1:]
X = np.array([[float(v) for v in r[:-1]] for r in rows]); y = np.array([int(float(r[-1])) for r in rows])
if "standardize_mean" in meta:
    X = (X - np.array(json.loads(meta["standardize_mean"]))) / np.array(json.loads(meta["standardize_std"]))
mods = []
for j, i in enumerate(idx):
    w = sd[f"{i}.weight"]; lin = torch.nn.Linear(w.shape[1], w.shape[0])
    lin.weight.data = w.clone(); lin.bias.data = sd[f"{i}.bias"].clone(); mods.append(lin)
    if j + 1 < len(idx): mods.append(torch.nn.Tanh())
net = torch.nn.Sequential(*mods)
Xt, yt = torch.tensor(X), torch.tensor(y)
crit = torch.nn.CrossEntropyLoss()
params = [p for p in net.parameters()]; n = sum(p.numel() for p in params)
print(f"model {a.model}: {n} parameters, {len(y)} samples, loss {crit(net(Xt), yt).item():.10f}")
tools = a.tools.split(",")

if "pyhessian" in tools:
    import importlib; phm = importlib.import_module("pyhessian.hessian")
    from pyhessian import hessian
    hv_count = [0]; _hvp = phm.hessian_vector_product
    def counted(*args, **kw):
        hv_count[0] += 1; return _hvp(*args, **kw)
    phm.hessian_vector_product = counted
    np.random.seed(0); torch.manual_seed(0)
    t = time.perf_counter(); hc = hessian(net, crit, data=(Xt, yt), cuda=False); tsetup = time.perf_counter() - t
    t = time.perf_counter(); ev, _ = hc.eigenvalues(maxIter=100, tol=1e-3, top_n=a.top); te = time.perf_counter() - t
    print(f"pyhessian eigenvalues top{a.top} (power iteration, tol 1e-3): {te:.2f}s, {hv_count[0]} products, "
          f"{te / hv_count[0] * 1e3:.2f} ms per product (graph reused), {sorted(ev)}")
    hv_count[0] = 0
    t = time.perf_counter(); tr = hc.trace(maxIter=100, tol=1e-3); tt = time.perf_counter() - t
    print(f"pyhessian trace (Hutchinson, {len(tr)} products): {tt:.2f}s mean {np.mean(tr):.6e}")

if "jax" in tools:
    import jax, jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    ws = [(jnp.array(sd[f"{i}.weight"].numpy()), jnp.array(sd[f"{i}.bias"].numpy())) for i in idx]
    flat, unravel = jax.flatten_util.ravel_pytree(ws) if hasattr(jax, "flatten_util") else (None, None)
    from jax.flatten_util import ravel_pytree
    flat, unravel = ravel_pytree(ws)
    Xj, yj = jnp.array(X), jnp.array(y)
    def loss(th):
        h = Xj
        p = unravel(th)
        for j, (w, b) in enumerate(p):
            h = h @ w.T + b
            if j + 1 < len(p): h = jnp.tanh(h)
        return jnp.mean(jax.nn.logsumexp(h, axis=1) - h[jnp.arange(h.shape[0]), yj])
    g = jax.jit(jax.grad(loss))
    hvp = jax.jit(lambda th, v: jax.jvp(jax.grad(loss), (th,), (v,))[1])
    v = jnp.ones_like(flat) / np.sqrt(flat.size)
    g(flat).block_until_ready(); hvp(flat, v).block_until_ready()
    t = time.perf_counter()
    for _ in range(a.hvps): g(flat).block_until_ready()
    tg = (time.perf_counter() - t) / a.hvps
    t = time.perf_counter()
    for k in range(a.hvps): v = hvp(flat, v); v = v / jnp.linalg.norm(v)
    v.block_until_ready(); th_ = (time.perf_counter() - t) / a.hvps
    print(f"jax jit: gradient {tg*1e3:.2f} ms, hvp {th_*1e3:.2f} ms per product (power-iteration estimate of lambda_max {float(v @ hvp(flat, v)):.6e})")

if "curvlinops" in tools:
    from curvlinops import HessianLinearOperator
    from scipy.sparse.linalg import eigsh
    H = HessianLinearOperator(net, crit, params, [(Xt, yt)])
    v = torch.tensor(np.random.default_rng(0).standard_normal(n))
    H @ v
    t = time.perf_counter()
    for _ in range(10): v = H @ v; v /= v.norm()
    tm = (time.perf_counter() - t) / 10
    print(f"curvlinops HessianLinearOperator: {tm*1e3:.1f} ms per product")
    cnt = [0]
    class Counted:
        shape = H.shape; dtype = H.dtype
        def matvec(self, x): cnt[0] += 1; return H @ x
    from scipy.sparse.linalg import LinearOperator
    L = LinearOperator(H.shape, matvec=lambda x: (cnt.__setitem__(0, cnt[0] + 1), (H @ torch.tensor(x.reshape(-1))).numpy())[1], dtype=np.float64)
    t = time.perf_counter(); ev = eigsh(L, k=a.top, which="LA", tol=1e-8, return_eigenvectors=False); te = time.perf_counter() - t
    print(f"curvlinops + scipy eigsh (ARPACK) top{a.top} tol 1e-8: {te:.2f}s, {cnt[0]} products, {sorted(ev)}")
print(f"max_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
