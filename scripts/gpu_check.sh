#!/usr/bin/env bash
# One-command GPU check (<= 8 minutes on one CUDA GPU): CUDA tests, a 1-GPU NCCL torchrun smoke run,
# ResNet-50 throughput (core vs bare loop, bf16 + channels_last) and the 20-epoch MLP time on the GPU.
# Writes ${OUT:-benchmarks}/gpu_check.json plus the log beside it. None is committed yet (no GPU run has been
# made for this repository); once benchmarks/gpu_check.json is committed, `python benchmarks/bench_core.py
# --render-only` adds its rows to benchmarks/README.md.
# Data: Fashion-MNIST from $LARGEBATCH_DATA, Debian's package, or ./data/fashion-mnist (the four IDX .gz
# files; gitignored) on a machine that has neither and no internet.
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR=${OUT:-benchmarks}
mkdir -p "$OUTDIR"
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
export WANDB_MODE=disabled PYTHONUNBUFFERED=1
if [ -z "${LARGEBATCH_DATA:-}" ] && [ ! -d /usr/share/datasets/fashion-mnist ] && [ -d data/fashion-mnist ]; then
  export LARGEBATCH_DATA="$PWD/data/fashion-mnist"
fi
nvidia-smi -L | tee "$OUTDIR/gpu_check.log"
$PY -m pytest -q -m gpu tests 2>&1 | tee -a "$OUTDIR/gpu_check.log"; T=${PIPESTATUS[0]}
TORCHRUN="$(dirname "$PY")/torchrun"; [ -x "$TORCHRUN" ] || TORCHRUN=torchrun
timeout 300 "$TORCHRUN" --standalone --nproc_per_node=1 -m largebatch.train --device=cuda --global_batch=1024 \
  --per_worker_batch=32 --epochs=2 --progress=false --wandb=off --out_dir=/tmp/gpu_check_runs \
  2>&1 | tee -a "$OUTDIR/gpu_check.log"; R=${PIPESTATUS[0]}
timeout 400 $PY benchmarks/bench_gpu.py --out "$OUTDIR/gpu_check.json" 2>&1 | tee -a "$OUTDIR/gpu_check.log"; B=${PIPESTATUS[0]}
echo "gpu_check: tests rc=$T torchrun rc=$R bench rc=$B" | tee -a "$OUTDIR/gpu_check.log"
[ "$T" -eq 0 ] && [ "$R" -eq 0 ] && [ "$B" -eq 0 ]
