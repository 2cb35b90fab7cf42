"""No run of the Goyal and LARS studies lowers its learning rate during warmup (issue 16).

Before the fix every Goyal run warmed from eta = 0.1 to its own peak 0.1 kn / 256, so kn < 256 warmed
*down* (kn = 64 from 4x its lr over 1,874 steps); Goyal's gradual warmup is for kn > 256 only. Checked on
every grid of both studies (smoke, cpu, paper, and LARS's first-design cpu grid; the Goyal first design's
grid is in git history), step by step from 0 to the first step after warmup: the lr never decreases.

Run: cd /work/main && WANDB_MODE=disabled .venv/bin/python -m pytest -q tests/test_warmup_never_decreases.py
"""

import pytest

from experiments.goyal_linear_scaling import config as G
from experiments.lars import config as L
from largebatch.config import resolve
from largebatch.schedules import lr_at


def _world(cfg) -> int:
    """A process count the config resolves with (paper configs: one per 32 examples, capped)."""
    if cfg.dataset in ("imagenet", "synthetic_imagenet"):
        for p in (64, 32, 16, 8, 4, 2, 1):
            if cfg.global_batch % (p * cfg.per_worker_batch) == 0:
                return p
    return 1


SCALES = ("smoke", "cpu", "paper")
GRIDS = [(G.STUDY, s) for s in SCALES] + [(L.STUDY, s) for s in SCALES]


@pytest.mark.parametrize("study,scale", GRIDS)
def test_lr_never_decreases_during_warmup(study, scale):
    mod = G if study == G.STUDY else L
    cfgs = mod.grid(scale)
    assert cfgs
    for cfg in cfgs:
        r = resolve(cfg, _world(cfg))
        lrs = [lr_at(t, cfg, r) for t in range(r.warmup_steps + 1)]
        bad = [t for t in range(len(lrs) - 1) if lrs[t + 1] < lrs[t] - 1e-12]
        assert not bad, f"{cfg.tag} B={cfg.global_batch}: lr falls at warmup step {bad[0]}"


def test_goyal_baseline_and_below_have_no_warmup():
    for scale in SCALES:
        for cfg in G.grid(scale):
            if cfg.global_batch <= G.BASELINE_BATCH:
                assert cfg.warmup == "none" and cfg.warmup_epochs == 0, (scale, cfg.global_batch)
            elif cfg.tag == "batch":
                assert cfg.warmup == "gradual"
