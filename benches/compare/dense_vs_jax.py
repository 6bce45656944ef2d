"""critpt's dense paths against JAX on the same trained weights, whole process each, same sitting.

    benches/compare/dense_vs_jax.py [--layers 64,33,66,10] [--repeats 3] [--python PY]

critpt trains a digits MLP (default 64-33-66-10 tanh: 5059 parameters, the size the dense
timings in src/curvature/dense.rs quote) with `critpt train --standardize` (seed 0), then three
processes are timed from start to exit (interpreter start-up, imports, JIT compilation and
data loading included), each `--repeats` times, median reported:

- JAX: the Hessian of the loss in the flat parameter vector (float64, CPU) by jax.hessian's
  forward-over-reverse, jitted, then `numpy.linalg.eigvalsh` (LAPACK dsyevd, eigenvalues only)
  and the classifier's counts. Plain `jax.jit(jax.hessian(loss))` pushes all 5059 tangents
  through the network at once and needs 29.6 GB here (out of memory on a 23 GB machine), so
  by default the same products run `--batch 256` directions at a time (`jax.lax.map` with
  `batch_size`, inside the one jit); `--batch 0` times plain `jax.hessian`;
- `critpt analyze --method dense` (all eigenvalues, no eigenvectors);
- `critpt analyze --method inertia` (two LBLᵀ factorizations and the extreme eigenpairs);
- with `--critpt-lapack BIN` (a critpt built with `--features lapack`), both again with it.

All three must report the same index and minimum ratio (the script exits 1 otherwise): the
same weights, the same Hessian. Ratios are critpt / JAX. Build critpt first
(`cargo build --release`, or `--features lapack` for LAPACK's dsyevd_2stage in the dense path;
the inertia keeps faer's LBLT, `--backend lapack` gives dsytrf) and
run from the repository root; the machine's load (`uptime`) is printed before and after.
Needs a Python with jax and numpy (default: the interpreter running this script).

Measured on the 2-core development machine, shared with other builds, 64-33-66-10 trained 20
epochs, all agreeing on index 1526, 179 zeros, minimum ratio 0.662977. Quiet, before the
two-stage LAPACK route: JAX+eigvalsh 24.0 s, critpt dense (faer) 18.9 s (0.78), inertia (faer,
then two LBLT and the full Lanczos run of both ends) 8.7 s (0.36). With the dense path's
LAPACK dsyevd_2stage and dsytrf and the inertia's 10-step Lanczos run, at load 10-12, one run
each: JAX+eigvalsh 199.2 s (Hessian 82.6 s, eigvalsh 106.5 s), critpt dense (faer) 83.0 s
(0.42), inertia (faer) 35.0 s (0.18), dense (lapack, dsyevd_2stage) 59.6 s (0.30), inertia
(lapack, dsytrf, then the lapack build's default; faer's LBLT is now) 49.4 s (0.25). In a later
sitting at load 4-7, one run each, the lapack build's inertia on faer's LBLT: JAX+eigvalsh
97.9 s (Hessian 45.3 s, eigvalsh 45.9 s), critpt dense (faer) 51.3 s (0.52), inertia (faer)
13.7 s (0.14), dense (lapack) 12.2 s (0.12), inertia (lapack build) 9.6 s (0.10); dense
(lapack) with OPENBLAS_NUM_THREADS=1 just after: 13.4 s. OpenBLAS's threads wait by spinning, which a loaded machine
punishes (numpy's eigvalsh took 17x its quiet time); rerun quietly:
    cargo build --release && cp target/release/critpt /tmp/critpt-faer
    cargo build --release --features lapack && cp target/release/critpt /tmp/critpt-lapack
    benches/compare/dense_vs_jax.py --critpt /tmp/critpt-faer --critpt-lapack /tmp/critpt-lapack
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

WORKER = r'''
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp

def read_safetensors(path):
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    kinds = {"F64": np.float64, "F32": np.float32}
    tensors = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        buf = raw[8 + n + a:8 + n + b]
        tensors[name] = np.frombuffer(buf, dtype=kinds[t["dtype"]]).reshape(t["shape"]).astype(np.float64)
    return tensors, meta

model, data, tol_eig, batch = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
tensors, meta = read_safetensors(model)
rows = np.loadtxt(data, delimiter=",", skiprows=1)
x, y = rows[:, :-1], rows[:, -1].astype(int)
if "standardize_mean" in meta:
    x = (x - np.array(json.loads(meta["standardize_mean"]))) / np.array(json.loads(meta["standardize_std"]))
layers = sorted({int(k.split(".")[0]) for k in tensors})
shapes = []
for i in layers:
    shapes.append(tensors[f"{i}.weight"].shape)
    shapes.append(tensors[f"{i}.bias"].shape)
flat = np.concatenate([tensors[f"{i}.{p}"].ravel() for i in layers for p in ("weight", "bias")])
xj, yj = jnp.asarray(x), jnp.asarray(y)

def loss(theta):
    h, off = xj, 0
    for k in range(0, len(shapes), 2):
        (o, i), (ob,) = shapes[k], shapes[k + 1]
        w = theta[off:off + o * i].reshape(o, i); off += o * i
        b = theta[off:off + ob]; off += ob
        h = h @ w.T + b
        if k + 2 < len(shapes):
            h = jnp.tanh(h)
    logz = jax.scipy.special.logsumexp(h, axis=1)
    return jnp.mean(logz - h[jnp.arange(h.shape[0]), yj])

def hessian_batched(theta):
    # jax.hessian's forward-over-reverse, `batch` tangent directions at a time.
    grad = jax.grad(loss)
    hvp = lambda v: jax.jvp(grad, (theta,), (v,))[1]
    return jax.lax.map(hvp, jnp.eye(theta.size), batch_size=batch)

t1 = time.perf_counter()
hessian = jax.hessian(loss) if batch == 0 else hessian_batched
hess = np.asarray(jax.jit(hessian)(jnp.asarray(flat)))
t2 = time.perf_counter()
ev = np.linalg.eigvalsh(hess)
t3 = time.perf_counter()
tau = max(tol_eig * np.abs(ev).max(), 1e-12 * max(1.0, abs(float(loss(jnp.asarray(flat))))))
neg, pos = int((ev < -tau).sum()), int((ev > tau).sum())
print(json.dumps({"parameters": int(flat.size), "index": neg, "zero": int(ev.size - neg - pos),
                  "positive": pos, "minimum_ratio": pos / ev.size,
                  "lambda_min": float(ev[0]), "lambda_max": float(ev[-1]),
                  "seconds_setup": t1 - t0, "seconds_hessian": t2 - t1,
                  "seconds_eigvalsh": t3 - t2}))
'''


def timed(cmd, env=None):
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return time.perf_counter() - t, json.loads(out.stdout)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layers", default="64,33,66,10")
    p.add_argument("--data", default="data/digits.csv")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--critpt", default="target/release/critpt")
    p.add_argument("--critpt-lapack", default=None,
                   help="a second critpt built with --features lapack: its dense path is timed too")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--batch", type=int, default=256,
                   help="tangent directions per batch of the JAX Hessian; 0: plain jax.hessian")
    p.add_argument("--model", default=None, help="reuse a trained model instead of training")
    a = p.parse_args()
    print("load before:", os.popen("uptime").read().strip())
    tmp = tempfile.mkdtemp()
    model = a.model or os.path.join(tmp, "model.safetensors")
    if a.model is None:
        subprocess.run([a.critpt, "train", "--data", a.data, "--layers", a.layers,
                        "--standardize", "--lr", "0.003", "--batch-size", "64", "--epochs", "20",
                        "--seed", "0", "--out", model], check=True, capture_output=True)
    worker = os.path.join(tmp, "jax_worker.py")
    open(worker, "w").write(WORKER)
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    runs = {
        "jax+eigvalsh": [a.python, worker, model, a.data, "1e-8", str(a.batch)],
        "critpt dense": [a.critpt, "analyze", "--model", model, "--data", a.data,
                         "--method", "dense", "--json"],
        "critpt inertia": [a.critpt, "analyze", "--model", model, "--data", a.data,
                           "--method", "inertia", "--json"],
    }
    if a.critpt_lapack:
        runs["critpt dense lapack"] = [a.critpt_lapack] + runs["critpt dense"][1:]
        runs["critpt inertia lapack"] = [a.critpt_lapack] + runs["critpt inertia"][1:]
    times, results = {k: [] for k in runs}, {}
    for _ in range(a.repeats):
        for name, cmd in runs.items():
            t, r = timed(cmd, env)
            times[name].append(t)
            results[name] = r
    base = statistics.median(times["jax+eigvalsh"])
    j = results["jax+eigvalsh"]
    print(f"model {a.layers} ({j['parameters']} parameters), {a.repeats} runs each, median wall time")
    print(f"  jax: setup {j['seconds_setup']:.2f} s, hessian {j['seconds_hessian']:.2f} s, "
          f"eigvalsh {j['seconds_eigvalsh']:.2f} s (last run)")
    for name in runs:
        m = statistics.median(times[name])
        r = results[name]
        counts = r.get("counts") or {"negative": r["index"]}
        backend = f"  backend {r['backend']}" if "backend" in r else ""
        print(f"  {name:21s} {m:7.2f} s  ratio {m / base:5.2f}{backend}  index {r['index']}  "
              f"minimum_ratio {r['minimum_ratio']:.6f}  lambda [{r['lambda_min']:.6e}, "
              f"{r['lambda_max']:.6e}]  {counts}")
    print("load after:", os.popen("uptime").read().strip())
    same = all(results[k]["index"] == j["index"] and
               abs(results[k]["minimum_ratio"] - j["minimum_ratio"]) < 1e-12 for k in runs)
    if not same:
        print("error: the three methods disagree on the index or the minimum ratio")
        sys.exit(1)


if __name__ == "__main__":
    main()
