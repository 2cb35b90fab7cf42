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

from largebatch import bstar
from largebatch import verdict as V
from largebatch.claims import Row, claim
from largebatch.formatting import fmt_mean_std, markdown_table
from largebatch.proxies import B_STAR_V3, FMNIST_N, regime_table_v3

from . import analysis as A
from .config import B_ABL, BATCHES, DESIGN, STUDY, E

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
    runs = runs[runs["design"] == DESIGN]
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


# ---- the study README's tables (no claims: `python -m largebatch.report` writes them as generated blocks)
REFERENCE = {"warmup": "gradual", "rule": "linear", "gamma": "γ=0"}  # the batch sweep's run at B_ABL


def ablation_settings(d: Data, b: int = B_ABL) -> list[tuple[str, str, pd.DataFrame]]:
    """(group, setting, runs) of Tables 1, 2a, 2b at kn = b, the reference first in each group (gradual
    warmup, the linear rule and γ = 0 are the batch sweep's run at b)."""
    at, ref = d.runs[d.runs.global_batch == b], d.batch[d.batch.global_batch == b]
    return [
        ("warmup", "gradual", ref),
        ("warmup", "none", _sel(at, experiment="warmup", warmup="none")),
        ("warmup", "constant", _sel(at, experiment="warmup", warmup="constant")),
        ("rule", "linear", ref),
        ("rule", "sqrt", _sel(at, experiment="rule", lr_rule="sqrt")),
        ("rule", "none", _sel(at, experiment="rule", lr_rule="none")),
        ("gamma", "γ=0", ref),
        ("gamma", "γ=1", _sel(at, experiment="gamma")),
    ]


def batch_table(d: Data) -> pd.DataFrame:
    """The batch sweep: one row per kn, its place against B*, η, steps, test and train error."""
    base = A.error_for_stats(d.batch[d.batch.global_batch == BASELINE]).mean()
    rows = []
    for kn, g in d.batch.groupby("global_batch"):
        err = A.error_for_stats(g)
        rows.append(
            {
                "kn": int(kn),
                "B / B*": f"{kn / B_STAR_V3:.2f}",
                "η = 0.1·kn/256": f"{g.lr_peak.iloc[0]:g}",
                "steps": f"{int(g.steps.iloc[0]):,}",
                "test error % (mean ± std, n)": fmt_mean_std(err, 2),
                f"Δ vs kn={BASELINE} (pt)": f"{err.mean() - base:+.2f}",
                "train error % (mean ± std, n)": fmt_mean_std(g.final_train_err, 2),
            }
        )
    return pd.DataFrame(rows)


def ablation_table(d: Data) -> pd.DataFrame:
    """The ablations at B_ABL: η, test error, change against the same-kn reference and against kn = 256."""
    base = A.error_for_stats(d.batch[d.batch.global_batch == BASELINE]).mean()
    sets = ablation_settings(d)
    ref = {grp: A.error_for_stats(g).mean() for grp, name, g in sets if name == REFERENCE[grp]}
    return pd.DataFrame(
        [
            {
                "table": {"warmup": "1 (warmup)", "rule": "2a (lr rule)", "gamma": "2b (BN γ init)"}[grp],
                "setting": name + (" (reference)" if name == REFERENCE[grp] else ""),
                "η": f"{g.lr_peak.iloc[0]:.3g}",
                "test error % (mean ± std, n)": fmt_mean_std(A.error_for_stats(g), 2),
                "Δ vs reference (pt)": (
                    "" if name == REFERENCE[grp] else f"{A.error_for_stats(g).mean() - ref[grp]:+.2f}"
                ),
                f"Δ vs kn={BASELINE} (pt)": f"{A.error_for_stats(g).mean() - base:+.2f}",
            }
            for grp, name, g in sets
        ]
    )


