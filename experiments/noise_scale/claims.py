"""Claims of the noise-scale study, judged from the committed CSVs by largebatch.verdict (issue 20).

The claims are data in claims.toml, one registered function each (largebatch.claims). The statistics are
analysis.py's (B_opt by a quadratic refinement of the seed-mean argmax, the Pareto fit of McCandlish et al.);
this module evaluates them on seed resamples for the intervals.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from largebatch import verdict as V
from largebatch.claims import Row, claim
from largebatch.formatting import fmt_mean_std, markdown_table

from . import analysis
from .analysis import FIRST, V2, b_opt, b_opt_edge, cells, crit_array, pareto, slope
from .config import EPS_REF


class Data(NamedTuple):
    """The study's two CSVs and analysis.py's summary of them (B_opt table, Pareto fit, B_simple)."""

    runs: pd.DataFrame
    curves: pd.DataFrame
    summary: dict


def load(data_dir: Path) -> Data:
    runs, curves = analysis.load(Path(data_dir))
    return Data(runs, curves, analysis.summarise(runs, curves))


def _wall(d: pd.DataFrame) -> float:
    """Summed mean wall time of one seed over the (N, eps, B) cells of `d`."""
    return float(d.groupby(["N_train", "lr", "global_batch"]).wall_s.mean().sum())


def _judged(runs: pd.DataFrame, exps, pairs, seeds) -> pd.DataFrame:
    """The runs of `exps` at the (N, eps) settings `pairs` on `seeds`."""
    o = runs[runs.experiment.isin(exps) & runs.seed.isin(seeds)]
    keep = [(int(n), round(float(lr), 6)) in pairs for n, lr in zip(o.N_train, o.lr)]
    return o[np.asarray(keep, bool)]


def _first_pairs(runs: pd.DataFrame) -> list[tuple[int, float]]:
    opt = runs[runs.experiment == "optimal_batch"]
    return sorted({(int(n), float(lr)) for n, lr in opt[["N_train", "lr"]].itertuples(index=False)})


def _interior_parts(runs, n, lr, c) -> tuple[list, str | None]:
    """(a) at one setting: the best interior stable B against the smallest stable B and B = N."""
    bs, acc, tr, div = cells(runs, n, lr, c["seeds"])
    stable = (tr >= c["stable_train_acc"]).all(axis=0)
    if not stable.any():
        return [], None
    j_small, j_full = int(np.argmax(stable)), len(bs) - 1
    inner = [j for j in range(j_small + 1, j_full) if stable[j]]
    label = f"N={n}, ε={lr:g}"
    if not inner:
        return [V.exact(0.0, 0.0, ">", label=label, what="no interior stable B")], None
    with np.errstate(all="ignore"):
        means = np.nanmean(np.where(np.isnan(acc), -np.inf, acc), axis=0)
    j = max(inner, key=lambda k: means[k])
    col = pd.Index(c["seeds"], name="seed")
    best, small, full = (pd.Series(acc[:, k] * 100, index=col) for k in (j, j_small, j_full))
    parts = [
        V.difference(best, small, 0.0, ">", label=f"{label}: B={bs[j]} − B={bs[j_small]}"),
        V.difference(best, full, 0.0, ">", label=f"{label}: B={bs[j]} − N"),
    ]
    return parts, (
        f"{label}: stable from B={bs[j_small]}, best interior B={bs[j]} {means[j] * 100:.2f} %, "
        f"smallest stable {means[j_small] * 100:.2f} %, B=N {means[j_full] * 100:.2f} %"
    )


@claim("a_interior")
def a_interior(d: Data, c: dict) -> Row:
    """(a) an interior optimum at every (N, eps) of the first design; stable = every seed reaches the
    train-accuracy target."""
    parts, txt = [], []
    for n, lr in _first_pairs(d.runs):
        p, t = _interior_parts(d.runs, n, lr, c)
        parts += p
        txt += [t] if t else []
    opt = d.runs[d.runs.experiment == "optimal_batch"]
    return Row(
        "; ".join(txt) + f" (pt differences; stable: train acc ≥ {c['stable_train_acc']:.0%})",
        V.all_of(parts),
        runs=opt[opt.seed.isin(c["seeds"])],
        wall_per_seed=_wall(opt),
    )


def _first_slope(d: Data, c: dict, group: list, xkey: int) -> Row:
    """(b), (c) of the first design: the slope of log B_opt over the settings `group`, seeds resampled
    together."""
    return _slope_row(d, c, group, FIRST, [p[xkey] for p in group], lambda x, b: f"{x:g}: {b:.0f}")


def _slope_row(d: Data, c: dict, pairs: list, exps, xs: list, fmt) -> Row:
    """The slope of log B_opt on log x over the settings `pairs` (runs of `exps`), every setting on the
    claim's seeds, resampled together (bootstrap, the claim's band); `fmt(x, B_opt)` for the text."""
    cs = [cells(d.runs, n, lr, c["seeds"], exps) for n, lr in pairs]

    def stat(idx):
        return slope(xs, [b_opt(bs, acc, dv, idx) for bs, acc, _, dv in cs])

    res = V.bootstrap([np.arange(len(c["seeds"]))], stat, band=tuple(c["band"]), what="slope")
    b_opts = [b_opt(bs, acc, dv, range(len(c["seeds"]))) for bs, acc, _, dv in cs]
    sub = _judged(d.runs, exps, set(pairs), c["seeds"])
    return Row(
        f"slope {res.estimate:.2f}; B_opt " + ", ".join(fmt(x, b) for x, b in zip(xs, b_opts)),
        res,
        runs=sub,
        wall_per_seed=_wall(sub),
    )


def _censored_at_edge(d: Data, c: dict, group: list, row: Row) -> Row:
    """`row` of a slope over the settings `group`, flagged when a setting's B_opt (all seeds) is at its grid's
    edge: that optimum is censored (a bound, not a measurement), so the slope cannot be reproduced
    (largebatch.verdict.censored_bound; issue 31)."""
    edges = []
    for n, lr in group:
        bs, acc, _, div = cells(d.runs, n, lr, c["seeds"])
        idx = range(len(c["seeds"]))
        where = b_opt_edge(bs, acc, div, idx)
        if where:
            edges.append(f"N={n}, ε={lr:g}: B_opt = {b_opt(bs, acc, div, idx):.0f} at its grid's {where}")
    if not edges:
        return row
    flag = "censored: " + "; ".join(edges) + " (the optimum lies at or beyond it)"
    return replace(row, result=V.censored_bound(row.result, "B_opt at a grid edge"), flags=(*row.flags, flag))


@claim("b_slope_eps")
def b_slope_eps(d: Data, c: dict) -> Row:
    pairs = _first_pairs(d.runs)
    group = [p for p in pairs if p[0] == min(q[0] for q in pairs)]
    return _censored_at_edge(d, c, group, _first_slope(d, c, group, 1))


@claim("c_slope_n")
def c_slope_n(d: Data, c: dict) -> Row:
    return _first_slope(d, c, [p for p in _first_pairs(d.runs) if np.isclose(p[1], EPS_REF)], 0)


@claim("a2_interior")
def a2_interior(d: Data, c: dict) -> Row | None:
    """(a2) at the predicted optimum: B_pred against the smallest stable B and B = N, paired by seed."""
    exps = tuple(c.get("experiments", V2))
    n, lr = c["setting"]
    bs, acc, tr, div = cells(d.runs, n, lr, c["seeds"], exps)
    if not len(bs):  # the second design's runs are not in the CSV yet
        return None
    stable = (tr >= c["stable_train_acc"]).all(axis=0)
    label = f"N={n}, ε={lr:g}"
    col = pd.Index(c["seeds"], name="seed")
    j_pred = int(np.flatnonzero(bs == c["batch"])[0]) if (bs == c["batch"]).any() else None
    j_small = int(np.argmax(stable)) if stable.any() else None
    j_full = len(bs) - 1
    sub = _judged(d.runs, exps, {(n, lr)}, c["seeds"])
    if j_pred is None or j_small is None or not (j_small < j_pred < j_full and stable[j_pred]):
        res = V.exact(0.0, 0.0, ">", label=label, what="B_pred stable and interior")
        return Row(
            f"{label}: B={c['batch']} is not a stable interior batch of the grid",
            res,
            runs=sub,
            wall_per_seed=_wall(sub),
        )
    best, small, full = (pd.Series(acc[:, k] * 100, index=col) for k in (j_pred, j_small, j_full))
    res = V.all_of(
        [
            V.difference(best, small, 0.0, ">", label=f"B={bs[j_pred]} − B={bs[j_small]} (smallest stable)"),
            V.difference(best, full, 0.0, ">", label=f"B={bs[j_pred]} − N"),
        ]
    )
    with np.errstate(all="ignore"):
        m = np.nanmean(np.where(np.isnan(acc), -np.inf, acc), axis=0)
    keep = ~div
    j_max = int(np.flatnonzero(keep)[np.nanargmax(m[keep])])
    txt = (
        f"{label}: stable from B={bs[j_small]}; B={bs[j_pred]} {m[j_pred] * 100:.2f} %, smallest stable "
        f"{m[j_small] * 100:.2f} %, B=N {m[j_full] * 100:.2f} %; argmax of the means B={bs[j_max]}, "
        f"B_opt (refined) {b_opt(bs, acc, div, range(len(c['seeds']))):.0f} vs predicted "
        f"{c['predicted'][0]:,}–{c['predicted'][1]:,} (pt differences; stable: train acc ≥ "
        f"{c['stable_train_acc']:.0%})"
    )
    return Row(txt, res, runs=sub, wall_per_seed=_wall(sub))


def _has(d: Data, experiment: str) -> bool:
    return bool((d.runs.experiment == experiment).any())


def _eps_slope(d: Data, c: dict) -> Row:
    """(b2), (b3): the eps-slope at N = 4000 from two interior optima; each setting's seeds resampled
    independently. The claim's `experiments` (default: the first and second designs' tags) names its runs."""
    exps = tuple(c.get("experiments", V2))
    groups = [(tuple(g["setting"]), g["seeds"]) for g in c["cells"]]
    cs = [cells(d.runs, p[0], p[1], sd, exps) for p, sd in groups]
    xs = [p[1] for p, _ in groups]

    def stat(*idx):
        return slope(xs, [b_opt(bs, acc, dv, i) for (bs, acc, _, dv), i in zip(cs, idx)])

    res = V.bootstrap([np.arange(len(sd)) for _, sd in groups], stat, band=tuple(c["band"]), what="slope")
    b_opts = [b_opt(bs, acc, dv, range(len(sd))) for (bs, acc, _, dv), (_, sd) in zip(cs, groups)]
    sub = pd.concat([_judged(d.runs, exps, {p}, sd) for p, sd in groups])
    return Row(
        f"slope {res.estimate:.2f}; B_opt (N={groups[0][0][0]}) "
        + ", ".join(f"ε={x:g}: {b:.0f}" for x, b in zip(xs, b_opts)),
        res,
        runs=sub,
        wall_per_seed=_wall(sub),
    )


def _n_slope(d: Data, c: dict) -> Row:
    """(c2), (c3): the N-slope at eps = 0.1; seeds resampled together."""
    pairs = [tuple(p) for p in c["settings"]]
    exps = tuple(c.get("experiments", V2))
    return _slope_row(d, c, pairs, exps, [p[0] for p in pairs], lambda x, b: f"N={x}: {b:.0f}")


@claim("b2_slope_eps")
def b2_slope_eps(d: Data, c: dict) -> Row | None:
    """(b2) the second design's ε-slope (its cells pooled with the first design's)."""
    return _eps_slope(d, c) if _has(d, "optimal_batch_v2") else None


@claim("c2_slope_n")
def c2_slope_n(d: Data, c: dict) -> Row | None:
    """(c2) the second design's N-slope on the √2-refined grid (pooled with the first design's cells;
    post hoc: some of them were run before its spec)."""
    return _n_slope(d, c) if _has(d, "optimal_batch_v2") else None


@claim("b3_slope_eps")
def b3_slope_eps(d: Data, c: dict) -> Row | None:
    return _eps_slope(d, c) if _has(d, "optimal_batch_v3") else None


@claim("c3_slope_n")
def c3_slope_n(d: Data, c: dict) -> Row | None:
    """(c3) the N-slope again, on the third design's fresh seeds only."""
    return _n_slope(d, c) if _has(d, "optimal_batch_v3") else None


