#!/usr/bin/env bash
# The book on a GPU, in one command (`make gpu-check`), for whoever has one:
#
#   tools/gpu_check.sh [OUT]          # OUT defaults to _build/gpu-check
#
# 1. installs what the machine lacks from wheels carried in the working tree (_build/gpu-wheels,
#    made beforehand on a machine with network by `make gpu-wheels`, in folders that can be
#    carried one at a time; never in git);
# 2. records the environment (torch, the device, its TF32 settings) in OUT/environment.txt;
# 3. runs every chapter under nbval as `make nbval` does, chapters side by side, keeping each
#    executed chapter (every number it printed on this device) in OUT/executed;
# 4. runs chapter 5's MNIST cell on fake MNIST (tools/gpu_check_mnist.py: no network needed);
# 5. runs the benchmarks: our U-Net beside diffusers' UNet2DModel at matched parameters;
# 6. counts the host synchronisations of each sampler step (benchmarks/sampler_syncs.py);
# 7. writes OUT/summary.md: pass or fail and seconds per chapter, the MNIST run, the tables.
#
# On a machine without a GPU it is a dry run of the same steps (the MNIST cell and the
# benchmarks shortened), which is how it is tested. Exit status: 0 if every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-_build/gpu-check}
WHEELS=${WHEELS:-_build/gpu-wheels}
rm -rf "$OUT" && mkdir -p "$OUT"
START=$(date +%s)
status=0

# 1. Python, and what it lacks
if [ -x .venv/bin/python ] && .venv/bin/python -c "import torch" 2>/dev/null; then
    PY=${PYTHON:-$PWD/.venv/bin/python}
else
    PY=${PYTHON:-python3}
fi
NEEDED="nbval ipykernel nbclient matplotlib ipywidgets sklearn tqdm xdist diffusers"
missing=$($PY - "$NEEDED" <<'EOF'
import importlib.util, sys
print(" ".join(m for m in sys.argv[1].split() if importlib.util.find_spec(m) is None))
EOF
)
if [ -n "$missing" ]; then
    echo "gpu-check: installing what this Python lacks ($missing) from $WHEELS"
    if [ ! -d "$WHEELS" ]; then
        echo "gpu-check: $WHEELS is missing; run 'make gpu-wheels' on a machine with network" \
             "and carry the folder here" >&2
        exit 2
    fi
    links=()
    for folder in "$WHEELS"/*/; do links+=(--find-links "$folder"); done
    $PY -m pip install -q --no-index "${links[@]}" \
        nbval ipykernel nbclient matplotlib ipywidgets scikit-learn tqdm pytest-xdist diffusers || exit 2
fi
export PYTHONPATH="$PWD:$PWD/tools${PYTHONPATH:+:$PYTHONPATH}"

# 2. the environment
GPU=$($PY -c "import torch; print(int(torch.cuda.is_available()))")
$PY - > "$OUT/environment.txt" <<'EOF'
import platform, torch
import diffusion_lite as dl
print(f"python {platform.python_version()}, torch {torch.__version__}, diffusion_lite {dl.__version__}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"device: {p.name}, {p.total_memory / 2**30:.0f} GiB, compute capability {p.major}.{p.minor}, "
          f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
else:
    print(f"device: {dl.pick_device()} (no CUDA GPU: a dry run)")
print(f"TF32 by default: matmul {torch.backends.cuda.matmul.allow_tf32}, cuDNN {torch.backends.cudnn.allow_tf32}")
dl.seed_everything(0)
print(f"TF32 after seed_everything: matmul {torch.backends.cuda.matmul.allow_tf32}, "
      f"cuDNN {torch.backends.cudnn.allow_tf32}, cuDNN deterministic {torch.backends.cudnn.deterministic}")
EOF
cat "$OUT/environment.txt"

# 3. every chapter under nbval, side by side (a GPU machine has the cores; a CPU one, two)
WORKERS=${WORKERS:-$([ "$GPU" = 1 ] && echo 4 || echo 2)}
$PY tools/nbval_references.py inject "$OUT/nbval" notebooks/[0-9]*.ipynb >/dev/null
OMP_NUM_THREADS=$([ "$GPU" = 1 ] && echo 2 || echo 1) $PY -m pytest -q -p no:randomly \
    -p nbval_output_timeout -p nbval_executed --nbval-executed-dir "$OUT/executed" \
    -n "$WORKERS" --dist loadfile --nbval-lax --nbval-current-env \
    --nbval-sanitize-with tools/nbval_sanitize.cfg --junitxml "$OUT/nbval.xml" \
    "$OUT/nbval" > "$OUT/nbval.log" 2>&1 || status=1
tail -3 "$OUT/nbval.log"

# 4. chapter 5's MNIST cell, on fake data
if [ "$GPU" = 1 ]; then MNIST_ARGS=(); else MNIST_ARGS=(--anywhere --quick); fi
$PY tools/gpu_check_mnist.py "${MNIST_ARGS[@]}" > "$OUT/mnist.log" 2>&1 || status=1
tail -1 "$OUT/mnist.log"

# 5. the benchmarks
if [ "$GPU" = 1 ]; then BENCH_ARGS=(); else BENCH_ARGS=(--quick --sizes digits); fi
(cd benchmarks && $PY unet_vs_diffusers.py "${BENCH_ARGS[@]}") > "$OUT/benchmark.md" \
    2> "$OUT/benchmark.log" || status=1
cat "$OUT/benchmark.md"

# 6. host synchronisations per sampler step (counted on CUDA only)
$PY benchmarks/sampler_syncs.py > "$OUT/syncs.md" 2> "$OUT/syncs.log" || status=1
cat "$OUT/syncs.md"

# 7. the summary
$PY tools/gpu_check_summary.py "$OUT" "$(( $(date +%s) - START ))" > "$OUT/summary.md" || status=1
cat "$OUT/summary.md"
exit $status
