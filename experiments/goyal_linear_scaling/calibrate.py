"""B_simple probe of the Goyal study's cpu proxy, run before the v2 sweep; committed as
paper_figures/data/goyal_linear_scaling_calib.csv.

    python -m experiments.goyal_linear_scaling.calibrate            # the probe run (~1 min), then the CSV
    python -m experiments.goyal_linear_scaling.calibrate --collect  # the CSV from an existing probe run

Rules, fixed here before the probe runs (the protocol of experiments/recipe_32k/calibrate.py, so that the
two studies' B_simple are the same quantity):
  * run: the baseline (kn = 256, eta = 0.1, no warmup, Nesterov 0.9, wd 1e-4, resmlp_bn width 64 with ghost
    BN n = 32 and zero-gamma) on a 20-epoch budget with Goyal's drops at 30/60/80 of 90, seed 100 (no judged
    run uses it), the noise module on (two-batch estimator: B_small = the per-worker 32, B_big = 256; raw
    values every 10 steps, no EMA), the test set
    scored once per epoch (eval_every_steps = 0, the core's default: this description corrected after
    the probe ran, the probe unchanged), no train-set scoring;
  * target: the loss at which the schedule's first lr phase ends (epoch 30 of 90; after it the lr drops
    dominate), so B_simple = mean tr(Sigma) / mean |G|^2 over the last 40 % of that phase (epochs 4.0-6.67 of
    20): the ratio of the means (McCandlish et al., arXiv 1812.06162, App. A: average numerator and
    denominator separately);
  * proxy.B_SIMPLE is this value to 3 significant digits and proxy.B_SIMPLE_PROVISIONAL becomes False
    (tests/test_goyal_linear_scaling.py checks both once the CSV exists). The value sets the v2 ladder, so it
    is written into proxy.py before any v2 run.
Runs go to runs/goyal_linear_scaling/ like the sweep's (resumable: a complete probe is not rerun).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from largebatch import calibration
from largebatch.calibration import probe_command, probe_row, run_if_missing
from largebatch.cmdline import exit_with
from largebatch.config import TrainConfig
from largebatch.results import DATA, write_csv_atomic
from largebatch.trainer import run_dir

from . import config, proxy

SEED = 100
E_PROBE = 20.0
PROBE_WINDOW = (0.6 * 30 / 90 * E_PROBE, 30 / 90 * E_PROBE)  # last 40 % of the first lr phase, in epochs
CSV = DATA / "goyal_linear_scaling_calib.csv"


def probe_cfg() -> TrainConfig:
    base = replace(config.BASE, **config.goyal_schedule(E_PROBE))
    cfg = config.at_batch(base, config.BASELINE_BATCH)
    return replace(
        cfg,
        tag="calib_bsimple",
        seed=SEED,
        noise_every_steps=10,
        noise_ema=0.0,
        eval_every_steps=0,
        eval_train_examples=0,
    )


def collect() -> Path | None:
    row = probe_row(probe_cfg(), PROBE_WINDOW)
    if row is None:
        print(f"[calibrate] no complete probe run at {run_dir(probe_cfg())}", file=sys.stderr)
        return None
    df = pd.DataFrame([row]).round({"final_test_err": 4, "wall_s": 1, "b_simple": 1, "epochs": 4})
    return write_csv_atomic(df, CSV, sort_by=["part"])


def measured(path: Path = CSV) -> float | None:
    """The committed probe's B_simple (None before the probe has run)."""
    return calibration.measured(path)


def main(argv=None) -> int:
    a, _ = probe_command("goyal_linear_scaling", __doc__).parse(sys.argv[1:] if argv is None else argv)
    if not a.collect:
        run_if_missing(probe_cfg())
    path = collect()
    if path is None:
        return 1
    print(pd.read_csv(path).to_string(index=False))
    print(
        f"[calibrate] B_simple = {measured(path):.1f} (proxy.B_SIMPLE = {proxy.B_SIMPLE:g}, "
        f"provisional = {proxy.B_SIMPLE_PROVISIONAL})"
    )
    return 0


if __name__ == "__main__":
    exit_with(main, name="calibrate")
