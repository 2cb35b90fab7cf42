#!/bin/bash
# Goyal et al. at paper scale: ResNet-50 on ImageNet, one grid entry per job, 8 GPUs per node.
# NOTE: real ImageNet needs the core trainer to accept the folder dataset first (README, "Not yet runnable").
#
#   sbatch --nodes=32 experiments/goyal_linear_scaling/slurm_example.sh 5    # index 5: kn = 8192 on 256 GPUs
#
# Indices (python -m experiments.goyal_linear_scaling.run --scale=paper --list):
#   0-7  kn = 256, 512, 1k, 2k, 4k, 8k, 16k, 32k (Fig. 1 / Table 3a)      nodes = kn / (8 GPUs x 32)
#   8-9  kn = 8k, no warmup / constant warmup (Table 1)                      32 nodes
#   10-11 kn = 8k, sqrt / no lr scaling (Table 2a)                            32 nodes
#   12-13 gamma = 1 init at kn = 256 / 8k (Table 2b)                         1 / 32 nodes
# Any node count N whose 8N processes divide kn / 32 works: each process then emulates kn / (8N x 32)
# workers of 32 images (their own BN statistics, Goyal's per-worker BN), as Goyal did for kn >= 12k;
# add --micro_batch=32 if one process's kn / 8N images do not fit in GPU memory.
# Hyperparameters (config.PAPER_BASE): 90 epochs, n = 32, eta = 0.1 kn/256, Nesterov 0.9, wd 1e-4 not on
# BN/bias, gradual warmup from 0.1 over 5 epochs, lr / 10 at 30/60/80, zero-gamma; val error = median of
# the final 5 epochs (collect.py). Throughput: every log record has time/samples_per_s (images/s), so the
# scaling efficiency of Goyal Fig. 8 is samples_per_s(N nodes) / (N x samples_per_s(1 node)) at equal n.
#SBATCH --job-name=goyal-linear-scaling
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --time=48:00:00
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
    -m experiments.goyal_linear_scaling.run --scale=paper --index="$INDEX" --data_dir="$DATA_DIR" "$@"
