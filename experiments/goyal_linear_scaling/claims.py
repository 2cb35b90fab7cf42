"""Goyal et al.'s claims, judged from paper_figures/data/goyal_linear_scaling{,_curves}.csv.

The claims are data in claims.toml (issue 5's criteria; issue 20's verdicts). Errors are in percent points
(pt); per seed, a run's error is Goyal's median of the final 5/90 of training (a diverged run: 90 %); arms
that share seeds are compared paired by seed:
  (a) flat region: every kn <= 16x the baseline within 0.3 pt of the baseline (equivalence, every kn);
  (b) an elbow: some kn above the measured B_flat is > 1 pt worse than the baseline;
  (c) at B_ABL = 1024 gradual warmup within 0.3 pt of the baseline, no and constant warmup > 0.3 pt worse;
  (d) train-error curves for kn <= B_flat within 1 pt of the baseline's after E/3, those at or beyond the
      elbow not (bootstrap over seeds of the largest gap);
  (e) at B_ABL linear beats sqrt and no scaling;
  (f) at B_ABL gamma = 0 no worse than gamma = 1 by more than 0.3 pt (the margin is new: post hoc).
The ablations were fixed at config.B_ABL = 1024 before the sweep (with the rule "judge at B_ABL when the
measured B_flat differs"); those added at kn = 2048 after the sweep are exploratory rows (no verdict).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from largebatch import verdict as V
from largebatch.prereg import load_spec
from largebatch.results import fmt_mean_std, markdown_table

from . import analysis as A
from .config import B_ABL, BASELINE_BATCH, STUDY

CSV = f"paper_figures/data/{STUDY}.csv"


def _ms(s: pd.Series) -> str:
    return fmt_mean_std(s, 2)


def _err(runs: pd.DataFrame, seeds=None, **match) -> pd.Series:
    """Per-seed error (%) of the runs matching `match`, indexed by seed."""
    d = runs
    for k, v in match.items():
        d = d[d[k] == v]
    if seeds is not None:
        d = d[d["seed"].isin(seeds)]
    return A.error_for_stats(d).set_axis(d["seed"]).rename_axis("seed").sort_index()


def _sel(runs: pd.DataFrame, seeds=None, **match) -> pd.DataFrame:
    d = runs
    for k, v in match.items():
        d = d[d[k] == v]
    return d if seeds is None else d[d["seed"].isin(seeds)]


# the five ablation settings besides the batch sweep's run (gradual warmup, linear rule, gamma = 0)
ABLATIONS = (
    {"experiment": "warmup", "warmup": "none"},
    {"experiment": "warmup", "warmup": "constant"},
    {"experiment": "rule", "lr_rule": "sqrt"},
    {"experiment": "rule", "lr_rule": "none"},
    {"experiment": "gamma", "zero_gamma": False},
)


def ablation_batches(runs: pd.DataFrame) -> list[int]:
    """The global batches at which some ablation run (warmup, rule or gamma) is in the CSV, ascending."""
    return sorted(int(b) for b in runs.loc[runs["experiment"] != "batch", "global_batch"].unique())


def _wall(runs: pd.DataFrame, frames) -> float | None:
    """Seconds one more seed of the frames' configurations costs (mean wall_s per configuration, summed)."""
    if "wall_s" not in runs.columns:
        return None
    keys = ["experiment", "global_batch", "warmup", "lr_rule", "zero_gamma"]
    d = pd.concat([f for f in frames if len(f)]).drop_duplicates("run_id")
    return float(d.groupby([k for k in keys if k in d.columns], dropna=False).wall_s.mean().sum())


def _curve_matrix(runs: pd.DataFrame, curves: pd.DataFrame, seeds, points: int = 61):
    """Per kn: array [seed, grid] of each run's train-error curve on epochs E/3..E (NaN where missing)."""
    d = runs[(runs["experiment"] == "batch") & runs["seed"].isin(seeds)]
    epochs = float(d["epochs"].iloc[0])
    grid = np.linspace(epochs / 3, epochs, points)
    out, diverged = {}, {}
    for b, g in d.groupby("global_batch"):
        rows = []
        for s in seeds:
            r = g[g["seed"] == s]
            c = curves[curves["run_id"].isin(r["run_id"])].dropna(subset=["train_err"]).sort_values("epoch")
            rows.append(
                np.interp(grid, c["epoch"], c["train_err"], left=np.nan, right=np.nan)
                if len(c) >= 2
                else np.full(points, np.nan)
            )
        out[int(b)] = np.vstack(rows)
        diverged[int(b)] = bool((g["status"] == "diverged").any())
    return out, diverged