def findings(d: Data) -> str:
    """Bullets of what the CSVs show, in the seed means (the claims table carries the intervals)."""
    err = {int(kn): A.error_for_stats(g).mean() for kn, g in d.batch.groupby("global_batch")}
    delta = {kn: e - err[BASELINE] for kn, e in err.items()}
    flat, past = [b for b in BATCHES if BASELINE < b <= B_STAR_V3], [b for b in BATCHES if b > B_STAR_V3]
    gaps = A.curve_gaps(d.runs, d.curves, BASELINE).set_index("global_batch")
    sets = ablation_settings(d)
    ref = {grp: A.error_for_stats(g).mean() for grp, name, g in sets if name == REFERENCE[grp]}
    words = {"none": "no {}", "constant": "constant warmup", "sqrt": "sqrt scaling", "γ=1": "γ = 1"}
    cost = [
        f"{words[name].format('warmup' if grp == 'warmup' else 'scaling')} "
        f"{A.error_for_stats(g).mean() - ref[grp] + 0.0:+.2f} pt"  # + 0.0: no "-0.00"
        for grp, name, g in sets
        if name != REFERENCE[grp]
    ]
    sd = max(A.error_for_stats(g).std(ddof=1) for _, _, g in sets)
    n_div = int((d.runs.status == "diverged").sum())

    def at(bs):
        return ", ".join(f"{b} ({_bstar(b)}) {delta[b]:+.2f}" for b in bs)

    return "\n".join(
        [
            f"- Test error against kn = {BASELINE} ({err[BASELINE]:.2f} %), seed means: below B*, "
            f"{at(flat)} pt; past B*, {at(past)} pt. {n_div} of {len(d.runs)} runs diverged.",
            "- Train error (the seed-mean curves on the fixed 10k training subset) at the last epoch every "
            f"run evaluated (epoch {gaps.end_epoch.min():.3f} of {d.batch.epochs.iloc[0]:g}), against the "
            "baseline's: "
            + ", ".join(f"kn = {b} {gaps.loc[b, 'final_gap']:+.2f} pt" for b in BATCHES if b != BASELINE)
            + ".",
            f"- Ablations at kn = {B_ABL} (the image of 8k, {_bstar(B_ABL)}), each against the same-kn run "
            f"with gradual warmup, the linear rule and γ = 0: {', '.join(cost)}; seed standard deviations of "
            f"the eight settings up to {sd:.2f} pt.",
        ]
    )


def timing(d: Data) -> str:
    """Summed run time from the CSV (the sweep's machine time is not in it: runs shared the cores)."""
    r = d.runs
    shas = ", ".join(f"`{s[:7]}`" for s in sorted(r["meta.git_sha"].dropna().unique()))
    return (
        f"{len(r)} runs, every one made at commit {shas}: {r.wall_s.sum() / 60:.1f} min of summed run wall "
        f"time (`wall_s`; {r.train_s.sum() / 60:.1f} min of it in training steps), on "
        f"{r['meta.device'].iloc[0]} with torch {r['meta.torch'].iloc[0]}. The sweep ran two runs at a time "
        "sharing the machine's 2 CPU cores, so each run's wall time includes the other's load and the sum "
        "exceeds the sweep's machine time (which the CSV does not record)."
    )


def probe_fit(data_dir: Path) -> dict:
    """The failure_batch probe of this proxy at E (calibration seeds): its fit of S(B) = S_min (1 + B_crit
    / B) and its model-free B*, computed from paper_figures/data/failure_batch.csv (largebatch.bstar)."""
    fb = pd.read_csv(Path(data_dir) / "failure_batch.csv")
    fb = fb[fb["probe"] == "goyal"]
    a = bstar.analyse(fb, BASELINE, E, FMNIST_N)
    return {**a, "seeds": sorted(int(s) for s in fb.seed.unique())}


def regime_block(data_dir: Path) -> str:
    """Paper vs proxy (largebatch.proxies.regime_table_v3) with the probe's fit, and where B* comes from."""
    p = probe_fit(data_dir)
    f = p["fit"]
    table = markdown_table(pd.DataFrame(regime_table_v3((f.s_min, f.b_crit) if f else None)))
    seeds = f"{p['seeds'][0]}-{p['seeds'][-1]}" if p["seeds"] else "none"
    note = (
        f"B* = {B_STAR_V3:,.0f} (largebatch.proxies.B_STAR_V3, fixed before the runs): the experiments/"
        f"failure_batch probe's model-free B* at E = {E:g}, the batch where the plain recipe's error is "
        f"{bstar.DELTA_PT:g} pt above the baseline's ({p['b_star_gap']:,.0f} as recomputed here from "
        f"failure_batch.csv; calibration seeds {seeds}). "
    )
    if f:
        note += (
            f"The probe's steps to its target at E = {E:g}, fitted by S(B) = S_min (1 + B_crit / B) over "
            f"{f.n_batches} uncensored batches: S_min = {f.s_min:,.0f} steps, B_crit = {f.b_crit:,.0f}, so "
            f"E N / S_min − B_crit = {f.b_star:,.0f}; their intervals are in experiments/failure_batch/"
            "README.md. "
        )
    note += (
        "The paper's B* is the same model-free rule on Goyal's Table 3a (largebatch.bstar.paper_b_star); its "
        "S(B) is not published (no B_crit), so its S / S(B) column assumes B_crit ≪ B."
    )
    return table + "\n\n" + note


def readme_blocks(data_dir: Path) -> dict[str, str | None]:
    """The study README's generated blocks (written by `python -m largebatch.report`)."""
    d = load(data_dir)
    return {
        "batch": markdown_table(batch_table(d)),
        "claims": None,
        "ablations": markdown_table(ablation_table(d)),
        "timing": timing(d),
        "findings": findings(d),
        "regime": regime_block(data_dir),
    }
