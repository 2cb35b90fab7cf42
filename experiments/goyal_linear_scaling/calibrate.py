"""B_simple probe of the Goyal study's cpu proxy, run before the second design's sweep; committed as
paper_figures/data/goyal_linear_scaling_calib.csv.

    python -m experiments.goyal_linear_scaling.calibrate            # the probe run (~1 min), then the CSV
    python -m experiments.goyal_linear_scaling.calibrate --collect  # the CSV from an existing probe run

The second design placed its ladder against this B_simple; the third places it against the failure batch B*
(experiments/failure_batch), because B_simple read early in training stood at or below the batch where the
recipe starts to fail (issue 28; README). The probe stays: its number is committed data the README discusses.

Rules, fixed here before the probe ran (the protocol of experiments/recipe_32k/calibrate.py, so that the
two studies' B_simple are the same quantity):
  * run: the baseline (kn = 256, eta = 0.1, no warmup, Nesterov 0.9, wd 1e-4, resmlp_bn width 64 with ghost
    BN n = 32 and zero-gamma) on a 20-epoch budget with Goyal's drops at 30/60/80 of 90, seed 100 (no judged
    run uses it), the noise module on (two-batch estimator: B_small = the per-worker 32, B_big = 256; raw
    values every 10 steps, no EMA), the test set scored once per epoch (eval_every_steps = 0, the core's
    default), no train-set scoring;
  * target: the loss at which the schedule's first lr phase ends (epoch 30 of 90; after it the lr drops
    dominate), so B_simple = mean tr(Sigma) / mean |G|^2 over the last 40 % of that phase (epochs 4.0-6.67 of
    20): the ratio of the means (McCandlish et al., arXiv 1812.06162, App. A: average numerator and
    denominator separately);
  * B_SIMPLE is this value to 3 significant digits (tests/test_goyal_linear_scaling.py checks it against the
    committed CSV).
Runs go to runs/goyal_linear_scaling/ like the sweep's (resumable: a complete probe is not rerun).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from largebatch import calibration
from largebatch.cmdline import exit_with
from largebatch.config import TrainConfig
from largebatch.recipes import goyal_schedule, goyal_warmup
from largebatch.results import DATA

from . import config

SEED = 100
E_PROBE = 20.0
PROBE_WINDOW = (0.6 * 30 / 90 * E_PROBE, 30 / 90 * E_PROBE)  # last 40 % of the first lr phase, in epochs
CSV = DATA / "goyal_linear_scaling_calib.csv"
# the probe's B_simple (1,421.7, |G|^2 standard error 18 %), 3 significant digits; the 32k recipe's sibling
# network (width 128) measured 1,263 with the same probe
B_SIMPLE = 1420.0


def probe_cfg() -> TrainConfig:
    """The probe: the shared network at kn = 256 on 20 epochs of every example (not equal_examples: the
    probe predates it), noise measured every 10 steps."""
    base = replace(config.BASE, **goyal_schedule(E_PROBE), equal_examples=False)
    return goyal_warmup(
        calibration.bsimple_probe(base, SEED, global_batch=config.BASELINE_BATCH, eval_train_examples=0)
    )


def measured(path: Path = CSV) -> float | None:
    """The committed probe's B_simple (None before the probe has run)."""
    return calibration.measured(path)


def main(argv=None) -> int:
    return calibration.probe_main(
        config.STUDY,
        __doc__,
        probe_cfg(),
        PROBE_WINDOW,
        CSV,
        note=lambda b: f"(B_SIMPLE = {B_SIMPLE:g})",
        argv=argv,
    )


if __name__ == "__main__":
    exit_with(main, name="calibrate")
