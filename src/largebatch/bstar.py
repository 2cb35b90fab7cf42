"""The failure batch B*: where a fixed-epoch recipe's steps fall below the steps the problem needs.

With a budget of E epochs on N examples, batch B gets S_avail(B) = E N / B steps (TrainConfig.equal_examples:
every batch sees the same examples). Reaching a target error takes about

    S(B) = S_min (1 + B_crit / B)                       (McCandlish et al., arXiv 1812.06162, eq. 2.11)

steps (S_min: the fewest steps at any batch; B_crit: the batch at which twice S_min are needed). The
fixed-epoch recipe keeps up while S_avail(B) >= S(B) and falls behind past the crossing

    B* = E N / S_min - B_crit.

Measured here (a probe, on calibration seeds) as follows; every rule is fixed in this module before a
probe runs:
  * cells: each (batch, epochs) budget of the plain recipe, one final error per seed (a diverged run counts
    as chance error: it never reaches any target);
  * target: the baseline batch's mean error at the reference budget E plus DELTA_PT (1 pt);
  * steps needed at batch B: the smallest budget whose seed-mean error is at or below the target,
    interpolated linearly in log(epochs) against the error between the last budget above the target and
    the first at or below it; a batch whose
    smallest budget already reaches the target is censored below (S(B) <= that budget's steps), one
    whose largest does not is censored above (S(B) > its steps); neither enters the fit;
  * fit: least squares of S = S_min + (S_min B_crit) / B over the uncensored batches (a line in 1 / B);
  * B*: E N / S_min - B_crit; and, as a check that needs no model, the batch at which the fixed-budget
    error first exceeds the baseline's by DELTA_PT (linear in log B between the two batches around it);
  * intervals: percentile bootstrap over seeds (seeds resampled jointly across cells, as each seed ran
    every cell), never on fewer than MIN_SEEDS seeds.

DELTA_PT = 1 pt makes the papers' own ladder read as the failure-first picture: Goyal et al.'s ResNet-50 is
+0.14 pt at 8k, +1.19 at 16k, +3.95 at 32k (Table/Fig. 1), so its B* by the model-free rule is ~14.5k
(8k ~ B*/2, 32k ~ 2.3 B*); `paper_b_star` derives that number from the published errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

DELTA_PT = 1.0  # the target and the model-free crossing: this far above the baseline's error
MIN_SEEDS = 3  # no bootstrap interval on fewer seeds
CHANCE_ERR = 90.0  # percent: a diverged 10-class run


@dataclass(frozen=True)
class Fit:
    """S(B) = s_min (1 + b_crit / B) fitted to steps needed; b_star at the reference budget."""

    s_min: float
    b_crit: float
    b_star: float
    n_batches: int


def cells(runs: pd.DataFrame, err: str = "final_test_err") -> pd.DataFrame:
    """Seed-mean error per (global_batch, epochs): columns mean, n, diverged (chance error for diverged)."""
    div = runs["status"] == "diverged"
    e = runs[err].astype(float).where(~div, CHANCE_ERR)
    d = pd.DataFrame({"global_batch": runs["global_batch"], "epochs": runs["epochs"], "_err": e, "_div": div})
    g = d.groupby(["global_batch", "epochs"])  # vectorised aggregates: the bootstrap calls this ~10^4 times
    return pd.DataFrame(
        {"mean": g["_err"].mean(), "n": g["_err"].count(), "diverged": g["_div"].sum().astype(int)}
    ).reset_index()


def cells_sums(runs: pd.DataFrame, err: str = "final_test_err") -> pd.DataFrame:
    """Per (global_batch, epochs): the error sum and run count (chance error for diverged), as columns."""
    e = runs[err].astype(float).where(runs["status"] != "diverged", CHANCE_ERR)
    d = pd.DataFrame({"global_batch": runs["global_batch"], "epochs": runs["epochs"], "_err": e})
    g = d.groupby(["global_batch", "epochs"])["_err"]
    return pd.DataFrame({"sum": g.sum(), "n": g.count().astype(float), "rows": g.size().astype(float)})


def target(c: pd.DataFrame, baseline: int, epochs: float, delta: float = DELTA_PT) -> float:
    """The baseline's seed-mean error at the reference budget, plus delta (percent)."""
    row = c[(c.global_batch == baseline) & np.isclose(c.epochs, epochs)]
    if row.empty:
        raise ValueError(f"no baseline cell (B = {baseline}, E = {epochs})")
    return float(row["mean"].iloc[0]) + delta


def steps_needed(c: pd.DataFrame, tgt: float, n_train: int) -> pd.DataFrame:
    """Per batch: epochs and steps needed to reach `tgt`, and how it is censored ('', 'below', 'above').

    Budgets are read in increasing epochs; the first at or below the target ends the search, and the
    epochs are interpolated linearly in log(epochs) against the error between it and the budget before.
    """
    rows = []
    bs_all, es_all = c["global_batch"].to_numpy(), c["epochs"].to_numpy(float)
    errs_all = c["mean"].to_numpy(float)
    order = np.lexsort(
        (es_all, bs_all)
    )  # by batch, then epochs (numpy: the bootstrap calls this ~10^4 times)
    bs_all, es_all, errs_all = bs_all[order], es_all[order], errs_all[order]
    for b in np.unique(bs_all):
        m = bs_all == b
        es, errs = es_all[m], errs_all[m]
        hit = np.flatnonzero(errs <= tgt)
        if not len(hit):
            e_need, cens = es[-1], "above"
        elif hit[0] == 0:
            e_need, cens = es[0], "below"
        else:
            i = hit[0]
            f = (errs[i - 1] - tgt) / (errs[i - 1] - errs[i])
            e_need, cens = math.exp(math.log(es[i - 1]) + f * (math.log(es[i]) - math.log(es[i - 1]))), ""
        rows.append(
            {
                "global_batch": int(b),
                "epochs_needed": e_need,
                "steps_needed": e_need * n_train / b,
                "censored": cens,
            }
        )
    return pd.DataFrame(rows)


