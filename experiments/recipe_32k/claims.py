"""The 32k recipe's claims, judged from paper_figures/data/recipe_32k{,_curves}.csv (issue 6, verbatim).

Criteria (fixed before any cpu run; errors are final test errors in percentage points, mean over seeds):
  1. D <= A - max(0.5, 2 sigma), sigma = the larger of the two arms' seed standard deviations
  2. D recovers >= 50% of (A - baseline): (A - D) / (A - baseline) >= 0.5
  3. D within 1 pt of baseline: |D - baseline| <= 1
  4. recomputed-BN evaluation no worse than running-average evaluation: mean(D) <= mean(D_running); the two
     arms train identical parameters (evaluation never changes them), so this is a paired comparison
  5. fp16 communication changes final error by <= 0.2 pt: |mean(D_fp16) - mean(D)| <= 0.2; n/a unless every
     D_fp16 run had >= 2 processes (PyTorch's fp16 hook acts only on a real allreduce)
A diverged run counts as chance error (90% on 10 classes). Rows without a verdict report the single-
technique ablations (B and C against A) and the arms repeated at the second large batch; one more row
judges the stricter per-epoch BN criterion of PAPERS.md §4.4.
Paper numbers: Akiba et al. 74.9% top-1 at 32k (abstract); Goyal et al. 32k 27.55 ± 0.28% and 256 23.60 ±
0.12% top-1 error (Fig. 3 / Table 1), so across the two papers D - A = -2.45 pt and recovery = 62%.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from largebatch.results import mean_std_n

FIG_ARMS = "paper_figures/recipe_32k_arms.png"
FIG_BN = "paper_figures/recipe_32k_bn_fp16.png"
CHANCE_ERR = 90.0
MARGIN, RECOVERY, NEAR, FP16_TOL = 0.5, 0.5, 1.0, 0.2
PAPER_A, PAPER_D, PAPER_BASE = 27.55, 100 - 74.9, 23.60


def arm_errors(runs: pd.DataFrame) -> dict[str, pd.Series]:
    """Final test error per arm (diverged runs at chance), indexed by seed."""
    err = runs["final_test_err"].astype(float).where(runs["status"] != "diverged", CHANCE_ERR)
    return {a: err[runs["arm"] == a].set_axis(runs.loc[runs["arm"] == a, "seed"])
            for a in runs["arm"].unique()}


def _fmt(s: pd.Series) -> str:
    m, sd, n = mean_std_n(s)
    return f"{m:.2f} ± {sd:.2f}% (n={n})" if n > 1 else (f"{m:.2f}% (n=1)" if n else "–")


def _mean(s) -> float:
    return mean_std_n(s)[0]


def evaluate(runs: pd.DataFrame, curves: pd.DataFrame | None = None) -> list[dict]:
    """Claim rows from the run table (and the curves for the per-epoch BN comparison).

    The criteria are judged on batch_role "main"; the arms repeated at the second large batch ("alt") get
    rows with their numbers and no verdict.
    """
    alt = runs[runs["batch_role"] == "alt"] if "batch_role" in runs.columns else runs.iloc[:0]
    if "batch_role" in runs.columns:
        runs = runs[runs["batch_role"] == "main"]
        curves = None if curves is None else curves[curves["batch_role"] == "main"]
    e = arm_errors(runs)
    need = {"baseline", "A", "D"}
    if not need <= set(e):
        return [{"claim": "32k recipe at cpu scale", "paper": "",
                 "ours": f"missing arms {sorted(need - set(e))}", "reproduced": None, "figure": FIG_ARMS}]
    base, A, D = (_mean(e[k]) for k in ("baseline", "A", "D"))
    sigma = max(mean_std_n(e["A"])[1], mean_std_n(e["D"])[1])
    thresh = max(MARGIN, 2 * sigma)
    gap = A - base
    rec = (A - D) / gap if gap > 0 else float("nan")
    n_div = int((runs["status"] == "diverged").sum())
    div = f"; {n_div} diverged run(s) at chance" if n_div else ""
    B = runs.loc[runs["arm"] == "A", "global_batch"].iloc[0]
    rows = [
        {"claim": f"Full recipe (D) beats the Goyal recipe (A) at B={B}: D ≤ A − max(0.5 pt, 2σ)",
         "paper": f"32k: {PAPER_D:.1f}% (Akiba) vs {PAPER_A}% (Goyal) top-1 err",
         "ours": f"D {_fmt(e['D'])} vs A {_fmt(e['A'])}; margin {A - D:.2f} pt vs required {thresh:.2f}{div}",
         "reproduced": bool(D <= A - thresh), "figure": FIG_ARMS},
        {"claim": "D recovers ≥ 50% of the large-batch gap (A − baseline)",
         "paper": f"{(PAPER_A - PAPER_D) / (PAPER_A - PAPER_BASE):.0%} (cross-paper)",
         "ours": f"{rec:.0%} of A − baseline = {gap:.2f} pt (baseline B=256 {_fmt(e['baseline'])})",
         "reproduced": bool(rec >= RECOVERY) if gap > 0 else False, "figure": FIG_ARMS},
        {"claim": "D within 1 pt of the small-batch baseline",
         "paper": f"{PAPER_D - PAPER_BASE:+.2f} pt vs Goyal's 256 (cross-paper)",
         "ours": f"D − baseline = {D - base:+.2f} pt", "reproduced": bool(abs(D - base) <= NEAR),
         "figure": FIG_ARMS},
    ]
    single = [f"{k} (A + {what}) {_fmt(e[k])}, {k} − A = {_mean(e[k]) - A:+.2f} pt"
              for k, what in (("B", "slow start"), ("C", "RMSprop warm-up")) if k in e]
    if single:
        rows.append({"claim": f"ablation at B={B}: one technique at a time; no criterion",
                     "paper": "not reported", "ours": "; ".join(single), "reproduced": None,
                     "figure": FIG_ARMS})
    if "D_running" in e:
        paired = (e["D"] - e["D_running"]).dropna()
        m, sd, n = mean_std_n(paired)
        rows.append({"claim": "BN statistics recomputed from the last minibatches evaluate no worse than "
                              "running averages (D vs D_running)",
                     "paper": "used for validation at 32k; no number",
                     "ours": f"recomputed {_fmt(e['D'])} vs running {_fmt(e['D_running'])}; paired "
                             f"difference {m:+.2f} ± {sd:.2f} pt (n={n})",
                     "reproduced": bool(_mean(e["D"]) <= _mean(e["D_running"])), "figure": FIG_BN})
        if curves is not None and len(curves):
            rows.append(_bn_first_half(runs, curves))
    if len(alt):
        rows.append(_alt_row(alt, base))
    if "D_fp16" in e:
        procs = runs.loc[runs["arm"] == "D_fp16", "world_size"].astype(int)
        diff = _mean(e["D_fp16"]) - D
        pm, psd, pn = mean_std_n((e["D_fp16"] - e["D"]).dropna())
        real = bool(len(procs)) and bool((procs >= 2).all())
        rows.append({"claim": "fp16 gradient allreduce changes the final error by ≤ 0.2 pt (D_fp16 vs D)",
                     "paper": "\"little impact on accuracy\" (no number)",
                     "ours": f"fp16 {_fmt(e['D_fp16'])} vs fp32 {_fmt(e['D'])}: {diff:+.2f} pt; "
                             f"paired by seed {pm:+.2f} ± {psd:.2f} pt (n={pn}); "
                             f"{procs.min() if len(procs) else 0} gloo processes"
                             + ("" if real else " (fp16 hook inactive in one process: not measured)"),
                     "reproduced": bool(abs(diff) <= FP16_TOL) if real else None, "figure": FIG_BN})
    return rows


def _alt_row(alt: pd.DataFrame, base: float) -> dict:
    """The ablation at the second large batch: numbers only (the criteria are judged at the main batch)."""
    e = arm_errors(alt)
    B = int(alt["global_batch"].iloc[0])
    parts = [f"{k} {_fmt(e[k])}" for k in ("A", "B", "C", "D") if k in e]
    gap = _mean(e["A"]) - base if "A" in e else float("nan")
    rec = (_mean(e["A"]) - _mean(e["D"])) / gap if "D" in e and gap > 0 else float("nan")
    return {"claim": f"same ablation at B={B}; no verdict (criteria judged at the main batch)",
            "paper": "not reported",
            "ours": "; ".join(parts) + (f"; D recovers {rec:.0%} of A − baseline" if rec == rec else ""),
            "reproduced": None, "figure": FIG_ARMS}


def _bn_first_half(runs: pd.DataFrame, curves: pd.DataFrame) -> dict:
    """PAPERS.md §4.4's stricter form: recomputed <= running at every evaluated epoch of the first half."""
    c = curves[curves["arm"].isin(["D", "D_running"])]
    E = float(runs.loc[runs["arm"] == "D", "epochs"].iloc[0])
    m = c[c["epoch"] <= E / 2].groupby(["arm", "epoch"])["test_err"].mean().unstack("arm").dropna()
    worse = m[m["D"] > m["D_running"]]
    ok = bool(len(m)) and worse.empty
    return {"claim": "stricter (PAPERS.md §4.4): recomputed-BN error ≤ running-BN error at every epoch "
                     "of the first half (seed means)",
            "paper": "not reported",
            "ours": f"{len(m) - len(worse)} of {len(m)} epochs; max over epochs of recomputed − running "
                    f"{(m['D'] - m['D_running']).max():+.2f} pt" if len(m) else "no curves",
            "reproduced": ok if len(m) else None, "figure": FIG_BN}


def claims(data_dir: Path) -> list[dict]:
    """Rows {claim, paper, ours, reproduced, figure} for the README table (see largebatch.report)."""
    runs = pd.read_csv(Path(data_dir) / "recipe_32k.csv")
    path = Path(data_dir) / "recipe_32k_curves.csv"
    return evaluate(runs, pd.read_csv(path) if path.exists() else None)
