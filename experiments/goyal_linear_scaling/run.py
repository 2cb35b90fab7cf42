"""One run of the Goyal study: `python -m experiments.goyal_linear_scaling.run --index=i [--scale=cpu]`.

`--list` prints the grid; `python -m largebatch.sweep goyal_linear_scaling` runs all of it (resumable).
Paper scale (ResNet-50/ImageNet, one run = one multi-node torchrun; on SLURM one job per run:
`python -m largebatch.sweep goyal_linear_scaling --scale=paper --cluster=slurm --nodes=auto --nproc=8
--gpus_per_node=8 --data_dir=/data/imagenet`):
    torchrun --nnodes=32 --nproc_per_node=8 --rdzv-backend=c10d --rdzv-endpoint=$HOST:29500 \
        -m experiments.goyal_linear_scaling.run --scale=paper --index=5 --data_dir=/data/imagenet
Flags and `--key=value` overrides: see largebatch.cli.
"""

from largebatch.cli import exit_main

from . import config

if __name__ == "__main__":
    exit_main(study=config)
