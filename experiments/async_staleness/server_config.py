"""The parameter server's configuration (param_server.py), next to TrainConfig in the study's grids.

In a module of its own so that config.py (the grids) and param_server.py (the runs) both import it at the
top, without an import cycle between them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from largebatch.validate import GE0, GT0, Range

MODES = ("async", "sync", "backup")
DELAYS = ("none", "const", "exp", "lognormal")


@dataclass(frozen=True)
class ServerConfig:
    mode: str = "async"  # async | sync | backup
    backups: int = 0  # b: backup mode drops the last b of K = N + b gradients per step
    updates: int = 1000  # server updates (async: gradients applied; sync/backup: averaged steps)
    delay: str = "none"  # injected delay distribution per gradient: none | const | exp | lognormal
    delay_ms: float = 0.0  # its mean, ms
    straggler_p: float = 0.0  # probability that a gradient's delay is multiplied by straggler_x
    straggler_x: float = 10.0  # the stragglers' delay multiplier
    eval_every: int = 100  # server evaluates the test set every this many updates (clock paused)
    target_acc: float = 0.0  # time_to_target_s in the summary: first eval at or above this


SERVER_FIELDS = {f.name: f for f in dataclasses.fields(ServerConfig)}
# The documented range of every numeric ServerConfig field: param_server.check refuses a value outside it and
# --help prints it (largebatch.validate, as RANGES does for TrainConfig).
SERVER_RANGES = {
    "backups": GE0,
    "updates": GT0,
    "delay_ms": GE0,
    "straggler_p": Range(0, 1),
    "straggler_x": Range(1),
    "eval_every": GT0,
    "target_acc": Range(0, 1),
}
