"""One run of the 32k-recipe study: `python -m experiments.recipe_32k.run --index=i [--scale=cpu]`.

Reproduces Akiba et al. (arXiv 1711.04325) at cpu scale; the cpu grid is meant for 2 gloo processes:
`python -m largebatch.sweep recipe_32k --nproc=2` (one torchrun per entry). Flags: see largebatch.cli.
"""

from largebatch.cli import exit_main

from . import config

if __name__ == "__main__":
    exit_main(study=config)
