"""B_simple probe of the LARS study's cpu proxy, run before the v2 sweep; committed as
paper_figures/data/lars_calib.csv.

    python -m experiments.lars.calibrate            # the probe run (~30 s), then the CSV
    python -m experiments.lars.calibrate --collect  # the CSV from an existing probe run

Rules, fixed here before the probe runs (the protocol of the Goyal and 32k-recipe probes, adapted to a poly
schedule that has no lr phases):
  * run: the no-BN net (`alexnet_mlp`, the paper's AlexNet stand-in) at the baseline B = 128 with the first
    design's tuned SGD lr 0.05 (config.ETA_REF), momentum 0.9, wd 5e-4, poly(2) to 0 over a 10-epoch budget
    (the first design's; the v2 budget itself depends on B_simple), seed 100 (no judged run uses it), the
    noise module on (two-batch estimator: B_small = the per-worker 32, B_big = 128; raw values every 10
    steps, no EMA), the test set
    scored once per epoch (eval_every_steps = 0, the core's default: this description corrected after
    the probe ran, the probe unchanged), no train-set scoring;
  * target: the loss a third of the way through training (the Goyal probe's point: the end of its first lr
    phase, 30 of 90), so B_simple = mean tr(Sigma) / mean |G|^2 over epochs 2.0-3.33 of 10 (the last 40 %
    of the first third), the ratio of the means (McCandlish et al., arXiv 1812.06162, App. A);
  * proxy.B_SIMPLE is this value to 3 significant digits and proxy.B_SIMPLE_PROVISIONAL becomes False
    (tests/test_lars_study.py checks both once the CSV exists); then proxy.STEPS_LARGEST is re-chosen so
    that the v2 grid's budget estimate stays within 45 minutes (the ladder and E depend on B_simple). Both
    are written into proxy.py before any v2 run.
Runs go to runs/lars/ like the sweep's (resumable: a complete probe is not rerun).
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

from . import config

SEED = 100
E_PROBE = 10.0
PROBE_WINDOW = (0.6 * E_PROBE / 3, E_PROBE / 3)  # last 40 % of the first third of training, in epochs
CSV = DATA / "lars_calib.csv"
# B_simple of the no-BN net measured by this probe (334.0, |G|^2 standard error 17 %; lars_calib.csv), to 3
# significant digits: the second design's reference batch (its proxy is in git history)
B_SIMPLE = 334.0


def probe_cfg() -> TrainConfig:
    base = replace(config.BASE, model=config.NETS["nobn"], epochs=E_PROBE)
    cfg = config.sgd(base, config.BASE_BATCH, config.ETA_REF)
    return calibration.bsimple_probe(cfg, SEED, eval_train_examples=0)


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
    a, _ = probe_command("lars", __doc__).parse(sys.argv[1:] if argv is None else argv)
    if not a.collect:
        run_if_missing(probe_cfg())
    path = collect()
    if path is None:
        return 1
    print(pd.read_csv(path).to_string(index=False))
    print(
        f"[calibrate] B_simple = {measured(path):.1f} (calibrate.B_SIMPLE = {B_SIMPLE:g}, the second "
        "design's reference batch)"
    )
    return 0


if __name__ == "__main__":
    exit_with(main, name="calibrate")
