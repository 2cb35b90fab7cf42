"""One run of the LARS study: `python -m experiments.lars.run --index=i [--scale=cpu|smoke|paper]`.

Reproduces You, Gitman & Ginsburg (arXiv 1708.03888) Tables 1-3 and 5 (and the 32k ResNet-50 result of
You et al., arXiv 1709.05011, at the paper scale). `python -m largebatch.sweep lars` runs the whole grid,
skipping finished runs; `--list` prints it. Flags: see largebatch.cli.
Paper scale, one run = one multi-node torchrun (on SLURM: `python -m largebatch.sweep lars --scale=paper
--cluster=slurm --nodes=auto --nproc=8 --gpus_per_node=8 --data_dir=/data/imagenet`, one job per run):
    torchrun --nnodes=8 --nproc_per_node=8 --rdzv-backend=c10d --rdzv-endpoint=$HOST:29500 \
        -m experiments.lars.run --scale=paper --index=3 --data_dir=/data/imagenet
"""

from largebatch.cli import exit_main

from . import config

if __name__ == "__main__":
    exit_main(study=config)