@claim("d_pareto")
def d_pareto(d: Data, c: dict) -> Row | None:
    """(d) the Pareto fit's R² and B_simple / B_crit; critical_batch and bsimple seeds resampled
    independently."""
    fit, bsd = d.summary["fit"], d.summary["bsimple"]
    if not fit or not len(bsd):
        return None
    cb, steps = crit_array(d.runs)
    bt = bsd.b_simple_at_target.to_numpy(float)
    k = np.arange(steps.shape[0])
    r2 = V.bootstrap([k], lambda i: pareto(cb, steps, i)[1], c["threshold"], ">", label="R²", what="R²")
    ratio = V.bootstrap(
        [k, bt],
        lambda i, b: np.mean(b) / pareto(cb, steps, i)[0],
        band=tuple(c["band"]),
        label="B_simple / B_crit",
        what="ratio",
    )
    crit, bsr = (d.runs[d.runs.experiment == e] for e in ("critical_batch", "bsimple"))
    return Row(
        f"R²={fit['r2']:.3f}; B_crit={fit['B_crit']:.0f}, "
        f"B_simple={fmt_mean_std(bsd.b_simple_at_target, 0)}: ratio {ratio.estimate:.2f}",
        V.all_of([r2, ratio]),
        runs=pd.concat([crit, bsr]),
        wall_per_seed=float(crit.groupby(["global_batch", "lr"]).wall_s.mean().sum() + bsr.wall_s.mean()),
    )


