"""Noise-scale study: the grid resolves, smoke runs go through the sweep, the analysis fits known answers.

Run: `pytest tests/test_noise_scale.py`.
"""


import numpy as np
import pandas as pd
import pytest

from experiments.noise_scale import analysis, config
from largebatch.config import resolve
from largebatch.sweep import run_sweep


def test_grid_resolves():
    for cfg in config.grid("cpu") + config.grid("smoke"):
        resolve(cfg, 1)
    for cfg in config.grid("paper"):
        if cfg.global_batch % (8 * 32) == 0:
            resolve(cfg, 8)
    steps = {c.lr_base: c.max_steps for c in config.optimal_batch()}
    assert steps[0.03] == 6667 and steps[0.1] == 2000 and steps[0.3] == 667  # U = 2000 * 0.1 / eps


def test_smoke_sweep(tmp_path):
    assert run_sweep("noise_scale", "smoke", 1, extra=[f"--out_dir={tmp_path}", "--wandb=off"]) == 0
    assert len(list(tmp_path.glob("noise_scale/*/summary.json"))) == len(config.grid("smoke"))


def test_pareto_fit_recovers_known_curve():
    B = np.array([16, 64, 256, 1024, 4096])
    S = 50 * (1 + 300 / B)
    fit = analysis.fit_pareto(B, S)
    assert fit["B_crit"] == pytest.approx(300, rel=0.01) and fit["r2"] > 0.999
    assert fit["E_min"] / fit["S_min"] == pytest.approx(fit["B_crit"])


def test_b_opt_quadratic_refinement():
    t = pd.DataFrame({"B": [8, 16, 32, 64], "mean": [0.7, 0.8, 0.8, 0.7]})
    b, edge = analysis._refine(t, 1)
    assert not edge and b == pytest.approx(2 ** 4.5)  # vertex midway between 16 and 32 in log2 B
    assert analysis.slope([1, 2, 4], [10, 20, 40]) == pytest.approx(1.0)
