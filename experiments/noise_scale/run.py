"""One run of the noise-scale study: `python -m experiments.noise_scale.run --index=i [--scale=cpu]`.

Reproduces Smith & Le (arXiv 1710.06451) §5 and McCandlish et al. (arXiv 1812.06162) §3 at cpu scale;
`python -m largebatch.sweep noise_scale` runs the whole grid. Flags: see largebatch.cli.
"""

from largebatch.cli import exit_main

from . import config

if __name__ == "__main__":
    exit_main(study=config)
