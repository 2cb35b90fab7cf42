"""The scale-model rule (largebatch.scalemodel) on the papers' own numbers and hand-computed proxies."""

from __future__ import annotations

import math

import pytest

from largebatch.config import TrainConfig, resolve
from largebatch.scalemodel import Regime, decay_for, scale, table, time_constant, total_steps

IMAGENET = 1281167

# Akiba et al. (arXiv 1711.04325) at 32k, with Goyal et al.'s (arXiv 1706.02677) elbow 8k as reference
AKIBA = Regime(
    name="paper",
    train_examples=IMAGENET,
    epochs=90,
    batches=(256, 8192, 32768),
    ref_batch=8192,
    phases={"warmup": 5, "beta_center": 10, "beta_period": 5, "slow_start_1": 40},
    decays={"momentum": 0.9, "rms_decay": 0.99},
    interacts={"momentum": "warmup", "rms_decay": "beta_center"},
)


def test_paper_steps_match_the_core_accounting():
    # Goyal 8k: 156 steps/epoch, 14,040 steps; 32k: 39 steps/epoch, 3,510 steps; warmup 5 ep at 8k = 780
    assert AKIBA.steps(8192) == 14040 and AKIBA.steps(32768) == 3510
    assert AKIBA.phase_steps("warmup", 8192) == 780
    assert AKIBA.phase_steps("beta_center", 32768) == 390
    cfg = TrainConfig(
        dataset="imagenet",
        global_batch=32768,
        per_worker_batch=32,
        epochs=90,
        warmup="gradual",
        warmup_epochs=5,
    )
    res = resolve(cfg, world_size=1024)
    assert res.total_steps == AKIBA.steps(32768) and res.warmup_steps == 195


def test_rule_returns_the_paper_when_the_proxy_is_the_paper():
    same = scale(
        AKIBA,
        IMAGENET,
        AKIBA.ref_batch,
        AKIBA.steps(AKIBA.largest),
        scale_decays=("rms_decay", "momentum"),
        name="paper",
    )
    assert same.batches == AKIBA.batches and same.epochs == pytest.approx(90)
    assert same.phases == pytest.approx(AKIBA.phases)
    for k, v in AKIBA.decays.items():
        assert same.decays[k] == pytest.approx(v, abs=1e-12)
    assert all(same.steps(b) == AKIBA.steps(b) for b in AKIBA.batches)


def test_proxy_keeps_batch_ratios_steps_and_phase_fractions():
    # Fashion-MNIST proxy, B_simple 1400, 1000 steps at the largest batch, multiples of 64
    p = scale(AKIBA, 60000, 1400, 1000, multiple=64, scale_decays=("rms_decay",))
    assert p.batches == (64, 1408, 5632)  # 43.75 -> 64; 1400 -> 1408; 5600 -> 88 x 64
    assert p.steps(p.largest) == 1000  # 60000 // 5632 = 10 steps/epoch, E = 100
    assert p.epochs == pytest.approx(100)
    assert p.phases["warmup"] == pytest.approx(5 * 100 / 90)
    # every phase is the same fraction of the run as in the paper
    for ph in AKIBA.phases:
        assert p.phase_steps(ph, p.largest) / p.steps(p.largest) == pytest.approx(
            AKIBA.phase_steps(ph, AKIBA.largest) / AKIBA.steps(AKIBA.largest), rel=1e-9
        )
    # mu2's time constant keeps its ratio to beta_center: 100 steps of 390 -> 100 * 1000/3510 steps
    tau = time_constant(p.decays["rms_decay"])
    assert tau == pytest.approx(100 * 1000 / 3510)
    assert p.phase_steps("beta_center", p.largest) / tau == pytest.approx(390 / 100, rel=1e-9)
    assert p.decays["momentum"] == 0.9  # kept


def test_time_constants_and_errors():
    assert time_constant(0.99) == pytest.approx(100) and decay_for(10) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="time constant"):
        decay_for(0.5)
    with pytest.raises(ValueError, match="exceeds"):
        scale(AKIBA, 20000, 8192, 100)


def test_table_lists_steps_ratios_and_time_constants():
    p = scale(AKIBA, 60000, 1400, 1000, multiple=64, scale_decays=("rms_decay",))
    rows = table(AKIBA, p)
    by = {r["quantity"]: r for r in rows}
    assert by["batch 32,768 → 5,632: steps"]["paper"] == "3,510"
    assert by["batch 32,768 → 5,632: steps"]["proxy"] == "1,000"
    assert by["beta_center / time constant of rms_decay"]["paper"] == "3.9"
    assert by["beta_center / time constant of rms_decay"]["proxy"] == "3.9"
    assert math.isclose(float(by["batch 32,768 → 5,632: B / ref"]["proxy"]), 5632 / 1400, rel_tol=1e-2)
    assert total_steps(60000, 64, p.epochs) == 93700


def test_pinned_batches_are_kept():
    p = scale(AKIBA, 60000, 1400, 1000, multiple=64, pinned={256: 256})
    assert p.batches == (256, 1408, 5632) and p.steps(256) == 234 * 100
