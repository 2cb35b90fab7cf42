"""One run of the staleness study: `python -m experiments.async_staleness.run --index=i [--scale=cpu]`.

Reproduces Dai et al. (arXiv 1810.03264) staleness sweeps, Zhang et al.'s alpha/tau and Chen et al.'s
backup workers in simulated time with controlled staleness in the training core;
`python -m largebatch.sweep async_staleness` runs the whole grid, and
`python -m experiments.async_staleness.param_server --sweep` the real parameter-server runs.
Flags: see largebatch.cli.
"""

from largebatch.cli import exit_main

from . import config

if __name__ == "__main__":
    exit_main(study=config)
