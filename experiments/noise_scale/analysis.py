"""Analysis of the noise-scale study from its committed CSVs (used by claims.py and the notebook).

Criteria (issue text, not tuned): (a) interior optimum: acc(B_opt) beats the smallest stable B and B = N by
more than 2 standard errors; (b) d log B_opt / d log eps in [0.5, 1.5]; (c) d log B_opt / d log N in
[0.5, 1.5]; (d) Pareto fit R^2 >= 0.9 and B_simple within a factor 5 of B_crit; (e) B_simple at the end
>= 3x its early value.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .config import CRIT_TARGET, EPS_REF

TARGET_BAND = 0.05  # B_simple "near the target": measurements with |train loss - target| <= this


def load(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        pd.read_csv(Path(data_dir) / "noise_scale.csv"),
        pd.read_csv(Path(data_dir) / "noise_scale_curves.csv"),
    )


def refine(bs: np.ndarray, mean: np.ndarray, i: int) -> tuple[float, bool]:
    """B_opt from a quadratic in log2 B through the argmax `i` of `mean` and its neighbours, and whether the
    argmax is at the grid's edge (then B_opt is the edge point: the optimum is censored there)."""
    if i == 0 or i == len(bs) - 1:
        return float(bs[i]), True
    x = np.log2(np.asarray(bs[i - 1 : i + 2], float))
    y = np.asarray(mean[i - 1 : i + 2], float)
    a, b, _ = np.polyfit(x, y, 2)
    if a >= 0:
        return float(bs[i]), False
    return float(2 ** np.clip(-b / (2 * a), x[0], x[-1])), False


FIRST = ("optimal_batch",)  # the first design's runs
V2 = ("optimal_batch", "optimal_batch_v2")  # the second design's cells join the first design's


