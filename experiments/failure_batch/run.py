"""One run of the B* probes: `python -m experiments.failure_batch.run --index=i` (`--list` prints the grid).

`python -m largebatch.sweep failure_batch --jobs=2` runs all of it (resumable); see largebatch.cli.
"""

from largebatch.cli import exit_main

from . import config

if __name__ == "__main__":
    exit_main(study=config)
