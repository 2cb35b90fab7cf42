"""Goyal et al.'s claims, judged from paper_figures/data/goyal_linear_scaling{,_curves}.csv.

`claims(data_dir)` is read by `python -m largebatch.report`. The criteria are the issue's (issue 5,
"Reproduced means"), fixed before the sweep ran, with the baseline kn = 256 (Goyal's 8 x 32) and errors in
percent points (pt), mean over seeds:
  (a) flat region: every kn <= B_flat, with B_flat >= 16x the baseline batch, is within max(0.3 pt, 2 sigma)
      of the baseline error (sigma = the baseline's seed std);
  (b) an elbow: some larger kn is >= 1 pt worse;
  (c) at B_flat gradual warmup is within 0.3 pt of baseline while no warmup and constant warmup are each
      >= 0.3 pt worse;
  (d) train-error curves for kn <= B_flat stay within 1 pt of the baseline curve after the first third of
      training and those beyond the elbow do not;
  (e) linear beats sqrt and no scaling at B_flat (lower mean error);
  (f) gamma = 0 init is no worse than gamma = 1 (mean error not higher).
The ablations (c, e, f) ran first at config.B_ABL = 1024, chosen before the sweep from one calibration
seed, and then at the B_flat the 3-seed sweep measured (config.B_ABL_FLAT = 2048). Each of (c), (e), (f) is
judged at the measured B_flat when all of its ablation runs exist there, else at B_ABL (the row says so);
the numbers at every other ablation batch in the CSV follow in the row's `ours` text, for information.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import analysis as A
from .config import B_ABL, BASELINE_BATCH, STUDY

FIG_BATCH = f"paper_figures/{STUDY}_error_vs_batch.png"
FIG_CURVES = f"paper_figures/{STUDY}_curves.png"
FIG_ABL = f"paper_figures/{STUDY}_ablations.png"


def _ms(s: pd.Series) -> str:
    m, sd, n = float(s.mean()), float(s.std(ddof=1)) if len(s) > 1 else float("nan"), len(s)
    return f"{m:.2f} ± {sd:.2f} (n={n})" if n > 1 else f"{m:.2f} (n={n})"


def _err(runs: pd.DataFrame, **match) -> pd.Series:
    d = runs
    for k, v in match.items():
        d = d[d[k] == v]
    return A.error_for_stats(d)


# the five ablation settings besides the batch sweep's run (gradual warmup, linear rule, gamma = 0)
ABLATIONS = ({"experiment": "warmup", "warmup": "none"}, {"experiment": "warmup", "warmup": "constant"},
             {"experiment": "rule", "lr_rule": "sqrt"}, {"experiment": "rule", "lr_rule": "none"},
             {"experiment": "gamma", "zero_gamma": False})


def ablation_batches(runs: pd.DataFrame) -> list[int]:
    """The global batches at which some ablation run (warmup, rule or gamma) is in the CSV, ascending."""
    return sorted(int(b) for b in runs.loc[runs["experiment"] != "batch", "global_batch"].unique())


def _has_ablations(runs: pd.DataFrame, b: int) -> bool:
    """All five ablation settings and the batch sweep's reference run exist at kn = b."""
    return all(len(_err(runs, global_batch=b, **m)) for m in ({"experiment": "batch"}, *ABLATIONS))


