"""`python -m largebatch.train --key=value ...`: one training run from TrainConfig overrides.

Under torchrun: `torchrun --standalone --nproc_per_node=2 -m largebatch.train --global_batch=512`.
"""

from .cli import exit_main

if __name__ == "__main__":
    exit_main()
