"""The statistics of the Goyal study, as pure functions of the two committed CSVs (or of run records).

    final_error      Goyal's model error: the median of the evaluations in the final 5/90 of training
    error_for_stats  a run's final error, a diverged run counted as chance error (CHANCE_ERR, 10 classes)
    mean_curve       the seed-mean train-error curve of some runs on a grid of epochs
    curve_gaps       largest |train-error gap| to the baseline's mean curve after the first third of training,
                     and the gap at the last epoch every run evaluated

Errors are in percent (100 - accuracy). A diverged run has no final error in the CSV; the statistics count
it as chance error, as a run that learned nothing.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from largebatch.recipes import FINAL_WINDOW as WINDOW  # noqa: F401 (re-exported)
from largebatch.recipes import final_error  # noqa: F401 (re-exported: collect.py, tests)
from largebatch.study import CHANCE_ACC

CHANCE_ERR = 100 * (1 - CHANCE_ACC)  # percent: a diverged 10-class run


def error_for_stats(runs: pd.DataFrame, col: str = "final_test_err") -> pd.Series:
    """The run's final error; diverged runs count as chance error."""
    err = runs[col].astype(float)
    return err.where(runs["status"] != "diverged", CHANCE_ERR)


def mean_curve(curves: pd.DataFrame, run_ids, grid: np.ndarray, col: str = "train_err") -> np.ndarray:
    """Mean over runs of `col`, each run's curve linearly interpolated onto `grid` (epochs)."""
    ys = []
    for rid in run_ids:
        c = curves[curves["run_id"] == rid].dropna(subset=[col]).sort_values("epoch")
        if len(c) >= 2:
            ys.append(np.interp(grid, c["epoch"], c[col], left=np.nan, right=np.nan))
    if not ys:
        return np.full(len(grid), np.nan)
    with warnings.catch_warnings():  # grid points outside every run's evaluations stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.vstack(ys), axis=0)


def curve_gaps(
    runs: pd.DataFrame,
    curves: pd.DataFrame,
    baseline: int,
    experiment: str = "batch",
    start_frac: float = 1 / 3,
    points: int = 61,
) -> pd.DataFrame:
    """Per global_batch: the largest |mean train error - baseline mean train error| for epochs in
    [start_frac * E, E], on `points` evenly spaced epochs (seed-mean curves, interpolated); also the
    mean signed gap, and the final signed gap at the last epoch that every run of the batch and of the
    baseline has evaluated (`end_epoch`: a run's last evaluation can fall a step short of E, where the
    interpolated curve has no value). A batch with a diverged run gets max_abs_gap = inf."""
    d = runs[runs["experiment"] == experiment]
    epochs = float(d["epochs"].iloc[0])
    grid = np.linspace(start_frac * epochs, epochs, points)
    base_ids = d.loc[d["global_batch"] == baseline, "run_id"]
    base = mean_curve(curves, base_ids, grid)
    last = curves.dropna(subset=["train_err"]).groupby("run_id")["epoch"].max()
    rows = []
    for b, g in d.groupby("global_batch"):
        gap = mean_curve(curves, g["run_id"], grid) - base
        ok = np.isfinite(gap)
        mx = float(np.max(np.abs(gap[ok]))) if ok.any() else float("nan")
        if (g["status"] == "diverged").any():  # its curve stops: it does not follow the baseline
            mx = float("inf")
        end = last.reindex([*g["run_id"], *base_ids]).min()  # NaN when a run has no curve
        at = np.array([min(end, epochs)])
        final = mean_curve(curves, g["run_id"], at) - mean_curve(curves, base_ids, at)
        rows.append(
            {
                "global_batch": int(b),
                "max_abs_gap": mx,
                "mean_gap": float(np.mean(gap[ok])) if ok.any() else float("nan"),
                "final_gap": float(final[0]),
                "end_epoch": float(at[0]),
            }
        )
    return pd.DataFrame(rows)
