#!/bin/bash
# Paper scale of the 32k-recipe study (Akiba et al., arXiv 1711.04325): ResNet-50 / ImageNet, 90 epochs,
# 32 images per GPU. One arm per job; the arm is the index into `python -m experiments.recipe_32k.run
# --list --scale=paper` (0 baseline B=256, 1 A, 2 B, 3 C, 4 D, 5 D_running, 6 D_fp16 at B=32768).
#
#   sbatch --nodes=1   experiments/recipe_32k/slurm_example.sh 0   # baseline: 8 GPUs x 32 = 256
#   sbatch --nodes=128 experiments/recipe_32k/slurm_example.sh 6   # 32k on 1024 GPUs, fp16 allreduce (Akiba's run)
#
# global_batch must equal nodes x 8 x 32 x (virtual workers per GPU); resolve() refuses anything else before
# a step is taken. A preempted job resumes from runs/recipe_32k/<run_id>/checkpoint.pt when resubmitted.
#SBATCH --job-name=recipe_32k
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --time=04:00:00
#SBATCH --output=runs/recipe_32k/slurm-%j.out
set -euo pipefail

ARM=${1:?usage: sbatch --nodes=N slurm_example.sh ARM_INDEX}
DATA=${IMAGENET_DIR:-/data/imagenet}  # holds train/ and val/ class folders
HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export WANDB_MODE=${WANDB_MODE:-offline} OMP_NUM_THREADS=8

srun torchrun --nnodes="$SLURM_NNODES" --nproc_per_node=8 \
    --rdzv-id="$SLURM_JOB_ID" --rdzv-backend=c10d --rdzv-endpoint="$HEAD:29500" \
    -m experiments.recipe_32k.run --scale=paper --index="$ARM" --data_dir="$DATA"