def cells(
    runs: pd.DataFrame, n: int, lr: float, seeds, experiments=FIRST
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(Bs, acc[seed, B], train_acc[seed, B], diverged[B]) of one (N, eps) setting (runs of `experiments`)."""
    g = runs[
        runs.experiment.isin(experiments)
        & (runs.N_train == n)
        & np.isclose(runs.lr, lr)
        & runs.seed.isin(seeds)
    ]
    bs = np.array(sorted(g.global_batch.unique()))
    acc = np.full((len(seeds), len(bs)), np.nan)
    tr = np.full((len(seeds), len(bs)), np.nan)
    div = np.zeros(len(bs), bool)
    for j, b in enumerate(bs):
        for i, s in enumerate(seeds):
            r = g[(g.global_batch == b) & (g.seed == s)]
            if len(r):
                ok = r.status.iloc[0] == "complete"
                acc[i, j] = r.final_test_acc.iloc[0] if ok else np.nan
                tr[i, j] = r.final_train_acc.iloc[0] if ok else 0.0
                div[j] |= not ok
    return bs, acc, tr, div


def b_opt(bs, acc, div, idx) -> float:
    """B_opt from the seeds `idx` of a setting's cells: the refined argmax of the seed means over the
    stable batches (no diverged seed in the full data, as `optimal_batch`)."""
    return _b_opt_edge(bs, acc, div, idx)[0]


def b_opt_edge(bs, acc, div, idx) -> str:
    """Where `b_opt` lies: "top" or "bottom" when the argmax is the largest or smallest stable batch (the
    optimum is censored there: it lies at or beyond the grid's edge), "" inside the grid."""
    value, edge = _b_opt_edge(bs, acc, div, idx)
    return "" if not edge else "top" if value == bs[~div].max() else "bottom"


def _b_opt_edge(bs, acc, div, idx) -> tuple[float, bool]:
    keep = ~div
    m = np.nanmean(acc[np.asarray(idx, int)][:, keep], axis=0)
    return refine(bs[keep], m, int(np.nanargmax(m)))


def per_batch(runs: pd.DataFrame, n: int, lr: float) -> pd.DataFrame:
    """Mean/std/se/n of final test accuracy per B for one (N, eps); diverged runs counted separately."""
    g = runs[(runs.experiment == "optimal_batch") & (runs.N_train == n) & np.isclose(runs.lr, lr)]
    out = []
    for b, gb in g.groupby("global_batch"):
        ok = gb[gb.status == "complete"]
        acc = ok.final_test_acc.astype(float)
        k = len(acc)
        sd = acc.std(ddof=1) if k > 1 else float("nan")
        out.append(
            {
                "B": int(b),
                "mean": acc.mean(),
                "std": sd,
                "n": k,
                "se": sd / math.sqrt(k) if k else np.nan,
                "diverged": int((gb.status == "diverged").sum()),
                "runs": len(gb),
                "gap": (ok.final_train_acc - ok.final_test_acc).mean(),
                "g": lr * n / (b * (1 - 0.9)),
            }
        )
    return pd.DataFrame(out).sort_values("B").reset_index(drop=True)


def optimal_batch(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (N, eps): B_opt and the interior-optimum test (a)."""
    rows = []
    pairs = runs[runs.experiment == "optimal_batch"][["N_train", "lr"]].drop_duplicates()
    for n, lr in pairs.itertuples(index=False):
        t = per_batch(runs, n, lr)
        stable = t[(t.diverged == 0) & (t.n > 0)].reset_index(drop=True)
        if stable.empty:
            continue
        i = int(stable["mean"].idxmax())
        b_opt, edge = refine(stable["B"].to_numpy(), stable["mean"].to_numpy(), i)
        best, small, full = stable.iloc[i], stable.iloc[0], t[t.B == n].iloc[0]

        def beats(o, best=best):
            return bool(best["mean"] - o["mean"] > 2 * math.hypot(best["se"], o["se"]))

        rows.append(
            {
                "N": int(n),
                "eps": lr,
                "B_opt": b_opt,
                "B_best_grid": int(best.B),
                "edge": edge,
                "acc_opt": best["mean"],
                "se_opt": best["se"],
                "B_small": int(small.B),
                "acc_small": small["mean"],
                "acc_full": full["mean"],
                "se_full": full["se"],
                "n_seeds": int(best.n),
                "beats_small": beats(small),
                "beats_full": beats(full),
                "interior": beats(small) and beats(full),
            }
        )
    return pd.DataFrame(rows).sort_values(["N", "eps"]).reset_index(drop=True)


def slope(x, y) -> float:
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def critical_batch(runs: pd.DataFrame) -> pd.DataFrame:
    """Per B: the lr with the fewest mean steps to the target (all seeds must reach it)."""
    g = runs[runs.experiment == "critical_batch"]
    rows = []
    for b, gb in g.groupby("global_batch"):
        best = None
        for lr, gl in gb.groupby("lr"):
            s = gl.steps_to_target.astype(float)
            if s.notna().all():
                cand = (s.mean(), s.std(ddof=1) if len(s) > 1 else np.nan, len(s), lr)
                best = cand if best is None or cand[0] < best[0] else best
        if best is not None:
            rows.append(
                {
                    "B": int(b),
                    "S": best[0],
                    "S_std": best[1],
                    "n": best[2],
                    "lr_best": best[3],
                    "E": best[0] * b,
                    "lrs_tried": gb.lr.nunique(),
                }
            )
    return pd.DataFrame(rows).sort_values("B").reset_index(drop=True)


def crit_array(runs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(Bs, steps[seed, B, lr]) of the critical_batch runs (NaN: target not reached)."""
    g = runs[runs.experiment == "critical_batch"]
    seeds = sorted(g.seed.unique())
    bs = sorted(g.global_batch.unique())
    nlr = max(g[g.global_batch == b].lr.nunique() for b in bs)
    steps = np.full((len(seeds), len(bs), nlr), np.nan)
    for j, b in enumerate(bs):
        for k, lr in enumerate(sorted(g[g.global_batch == b].lr.unique())):
            for i, s in enumerate(seeds):
                r = g[(g.global_batch == b) & np.isclose(g.lr, lr) & (g.seed == s)]
                if len(r):
                    steps[i, j, k] = r.steps_to_target.iloc[0]
    return np.array(bs, float), steps


B_CRIT_GRID = np.logspace(0, 6, 4001)  # the B_crit values the Pareto fit tries


def fit_pareto(B, S) -> dict:
    """Fit S = S_min (1 + B_crit/B), i.e. (S/S_min - 1)(E/E_min - 1) = 1, least squares in log S over
    B_crit in B_CRIT_GRID."""
    B, ls = np.asarray(B, float), np.log(np.asarray(S, float))
    pred = np.log1p(B_CRIT_GRID[:, None] / B[None, :])
    log_smin = np.mean(ls[None, :] - pred, axis=1)
    sse = np.sum((ls[None, :] - log_smin[:, None] - pred) ** 2, axis=1)
    k = int(np.argmin(sse))
    bc, smin = float(B_CRIT_GRID[k]), math.exp(log_smin[k])
    sst = float(np.sum((ls - ls.mean()) ** 2))
    return {
        "B_crit": bc,
        "S_min": smin,
        "E_min": smin * bc,
        "r2": 1 - float(sse[k]) / sst if sst > 0 else float("nan"),
    }


def pareto(bs: np.ndarray, steps: np.ndarray, idx) -> tuple[float, float]:
    """(B_crit, R²) of `fit_pareto` on the per-B best lr of the seeds `idx` of `crit_array` (every chosen
    seed must reach the target at that lr); NaN with fewer than 3 batches."""
    sub = steps[np.asarray(idx, int)]
    ok = ~np.isnan(sub).any(axis=0)  # [B, lr]: every chosen seed reached the target
    mean = np.where(ok, np.nanmean(np.where(np.isnan(sub), 0, sub), axis=0) * 1.0, np.inf)
    s = mean.min(axis=1)
    keep = np.isfinite(s)
    if keep.sum() < 3:
        return math.nan, math.nan
    fit = fit_pareto(bs[keep], s[keep])
    return fit["B_crit"], fit["r2"]


def bsimple(runs: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Per bsimple run: B_simple near the target loss, early (first 10%) and late (last 20%)."""
    ids = runs[runs.experiment == "bsimple"].set_index("run_id").seed
    rows = []
    for rid, c in curves[curves.run_id.isin(ids.index)].groupby("run_id"):
        m = c[c.trace_sigma_raw.notna()].sort_values("step")
        if m.empty:
            continue
        ratio = lambda d: d.trace_sigma_raw.mean() / d.g2_raw.mean()  # noqa: E731 ratio of averages (App. A)
        near = m[(m.train_loss - CRIT_TARGET).abs() <= TARGET_BAND]
        k = len(m)
        rows.append(
            {
                "run_id": rid,
                "seed": int(ids[rid]),
                "b_simple_at_target": ratio(near) if len(near) else np.nan,
                "n_near": len(near),
                "b_simple_early": ratio(m.iloc[: max(1, k // 10)]),
                "b_simple_late": ratio(m.iloc[-max(1, k // 5) :]),
                "loss_early": m.train_loss.iloc[: max(1, k // 10)].mean(),
                "loss_late": m.train_loss.iloc[-max(1, k // 5) :].mean(),
            }
        )
    out = pd.DataFrame(rows)
    if len(out):
        out["growth"] = out.b_simple_late / out.b_simple_early
    return out


def summary(data_dir: Path) -> dict:
    """Everything the claims and the README table need, computed from the CSVs."""
    return summarise(*load(data_dir))


def summarise(runs: pd.DataFrame, curves: pd.DataFrame) -> dict:
    """`summary` of the two tables already loaded."""
    ob = optimal_batch(runs)
    by_eps = ob[ob.N == ob.N.min()]
    by_n = ob[np.isclose(ob.eps, EPS_REF)]
    cb = critical_batch(runs)
    fit = fit_pareto(cb.B, cb.S) if len(cb) >= 3 else {}
    bs = bsimple(runs, curves)
    gap = per_batch(runs, int(ob.N.min()), EPS_REF) if len(ob) else pd.DataFrame()
    return {
        "optimal": ob,
        "slope_eps": slope(by_eps.eps, by_eps.B_opt) if len(by_eps) > 1 else np.nan,
        "slope_n": slope(by_n.N, by_n.B_opt) if len(by_n) > 1 else np.nan,
        "critical": cb,
        "fit": fit,
        "bsimple": bs,
        "gap": gap,
    }


def wall_model(runs: pd.DataFrame) -> np.ndarray:
    """Least-squares wall time of an optimal_batch run, s = c0 + c1 * steps + c2 * steps * B, fitted to the
    median wall_s of each committed (N, eps, B) cell (complete runs): the budget of new cells (issue 17)."""
    o = runs[(runs.experiment.str.startswith("optimal_batch")) & (runs.status == "complete")]
    c = o.groupby(["N_train", "lr", "global_batch"]).agg(wall=("wall_s", "median"), steps=("steps", "median"))
    c = c.reset_index()
    x = np.c_[np.ones(len(c)), c.steps, c.steps * c.global_batch]
    return np.linalg.lstsq(x, c.wall.to_numpy(float), rcond=None)[0]


def estimate_wall_s(cfgs, runs: pd.DataFrame) -> float:
    """Summed predicted wall time (s) of `cfgs` (every run taken to its full max_steps: diverging runs stop
    earlier, so this is an upper estimate) by `wall_model` on the committed runs."""
    c0, c1, c2 = wall_model(runs)
    return float(sum(c0 + c1 * c.max_steps + c2 * c.max_steps * c.global_batch for c in cfgs))
