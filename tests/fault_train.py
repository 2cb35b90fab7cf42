"""`python tests/fault_train.py --key=value ...` (or a torchrun of it): `python -m largebatch.train` with a
fault injected: rank $LARGEBATCH_FAULT_RANK (default 1) SIGKILLs itself once after step
$LARGEBATCH_FAULT_AT_STEP (tests/interrupt.py: kill_once_at). Used by the kill tests of
test_fault_tolerance.py and test_fault_matrix.py.
"""

import functools
import os

from interrupt import kill_once_at

from largebatch import trainer

if __name__ == "__main__":
    at, rank = int(os.environ["LARGEBATCH_FAULT_AT_STEP"]), int(os.environ.get("LARGEBATCH_FAULT_RANK", "1"))
    hook = kill_once_at(at, rank)
    trainer.train = functools.partial(trainer.train, on_step=hook)
    from largebatch.cli import exit_main  # imported after the patch: the command line trains through it

    exit_main()