def _max_gap(mat: np.ndarray, base: np.ndarray, idx) -> float:
    idx = np.asarray(idx, dtype=int)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            gap = np.nanmean(mat[idx], axis=0) - np.nanmean(base[idx], axis=0)
    ok = np.isfinite(gap)
    return float(np.max(np.abs(gap[ok]))) if ok.any() else float("nan")


def is_v2(runs: pd.DataFrame) -> bool:
    """The CSV holds the second design's runs (collect.py writes design = "v2"; the first CSV has none)."""
    return "design" in runs.columns and bool((runs["design"] == "v2").any())


def claims(data_dir: Path) -> list[dict]:
    """Rows for the README table (see largebatch.report)."""
    spec = load_spec(STUDY)
    runs = pd.read_csv(Path(data_dir) / f"{STUDY}.csv")
    curves = pd.read_csv(Path(data_dir) / f"{STUDY}_curves.csv")
    if "design" in runs.columns and (runs["design"] == "v3").any():
        from . import claims_v3

        v3 = runs[runs["design"] == "v3"]
        return claims_v3.rows(v3, curves, spec)
    if is_v2(runs):
        v2 = runs[runs["design"] == "v2"]
        return claims_v2(v2, curves[curves["run_id"].isin(v2["run_id"])])
    stats = A.batch_stats(runs)
    b_flat, tab = A.flat_region(stats, BASELINE_BATCH)
    b_elb = A.elbow(stats, BASELINE_BATCH, b_flat)
    batch = runs[runs["experiment"] == "batch"]
    rows = []

    def row(cid, ours, result, frames):
        frames = [f for f in frames if len(f)]
        return {
            "id": cid,
            "ours": ours,
            "result": result,
            "csv": CSV,
            "runs": pd.concat(frames) if frames else runs.iloc[:0],
            "wall_per_seed": _wall(runs, frames),
        }

    # (a) flat region, every kn <= 16x baseline
    s = spec["a_flat"]
    seeds = s["seeds"]
    base = _err(batch, seeds, global_batch=BASELINE_BATCH)
    parts = [
        V.equivalence(_err(batch, seeds, global_batch=b), base, s["margin"], label=f"kn={b}")
        for b in s["batch"]
    ]
    res = V.all_of(parts)
    rows.append(
        row(
            "a_flat",
            f"baseline {_ms(base)} %; Δ vs baseline: "
            + ", ".join(f"{p.label[3:]}: {p.estimate:+.2f}" for p in parts)
            + f" pt (B_flat by the means: {b_flat})",
            res,
            [_sel(batch, seeds, global_batch=b) for b in [BASELINE_BATCH, *s["batch"]]],
        )
    )

    # (b) elbow: some kn above the measured B_flat
    s = spec["b_elbow"]
    big = [int(b) for b in sorted(batch["global_batch"].unique()) if b > (b_flat or BASELINE_BATCH)]
    parts = [
        V.difference(
            _err(batch, s["seeds"], global_batch=b), base, s["threshold"], s["direction"], label=f"kn={b}"
        )
        for b in big
    ]
    rows.append(
        row(
            "b_elbow",
            f"elbow at kn = {b_elb}; Δ vs baseline — "
            + "; ".join(f"{p.label[3:]}: {p.estimate:+.2f} pt" for p in parts),
            V.any_of(parts),
            [_sel(batch, s["seeds"], global_batch=b) for b in [BASELINE_BATCH, *big]],
        )
    )

    # (c) warmup at B_ABL
    def warmup(b, seeds):
        grad = _err(batch, seeds, global_batch=b)
        none_, const = (
            _err(runs, seeds, experiment="warmup", global_batch=b, warmup=w) for w in ("none", "constant")
        )
        return grad, none_, const

    s = spec["c_warmup"]
    grad, none_, const = warmup(s["batch"], s["seeds"])
    b0 = _err(batch, s["seeds"], global_batch=BASELINE_BATCH)
    res = V.all_of(
        [
            V.equivalence(grad, b0, s["threshold"], label="gradual"),
            V.difference(none_, b0, s["threshold"], ">", label="none"),
            V.difference(const, b0, s["threshold"], ">", label="constant"),
        ]
    )
    rows.append(
        row(
            "c_warmup",
            f"kn={s['batch']}: gradual {_ms(grad)} ({grad.mean() - b0.mean():+.2f}), none "
            f"{_ms(none_)} ({none_.mean() - b0.mean():+.2f}), constant {_ms(const)} "
            f"({const.mean() - b0.mean():+.2f}) %",
            res,
            [_sel(batch, s["seeds"], global_batch=b) for b in (s["batch"], BASELINE_BATCH)]
            + [_sel(runs, s["seeds"], experiment="warmup", global_batch=s["batch"])],
        )
    )

    # (d) training curves
    s = spec["d_curves"]
    mats, div = _curve_matrix(runs, curves, s["seeds"])
    basem = mats[BASELINE_BATCH]
    k = basem.shape[0]
    inside = [b for b in sorted(mats) if b <= (b_flat or 0) and b != BASELINE_BATCH]
    beyond = [b for b in sorted(mats) if b_elb is not None and b >= b_elb]
    parts = []
    for b, direction in [*((b, "<") for b in inside), *((b, ">") for b in beyond)]:
        if div[b]:  # a diverged run's curve stops: it does not follow the baseline
            parts.append(V.exact(float("inf"), s["threshold"], direction, label=f"kn={b}", what="max |gap|"))
            continue
        parts.append(
            V.bootstrap(
                [np.arange(k)],
                lambda i, b=b: _max_gap(mats[b], basem, i),
                s["threshold"],
                direction,
                label=f"kn={b}",
                what="max |gap|",
            )
        )
    gaps = A.curve_gaps(runs, curves, BASELINE_BATCH).set_index("global_batch")

    def fmt(bs):
        return (
            ", ".join(f"{b}: {gaps.loc[b, 'max_abs_gap']:.2f} ({gaps.loc[b, 'final_gap']:+.2f})" for b in bs)
            or "none"
        )

    rows.append(
        row(
            "d_curves",
            f"max |gap| (pt) after E/3 (gap at the end) — kn ≤ B_flat = {b_flat}: "
            f"{fmt(inside)}; at or beyond the elbow: {fmt(beyond)}",
            V.all_of(parts),
            [_sel(batch, s["seeds"])],
        )
    )

    # (e) scaling rule at B_ABL
    def rule(b, seeds):
        lin = _err(batch, seeds, global_batch=b)
        sq, no = (_err(runs, seeds, experiment="rule", global_batch=b, lr_rule=r) for r in ("sqrt", "none"))
        return lin, sq, no

    s = spec["e_rule"]
    lin, sq, no = rule(s["batch"], s["seeds"])
    res = V.all_of(
        [
            V.difference(sq, lin, s["threshold"], ">", label="sqrt − linear"),
            V.difference(no, lin, s["threshold"], ">", label="none − linear"),
        ]
    )
    rows.append(
        row(
            "e_rule",
            f"kn={s['batch']}: linear {_ms(lin)}, sqrt {_ms(sq)}, none {_ms(no)} %",
            res,
            [
                _sel(batch, s["seeds"], global_batch=s["batch"]),
                _sel(runs, s["seeds"], experiment="rule", global_batch=s["batch"]),
            ],
        )
    )

    # (f) zero gamma at B_ABL
    def gamma(b, seeds):
        return (
            _err(batch, seeds, global_batch=b),
            _err(runs, seeds, experiment="gamma", global_batch=b, zero_gamma=False),
        )

    s = spec["f_gamma"]
    g0, g1 = gamma(s["batch"], s["seeds"])
    rows.append(
        row(
            "f_gamma",
            f"kn={s['batch']}: γ=0 {_ms(g0)} vs γ=1 {_ms(g1)} % (Δ {g0.mean() - g1.mean():+.2f} pt)",
            V.noninferior(g0, g1, s["margin"]),
            [
                _sel(batch, s["seeds"], global_batch=s["batch"]),
                _sel(runs, s["seeds"], experiment="gamma", global_batch=s["batch"]),
            ],
        )
    )

    # exploratory: the ablations added at other batches after the sweep
    for b in (x for x in ablation_batches(runs) if x != B_ABL):
        seeds = spec["c_warmup_2048"]["seeds"]
        grad, none_, const = warmup(b, seeds)
        iv = [V.difference(x, b0, 0.0, ">") for x in (grad, none_, const)]
        rows.append(
            row(
                "c_warmup_2048",
                f"kn={b}: gradual {_ms(grad)} ({iv[0].interval()}), none {_ms(none_)} "
                f"({iv[1].interval()}), constant {_ms(const)} ({iv[2].interval()}) %; Δ vs baseline "
                "[95 % paired interval]",
                None,
                [_sel(runs, seeds, experiment="warmup", global_batch=b)],
            )
        )
        lin, sq, no = rule(b, seeds)
        iv = [V.difference(x, lin, 0.0, ">") for x in (sq, no)]
        rows.append(
            row(
                "e_rule_2048",
                f"kn={b}: linear {_ms(lin)}, sqrt {_ms(sq)} (Δ {iv[0].interval()}), "
                f"none {_ms(no)} (Δ {iv[1].interval()}) %",
                None,
                [_sel(runs, seeds, experiment="rule", global_batch=b)],
            )
        )
        g0, g1 = gamma(b, seeds)
        rows.append(
            row(
                "f_gamma_2048",
                f"kn={b}: γ=0 {_ms(g0)} vs γ=1 {_ms(g1)} % (Δ {V.difference(g0, g1).interval()} pt)",
                None,
                [_sel(runs, seeds, experiment="gamma", global_batch=b)],
            )
        )
    return rows


