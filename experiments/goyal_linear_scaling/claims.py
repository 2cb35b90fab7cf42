"""Goyal et al.'s claims on the third design (v3, issue 28): the ladder placed against the failure batch B*.

The claims are data in claims.toml (ids v3_*), one registered function each (largebatch.claims), in the
order of the README table. Errors are Goyal's model error in percent (the median of the final 5/90 of
training; a diverged run: 90 %), arms compared paired by seed. The batches are the spec's (fixed before the
runs), nothing is chosen from the results. The first two designs' claims are in git history (the README
names the commits).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from largebatch import verdict as V
from largebatch.claims import Row, claim
from largebatch.formatting import fmt_mean_std, markdown_table
from largebatch.proxies import B_STAR_V3

from . import analysis as A
from .config import B_ABL, BASELINE_BATCH, DESIGN_V3, STUDY

BASELINE = 256


@dataclass(frozen=True)
class Data:
    """The v3 runs (one row each) and their evaluation curves."""

    runs: pd.DataFrame
    curves: pd.DataFrame

    @property
    def batch(self) -> pd.DataFrame:
        return self.runs[self.runs["experiment"] == "batch"]


def load(data_dir: Path) -> Data:
    """The v3 rows of goyal_linear_scaling{,_curves}.csv (collect.py writes design = "v3")."""
    runs = pd.read_csv(Path(data_dir) / f"{STUDY}.csv")
    curves = pd.read_csv(Path(data_dir) / f"{STUDY}_curves.csv")
    runs = runs[runs["design"] == DESIGN_V3]
    return Data(runs, curves[curves["run_id"].isin(runs["run_id"])])


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


def _row(data: Data, ours: str, result, frames) -> Row:
    """The row: `ours`, the verdict, and the runs of `frames` (what one more seed of them costs)."""
    frames = [f for f in frames if len(f)]
    runs = pd.concat(frames) if frames else data.runs.iloc[:0]
    return Row(ours, result, runs=runs, wall_per_seed=_wall(data.runs, frames))


def _bstar(b: int) -> str:
    return f"{b / B_STAR_V3:.2f} B*"


@claim("v3_a_flat")
def a_flat(data: Data, s: dict) -> Row:
    """(a) Fig. 1: the images of 4k and 8k each within the margin of kn = 256 (TOST, every batch)."""
    base = _err(data.batch, s["seeds"], global_batch=BASELINE)
    parts = [
        V.equivalence(_err(data.batch, s["seeds"], global_batch=b), base, s["margin"], label=f"kn={b}")
        for b in s["batch"]
    ]
    ours = f"baseline {fmt_mean_std(base, 2)} %; Δ vs baseline: " + ", ".join(
        f"{b} ({_bstar(b)}): {p.estimate:+.2f}" for b, p in zip(s["batch"], parts)
    )
    frames = [_sel(data.batch, s["seeds"], global_batch=b) for b in [BASELINE, *s["batch"]]]
    return _row(data, ours + " pt", V.all_of(parts), frames)


def _diff_row(data: Data, s: dict, result_of) -> Row:
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
    return _row(data, ours, result_of(x, b0), frames)


@claim("v3_b_fails")
def b_fails(data: Data, s: dict) -> Row:
    """(b) the failure past B*: the image of 32k more than the threshold worse than kn = 256."""
    return _diff_row(data, s, lambda x, b0: V.difference(x, b0, s["threshold"], s["direction"]))


@claim("v3_g_bstar")
def g_bstar(data: Data, s: dict) -> Row:
    """(g) B* from calibration seeds predicts fresh seeds: the image of 16k inside the spec's band."""
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
    """The largest |seed-mean gap| of the curves `mat` to `base` over the seeds `idx` (NaN points ignored)."""
    idx = np.asarray(idx, dtype=int)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gap = np.nanmean(mat[idx], axis=0) - np.nanmean(base[idx], axis=0)
    ok = np.isfinite(gap)
    return float(np.max(np.abs(gap[ok]))) if ok.any() else float("nan")


@claim("v3_d_curves")
def d_curves(data: Data, s: dict) -> Row | None:
    """(d) Fig. 2/4: the largest train-error gap to the baseline after E/3 below the threshold on the flat
    side, above it beyond B* (bootstrap over seeds; a diverged batch's gap is infinite)."""
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
    return _row(data, ours, V.all_of(parts), [_sel(data.batch, s["seeds"])])


def _ablation_row(data: Data, s: dict, arms: list[tuple[str, dict]], ref: pd.Series, ref_name: str) -> Row:
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
    return _row(data, ours + " %", V.all_of(parts), frames)


@claim("v3_c_warmup")
def c_warmup(data: Data, s: dict) -> Row:
    """(c) Table 1 at the image of 8k: no warmup and constant warmup each worse than gradual warmup."""
    grad = _err(data.batch, s["seeds"], global_batch=s["batch"])
    arms = [(w, {"experiment": "warmup", "warmup": w}) for w in ("none", "constant")]
    return _ablation_row(data, s, arms, grad, "gradual")


@claim("v3_e_rule")
def e_rule(data: Data, s: dict) -> Row:
    """(e) Table 2a at the image of 8k: the linear rule beats the square-root rule and no scaling."""
    lin = _err(data.batch, s["seeds"], global_batch=s["batch"])
    arms = [(r, {"experiment": "rule", "lr_rule": r}) for r in ("sqrt", "none")]
    return _ablation_row(data, s, arms, lin, "linear")


@claim("v3_f_gamma")
def f_gamma(data: Data, s: dict) -> Row:
    """(f) Table 2b at the image of 8k: γ = 0 in the last BN of each residual block beats γ = 1."""
    g0 = _err(data.batch, s["seeds"], global_batch=s["batch"])
    return _ablation_row(data, s, [("γ=1", {"experiment": "gamma", "zero_gamma": False})], g0, "γ=0")


def ablation_batches(runs: pd.DataFrame) -> list[int]:
    """The global batches at which some ablation run (warmup, rule or gamma) is in the CSV, ascending."""
    return sorted(int(b) for b in runs.loc[runs["experiment"] != "batch", "global_batch"].unique())


def is_v2(runs: pd.DataFrame) -> bool:
    """The CSV holds the second design's runs (collect.py writes design = "v2"; the first CSV has none)."""
    return "design" in runs.columns and bool((runs["design"] == "v2").any())


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
