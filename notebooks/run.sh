#!/usr/bin/env bash
# Executes every notebook in this folder headless with the evcxr Rust kernel and checks it:
# nbconvert fails on a failing cell; then every code cell that shows a figure (`.notebook(`)
# must have an inline SVG in a text/html output, and no cell may have an error output.
# The executed copies are written beside the notebooks as NAME.executed.ipynb (gitignored).
#
# Usage: notebooks/run.sh [NOTEBOOK.ipynb ...]   (default: every notebook in notebooks/)
# Needs: `jupyter` with nbconvert on PATH (or JUPYTER=/path/to/jupyter), and the `rust`
# kernelspec (installed here from `evcxr_jupyter --install` if evcxr_jupyter is on PATH).
# See notebooks/README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
jupyter="${JUPYTER:-jupyter}"
timeout="${NB_TIMEOUT:-600}"

if ! "$jupyter" nbconvert --version >/dev/null 2>&1; then
    echo "error: '$jupyter nbconvert' not found; create a venv with 'pip install nbconvert' (see notebooks/README.md)" >&2
    exit 1
fi
if ! "$jupyter" kernelspec list 2>/dev/null | grep -qE '^\s*rust\s'; then
    if command -v evcxr_jupyter >/dev/null 2>&1; then
        evcxr_jupyter --install >/dev/null
    else
        echo "error: no 'rust' Jupyter kernel; run 'cargo install --locked evcxr_jupyter && evcxr_jupyter --install'" >&2
        exit 1
    fi
fi

cd "$here"
if [ "$#" -gt 0 ]; then
    notebooks=("$@")
else
    notebooks=()
    for nb in [0-9]*.ipynb; do
        case "$nb" in *.executed.ipynb) ;; *) notebooks+=("$nb") ;; esac
    done
fi

status=0
for nb in "${notebooks[@]}"; do
    nb="$(basename "$nb")"
    out="${nb%.ipynb}.executed.ipynb"
    log="${TMPDIR:-/tmp}/critpt-${nb%.ipynb}.log"
    start=$(date +%s)
    if ! "$jupyter" nbconvert --to notebook --execute \
        --ExecutePreprocessor.timeout="$timeout" \
        --ExecutePreprocessor.kernel_name=rust \
        "$nb" --output "$out" 2>"$log"; then
        echo "FAIL $nb: a cell failed (log: $log)" >&2
        tail -n 30 "$log" >&2
        status=1
        continue
    fi
    secs=$(( $(date +%s) - start ))
    if python3 - "$out" <<'PY'
import json, sys
path = sys.argv[1]
nb = json.load(open(path))
problems, figures = [], 0
for i, cell in enumerate(nb["cells"]):
    if cell["cell_type"] != "code":
        continue
    src = "".join(cell["source"])
    outs = cell.get("outputs", [])
    for o in outs:
        if o.get("output_type") == "error":
            problems.append(f"cell {i}: error output {o.get('ename')}: {o.get('evalue')}")
    svg = any("<svg" in "".join(o.get("data", {}).get("text/html", ""))
              for o in outs if o.get("output_type") in ("display_data", "execute_result"))
    figures += svg
    if ".notebook(" in src and not svg:
        problems.append(f"cell {i}: no inline SVG figure in its output")
if figures == 0:
    problems.append("no figure at all")
for p in problems:
    print(f"  {path}: {p}", file=sys.stderr)
print(f"{figures} figure(s)")
sys.exit(1 if problems else 0)
PY
    then
        echo "ok   $nb (${secs} s)"
    else
        echo "FAIL $nb: see above" >&2
        status=1
    fi
done
exit "$status"
