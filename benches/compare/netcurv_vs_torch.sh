#!/usr/bin/env bash
# critpt against PyTorch on the same trained weights, in one sitting: Lanczos (full
# reorthogonalization) for the extreme eigenvalues of the training-loss Hessian of a digits MLP,
# with the same number of Hessian-vector products on both sides.
#
#   benches/compare/netcurv_vs_torch.sh 64,128,128,10      # about 27k parameters
#   benches/compare/netcurv_vs_torch.sh 64,256,256,64,10   # about 100k parameters
#
# Needs a Python with torch and safetensors (PY, default /tmp/torchvenv/bin/python). critpt
# trains the model (seed 0), `critpt analyze --method lanczos` decomposes it and reports its
# product count; PyTorch then runs that many double-backward products on the same weights, with
# 1 thread and with its default thread count. Prints times, peak memory and the top eigenvalues
# of both (they must agree: same weights, same Hessian).
set -euo pipefail
layers=${1:-64,128,128,10}
PY=${PY:-/tmp/torchvenv/bin/python}
dir=$(mktemp -d)
cd "$(dirname "$0")/../.."
cargo build --release -q
bin=target/release/critpt
$bin train --data data/digits.csv --layers "$layers" --standardize --lr 0.003 --batch-size 64 \
    --epochs 20 --seed 0 --out "$dir/model.safetensors" >/dev/null
/usr/bin/time -f "critpt max_rss_mb %M" -o "$dir/time" \
    $bin analyze --model "$dir/model.safetensors" --data data/digits.csv --method lanczos \
    --top 5 --json >"$dir/analyze.json"
python3 - "$dir" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1] + "/analyze.json"))
rss = int(open(sys.argv[1] + "/time").read().split()[-1]) / 1024
print(f"critpt  parameters {d['parameters']} hvps {d['hvps']} seconds {d['seconds']:.3f} "
      f"per_hvp {d['seconds'] / d['hvps']:.4f} max_rss_mb {rss:.0f}")
print("critpt  largest", [f"{e:.4e}" for e in d["eigenvalues"][-5:]])
open(sys.argv[1] + "/hvps", "w").write(str(d["hvps"]))
PYEOF
hvps=$(cat "$dir/hvps")
for threads in 1 0; do
    echo "torch threads=${threads/0/default}"
    "$PY" benches/compare/torch_lanczos.py --layers "$layers" --hvps "$hvps" \
        --weights "$dir/model.safetensors" --threads "$threads" 2>/dev/null
done
rm -rf "$dir"
