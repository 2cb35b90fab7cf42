"""Train the seed article's MLP: `torchrun --standalone --nproc_per_node=2 -m experiments.seed_mlp.run`.

Flags: --list | --index=i | --scale=smoke|cpu | --key=value (see largebatch.cli).
"""

from largebatch.cli import exit_main

from . import config

if __name__ == "__main__":
    exit_main(study=config)