def fit(need: pd.DataFrame, epochs: float, n_train: int) -> Fit | None:
    """Least squares of S = s_min + s_min b_crit / B over uncensored batches; None with fewer than 2."""
    d = need[need["censored"] == ""]
    if len(d) < 2:
        return None
    x, y = 1.0 / d["global_batch"].to_numpy(float), d["steps_needed"].to_numpy(float)
    slope, icpt = np.polyfit(x, y, 1)
    if icpt <= 0:
        return None
    s_min, b_crit = float(icpt), float(slope / icpt)
    return Fit(s_min, b_crit, epochs * n_train / s_min - b_crit, len(d))


def gap_crossing(c: pd.DataFrame, baseline: int, epochs: float, delta: float = DELTA_PT) -> float:
    """The batch at which the error at `epochs` first exceeds the baseline's by `delta` (log-linear
    between the batches around it); inf when no batch does, nan without the baseline."""
    d = c[np.isclose(c.epochs, epochs)].sort_values("global_batch")
    base = d[d.global_batch == baseline]
    if base.empty:
        return float("nan")
    gap = (d["mean"] - float(base["mean"].iloc[0])).to_numpy()
    bs = d["global_batch"].to_numpy(float)
    over = np.flatnonzero((gap > delta) & (bs > baseline))
    if not len(over):
        return float("inf")
    i = over[0]
    f = (delta - gap[i - 1]) / (gap[i] - gap[i - 1])
    return float(math.exp(math.log(bs[i - 1]) + f * (math.log(bs[i]) - math.log(bs[i - 1]))))


def analyse(runs: pd.DataFrame, baseline: int, epochs: float, n_train: int) -> dict:
    """Point estimates at reference budget `epochs`: target, steps needed per batch, fit, both B*."""
    c = cells(runs)
    tgt = target(c, baseline, epochs)
    need = steps_needed(c, tgt, n_train)
    f = fit(need, epochs, n_train)
    return {"target": tgt, "need": need, "fit": f, "b_star_gap": gap_crossing(c, baseline, epochs)}


def bootstrap(
    runs: pd.DataFrame, baseline: int, epochs: float, n_train: int, n_boot: int = 2000, seed: int = 0
) -> dict:
    """95 % percentile intervals of s_min, b_crit, b_star (model) and b_star_gap over seeds resampled
    jointly; {} with fewer than MIN_SEEDS seeds. Resamples without a fit count as missing (their share
    is reported as `no_fit`)."""
    seeds = sorted(runs["seed"].unique())
    if len(seeds) < MIN_SEEDS:
        return {}
    rng = np.random.default_rng(seed)
    keys = ("s_min", "b_crit", "b_star", "b_star_gap")
    draws = {k: [] for k in keys}
    no_fit = 0
    # per seed and cell, the error sum and run count: a resample's cell means are their sums over the
    # picked seeds (what `cells` computes on the concatenated runs, without a groupby per resample)
    per = {s: cells_sums(runs[runs.seed == s]) for s in seeds}
    keys_ = sorted(set().union(*(p.index for p in per.values())))
    idx = pd.MultiIndex.from_tuples(keys_, names=["global_batch", "epochs"])
    sums = {s: p.reindex(idx, fill_value=0.0) for s, p in per.items()}
    for _ in range(n_boot):
        pick = rng.choice(seeds, size=len(seeds), replace=True)
        tot = sum(sums[s].to_numpy() for s in pick)
        ok = tot[:, 2] > 0  # cells the picked seeds ran (a cell of NaN errors keeps a NaN mean, as in cells)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(tot[ok, 1] > 0, tot[ok, 0] / tot[ok, 1], np.nan)
        c = pd.DataFrame(
            {"global_batch": idx.get_level_values(0)[ok], "epochs": idx.get_level_values(1)[ok], "mean": mean}
        )
        tgt = target(c, baseline, epochs)
        a = {
            "fit": fit(steps_needed(c, tgt, n_train), epochs, n_train),
            "b_star_gap": gap_crossing(c, baseline, epochs),
        }
        draws["b_star_gap"].append(a["b_star_gap"])
        if a["fit"] is None:
            no_fit += 1
            continue
        for k in ("s_min", "b_crit", "b_star"):
            draws[k].append(getattr(a["fit"], k))
    out = {
        k: tuple(np.nanpercentile(v, [2.5, 97.5], method="inverted_cdf")) if len(v) else (math.nan, math.nan)
        for k, v in draws.items()
    }
    out["no_fit"] = no_fit / n_boot
    return out


def paper_b_star(errors: dict[int, float], baseline: int = 256, delta: float = DELTA_PT) -> float:
    """The model-free B* of a published ladder {batch: error %} (e.g. Goyal et al.'s Table 3a)."""
    c = pd.DataFrame({"global_batch": list(errors), "epochs": 0.0, "mean": list(errors.values())})
    return gap_crossing(c, baseline, 0.0, delta)


__all__ = [
    "DELTA_PT",
    "MIN_SEEDS",
    "Fit",
    "cells",
    "target",
    "steps_needed",
    "fit",
    "gap_crossing",
    "analyse",
    "bootstrap",
    "paper_b_star",
]