def claims(data_dir: Path) -> list[dict]:
    """Rows {claim, paper, ours, reproduced, figure} for the README table (see largebatch.report)."""
    runs = pd.read_csv(Path(data_dir) / f"{STUDY}.csv")
    curves = pd.read_csv(Path(data_dir) / f"{STUDY}_curves.csv")
    stats = A.batch_stats(runs)
    b_flat, tab = A.flat_region(stats, BASELINE_BATCH)
    b_elb = A.elbow(stats, BASELINE_BATCH, b_flat)
    base = tab[tab["global_batch"] == BASELINE_BATCH].iloc[0]
    base_err = float(base["mean"])
    batch = runs[runs["experiment"] == "batch"]
    rows = []

    # (a) flat region
    worst = tab[tab["global_batch"] <= (b_flat or BASELINE_BATCH)]
    worst_d = worst.loc[worst["delta"].abs().idxmax()]
    rows.append({
        "claim": f"(a) Fig. 1: error flat up to B_flat >= 16x baseline kn={BASELINE_BATCH}, every "
                 "kn <= B_flat within max(0.3 pt, 2σ) of baseline",
        "paper": "flat to 8k (32x): 23.60 ± 0.12 (256) … 23.74 ± 0.09 (8k), n=5",
        "ours": f"B_flat = {b_flat} ({(b_flat or 0) // BASELINE_BATCH}x); baseline "
                f"{_ms(_err(batch, global_batch=BASELINE_BATCH))} %; largest |Δ| at kn ≤ B_flat: "
                f"{worst_d['delta']:+.2f} pt at {int(worst_d['global_batch'])} "
                f"(tol {base['tol']:.2f})",
        "reproduced": bool(b_flat is not None and b_flat >= 16 * BASELINE_BATCH), "figure": FIG_BATCH})

    # (b) elbow
    big = tab[tab["global_batch"] > (b_flat or BASELINE_BATCH)]
    big_txt = "; ".join(f"{int(r.global_batch)}: {r.delta:+.2f} pt" for r in big.itertuples())
    rows.append({
        "claim": "(b) an elbow: some kn > B_flat is ≥ 1 pt worse than baseline",
        "paper": "16k: 24.79 ± 0.27 (+1.2 pt), 32k: 27.55 ± 0.28",
        "ours": f"elbow at kn = {b_elb}" + (f": {_ms(_err(batch, global_batch=b_elb))} %" if b_elb else "")
                + f" (Δ vs baseline — {big_txt or 'no kn above B_flat'})",
        "reproduced": b_elb is not None, "figure": FIG_BATCH})

    # (c) warmup, (e) scaling rule, (f) zero gamma: at B_flat if its ablations ran, else at B_ABL
    b_j = b_flat if b_flat is not None and _has_ablations(runs, b_flat) else B_ABL
    others = [b for b in ablation_batches(runs) if b != b_j and _has_ablations(runs, b)]
    also = f" (also run at kn={', '.join(map(str, others))})" if others else ""
    note = (f"; judged at B_flat={b_j}" if b_j == b_flat else
            f"; ablations at kn={B_ABL} (measured B_flat={b_flat})") + also

    def at_others(fmt) -> str:
        return "".join(f"; kn={b}: {fmt(b)[0]} (criterion {'met' if fmt(b)[1] else 'not met'})"
                       for b in others)

    def warmup_txt(b):
        grad, none_, const = _err(batch, global_batch=b), *(_err(
            runs, experiment="warmup", global_batch=b, warmup=w) for w in ("none", "constant"))
        d_g, d_n, d_c = grad.mean() - base_err, none_.mean() - base_err, const.mean() - base_err
        ok = bool(abs(d_g) <= A.WARMUP_TOL_PT and d_n >= A.WARMUP_TOL_PT and d_c >= A.WARMUP_TOL_PT)
        return (f"gradual {_ms(grad)} ({d_g:+.2f}), none {_ms(none_)} ({d_n:+.2f}), constant {_ms(const)} "
                f"({d_c:+.2f}) %", ok)

    txt, ok = warmup_txt(b_j)
    rows.append({
        "claim": "(c) Table 1: at B_flat gradual warmup within 0.3 pt of baseline; no warmup and constant "
                 "warmup each ≥ 0.3 pt worse" + note,
        "paper": "8k: gradual 23.74 ± 0.09, none 24.84 ± 0.37, constant 25.88 ± 0.56 (base 23.60)",
        "ours": f"kn={b_j}: {txt}" + at_others(warmup_txt), "reproduced": ok, "figure": FIG_ABL})

    # (d) training curves
    gap_tab = A.curve_gaps(runs, curves, BASELINE_BATCH).set_index("global_batch")
    gaps, final_gaps = gap_tab["max_abs_gap"], gap_tab["final_gap"]
    inside = [b for b in gaps.index if b <= (b_flat or 0) and b != BASELINE_BATCH]
    beyond = [b for b in gaps.index if b_elb is not None and b >= b_elb]
    ok_in = all(gaps[b] <= A.CURVE_TOL_PT for b in inside)
    ok_out = bool(beyond) and all(gaps[b] > A.CURVE_TOL_PT for b in beyond)

    def fmt(bs):
        return ", ".join(f"{b}: {gaps[b]:.2f} ({final_gaps[b]:+.2f})" for b in bs) or "none"

    rows.append({
        "claim": "(d) Fig. 2/4: train-error curves for kn ≤ B_flat within 1 pt of the baseline curve after "
                 "the first third of training; those beyond the elbow are not",
        "paper": "curves match after ~20 of 90 epochs for kn ≤ 8k; a gap persists at 16k",
        "ours": f"max |gap| (pt) after E/3 (gap at the end) — kn ≤ B_flat: {fmt(inside)}; beyond elbow: "
                f"{fmt(beyond)}",
        "reproduced": bool(b_flat is not None and ok_in and ok_out), "figure": FIG_CURVES})

    # (e) scaling rule
    def rule_txt(b):
        lin, sq, no = _err(batch, global_batch=b), *(_err(
            runs, experiment="rule", global_batch=b, lr_rule=r) for r in ("sqrt", "none"))
        return (f"linear {_ms(lin)}, sqrt {_ms(sq)}, none {_ms(no)} %",
                bool(lin.mean() < sq.mean() and lin.mean() < no.mean()))

    txt, ok = rule_txt(b_j)
    rows.append({
        "claim": "(e) Table 2a: linear scaling beats sqrt and no scaling at B_flat" + note,
        "paper": "8k: linear 23.74 ± 0.09, sqrt 26.22 ± 0.03, none 41.67 ± 0.10",
        "ours": f"kn={b_j}: {txt}" + at_others(rule_txt), "reproduced": ok, "figure": FIG_ABL})

    # (f) zero gamma (Goyal: at 256 and 8k)
    def gamma_txt(b):
        g0 = _err(batch, global_batch=b)
        g1 = _err(runs, experiment="gamma", global_batch=b, zero_gamma=False)
        return (f"γ=0 {_ms(g0)} vs γ=1 {_ms(g1)} % (Δ {g0.mean() - g1.mean():+.2f} pt)",
                bool(np.isfinite(g1.mean()) and g0.mean() <= g1.mean()))

    txt, ok = gamma_txt(b_j)
    rows.append({
        "claim": f"(f) Table 2b: γ = 0 init of the last BN per residual block no worse than γ = 1 (kn={b_j})"
                 + note,
        "paper": "8k: γ=0 23.74 ± 0.09 vs γ=1 24.11 ± 0.07 (256: 23.60 vs 23.84)",
        "ours": f"kn={b_j}: {txt}" + at_others(gamma_txt), "reproduced": ok, "figure": FIG_ABL})
    return rows
