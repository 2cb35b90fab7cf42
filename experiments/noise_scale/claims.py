"""Claims of the noise-scale study, judged from the committed CSVs by largebatch.verdict (issue 20).

The claims are data in claims.toml. The statistics are analysis.py's (B_opt by a quadratic refinement of the
seed-mean argmax, the Pareto fit of McCandlish et al.); this module re-evaluates them on seed resamples
for the intervals (vectorised copies, checked against analysis.py on the full data in the tests).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from largebatch import verdict as V
from largebatch.prereg import load_spec
from largebatch.results import fmt_mean_std, markdown_table

from . import analysis
from .analysis import summary
from .config import EPS_REF

CSV = "paper_figures/data/noise_scale.csv"


FIRST = ("optimal_batch",)
V2 = ("optimal_batch", "optimal_batch_v2")  # the second design's cells join the first design's


def _cells(
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


def _refine(bs: np.ndarray, mean: np.ndarray, i: int) -> float:
    """analysis._refine on arrays: the quadratic in log2 B through the argmax and its neighbours."""
    if i == 0 or i == len(bs) - 1:
        return float(bs[i])
    x = np.log2(bs[i - 1 : i + 2].astype(float))
    y = mean[i - 1 : i + 2]
    a, b, _ = np.polyfit(x, y, 2)
    if a >= 0:
        return float(bs[i])
    return float(2 ** np.clip(-b / (2 * a), x[0], x[-1]))


def _b_opt(bs, acc, div, idx) -> float:
    """B_opt from the seeds `idx` (stable = no diverged seed in the full data, as analysis.optimal_batch)."""
    keep = ~div
    m = np.nanmean(acc[np.asarray(idx, int)][:, keep], axis=0)
    return _refine(bs[keep], m, int(np.nanargmax(m)))


def _slope(xs, ys) -> float:
    return float(np.polyfit(np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float)), 1)[0])


def _crit_array(runs: pd.DataFrame):
    """(Bs, lrs per B, steps[seed, B, lr]) of the critical_batch runs (NaN: target not reached)."""
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


GRID = np.logspace(0, 6, 4001)


def _pareto(bs: np.ndarray, steps: np.ndarray, idx) -> tuple[float, float]:
    """(B_crit, R²) of analysis.fit_pareto on the per-B best lr of the seeds `idx` (all must reach it)."""
    sub = steps[np.asarray(idx, int)]
    ok = ~np.isnan(sub).any(axis=0)  # [B, lr]: every chosen seed reached the target
    mean = np.where(ok, np.nanmean(np.where(np.isnan(sub), 0, sub), axis=0) * 1.0, np.inf)
    s = mean.min(axis=1)
    keep = np.isfinite(s)
    b, s = bs[keep], s[keep]
    if len(b) < 3:
        return math.nan, math.nan
    ls = np.log(s)
    pred = np.log1p(GRID[:, None] / b[None, :])
    log_smin = np.mean(ls[None, :] - pred, axis=1)
    sse = np.sum((ls[None, :] - log_smin[:, None] - pred) ** 2, axis=1)
    k = int(np.argmin(sse))
    sst = float(np.sum((ls - ls.mean()) ** 2))
    return float(GRID[k]), 1 - float(sse[k]) / sst if sst > 0 else math.nan


def _row(cid, ours, result, runs, wall) -> dict:
    return {"id": cid, "ours": ours, "result": result, "runs": runs, "csv": CSV, "wall_per_seed": wall}


def claims(data_dir: Path) -> list[dict]:
    """Rows for the README table (see largebatch.report)."""
    spec = load_spec("noise_scale")
    s = summary(Path(data_dir))
    runs = pd.read_csv(Path(data_dir) / "noise_scale.csv")
    opt = runs[runs.experiment == "optimal_batch"]
    pairs = sorted({(int(n), float(lr)) for n, lr in opt[["N_train", "lr"]].itertuples(index=False)})
    rows = []

    # (a) interior optimum; stable = every seed reaches the train-accuracy target
    c = spec["a_interior"]
    parts, txt = [], []
    for n, lr in pairs:
        bs, acc, tr, div = _cells(runs, n, lr, c["seeds"])
        stable = (tr >= c["stable_train_acc"]).all(axis=0)
        if not stable.any():
            continue
        j_small = int(np.argmax(stable))
        j_full = len(bs) - 1
        inner = [j for j in range(j_small + 1, j_full) if stable[j]]
        label = f"N={n}, ε={lr:g}"
        if not inner:
            parts.append(V.exact(0.0, 0.0, ">", label=label, what="no interior stable B"))
            continue
        with np.errstate(all="ignore"):
            means = np.nanmean(np.where(np.isnan(acc), -np.inf, acc), axis=0)
        j = max(inner, key=lambda k: means[k])
        col = pd.Index(c["seeds"], name="seed")
        best, small, full = (pd.Series(acc[:, k] * 100, index=col) for k in (j, j_small, j_full))
        parts += [
            V.difference(best, small, 0.0, ">", label=f"{label}: B={bs[j]} − B={bs[j_small]}"),
            V.difference(best, full, 0.0, ">", label=f"{label}: B={bs[j]} − N"),
        ]
        txt.append(
            f"{label}: stable from B={bs[j_small]}, best interior B={bs[j]} {means[j] * 100:.2f} %, "
            f"smallest stable {means[j_small] * 100:.2f} %, B=N {means[j_full] * 100:.2f} %"
        )
    wall_opt = float(opt.groupby(["N_train", "lr", "global_batch"]).wall_s.mean().sum())
    rows.append(
        _row(
            "a_interior",
            "; ".join(txt) + f" (pt differences; stable: train acc ≥ {c['stable_train_acc']:.0%})",
            V.all_of(parts),
            opt[opt.seed.isin(c["seeds"])],
            wall_opt,
        )
    )

    # (b), (c) slopes
    for cid, group, xkey in (
        ("b_slope_eps", [p for p in pairs if p[0] == min(q[0] for q in pairs)], 1),
        ("c_slope_n", [p for p in pairs if np.isclose(p[1], EPS_REF)], 0),
    ):
        c = spec[cid]
        cells = [_cells(runs, n, lr, c["seeds"]) for n, lr in group]
        xs = [p[xkey] for p in group]

        def stat(idx, cells=cells, xs=xs):
            return _slope(xs, [_b_opt(bs, acc, div, idx) for bs, acc, _, div in cells])

        res = V.bootstrap([np.arange(len(c["seeds"]))], stat, band=tuple(c["band"]), what="slope")
        b_opts = [_b_opt(bs, acc, div, range(len(c["seeds"]))) for bs, acc, _, div in cells]
        sub = opt[
            opt.seed.isin(c["seeds"])
            & opt[["N_train", "lr"]].apply(lambda r, g=group: (int(r.N_train), float(r.lr)) in g, axis=1)
        ]
        rows.append(
            _row(
                cid,
                f"slope {res.estimate:.2f}; B_opt "
                + ", ".join(f"{x:g}: {b:.0f}" for x, b in zip(xs, b_opts)),
                res,
                sub,
                float(sub.groupby(["N_train", "lr", "global_batch"]).wall_s.mean().sum()),
            )
        )

    if (runs.experiment == "optimal_batch_v2").any():
        rows += _v2_rows(spec, runs)
    if (runs.experiment == "optimal_batch_v3").any():
        rows += _slope_rows(spec, runs, "b3_slope_eps", "c3_slope_n")

    # (d) Pareto fit and B_simple / B_crit
    c = spec["d_pareto"]
    fit, bsd = s["fit"], s["bsimple"]
    crit = runs[runs.experiment == "critical_batch"]
    if fit and len(bsd):
        cb, steps = _crit_array(runs)
        bt = bsd.b_simple_at_target.to_numpy(float)
        k_crit = steps.shape[0]
        r2 = V.bootstrap(
            [np.arange(k_crit)],
            lambda i: _pareto(cb, steps, i)[1],
            c["threshold"],
            ">",
            label="R²",
            what="R²",
        )
        ratio = V.bootstrap(
            [np.arange(k_crit), bt],
            lambda i, b: np.mean(b) / _pareto(cb, steps, i)[0],
            band=tuple(c["band"]),
            label="B_simple / B_crit",
            what="ratio",
        )
        bsr = runs[runs.experiment == "bsimple"]
        rows.append(
            _row(
                "d_pareto",
                f"R²={fit['r2']:.3f}; B_crit={fit['B_crit']:.0f}, "
                f"B_simple={fmt_mean_std(bsd.b_simple_at_target, 0)}: ratio {ratio.estimate:.2f}",
                V.all_of([r2, ratio]),
                pd.concat([crit, bsr]),
                float(crit.groupby(["global_batch", "lr"]).wall_s.mean().sum() + bsr.wall_s.mean()),
            )
        )
        c = spec["e_growth"]
        rows.append(
            _row(
                "e_growth",
                f"x{fmt_mean_std(bsd.growth, 1)}",
                V.one_sample(bsd.growth, c["threshold"], c["direction"]),
                bsr,
                float(bsr.wall_s.mean()),
            )
        )
    return rows


def _v2_rows(spec: dict, runs: pd.DataFrame) -> list[dict]:
    """The second design's rows (claims.toml a2_interior, b2_slope_eps, c2_slope_n; issue 17)."""
    rows = []
    opt = runs[runs.experiment.isin(V2)]

    def sub(pairs, seeds):
        return opt[
            opt.seed.isin(seeds)
            & pd.Series(
                [(int(n), round(float(lr), 6)) in pairs for n, lr in zip(opt.N_train, opt.lr)],
                index=opt.index,
            )
        ]

    def wall(d):
        return float(d.groupby(["N_train", "lr", "global_batch"]).wall_s.mean().sum())

    # (a2) at the predicted optimum: B_pred against the smallest stable B and B = N, paired by seed
    c = spec["a2_interior"]
    n, lr = c["setting"]
    bs, acc, tr, div = _cells(runs, n, lr, c["seeds"], V2)
    stable = (tr >= c["stable_train_acc"]).all(axis=0)
    label = f"N={n}, ε={lr:g}"
    col = pd.Index(c["seeds"], name="seed")
    j_pred = int(np.flatnonzero(bs == c["batch"])[0]) if (bs == c["batch"]).any() else None
    j_small = int(np.argmax(stable)) if stable.any() else None
    j_full = len(bs) - 1
    if j_pred is None or j_small is None or not (j_small < j_pred < j_full and stable[j_pred]):
        res = V.exact(0.0, 0.0, ">", label=label, what="B_pred stable and interior")
        txt = f"{label}: B={c['batch']} is not a stable interior batch of the grid"
    else:
        best, small, full = (pd.Series(acc[:, k] * 100, index=col) for k in (j_pred, j_small, j_full))
        res = V.all_of(
            [
                V.difference(
                    best, small, 0.0, ">", label=f"B={bs[j_pred]} − B={bs[j_small]} (smallest stable)"
                ),
                V.difference(best, full, 0.0, ">", label=f"B={bs[j_pred]} − N"),
            ]
        )
        with np.errstate(all="ignore"):
            m = np.nanmean(np.where(np.isnan(acc), -np.inf, acc), axis=0)
        keep = ~div
        b_opt = _b_opt(bs, acc, div, range(len(c["seeds"])))
        j_max = int(np.flatnonzero(keep)[np.nanargmax(m[keep])])
        txt = (
            f"{label}: stable from B={bs[j_small]}; B={bs[j_pred]} {m[j_pred] * 100:.2f} %, smallest stable "
            f"{m[j_small] * 100:.2f} %, B=N {m[j_full] * 100:.2f} %; argmax of the means B={bs[j_max]}, "
            f"B_opt (refined) {b_opt:.0f} vs predicted {c['predicted'][0]:,}–{c['predicted'][1]:,} "
            f"(pt differences; stable: train acc ≥ {c['stable_train_acc']:.0%})"
        )
    d = sub({(n, lr)}, c["seeds"])
    rows.append(_row("a2_interior", txt, res, d, wall(d)))
    return rows + _slope_rows(spec, runs, "b2_slope_eps", "c2_slope_n")