def claims_v2(runs: pd.DataFrame, curves: pd.DataFrame) -> list[dict]:
    """The second design's rows (claims.toml ids v2_*): every batch fixed before the sweep (config.py)."""
    from . import proxy
    from .config import B_ABL_V2

    spec = load_spec(STUDY)
    batch = runs[runs["experiment"] == "batch"]

    def row(cid, ours, result, frames):
        frames = [f for f in frames if len(f)]
        return {
            "id": cid,
            "ours": ours,
            "result": result,
            "csv": CSV,
            "runs": pd.concat(frames) if frames else runs.iloc[:0],
            "wall_per_seed": _wall(runs, frames),
        }

    def ratio(b):
        return f"{b / proxy.B_SIMPLE:.2g} B_simple"

    rows = []
    s = spec["v2_a_flat"]
    base = _err(batch, s["seeds"], global_batch=BASELINE_BATCH)
    if not len(base):
        return []
    parts = [
        V.equivalence(_err(batch, s["seeds"], global_batch=b), base, s["margin"], label=f"kn={b}")
        for b in s["batch"]
    ]
    rows.append(
        row(
            "v2_a_flat",
            f"baseline {_ms(base)} %; Δ vs baseline: "
            + ", ".join(f"{b} ({ratio(b)}): {p.estimate:+.2f}" for b, p in zip(s["batch"], parts))
            + " pt",
            V.all_of(parts),
            [_sel(batch, s["seeds"], global_batch=b) for b in [BASELINE_BATCH, *s["batch"]]],
        )
    )
    s = spec["v2_b_elbow"]
    b0 = _err(batch, s["seeds"], global_batch=BASELINE_BATCH)
    parts = [
        V.difference(
            _err(batch, s["seeds"], global_batch=b), b0, s["threshold"], s["direction"], label=f"kn={b}"
        )
        for b in s["batch"]
    ]
    rows.append(
        row(
            "v2_b_elbow",
            "Δ vs baseline — "
            + "; ".join(f"{b} ({ratio(b)}): {p.estimate:+.2f} pt" for b, p in zip(s["batch"], parts)),
            V.any_of(parts),
            [_sel(batch, s["seeds"], global_batch=b) for b in [BASELINE_BATCH, *s["batch"]]],
        )
    )
    s = spec["v2_c_warmup"]
    b, seeds = s["batch"], s["seeds"]
    b0 = _err(batch, seeds, global_batch=BASELINE_BATCH)
    grad = _err(batch, seeds, global_batch=b)
    none_, const = (
        _err(runs, seeds, experiment="warmup", global_batch=b, warmup=w) for w in ("none", "constant")
    )
    rows.append(
        row(
            "v2_c_warmup",
            f"kn={b}: gradual {_ms(grad)} ({grad.mean() - b0.mean():+.2f}), none {_ms(none_)} "
            f"({none_.mean() - b0.mean():+.2f}), constant {_ms(const)} ({const.mean() - b0.mean():+.2f}) %",
            V.all_of(
                [
                    V.equivalence(grad, b0, s["threshold"], label="gradual"),
                    V.difference(none_, b0, s["threshold"], ">", label="none"),
                    V.difference(const, b0, s["threshold"], ">", label="constant"),
                ]
            ),
            [_sel(batch, seeds, global_batch=x) for x in (b, BASELINE_BATCH)]
            + [_sel(runs, seeds, experiment="warmup", global_batch=b)],
        )
    )
    s = spec["v2_d_curves"]
    mats, div = _curve_matrix(runs, curves, s["seeds"])
    if BASELINE_BATCH in mats:
        basem, parts = mats[BASELINE_BATCH], []
        k = basem.shape[0]
        for b, direction in [*((b, "<") for b in s["batch_flat"]), *((b, ">") for b in s["batch_beyond"])]:
            if b not in mats:
                continue
            if div[b]:
                parts.append(
                    V.exact(float("inf"), s["threshold"], direction, label=f"kn={b}", what="max |gap|")
                )
                continue
            parts.append(
                V.bootstrap(
                    [np.arange(k)],
                    lambda i, b=b: _max_gap(mats[b], basem, i),
                    s["threshold"],
                    direction,
                    label=f"kn={b}",
                    what="max |gap|",
                )
            )
        gaps = A.curve_gaps(runs, curves, BASELINE_BATCH).set_index("global_batch")

        def fmt(bs):
            return ", ".join(
                f"{b}: {gaps.loc[b, 'max_abs_gap']:.2f} ({gaps.loc[b, 'final_gap']:+.2f})"
                for b in bs
                if b in gaps.index
            )

        rows.append(
            row(
                "v2_d_curves",
                f"max |gap| (pt) after E/3 (gap at the end) — flat side: {fmt(s['batch_flat'])}; beyond: "
                f"{fmt(s['batch_beyond'])}",
                V.all_of(parts),
                [_sel(batch, s["seeds"])],
            )
        )
    s = spec["v2_e_rule"]
    b, seeds = s["batch"], s["seeds"]
    lin = _err(batch, seeds, global_batch=b)
    sq, no = (_err(runs, seeds, experiment="rule", global_batch=b, lr_rule=r) for r in ("sqrt", "none"))
    rows.append(
        row(
            "v2_e_rule",
            f"kn={b}: linear {_ms(lin)}, sqrt {_ms(sq)}, none {_ms(no)} %",
            V.all_of(
                [
                    V.difference(sq, lin, s["threshold"], ">", label="sqrt − linear"),
                    V.difference(no, lin, s["threshold"], ">", label="none − linear"),
                ]
            ),
            [_sel(batch, seeds, global_batch=b), _sel(runs, seeds, experiment="rule", global_batch=b)],
        )
    )
    s = spec["v2_f_gamma"]
    b, seeds = s["batch"], s["seeds"]
    g0 = _err(batch, seeds, global_batch=b)
    g1 = _err(runs, seeds, experiment="gamma", global_batch=b, zero_gamma=False)
    rows.append(
        row(
            "v2_f_gamma",
            f"kn={b}: γ=0 {_ms(g0)} vs γ=1 {_ms(g1)} % (Δ {g0.mean() - g1.mean():+.2f} pt)",
            V.noninferior(g0, g1, s["margin"]),
            [_sel(batch, seeds, global_batch=b), _sel(runs, seeds, experiment="gamma", global_batch=b)],
        )
    )
    s = spec["v2_g_bsimple"]
    lo_b, hi_b = s["batch"]
    b0 = _err(batch, s["seeds"], global_batch=BASELINE_BATCH)
    lo, hi = (_err(batch, s["seeds"], global_batch=x) for x in (lo_b, hi_b))
    rows.append(
        row(
            "v2_g_bsimple",
            f"B_simple = {proxy.B_SIMPLE:,.0f}"
            + (" (provisional)" if proxy.B_SIMPLE_PROVISIONAL else "")
            + f"; kn = {lo_b} ({ratio(lo_b)}): Δ {lo.mean() - b0.mean():+.2f} pt; kn = {hi_b} "
            f"({ratio(hi_b)}): Δ {hi.mean() - b0.mean():+.2f} pt; ablation batch {B_ABL_V2} = "
            f"{ratio(B_ABL_V2)}",
            V.all_of(
                [
                    V.equivalence(lo, b0, s["margin"], label=f"kn={lo_b} flat"),
                    V.difference(hi, b0, s["threshold"], ">", label=f"kn={hi_b} not flat"),
                ]
            ),
            [_sel(batch, s["seeds"], global_batch=x) for x in (BASELINE_BATCH, lo_b, hi_b)],
        )
    )
    return rows


