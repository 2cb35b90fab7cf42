"""32k-recipe study (Akiba et al., arXiv 1711.04325): grids, arms, schedules and collect.

Checked: every grid resolves (cpu and smoke for 1 and 2 processes, and 8 where divisible; paper for 8 and
1024 processes, per-GPU batch 32, 1024 workers at 32k); the cpu arms (and the Goyal study's baseline and A
they share) see one example budget; each arm differs from A in exactly the fields of its technique, the fp16
pair from D in its process count and allreduce; the slow start and the Goyal steps give hand-computed lr
values at cpu and paper scale; the RMSprop warm-up constants scale with the epoch budget (alpha_sgd = 1/2 at
10/90 of it, 1 from 12.5/90 on) and mu2 keeps the paper's ratio to the blend; the committed calibration picks
the constants the smoke and calibration configs use; the schedule rows of collect match lr_curve and
alpha_sgd; the curve tidying averages the train loss of the steps since the previous evaluation; the smoke
grid runs through the sweep, and D and D_running (which differ only in how BN is evaluated) log identical
training losses. Slow: D and D_fp16 under a 2-process torchrun differ (the fp16 hook acts) but stay close.
The claims' tests (made-up runs with known truth) are in tests/test_failure_first.py.

Run: cd /work/main && WANDB_MODE=disabled .venv/bin/python -m pytest -q tests/test_recipe_32k.py
"""

import json
import math
from dataclasses import asdict

import pandas as pd
import pytest

from experiments.recipe_32k import calibrate, collect, config, proxy
from largebatch.config import TrainConfig, resolve
from largebatch.rmsprop_warmup import alpha_sgd
from largebatch.schedules import lr_at
from largebatch.sweep import run_sweep

DEFAULT = asdict(TrainConfig())


CPU_ARMS = ("baseline", "A", "B", "C", "D", "D2_fp32", "D2_fp16")


def _arms(scale="cpu"):
    """One config per arm: the cpu grid's (baseline and A as the Goyal study runs them), or the paper's."""
    if scale == "cpu":
        return {a: config.arm_v3(a, 20) for a in CPU_ARMS}
    return {c.tag: c for c in config.grid(scale)}


def _diff(a, b):
    da, db = asdict(a), asdict(b)
    return {k for k in da if da[k] != db[k]}


def test_grids_resolve():
    for scale in ("cpu", "smoke"):
        for cfg in config.grid(scale):
            for p in (1, 2, 8):
                if cfg.dataset == "fashion_mnist" and cfg.global_batch % (p * cfg.per_worker_batch) == 0:
                    resolve(cfg, p)
            if cfg.dataset == "fashion_mnist":
                resolve(cfg, 2)  # the fp16 pair runs as 2 processes
    for cfg in config.grid("paper"):
        for p in (8, 1024):
            if cfg.global_batch % (p * 32) == 0:
                r = resolve(cfg, p)
                assert cfg.per_worker_batch == 32 and r.workers == cfg.global_batch // 32
    r = resolve(_arms("paper")["D"], 1024)
    assert r.workers == 1024 and r.workers_per_process == 1 and r.steps_per_epoch == 39
    assert len(config.grid("cpu")) == sum(len(s) for s in config.SEEDS_V3.values())


def test_cpu_arms_share_one_example_budget():
    """Every arm of the cpu grid (and the Goyal study's baseline and A) sees E N examples."""
    for cfg in _arms().values():
        r = resolve(cfg, 1)
        assert cfg.epochs == config.E_V3 and cfg.global_batch == config.SHARED_ARMS_V3.get(
            cfg.tag, config.B_V3
        )
        assert r.total_steps == round(config.E_V3 * proxy.FMNIST_N / cfg.global_batch)


