#!/usr/bin/env bash
# critpt against the tools a researcher would pick instead, on the same trained weights, in one
# sitting: PyHessian (power iteration, the autograd graph reused across products), JAX
# (`jax.jit(jvp(grad))` per product) and curvlinops' HessianLinearOperator with scipy's eigsh
# (ARPACK, k = 5, which = 'LA', tol 1e-8).
#
#   benches/compare/anchors.sh [LAYERS]        # default 64,128,128,10: 26 122 parameters
#
# Needs a Python with torch, jax, scipy, safetensors, pyhessian and curvlinops-for-pytorch
# (PY, default python3). critpt trains the model (seed 0) and finds its top five eigenvalues
# with `analyze --method lanczos --which largest --top 5` (relative residual 1e-8); the Python
# tools then load the same file. Prints each tool's time, products and values.
set -euo pipefail
layers=${1:-64,128,128,10}
PY=${PY:-python3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$(dirname "$0")/../.."
cargo build --release -q
bin=target/release/critpt
$bin train --data data/digits.csv --layers "$layers" --standardize --lr 0.003 --batch-size 64 \
    --epochs 20 --seed 0 --out "$dir/model.safetensors" >/dev/null
for run in 1 2 3; do
    /usr/bin/time -f "%e %M %U %S" -o "$dir/time" \
        $bin analyze --model "$dir/model.safetensors" --data data/digits.csv --method lanczos \
        --which largest --top 5 --json >"$dir/analyze.json"
    python3 - "$dir" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1] + "/analyze.json"))
wall, rss, user, system = open(sys.argv[1] + "/time").read().split()[-4:]
print(f"critpt lanczos top5 largest tol 1e-8: {d['seconds']:.2f}s in analysis ({wall}s whole "
      f"process, {float(user) + float(system):.2f}s CPU, {int(rss) / 1024:.0f} MB), "
      f"{d['hvps']} products in {d['iterations']} blocks of up to "
      f"{d['block_size']}, {d['seconds'] / d['hvps'] * 1e3:.2f} ms per product with the "
      f"solver's own work, {d['product_seconds'] / d['hvps'] * 1e3:.2f} ms in the products "
      f"alone ({d['product_seconds']:.2}s), {sorted(d['eigenvalues'])}")
PYEOF
done
"$PY" benches/compare/curvature_anchors.py "$dir/model.safetensors" data/digits.csv
if [ "${BENCH:-0}" = 1 ]; then
    # The criterion figures on the same weights (per product, single and blocked).
    CRITPT_BENCH_MODEL="$dir/model.safetensors" cargo bench --bench netcurv
fi