def regime_block() -> str:
    """The paper-vs-proxy table of the second design (proxy.regime_table), from the configs, not the runs."""
    from . import proxy

    rows = pd.DataFrame(proxy.regime_table()).rename(
        columns={"paper": "paper (ResNet-50)", "proxy": "cpu proxy v2"}
    )
    note = (
        f"B_simple = {proxy.B_SIMPLE:,.0f}"
        + (
            " (PROVISIONAL: not yet measured on this network)"
            if proxy.B_SIMPLE_PROVISIONAL
            else " (measured)"
        )
        + f"; STEPS_LARGEST = {proxy.STEPS_LARGEST} at the image of 32k; E = {proxy.E_CPU:.2f} epochs for "
        "every kn; ablations at the image of 8k."
    )
    from .config import grid

    b, b1 = proxy.budget(grid("cpu")), proxy.budget(grid("cpu_v1"))
    note += (
        f" Budget estimate of the v2 cpu grid: {b['runs']} runs, {b['minutes']:.1f} min of summed run wall "
        "time (examples / the first design's measured examples/s per kn on this machine, plus "
        f"evaluations, times {b['safety']:g} for safety; the same estimate gives {b1['minutes']:.1f} min for "
        "the first design's 57 runs)."
    )
    return markdown_table(rows) + "\n\n" + note


