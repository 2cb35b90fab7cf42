"""Goyal et al.'s claims on the third design (v3, issue 28): the ladder placed against the failure batch B*.

One function per claim id of claims.toml (ids v3_*), each taking the study's data (`Data`: the v3 runs and
curves) and its spec and returning one row for largebatch.report; `CLAIMS` maps the ids to them. Errors are
Goyal's model error in percent (the median of the final 5/90 of training; a diverged run: 90 %), arms compared
paired by seed. The batches are the spec's (fixed before the runs), nothing is chosen from the results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from largebatch import verdict as V
from largebatch.results import fmt_mean_std

from . import analysis as A

STUDY = "goyal_linear_scaling"
CSV = f"paper_figures/data/{STUDY}.csv"
BASELINE = 256


@dataclass(frozen=True)
class Data:
    """The v3 runs (one row each) and their evaluation curves."""

    runs: pd.DataFrame
    curves: pd.DataFrame

    @property
    def batch(self) -> pd.DataFrame:
        return self.runs[self.runs["experiment"] == "batch"]


def _sel(runs: pd.DataFrame, seeds=None, **match) -> pd.DataFrame:
    d = runs
    for k, v in match.items():
        d = d[d[k] == v]
    return d if seeds is None else d[d["seed"].isin(seeds)]


def _err(runs: pd.DataFrame, seeds=None, **match) -> pd.Series:
    """Per-seed error (%) of the runs matching `match`, indexed by seed (diverged: 90 %)."""
    d = _sel(runs, seeds, **match)
    return A.error_for_stats(d).set_axis(d["seed"]).rename_axis("seed").sort_index()


def _wall(runs: pd.DataFrame, frames) -> float | None:
    """Seconds one more seed of the frames' configurations costs (mean wall_s per configuration, summed)."""
    d = pd.concat([f for f in frames if len(f)]) if any(len(f) for f in frames) else runs.iloc[:0]
    if "wall_s" not in d.columns or not len(d):
        return None
    keys = ["experiment", "global_batch", "warmup", "lr_rule", "zero_gamma"]
    d = d.drop_duplicates("run_id")
    return float(d.groupby([k for k in keys if k in d.columns], dropna=False).wall_s.mean().sum())


def _row(data: Data, cid: str, ours: str, result, frames) -> dict:
    frames = [f for f in frames if len(f)]
    return {
        "id": cid,
        "ours": ours,
        "result": result,
        "csv": CSV,
        "runs": pd.concat(frames) if frames else data.runs.iloc[:0],
        "wall_per_seed": _wall(data.runs, frames),
    }


def _bstar(b: int) -> str:
    from .proxy import B_STAR_V3

    return f"{b / B_STAR_V3:.2f} B*"


def a_flat(data: Data, s: dict) -> dict:
    base = _err(data.batch, s["seeds"], global_batch=BASELINE)
    parts = [
        V.equivalence(_err(data.batch, s["seeds"], global_batch=b), base, s["margin"], label=f"kn={b}")
        for b in s["batch"]
    ]
    ours = f"baseline {fmt_mean_std(base, 2)} %; Δ vs baseline: " + ", ".join(
        f"{b} ({_bstar(b)}): {p.estimate:+.2f}" for b, p in zip(s["batch"], parts)
    )
    frames = [_sel(data.batch, s["seeds"], global_batch=b) for b in [BASELINE, *s["batch"]]]
    return _row(data, s["id"], ours + " pt", V.all_of(parts), frames)


def _diff_row(data: Data, s: dict, result_of) -> dict:
    """A one-batch difference claim against kn = 256: `result_of(a, b0)` decides it."""
    b = s["batch"]
    b0 = _err(data.batch, s["seeds"], global_batch=BASELINE)
    x = _err(data.batch, s["seeds"], global_batch=b)
    diverged = int((_sel(data.batch, s["seeds"], global_batch=b)["status"] == "diverged").sum())
    ours = (
        f"kn={b} ({_bstar(b)}): {fmt_mean_std(x, 2)} vs {fmt_mean_std(b0, 2)} % at 256 "
        f"(Δ {x.mean() - b0.mean():+.2f} pt)"
    )
    if diverged:
        ours += f"; {diverged} diverged (counted at 90 %)"
    frames = [_sel(data.batch, s["seeds"], global_batch=k) for k in (BASELINE, b)]
    return _row(data, s["id"], ours, result_of(x, b0), frames)


def b_fails(data: Data, s: dict) -> dict:
    return _diff_row(data, s, lambda x, b0: V.difference(x, b0, s["threshold"], s["direction"]))