def test_lr_never_decreases_during_warmup_and_rmsprop_has_no_lr_warmup():
    for cfg in config.grid("cpu") + config.grid("paper"):
        r = resolve(cfg, 2 if cfg.dataset == "fashion_mnist" else cfg.global_batch // 32)
        lrs = [lr_at(t, cfg, r) for t in range(r.warmup_steps + 1)]
        assert all(b >= a for a, b in zip(lrs, lrs[1:])), cfg.tag
        if cfg.optimizer == "rmsprop_warmup":  # the RMSprop phase is the warm-up (no 1/eta inflation)
            assert cfg.warmup == "none" and r.warmup_steps == 0


def test_calibration_constants_match_the_committed_calibration():
    cal = pd.read_csv(calibrate.CSV)
    b = float(cal.loc[cal["part"] == "probe", "b_simple"].iloc[0])
    assert float(f"{b:.3g}") == proxy.B_SIMPLE
    assert (cal["part"] == "rms").sum() == len(calibrate.RMS_GRID)
    assert calibrate.pick_rms_lr(cal) == config.RMS_LR_CPU


def test_each_arm_changes_only_its_technique():
    a = _arms()
    sched = {"lr_base", "warmup_lr_init", "decay", "decay_milestones_epochs", "decay_factors"}
    rms = {"optimizer", "rms_beta_center_epochs", "rms_beta_period_epochs", "rms_decay", "rms_lr"}
    rms = {k for k in rms if getattr(a["C"], k) != DEFAULT[k]}
    nowarm = {"warmup", "warmup_epochs"}  # RMSprop warm-up replaces the lr warmup
    bn = {"bn_eval", "bn_recompute_batches"}
    assert _diff(a["A"], a["B"]) == {"tag"} | sched
    assert _diff(a["A"], a["C"]) == {"tag"} | rms | nowarm
    assert _diff(a["A"], a["D"]) == {"tag"} | (sched - {"warmup_lr_init"}) | rms | bn | nowarm
    assert _diff(a["D"], a["D2_fp32"]) == {"tag", "nproc"}
    assert _diff(a["D"], a["D2_fp16"]) == {"tag", "nproc", "comm_dtype"}
    assert a["baseline"].global_batch == 256 and a["A"].global_batch == config.B_V3
    assert all(c.nesterov for c in a.values())  # Goyal's SGD; RMSprop warm-up hands over to it exactly


@pytest.mark.parametrize("scale", ["cpu", "paper"])
def test_slow_start_and_goyal_lr_by_hand(scale):
    a = _arms(scale)
    E = a["A"].epochs
    B = a["A"].global_batch
    eta = 0.1 * B / 256  # Goyal's eta at B

    def lr(cfg, epoch):
        r = resolve(cfg, 1)
        return lr_at(int(epoch * r.steps_per_epoch), cfg, r)

    f = E / 90
    assert lr(a["A"], 0) == pytest.approx(0.1)  # gradual warmup starts at Goyal's 0.1
    assert lr(a["B"], 0) == pytest.approx(0.1)
    assert lr(a["C"], 0) == pytest.approx(eta) and lr(a["D"], 0) == pytest.approx(0.5 * eta)
    for ep, want in ((20, 1.0), (45, 0.1), (75, 0.01), (88, 0.001)):
        assert lr(a["A"], ep * f) == pytest.approx(want * eta)
        assert lr(a["C"], ep * f) == pytest.approx(want * eta)
    for ep, want in ((20, 0.5), (45, 0.075), (75, 0.01), (88, 0.001)):
        assert lr(a["B"], ep * f) == pytest.approx(want * eta)
        assert lr(a["D"], ep * f) == pytest.approx(want * eta)
    r = resolve(a["B"], 1)
    assert lr_at(r.warmup_steps - 1, a["B"], r) < 0.5 * eta <= lr_at(r.warmup_steps, a["B"], r)
    assert r.warmup_steps == round(5 * f * r.steps_per_epoch)
    base = a["baseline"]
    assert resolve(base, 1).warmup_steps == 0 and lr(base, 0) == pytest.approx(0.1)


def test_rmsprop_warmup_constants_scale_with_budget():
    for scale in ("cpu", "paper"):
        d = _arms(scale)["D"]
        f = d.epochs / 90
        c, p = d.rms_beta_center_epochs, d.rms_beta_period_epochs
        assert (c, p) == (pytest.approx(10 * f), pytest.approx(5 * f))
        assert alpha_sgd(10 * f, c, p) == pytest.approx(0.5) and alpha_sgd(12.5 * f, c, p) == 1.0
        assert alpha_sgd(0, c, p) == pytest.approx(0.5 * math.exp(-4), rel=1e-5)  # boundaries: 6 digits
        assert (d.rms_eps, d.momentum) == (1e-8, 0.9)
    cpu, paper = _arms("cpu")["D"], _arms("paper")["D"]
    assert (paper.rms_lr, paper.rms_decay) == (3e-4, 0.99)
    assert cpu.rms_lr == config.RMS_LR_V3 and cpu.rms_decay == proxy.RMS_DECAY_V3
    # mu2's time constant stands to beta_center as in the paper (100 of 390 steps)
    tau = 1 / (1 - cpu.rms_decay)
    spe = resolve(cpu, 1).steps_per_epoch
    assert cpu.rms_beta_center_epochs * spe / tau == pytest.approx(390 / 100, rel=0.01)


def test_schedule_rows_match_lr_curve():
    d = _arms()["D"]
    rows = pd.DataFrame(collect.schedule_rows(d, "cpu"))
    r = resolve(d, 1)
    assert rows["step"].iloc[-1] == r.total_steps - 1 and rows["step"].is_monotonic_increasing
    for row in rows.sample(20, random_state=0).itertuples():
        e = row.step / r.steps_per_epoch
        assert row.lr == pytest.approx(lr_at(row.step, d, r))
        assert row.alpha_sgd == pytest.approx(
            alpha_sgd(e, d.rms_beta_center_epochs, d.rms_beta_period_epochs)
        )
        assert row.rms_lr_eff == pytest.approx((1 - row.alpha_sgd) * d.rms_lr)
        assert row.lr_over_goyal == pytest.approx(row.lr / (0.1 * d.global_batch / 256))
    a = pd.DataFrame(collect.schedule_rows(_arms()["A"], "cpu"))
    assert (a["alpha_sgd"] == 1.0).all() and (a["rms_lr_eff"] == 0.0).all()
    changes = a["lr"].diff().fillna(0) != 0  # every lr change is a row (step plots are exact)
    assert changes.sum() >= 3


def test_tidy_curves_mean_loss_since_previous_eval():
    recs = pd.DataFrame(
        {
            "run_id": ["r"] * 5,
            "step": [1, 2, 3, 4, 5],
            "train/loss": [4.0, 2.0, 1.0, 3.0, 1.0],
            "test/acc": [None, 0.5, None, None, 0.8],
            "train_eval/acc": [None, 0.6, None, None, 0.9],
            "opt/lr": [0.1] * 5,
            "epoch": [0.5, 1.0, 1.5, 2.0, 2.5],
        }
    )
    runs = pd.DataFrame(
        {
            "run_id": ["r"],
            "arm": ["A"],
            "batch_role": ["main"],
            "seed": [0],
            "global_batch": [8192],
            "bn_eval": ["running"],
            "comm_dtype": ["fp32"],
        }
    )
    out = collect.tidy_curves(recs, runs)
    assert list(out["step"]) == [2, 5]
    assert list(out["train_loss"]) == [3.0, pytest.approx(5 / 3, rel=1e-5)]  # 6 significant digits
    assert list(out["test_err"]) == [pytest.approx(50.0), pytest.approx(20.0)]
    assert list(out["train_err"]) == [pytest.approx(40.0), pytest.approx(10.0)]


def test_smoke_sweep_and_paired_bn_runs(tmp_path):
    # one thread: two OpenMP threads on a shared 2-core box can be 10x slower than one
    extra = [f"--out_dir={tmp_path}", "--wandb=off", "--threads=1"]
    assert run_sweep("recipe_32k", "smoke", 1, extra=extra) == 0
    done = list(tmp_path.glob("recipe_32k/*/summary.json"))
    assert len(done) == len(config.grid("smoke"))
    loss, running = {}, {}
    for s in done:
        cfg = json.loads((s.parent / "config.json").read_text())["config"]
        recs = [json.loads(x) for x in (s.parent / "metrics.jsonl").read_text().splitlines()]
        assert json.loads(s.read_text())["status"] == "complete"
        if cfg["dataset"] == "fashion_mnist":
            loss[cfg["tag"]] = [r["train/loss"] for r in recs if "train/loss" in r]
            running[cfg["tag"]] = [r["test_running/acc"] for r in recs if "test_running/acc" in r]
    assert loss["D"] != loss["B"] and loss["C"] != loss["A"]
    assert running["D"] and not running["A"]  # D scores the running averages too: D_running's numbers


def test_collect_writes_d_running_rows_from_d_runs():
    df = pd.DataFrame(
        {
            "run_id": ["d0", "a0"],
            "tag": ["D", "A"],
            "seed": [0, 0],
            "global_batch": [5056] * 2,
            "decay": ["piecewise", "step"],
            "final_test_acc": [0.9, 0.88],
            "final_train_acc": [0.95, 0.9],
            "final_test_running_acc": [0.89, float("nan")],
            "resolved.workers": [158, 158],
            "bn_eval": ["recomputed", "running"],
            "comm_dtype": ["fp32", "fp32"],
        }
    )
    runs = collect.tidy_runs(df)
    r = runs.set_index("arm")
    assert r.loc["D_running", "final_test_err"] == pytest.approx(11.0)
    assert r.loc["D_running", "run_id"] == "d0" and r.loc["D_running", "bn_eval"] == "running"
    assert r.loc["D", "final_test_err"] == pytest.approx(10.0) and len(runs) == 3
    curves = pd.DataFrame(
        {
            "run_id": ["d0", "d0"],
            "step": [5, 10],
            "epoch": [0.5, 1.0],
            "test/acc": [None, 0.9],
            "test_running/acc": [None, 0.8],
            "train_eval/acc": [None, 0.95],
            "train/loss": [0.5, 0.4],
            "opt/lr": [0.1, 0.1],
        }
    )
    c = collect.tidy_curves(curves, runs).set_index("arm")
    assert c.loc["D", "test_err"] == pytest.approx(10.0) and c.loc["D_running", "test_err"] == pytest.approx(
        20.0
    )


@pytest.mark.slow
def test_fp16_hook_acts_under_two_processes(tmp_path):
    idx = [
        i
        for i, c in enumerate(config.grid("smoke"))
        if c.tag in ("D", "D_fp16") and c.dataset == "fashion_mnist"
    ]
    assert run_sweep("recipe_32k", "smoke", 2, only=idx, extra=[f"--out_dir={tmp_path}", "--wandb=off"]) == 0
    loss = {}
    for s in tmp_path.glob("recipe_32k/*/summary.json"):
        cfg = json.loads((s.parent / "config.json").read_text())
        assert cfg["world_size"] == 2
        recs = [json.loads(x) for x in (s.parent / "metrics.jsonl").read_text().splitlines()]
        loss[cfg["config"]["comm_dtype"]] = [r["train/loss"] for r in recs if "train/loss" in r]
    assert loss["fp16"][0] == loss["fp32"][0]  # the first loss is computed before any allreduce
    assert loss["fp16"] != loss["fp32"] and loss["fp16"][-1] == pytest.approx(loss["fp32"][-1], rel=1e-2)