def readme_blocks(data_dir: Path) -> dict[str, str | None]:
    """The study README's generated blocks (written by `python -m largebatch.report`)."""
    from .config import B_ABL_FLAT

    runs = pd.read_csv(Path(data_dir) / f"{STUDY}.csv")
    curves = pd.read_csv(Path(data_dir) / f"{STUDY}_curves.csv")
    batch = runs[runs.experiment == "batch"]
    stats = A.batch_stats(runs)
    b_flat, flat = A.flat_region(stats, BASELINE_BATCH)
    b_elbow = A.elbow(stats, BASELINE_BATCH, b_flat)
    base = flat[flat.global_batch == BASELINE_BATCH].iloc[0]
    per_b = batch.groupby("global_batch").agg(
        lr=("lr_peak", "first"), steps=("steps", "first"), samples_per_s=("samples_per_s", "median")
    )
    table = flat.set_index("global_batch").join(per_b).reset_index()
    table = pd.DataFrame(
        {
            "kn": table.global_batch,
            "η = 0.1·kn/256": table.lr.map(lambda v: f"{v:g}"),
            "steps": table.steps,
            "test error % (mean ± std, n)": [
                fmt_mean_std(A.error_for_stats(batch[batch.global_batch == b]), 2) for b in table.global_batch
            ],
            "train error %": [
                fmt_mean_std(batch.loc[batch.global_batch == b, "final_train_err"], 2)
                for b in table.global_batch
            ],
            "Δ vs kn=256 (pt)": table.delta.map(lambda v: f"{v:+.2f}"),
            "within max(0.3, 2σ) (means)": table.within.map({True: "yes", False: "no"}),
            "diverged": table.diverged,
            "examples/s (median)": table.samples_per_s.map(lambda v: f"{v:,.0f}"),
        }
    )
    abl_batches = ablation_batches(runs)

    def settings(b):
        at, grad = runs[runs.global_batch == b], batch[batch.global_batch == b]
        return [
            ("warmup: none", at[(at.experiment == "warmup") & (at.warmup == "none")]),
            ("warmup: constant", at[(at.experiment == "warmup") & (at.warmup == "constant")]),
            ("warmup: gradual", grad),
            ("rule: none", at[(at.experiment == "rule") & (at.lr_rule == "none")]),
            ("rule: sqrt", at[(at.experiment == "rule") & (at.lr_rule == "sqrt")]),
            ("rule: linear", grad),
            ("BN init: γ=1", at[at.experiment == "gamma"]),
            ("BN init: γ=0", grad),
        ]

    abl = pd.DataFrame(
        [
            {
                "kn": b,
                "setting": k,
                "mean": A.error_for_stats(g).mean(),
                "std": A.error_for_stats(g).std(ddof=1),
                "n": len(g),
            }
            for b in abl_batches
            for k, g in settings(b)
        ]
    )
    names = list(dict.fromkeys(abl.setting))
    abl_tab = pd.DataFrame({"setting": names})
    for b in abl_batches:
        sets = dict(settings(b))
        abl_tab[f"kn={b}: η"] = [f"{sets[k].lr_peak.iloc[0]:.3g}" for k in names]
        abl_tab[f"kn={b}: test error % (mean ± std, n)"] = [
            fmt_mean_std(A.error_for_stats(sets[k]), 2) for k in names
        ]
        abl_tab[f"kn={b}: Δ vs kn={BASELINE_BATCH} (pt)"] = [
            f"{A.error_for_stats(sets[k]).mean() - base['mean']:+.2f}" for k in names
        ]
    keys = ["experiment", "global_batch", "warmup", "lr_rule", "zero_gamma"]
    typical = runs.groupby(keys)["wall_s"].transform("median")  # robust to a run slowed by another job
    added = runs[(runs.experiment != "batch") & (runs.global_batch == B_ABL_FLAT)]  # run after the sweep
    timing = (
        f"{len(runs)} runs ({len(runs) - len(added)} in the original sweep, plus {len(added)} ablation "
        f"runs at kn = {B_ABL_FLAT} added after it: {added.wall_s.sum() / 60:.1f} min of `wall_s`, "
        f"{added.train_s.sum() / 60:.1f} min in training steps); "
        f"{runs.wall_s.sum() / 60:.1f} min of run wall time in total (sum of `wall_s`, "
        f"{runs.train_s.sum() / 60:.1f} min of it in training steps); {typical.sum() / 60:.1f} min with "
        f"each run's time replaced by the median of its configuration's seeds; one process on 2 CPU cores "
        f"({runs['meta.device'].iloc[0]}, torch {runs['meta.torch'].iloc[0]})."
    )
    gaps = A.curve_gaps(runs, curves, BASELINE_BATCH).set_index("global_batch")
    st = stats.set_index("global_batch")
    steps = batch.groupby("global_batch")["steps"].first()
    bad = [b for b in st.index if st.loc[b, "mean"] > 50]
    m = abl.set_index(["kn", "setting"])["mean"]
    ref = {
        "warmup: none": "warmup: gradual",
        "warmup: constant": "warmup: gradual",
        "rule: sqrt": "rule: linear",
        "rule: none": "rule: linear",
        "BN init: γ=1": "BN init: γ=0",
    }
    cost = {b: {k: m[b, k] - m[b, r] for k, r in ref.items()} for b in abl_batches}

    def abl_bullet(b):
        c = {k: round(v, 2) + 0.0 for k, v in cost[b].items()}  # + 0.0: no "-0.00"
        eta = batch.loc[batch.global_batch == b, "lr_peak"].iloc[0]
        sd = abl.loc[abl.kn == b, "std"].max()
        return (
            f"- At kn = {b} ({b / BASELINE_BATCH:.3g}× the baseline, η = {eta:g}) the change of the mean "
            f"test error against the same-kn run with gradual warmup, the linear rule and γ = 0 is: "
            f"no warmup {c['warmup: none']:+.2f} pt, constant warmup {c['warmup: constant']:+.2f} pt, "
            f"sqrt scaling {c['rule: sqrt']:+.2f} pt, no scaling {c['rule: none']:+.2f} pt, "
            f"γ = 1 {c['BN init: γ=1']:+.2f} pt; seed standard deviations of the eight settings up to "
            f"{sd:.2f} pt (the claims table gives each comparison's interval)."
        )

    lo, hi = min(abl_batches), max(abl_batches)
    grew = [k for k in ref if cost[hi][k] > cost[lo][k]]
    findings = "\n".join(
        [
            f"- The flat region (by the means) ends at B_flat = {b_flat} = {b_flat // BASELINE_BATCH}× the "
            f"baseline (the issue asks ≥ 16×); the elbow is at kn = {b_elbow} "
            f"({int(steps[b_elbow])} steps in the run), and kn ≥ {min(bad)} (η ≥ {0.1 * min(bad) / 256:g}) "
            "end near chance error "
            f"({int(st.loc[bad, 'diverged'].sum())} of {int(st.loc[bad, 'n'].sum())} such runs diverged "
            "outright)."
            if b_flat and b_elbow and bad
            else f"- B_flat = {b_flat}, elbow = {b_elbow}.",
            f"- At B_flat the test error is within tolerance "
            f"({st.loc[b_flat, 'mean'] - base['mean']:+.2f} pt) but the train error ends "
            f"{gaps.loc[b_flat, 'final_gap']:+.2f} pt above the baseline's: the larger "
            "batch fits the training set less and generalises as well, so here the train curve is a stricter "
            "test than the test error."
            if b_flat
            else "",
            *[abl_bullet(b) for b in abl_batches],
            (
                f"- From kn = {lo} to kn = {hi}, {len(grew)} of the {len(ref)} ablations cost more in the "
                "means"
                + (" (every one)" if len(grew) == len(ref) else f" ({', '.join(grew) or 'none'})")
                + f"; the verdicts are judged at kn = {B_ABL}, fixed before the sweep, and kn = {hi} is "
                "exploratory."
                if len(abl_batches) > 1
                else ""
            ),
        ]
    )
    if is_v2(runs):
        timing = (
            f"{len(runs)} runs (second design); {runs.wall_s.sum() / 60:.1f} min of run wall time (sum of "
            f"`wall_s`, {runs.train_s.sum() / 60:.1f} min of it in training steps); "
            f"{typical.sum() / 60:.1f} min with each run's time replaced by the median of its "
            f"configuration's seeds; one process on 2 CPU cores ({runs['meta.device'].iloc[0]}, torch "
            f"{runs['meta.torch'].iloc[0]})."
        )
        from . import proxy

        findings = "\n".join(
            [
                f"- The flat region (by the means) ends at B_flat = {b_flat} = {b_flat / proxy.B_SIMPLE:.2g} "
                f"B_simple; the elbow (≥ 1 pt by the means) is at kn = {b_elbow}"
                + (f" = {b_elbow / proxy.B_SIMPLE:.2g} B_simple." if b_elbow else ".")
                if b_flat
                else f"- B_flat = {b_flat}, elbow = {b_elbow}.",
                "- Train error at the end against the baseline's (seed means): "
                + ", ".join(
                    f"kn = {b}: {gaps.loc[b, 'final_gap']:+.2f} pt ({int(steps[b]):,} steps)"
                    for b in gaps.index
                    if b != BASELINE_BATCH
                )
                + ".",
                *[abl_bullet(b) for b in abl_batches],
            ]
        )
    return {
        "batch": markdown_table(table),
        "claims": None,
        "ablations": markdown_table(abl_tab),
        "timing": timing,
        "findings": findings,
        "regime": regime_block(),
    }
