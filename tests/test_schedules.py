"""Learning-rate schedules against their formulas: warmup end points, per-iteration ramp, decays.

Run: `pytest tests/test_schedules.py`.
"""

import math

import pytest

from largebatch.config import make_config, resolve
from largebatch.schedules import lr_at, lr_curve


def _cr(**kw):
    cfg = make_config(global_batch=8192, lr_base=0.1, lr_base_batch=256, **kw)
    return cfg, resolve(cfg, n_train=8192 * 100)  # 100 steps per epoch


def test_gradual_warmup_goyal():
    cfg, res = _cr(epochs=10, warmup="gradual", warmup_epochs=5)
    assert res.warmup_steps == 500 and res.lr_peak == pytest.approx(3.2)
    assert lr_at(0, cfg, res) == pytest.approx(0.1)  # starts at eta
    assert lr_at(250, cfg, res) == pytest.approx(0.1 + (3.2 - 0.1) * 0.5)
    assert lr_at(500, cfg, res) == pytest.approx(3.2)  # reaches k*eta after 5 epochs
    steps = [lr_at(t + 1, cfg, res) - lr_at(t, cfg, res) for t in range(499)]
    assert max(steps) - min(steps) < 1e-12  # a constant amount per iteration


def test_constant_warmup_jumps():
    cfg, res = _cr(epochs=10, warmup="constant", warmup_epochs=5)
    assert lr_at(499, cfg, res) == pytest.approx(0.1) and lr_at(500, cfg, res) == pytest.approx(3.2)


def test_step_milestones():
    cfg, res = _cr(epochs=90, decay="step", decay_milestones_epochs=(30, 60, 80))
    at = lambda e: lr_at(int(e * 100), cfg, res)  # noqa: E731
    assert [at(29.99), at(30), at(59.99), at(60), at(80), at(89.99)] == pytest.approx(
        [3.2, 0.32, 0.32, 0.032, 0.0032, 0.0032]
    )


def test_piecewise_and_poly_and_cosine():
    cfg, res = _cr(
        epochs=90, decay="piecewise", decay_milestones_epochs=(40, 70, 85), decay_factors=(0.075, 0.01, 0.001)
    )
    assert lr_at(3999, cfg, res) == pytest.approx(3.2) and lr_at(4000, cfg, res) == pytest.approx(0.24)
    cfg, res = _cr(epochs=10, warmup="gradual", warmup_epochs=2, decay="poly", decay_power=2)
    t = 200 + 400
    assert lr_at(t, cfg, res) == pytest.approx(3.2 * (1 - 400 / 800) ** 2)
    cfg, res = _cr(epochs=10, decay="cosine")
    assert lr_at(500, cfg, res) == pytest.approx(3.2 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert len(lr_curve(cfg, res)) == res.total_steps