@claim("e_growth")
def e_growth(d: Data, c: dict) -> Row | None:
    """(e) B_simple late / early, per seed."""
    fit, bsd = d.summary["fit"], d.summary["bsimple"]
    if not fit or not len(bsd):
        return None
    bsr = d.runs[d.runs.experiment == "bsimple"]
    return Row(
        f"x{fmt_mean_std(bsd.growth, 1)}",
        V.one_sample(bsd.growth, c["threshold"], c["direction"]),
        runs=bsr,
        wall_per_seed=float(bsr.wall_s.mean()),
    )


def _fourth(d: Data, c: dict) -> Data | None:
    """The fourth design's runs (the claim's `experiments`, on its seeds) under the first design's tags
    (critical_batch_v4 -> critical_batch, bsimple_v4 -> bsimple), so that d_pareto's and e_growth's code
    judges them unchanged; None until both of its experiments have runs."""
    exps = list(c["experiments"])
    runs = d.runs[d.runs.experiment.isin(exps) & d.runs.seed.isin(c["seeds"])]
    if not set(exps) <= set(runs.experiment):
        return None
    runs = runs.assign(experiment=runs.experiment.str.removesuffix("_v4"))
    curves = d.curves[d.curves.run_id.isin(runs.run_id)]
    cb = analysis.critical_batch(runs)
    fit = analysis.fit_pareto(cb.B, cb.S) if len(cb) >= 3 else {}
    return Data(runs, curves, {"fit": fit, "bsimple": analysis.bsimple(runs, curves)})


@claim("d4_pareto")
def d4_pareto(d: Data, c: dict) -> Row | None:
    """(d) on the fourth design's fresh seeds: d_pareto's statistic on its runs."""
    sub = _fourth(d, c)
    return None if sub is None else d_pareto(sub, c)


@claim("e4_growth")
def e4_growth(d: Data, c: dict) -> Row | None:
    """(e) on the fourth design's fresh seeds: e_growth's statistic on its runs."""
    sub = _fourth(d, c)
    return None if sub is None else e_growth(sub, c)


def readme_blocks(data_dir: Path) -> dict[str, str | None]:
    """The study README's generated block (written by `python -m largebatch.report`)."""
    runs, curves = analysis.load(Path(data_dir))
    S = analysis.summarise(runs, curves)
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
