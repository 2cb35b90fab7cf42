#!/bin/bash
# Paper scale of the staleness study: ResNet-50 / ImageNet, 8 workers x 32, tau ~ Uniform{0..s},
# s in {0, 4, 16} (config.paper()); one multi-node torchrun per grid index. Adjust partition/paths.
#SBATCH --job-name=async_staleness
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --time=48:00:00
#SBATCH --array=0-2
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1)
srun torchrun --nnodes="$SLURM_NNODES" --nproc_per_node=8 --rdzv-backend=c10d --rdzv-endpoint="$HEAD:29500" \
    -m experiments.async_staleness.run --scale=paper --index="$SLURM_ARRAY_TASK_ID" \
    --data_dir=/data/imagenet --progress=false
# The real parameter server is a CPU/gloo mechanism (param_server.py); at this scale use the controlled
# mechanism above, replaying a staleness distribution measured on the cluster (staleness=replay).