def _slope_rows(spec: dict, runs: pd.DataFrame, b_id: str, c_id: str) -> list[dict]:
    """The slope rows of the second (b2, c2) and third (b3, c3) designs; a claim's `experiments` (default: the
    first and second designs' tags) names the runs it judges."""
    rows = []

    def sub(exps, pairs, seeds):
        o = runs[runs.experiment.isin(exps) & runs.seed.isin(seeds)]
        keep = [(int(n), round(float(lr), 6)) in pairs for n, lr in zip(o.N_train, o.lr)]
        return o[np.asarray(keep, bool)]

    def wall(d):
        return float(d.groupby(["N_train", "lr", "global_batch"]).wall_s.mean().sum())

    # (b) eps-slope at N = 4000 from two interior optima; the settings' seeds resampled independently
    c = spec[b_id]
    exps = tuple(c.get("experiments", V2))
    groups = [(tuple(g["setting"]), g["seeds"]) for g in c["cells"]]
    cells = [_cells(runs, p[0], p[1], sd, exps) for p, sd in groups]
    xs = [p[1] for p, _ in groups]

    def stat_b(*idx, cells=cells, xs=xs):
        return _slope(xs, [_b_opt(bs, acc, dv, i) for (bs, acc, _, dv), i in zip(cells, idx)])

    res = V.bootstrap([np.arange(len(sd)) for _, sd in groups], stat_b, band=tuple(c["band"]), what="slope")
    b_opts = [_b_opt(bs, acc, dv, range(len(sd))) for (bs, acc, _, dv), (_, sd) in zip(cells, groups)]
    d = pd.concat([sub(exps, {p}, sd) for p, sd in groups])
    rows.append(
        _row(
            b_id,
            f"slope {res.estimate:.2f}; B_opt (N={groups[0][0][0]}) "
            + ", ".join(f"ε={x:g}: {b:.0f}" for x, b in zip(xs, b_opts)),
            res,
            d,
            wall(d),
        )
    )

    # (c) N-slope at eps = 0.1; seeds resampled together
    c = spec[c_id]
    exps = tuple(c.get("experiments", V2))
    pairs = [tuple(p) for p in c["settings"]]
    cells = [_cells(runs, n, lr, c["seeds"], exps) for n, lr in pairs]
    xs = [p[0] for p in pairs]

    def stat_c(idx, cells=cells, xs=xs):
        return _slope(xs, [_b_opt(bs, acc, dv, idx) for bs, acc, _, dv in cells])

    res = V.bootstrap([np.arange(len(c["seeds"]))], stat_c, band=tuple(c["band"]), what="slope")
    b_opts = [_b_opt(bs, acc, dv, range(len(c["seeds"]))) for bs, acc, _, dv in cells]
    d = sub(exps, set(pairs), c["seeds"])
    rows.append(
        _row(
            c_id,
            f"slope {res.estimate:.2f}; B_opt " + ", ".join(f"N={x}: {b:.0f}" for x, b in zip(xs, b_opts)),
            res,
            d,
            wall(d),
        )
    )
    return rows


def readme_blocks(data_dir: Path) -> dict[str, str | None]:
    """The study README's generated block (written by `python -m largebatch.report`)."""
    S = summary(Path(data_dir))
    runs, _ = analysis.load(Path(data_dir))
    table = "<<claims>>"  # the report puts the claims table here
    detail = S["optimal"][
        ["N", "eps", "B_opt", "edge", "acc_opt", "acc_small", "acc_full", "n_seeds", "interior"]
    ]
    detail = detail.rename(columns={"interior": "interior (old reading: > 2 SE, stable = no divergence)"})
    bsd = S["bsimple"][["seed", "b_simple_early", "b_simple_at_target", "b_simple_late", "growth"]]
    wall = (
        f"Total training wall time of the {len(runs)} cpu runs: {runs.wall_s.sum() / 60:.1f} min (2 cores)."
    )
    return {
        "results": wall
        + "\n\n"
        + table
        + "\n\n"
        + markdown_table(detail.round(4))
        + "\n\n"
        + markdown_table(S["critical"].round(2))
        + "\n\n"
        + markdown_table(bsd.round(1))
    }