def g_bstar(data: Data, s: dict) -> dict:
    lo, hi = s["band"]
    return _diff_row(data, s, lambda x, b0: V.difference_band(x, b0, lo, hi))


def _curve_matrix(runs: pd.DataFrame, curves: pd.DataFrame, seeds, points: int = 61):
    """Per kn: array [seed, grid] of each run's train-error curve on epochs E/3..E (NaN where missing)."""
    d = runs[(runs["experiment"] == "batch") & runs["seed"].isin(seeds)]
    epochs = float(d["epochs"].iloc[0])
    grid = np.linspace(epochs / 3, epochs, points)
    out, diverged = {}, {}
    for b, g in d.groupby("global_batch"):
        rows = []
        for seed in seeds:
            r = g[g["seed"] == seed]
            c = curves[curves["run_id"].isin(r["run_id"])].dropna(subset=["train_err"]).sort_values("epoch")
            ok = len(c) >= 2
            rows.append(
                np.interp(grid, c["epoch"], c["train_err"], left=np.nan, right=np.nan)
                if ok
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


def d_curves(data: Data, s: dict) -> dict | None:
    mats, div = _curve_matrix(data.runs, data.curves, s["seeds"])
    if BASELINE not in mats:
        return None
    basem, parts = mats[BASELINE], []
    k = basem.shape[0]
    for b, direction in [*((b, "<") for b in s["batch_flat"]), *((b, ">") for b in s["batch_beyond"])]:
        if b not in mats:
            continue
        if div[b]:
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
    gaps = A.curve_gaps(data.runs, data.curves, BASELINE).set_index("global_batch")

    def fmt(bs):
        g = gaps.loc[[b for b in bs if b in gaps.index]]
        return ", ".join(f"{b}: {r.max_abs_gap:.2f} ({r.final_gap:+.2f})" for b, r in g.iterrows())

    ours = (
        f"max |gap| (pt) after E/3 (gap at the end) — flat side: {fmt(s['batch_flat'])}; beyond: "
        f"{fmt(s['batch_beyond'])}"
    )
    return _row(data, s["id"], ours, V.all_of(parts), [_sel(data.batch, s["seeds"])])


def _ablation_row(data: Data, s: dict, arms: list[tuple[str, dict]], ref: pd.Series, ref_name: str) -> dict:
    """Each ablation arm minus the reference arm at the spec's batch, paired by seed; every part must pass."""
    b, seeds = s["batch"], s["seeds"]
    errs = [(name, _err(data.runs, seeds, global_batch=b, **m)) for name, m in arms]
    parts = [V.difference(e, ref, s["threshold"], s["direction"], label=f"{n} − {ref_name}") for n, e in errs]
    ours = f"kn={b}: {ref_name} {fmt_mean_std(ref, 2)}, " + ", ".join(
        f"{n} {fmt_mean_std(e, 2)} ({e.mean() - ref.mean():+.2f})" for n, e in errs
    )
    frames = [_sel(data.batch, seeds, global_batch=b)] + [
        _sel(data.runs, seeds, global_batch=b, **m) for _, m in arms
    ]
    return _row(data, s["id"], ours + " %", V.all_of(parts), frames)


def c_warmup(data: Data, s: dict) -> dict:
    grad = _err(data.batch, s["seeds"], global_batch=s["batch"])
    arms = [(w, {"experiment": "warmup", "warmup": w}) for w in ("none", "constant")]
    return _ablation_row(data, s, arms, grad, "gradual")


def e_rule(data: Data, s: dict) -> dict:
    lin = _err(data.batch, s["seeds"], global_batch=s["batch"])
    arms = [(r, {"experiment": "rule", "lr_rule": r}) for r in ("sqrt", "none")]
    return _ablation_row(data, s, arms, lin, "linear")


def f_gamma(data: Data, s: dict) -> dict:
    g0 = _err(data.batch, s["seeds"], global_batch=s["batch"])
    return _ablation_row(data, s, [("γ=1", {"experiment": "gamma", "zero_gamma": False})], g0, "γ=0")


CLAIMS = {
    "v3_a_flat": a_flat,
    "v3_b_fails": b_fails,
    "v3_g_bstar": g_bstar,
    "v3_d_curves": d_curves,
    "v3_c_warmup": c_warmup,
    "v3_e_rule": e_rule,
    "v3_f_gamma": f_gamma,
}


def rows(runs: pd.DataFrame, curves: pd.DataFrame, spec: dict) -> list[dict]:
    """Every v3 row (None from a claim without its runs is skipped)."""
    data = Data(runs, curves[curves["run_id"].isin(runs["run_id"])])
    out = [fn(data, spec[cid]) for cid, fn in CLAIMS.items()]
    return [r for r in out if r is not None]
