"""Test-side hooks on `largebatch.trainer.train(..., on_step=...)`: stop a run as if it were killed after
a step, or SIGKILL a rank there (tests/fault_train.py). Production code knows neither."""

from __future__ import annotations

import os
import signal

from largebatch.trainer import train


class Stopped(Exception):
    """Raised by `stop_after`'s hook: the run ends where it is, without a summary."""


def stop_after(n: int):
    """on_step hook: stop the run once `n` steps are done (its checkpoints so far written)."""

    def hook(run, st) -> None:
        if st.step >= n:
            raise Stopped(st.step)

    return hook


def train_until(cfg, n: int, **kw) -> dict:
    """Train `cfg` (train's other arguments in `kw`) and stop after `n` steps as if killed there: the
    checkpoints up to step n are written, the summary is not. Returns {"status": "interrupted", "step"}
    (or the summary, when the run had already done n steps: it finishes from its last checkpoint)."""
    try:
        return train(cfg, on_step=stop_after(n), **kw)
    except Stopped as e:
        return {"status": "interrupted", "step": e.args[0]}


def kill_once_at(step: int, rank: int):
    """on_step hook: SIGKILL rank `rank` once, after step `step`, as a crashed worker would die; a marker
    file in the run directory (.fault_injected) makes it happen once, so a restarted run goes on."""

    def hook(run, st) -> None:
        if st.step == step and run.dist.rank == rank:
            marker = run.rdir / ".fault_injected"
            if not marker.exists():
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)

    return hook
