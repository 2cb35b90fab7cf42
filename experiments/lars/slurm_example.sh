#!/bin/bash
# LARS at paper scale: ResNet-50 (Table 4) and AlexNet-BN (Table 3) on ImageNet, one grid entry per job.
#
#   sbatch --nodes=16 experiments/lars/slurm_example.sh 4    # index 4: ResNet-50, B = 32k on 128 GPUs
#
# Indices (python -m experiments.lars.run --scale=paper --list):
#   0-4   ResNet-50, B = 256, 1k, 8k, 16k, 32k; gamma0 = 4, 9, 30, 33, 40; warmup 0, 5, 5, 12, 12 epochs
#   5-9   AlexNet-BN, B = 512, 4k, 8k, 16k, 32k; gamma0 = 2, 10, 14, 23, 22; warmup 5 epochs
#   10-11 train longer (Table 5): ResNet-50 16k and AlexNet-BN 32k for 200 epochs
# Every run: LARS eta = 0.001 on every tensor (Algorithm 1, denominator ||g|| + beta ||w||), momentum 0.9,
# wd 5e-4 on weights, poly(2) decay, 100 epochs, per-worker BN over n = 32 images. Any node count N whose
# 8N processes divide B / 32 works: each process emulates B / (8N x 32) workers of 32 images; add
# --micro_batch=64 (a multiple of 32 dividing B / 8N) if one process's B / 8N images do not fit in memory.
# Nodes for one worker per GPU: B / 256 (ResNet-50 256 -> 1 node, 32k -> 128 nodes); fewer nodes emulate.
#SBATCH --job-name=lars
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --time=72:00:00
#SBATCH --output=runs/slurm-%x-%j.out
set -euo pipefail
INDEX=${1:?usage: sbatch --nodes=N slurm_example.sh INDEX [--key=value ...]}
shift
DATA_DIR=${DATA_DIR:-/data/imagenet}          # train/ and val/ ImageFolder trees
HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export WANDB_MODE=${WANDB_MODE:-offline} OMP_NUM_THREADS=8
cd "${SLURM_SUBMIT_DIR:-.}"                    # the repository root
srun torchrun --nnodes="$SLURM_JOB_NUM_NODES" --nproc_per_node=8 \
    --rdzv-id="$SLURM_JOB_ID" --rdzv-backend=c10d --rdzv-endpoint="$HEAD:29500" \
    -m experiments.lars.run --scale=paper --index="$INDEX" --data_dir="$DATA_DIR" "$@"
