"""JAX and torch baselines for benches/graph.rs: one Hessian-vector product on the
21 546-parameter digits CNN (fixtures/onnx/cnn20k_digits) and on the 64-128-128-10 tanh MLP
(fixtures/onnx/mlp_digits), float64, the same weights (read from the ONNX files) and data.

- JAX: `jax.jit(lambda p, v: jax.jvp(jax.grad(loss), (p,), (v,))[1])`, convolutions by
  `jax.lax.conv_general_dilated`, timed with `block_until_ready` after a warm-up call.
- torch: double backward with the graph reused: `g = autograd.grad(loss, params,
  create_graph=True)` once, then per product `autograd.grad(g, params, v, retain_graph=True)`
  (the primal passes are paid once, as critpt's cache does).

Both products are checked against each other and against the fixture's reference (ref.json,
`hvp`: torch float64 at generation time), which tests/it/onnx.rs checks critpt against too.
Prints ms per product (the median of `--repeats` timed calls). Threads: as the libraries
choose; `--threads N` sets torch's and XLA's intra-op threads.

    /work/venv/bin/python benches/compare/graph_vs_jax.py [--repeats 20] [--threads 2]
"""

import argparse
import json
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--repeats", type=int, default=20)
ap.add_argument("--threads", type=int, default=0)
args = ap.parse_args()
if args.threads:
    os.environ["XLA_FLAGS"] = (
        f"--xla_cpu_multi_thread_eigen={'true' if args.threads > 1 else 'false'} "
        f"intra_op_parallelism_threads={args.threads}")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

jax.config.update("jax_enable_x64", True)
if args.threads:
    torch.set_num_threads(args.threads)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "onnx")


def weights(name):
    """The float initializers of an ONNX file in file order, as float64 numpy arrays."""
    m = onnx.load(os.path.join(ROOT, name, "model.onnx"))
    return [(t.name, numpy_helper.to_array(t).astype(np.float64))
            for t in m.graph.initializer if t.data_type == onnx.TensorProto.FLOAT]


def direction(n):
    i = np.arange(n, dtype=np.int64)
    return ((i * 7919) % 1000) / 1000.0 - 0.5


def median_ms(f, repeats):
    f()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


# --- the models, once per framework ------------------------------------------------------

def cnn_jax(ps, x):
    w1, b1, w2, b2, f1, c1, f2, c2 = ps
    dn = ("NCHW", "OIHW", "NCHW")
    h = jax.lax.conv_general_dilated(x, w1, (1, 1), ((1, 1), (1, 1)), dimension_numbers=dn)
    h = jax.nn.relu(h + b1[None, :, None, None])
    h = jax.lax.conv_general_dilated(h, w2, (1, 1), ((1, 1), (1, 1)), dimension_numbers=dn)
    h = jax.nn.relu(h + b2[None, :, None, None])
    h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    h = h.reshape(h.shape[0], -1)
    h = jax.nn.relu(h @ f1.T + c1)
    return h @ f2.T + c2


def cnn_torch(ps, x):
    w1, b1, w2, b2, f1, c1, f2, c2 = ps
    F = torch.nn.functional
    h = F.relu(F.conv2d(x, w1, b1, padding=1))
    h = F.relu(F.conv2d(h, w2, b2, padding=1))
    h = torch.flatten(F.max_pool2d(h, 2), 1)
    return F.linear(F.relu(F.linear(h, f1, c1)), f2, c2)


def mlp_jax(ps, x):
    w1, b1, w2, b2, w3, b3 = ps
    h = jnp.tanh(x @ w1.T + b1)
    h = jnp.tanh(h @ w2.T + b2)
    return h @ w3.T + b3


def mlp_torch(ps, x):
    w1, b1, w2, b2, w3, b3 = ps
    F = torch.nn.functional
    return F.linear(torch.tanh(F.linear(torch.tanh(F.linear(x, w1, b1)), w2, b2)), w3, b3)


def run(name, data_shape, f_jax, f_torch):
    ws = weights(name)
    arrays = [a for _, a in ws]
    shapes = [a.shape for a in arrays]
    sizes = [a.size for a in arrays]
    n = sum(sizes)
    d = load_file(os.path.join(ROOT, "cnn20k_digits", "data.safetensors"))
    x = d["x"].astype(np.float64).reshape((-1,) + data_shape)
    y = d["y"]
    flat = np.concatenate([a.ravel() for a in arrays])
    v = direction(n)

    # JAX: the parameters as one flat vector, unravelled inside the jitted function.
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def unravel(theta):
        out, i = [], 0
        for s, k in zip(shapes, sizes):
            out.append(theta[i:i + k].reshape(s))
            i += k
        return out

    def loss(theta):
        z = f_jax(unravel(theta), xj)
        lse = jax.nn.logsumexp(z, axis=1)
        return jnp.mean(lse - jnp.take_along_axis(z, yj[:, None], axis=1)[:, 0])

    hvp = jax.jit(lambda p, t: jax.jvp(jax.grad(loss), (p,), (t,))[1])
    pj, vj = jnp.asarray(flat), jnp.asarray(v)
    hv_jax = np.asarray(hvp(pj, vj).block_until_ready())
    ms_jax = median_ms(lambda: hvp(pj, vj).block_until_ready(), args.repeats)

    # torch: double backward, the first-order graph built once.
    params = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    lt = torch.nn.functional.cross_entropy(f_torch(params, xt), yt)
    g = torch.autograd.grad(lt, params, create_graph=True)
    vt = [t.reshape(s) for t, s in zip(torch.from_numpy(v).split(sizes), shapes)]

    def hvp_torch():
        return torch.autograd.grad(g, params, vt, retain_graph=True)

    hv_torch = torch.cat([h.reshape(-1) for h in hvp_torch()]).numpy()
    ms_torch = median_ms(hvp_torch, args.repeats)

    ref = json.load(open(os.path.join(ROOT, name, "ref.json")))["hvp"]
    scale = np.linalg.norm(hv_torch)
    agree = np.abs(hv_jax - hv_torch).max() / scale
    ref_err = max(abs(hv_torch[e["index"]] - e["value"]) for e in ref["entries"]) / scale
    ok = agree < 1e-10 and ref_err < 1e-10 and abs(np.linalg.norm(hv_jax) - ref["norm"]) < 1e-9 * ref["norm"]
    print(f"{name}: {n} parameters, {x.shape[0]} samples")
    print(f"  jax.jit(jvp(grad))        {ms_jax:9.2f} ms per product")
    print(f"  torch double backward     {ms_torch:9.2f} ms per product (graph reused)")
    print(f"  max |jax - torch| / |Hv|  {agree:.2e}; against ref.json {ref_err:.2e}"
          f"{'' if ok else '  MISMATCH'}")
    return ok


ok = run("cnn20k_digits", (1, 8, 8), cnn_jax, cnn_torch)
ok &= run("mlp_digits", (64,), mlp_jax, mlp_torch)
print("critpt: cargo bench --bench graph (graph_cnn20k_digits/hvp_single, "
      "graph_vs_netloss_mlp_digits/*)")
sys.exit(0 if ok else 1)
