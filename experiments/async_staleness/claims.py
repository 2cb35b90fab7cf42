"""The staleness study's claims (issue 7, (i)-(vii) and the validation), judged by largebatch.verdict.

The claims are data in claims.toml (issue 20). Readings of the criteria first committed in this module:
  * steps to target = first evaluation (every 50 steps) with test accuracy >= 80 % (config.TARGET); for the
    tests, a seed that never reaches it (or diverges) counts at the budget (its `steps`), a lower bound;
    the tables still show such a mean as "> budget";
  * "increase monotonically" = every consecutive step of s increases the steps (paired by seed);
  * slowdown(s) = mean steps(s) / mean steps(0) (Dai et al.'s normalisation), intervals by bootstrap over
    seeds; (iii) must hold for all three optimizers; fixed-budget accuracy of a diverged run = 0.10;
  * (v) recovered fraction = (steps(16) - steps(16, alpha/tau)) / (steps(16) - steps(0)), plain SGD;
  * (vi) simulated time (analysis.py): backups' time to target < sync's, and at T_eq their accuracy >
    async's (each run's last evaluation at or before T_eq). T_eq = the backup run's end, or the async run's
    end if that comes first (added with the real 10 ms runs, after they were seen: that row is post hoc);
  * (vii) each run's mean coherence decreasing at every step of s, every optimizer, MLP;
  * validation: equivalence within 1 pt (the first reading, "within 2 SE", grew easier with noisier data;
    the margin is new: post hoc).
The third design (issue 17; claims.toml validation_v3, vi_real_v3) judges the same two comparisons on
fresh seeds 10-19 only, with the statistics `late_acc` and `acc_window` fixed before its runs; the first
design's rows keep selecting their own seeds (0-5), so the new runs, which share the experiment names
real_*, leave them as they were.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from largebatch import verdict as V
from largebatch.prereg import load_spec
from largebatch.results import fmt_mean_std, fmt_num, markdown_table

from . import analysis as A
from .config import ALPHA_ARM, BUDGET, LATE, OPTIMIZERS, V2_ARMS

FIG = {
    "steps": "paper_figures/async_staleness_steps.png",
    "coh": "paper_figures/async_staleness_coherence.png",
    "backup": "paper_figures/async_staleness_backup.png",
    "valid": "paper_figures/async_staleness_validation.png",
}
OPTS = ("sgd", "momentum", "adam")
CHANCE = 0.10
CSV = "paper_figures/data/async_staleness.csv"
SS = (0, 2, 4, 8, 16, 32)


def load(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        pd.read_csv(Path(data_dir) / "async_staleness.csv"),
        pd.read_csv(Path(data_dir) / "async_staleness_curves.csv"),
    )


def s_of(df: pd.DataFrame) -> pd.Series:
    """s of a 'uniform{0..s}' / 'none' staleness_dist."""
    return df.staleness_dist.str.extract(r"\.\.(\d+)")[0].astype(float).fillna(0).astype(int)


def steps_table(df: pd.DataFrame, experiment: str = "sweep") -> pd.DataFrame:
    """Censored mean steps to target and mean final accuracy per (model, optimizer, s)."""
    d = df[df.experiment == experiment].assign(s=lambda x: s_of(x))
    g = d.groupby(["model", "optimizer", "s"])
    return pd.DataFrame(
        {
            "steps": g.steps_to_target.apply(A.censored_mean),
            "steps_txt": g.steps_to_target.apply(_fmt_steps),
            "acc": g.final_test_acc.apply(lambda v: v.fillna(CHANCE).mean()),
            "acc_txt": g.final_test_acc.apply(lambda v: fmt_mean_std(v.fillna(CHANCE) * 100, 2)),
            "reach_85": g.steps_to_85.apply(lambda v: f"{v.notna().sum()}/{len(v)}"),
            "coh": g.coherence_mean.mean(),
            "n": g.size(),
        }
    ).reset_index()


def _fmt_steps(v, digits: int = 0) -> str:
    """mean ± std (n) of steps (or times) to target; '> budget' when any seed never reaches it."""
    v = pd.Series(v, dtype=float)
    m = A.censored_mean(v)
    if math.isinf(m):
        return f"> budget ({int(v.isna().sum())}/{len(v)} seeds never reach it)"
    return fmt_mean_std(v, digits)


def slowdown(t: pd.DataFrame, model: str, opt: str, s: int = 16) -> float:
    x = t.set_index(["model", "optimizer", "s"]).steps
    return x[(model, opt, s)] / x[(model, opt, 0)]


def _r(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.2f}"


def calib_table(df: pd.DataFrame) -> pd.DataFrame:
    """The lr grid at s = 0 (seed 0): per optimizer, the pick is the fastest to 85 %, ties broken by the
    steps to 80 % (a run that never reaches a target counts as +inf)."""
    c = df[df.experiment == "calib"].copy()
    c["_k85"], c["_k80"] = c.steps_to_85.fillna(math.inf), c.steps_to_target.fillna(math.inf)
    c = c.sort_values(["optimizer", "_k85", "_k80", "lr"])
    c["pick"] = ~c.duplicated("optimizer")
    c["configured"] = [OPTIMIZERS[o]["lr_base"] == lr for o, lr in zip(c.optimizer, c.lr)]
    return c.drop(columns=["_k85", "_k80"])


def _censored(df: pd.DataFrame, seeds, **match) -> bool:
    """Does some seed of the arm never reach the target (its steps are then a lower bound)?"""
    d = df
    for k, v in match.items():
        d = d[s_of(d) == v] if k == "s" else d[d[k] == v]
    return bool(d[d.seed.isin(seeds)].steps_to_target.isna().any())


def _steps_by_seed(df: pd.DataFrame, seeds, **match) -> pd.Series:
    """Steps to target per seed (a seed that never reaches it: its step budget, a lower bound)."""
    d = df
    for k, v in match.items():
        d = d[s_of(d) == v] if k == "s" else d[d[k] == v]
    d = d[d.seed.isin(seeds)]
    v = d.steps_to_target.astype(float).where(d.steps_to_target.notna(), d.steps.astype(float))
    return v.set_axis(d.seed).rename_axis("seed").sort_index()


def _col_by_seed(df: pd.DataFrame, col: str, seeds, fill=None, **match) -> pd.Series:
    d = df
    for k, v in match.items():
        d = d[s_of(d) == v] if k == "s" else d[d[k] == v]
    d = d[d.seed.isin(seeds)]
    v = d[col].astype(float)
    if fill is not None:
        v = v.fillna(fill)
    return v.set_axis(d.seed).rename_axis("seed").sort_index()


def _runs(df: pd.DataFrame, seeds, **match) -> pd.DataFrame:
    d = df
    for k, v in match.items():
        d = d[s_of(d) == v] if k == "s" else d[d[k] == v]
    return d[d.seed.isin(seeds)]


def _row(cid: str, ours: str, result, runs: pd.DataFrame) -> dict:
    wall = runs.groupby(["experiment", "model", "optimizer", "staleness_dist", "lr_rule"]).wall_s.mean().sum()
    return {"id": cid, "ours": ours, "result": result, "runs": runs, "csv": CSV, "wall_per_seed": float(wall)}


def _ratio_diff(*arrs):
    """slowdown(a) − slowdown(b) for arrays (a16, a0, b16, b0)."""
    a16, a0, b16, b0 = arrs
    return a16.mean() / a0.mean() - b16.mean() / b0.mean()


def claims(data_dir: Path) -> list[dict]:
    """Rows for the README table (see largebatch.report)."""
    spec = load_spec("async_staleness")
    df, cur = load(data_dir)
    t = steps_table(df)
    sw = df[df.experiment == "sweep"]
    rows = []
    mlp = t[t.model == "mlp"]
    sd = {(m, o): slowdown(t, m, o) for m in ("mlp", "deep_mlp") for o in OPTS}

    # (i) monotone steps, and momentum's slowdown > 1.3
    c = spec["i_monotone"]
    seeds = c["seeds"]
    parts = []
    for o in OPTS:
        for s0, s1 in zip(SS, SS[1:]):
            parts.append(
                V.at_least(
                    V.difference(
                        _steps_by_seed(sw, seeds, model="mlp", optimizer=o, s=s1),
                        _steps_by_seed(sw, seeds, model="mlp", optimizer=o, s=s0),
                        0.0,
                        ">",
                        label=f"{o} {s0}→{s1}",
                    ),
                    _censored(sw, seeds, model="mlp", optimizer=o, s=s1),
                )
            )
    m16 = _steps_by_seed(sw, seeds, model="mlp", optimizer="momentum", s=16)
    m0 = _steps_by_seed(sw, seeds, model="mlp", optimizer="momentum", s=0)
    parts.append(
        V.at_least(
            V.bootstrap(
                [m16, m0],
                lambda a, b: a.mean() / b.mean(),
                1.3,
                ">",
                paired=True,
                label="momentum slowdown(16)",
                what="slowdown",
            ),
            _censored(sw, seeds, model="mlp", optimizer="momentum", s=16),
        )
    )
    txt = "; ".join(
        f"{o}: "
        + ", ".join(
            _r(v) if math.isinf(v) else f"{v:.0f}" for v in mlp[mlp.optimizer == o].sort_values("s").steps
        )
        for o in OPTS
    )
    n_dec = sum(p.outcome == V.REPRODUCED for p in parts[:-1])
    rows.append(
        _row(
            "i_monotone",
            f"mean steps {txt}; {n_dec} of {len(parts) - 1} steps of s decided as "
            f"increases; momentum slowdown(16) = {_r(sd[('mlp', 'momentum')])}x",
            V.all_of(parts),
            _runs(sw, seeds, model="mlp"),
        )
    )

    # (ii) optimizer sensitivity
    c = spec["ii_optimizer"]
    seeds = c["seeds"]

    def st(model, o, s):
        return _steps_by_seed(sw, seeds, model=model, optimizer=o, s=s)

    parts = [
        V.at_least(
            V.bootstrap(
                [st("mlp", o, 16), st("mlp", o, 0), st("mlp", "sgd", 16), st("mlp", "sgd", 0)],
                _ratio_diff,
                0.0,
                ">",
                paired=True,
                label=f"{o} − sgd",
                what="Δ slowdown",
            ),
            _censored(sw, seeds, model="mlp", optimizer=o, s=16),
        )
        for o in ("momentum", "adam")
    ]
    rows.append(
        _row(
            "ii_optimizer",
            ", ".join(f"{o} {_r(sd[('mlp', o)])}x" for o in OPTS),
            V.all_of(parts),
            _runs(sw, seeds, model="mlp").pipe(lambda d: d[s_of(d).isin([0, 16])]),
        )
    )

    # (iii) depth
    c = spec["iii_depth"]
    seeds = c["seeds"]
    parts = [
        V.at_least(
            V.bootstrap(
                [st("deep_mlp", o, 16), st("deep_mlp", o, 0), st("mlp", o, 16), st("mlp", o, 0)],
                _ratio_diff,
                0.0,
                ">",
                paired=True,
                label=o,
                what="Δ slowdown",
            ),
            _censored(sw, seeds, model="deep_mlp", optimizer=o, s=16),
        )
        for o in OPTS
    ]
    rows.append(
        _row(
            "iii_depth",
            ", ".join(f"{o} {_r(sd[('deep_mlp', o)])}x vs {_r(sd[('mlp', o)])}x" for o in OPTS)
            + " (a seed that never reaches 80 % counts at the budget in the interval)",
            V.all_of(parts),
            sw[sw.seed.isin(seeds) & s_of(sw).isin([0, 16])],
        )
    )

    # (iv) fixed-budget accuracy
    c = spec["iv_accuracy"]
    seeds = c["seeds"]
    acc = t.set_index(["model", "optimizer", "s"])

    def ac(o, s):
        return _col_by_seed(sw, "final_test_acc", seeds, CHANCE, model="mlp", optimizer=o, s=s) * 100

    parts = [V.difference(ac(o, 0), ac(o, 16), c["threshold"], ">", label=o) for o in ("momentum", "adam")]
    rows.append(
        _row(
            "iv_accuracy",
            "; ".join(
                f"{o}: {acc.acc_txt[('mlp', o, 0)]} -> {acc.acc_txt[('mlp', o, 16)]} % "
                f"(drop {(acc.acc[('mlp', o, 0)] - acc.acc[('mlp', o, 16)]) * 100:.2f} pt)"
                for o in OPTS
            ),
            V.all_of(parts),
            _runs(sw, seeds, model="mlp").pipe(lambda d: d[s_of(d).isin([0, 16])]),
        )
    )

    # (v) alpha / tau
    c = spec["v_alpha_tau"]
    seeds = c["seeds"]
    lr = df[(df.experiment == "lr_rule") & (df.model == "mlp")]
    inv = _steps_by_seed(lr, seeds, optimizer="sgd")
    g16, g0 = st("mlp", "sgd", 16), st("mlp", "sgd", 0)
    res = V.bootstrap(
        [g16, inv, g0],
        lambda a, b, z: (a.mean() - b.mean()) / (a.mean() - z.mean()),
        c["threshold"],
        ">",
        paired=True,
        what="recovered fraction",
    )
    if _censored(sw, seeds, model="mlp", optimizer="sgd", s=16) or _censored(lr, seeds, optimizer="sgd"):
        res = V.replace(
            res,
            outcome=V.INCONCLUSIVE if res.outcome != V.INCONCLUSIVE else res.outcome,
            method=res.method + ", censored",
        )
    x = acc.steps
    mom = (
        f" (momentum: {_r(x[('mlp', 'momentum', 16)])} -> "
        f"{_r(A.censored_mean(lr[lr.optimizer == 'momentum'].steps_to_target))})"
        if (lr.optimizer == "momentum").any()
        else ""
    )
    rows.append(
        _row(
            "v_alpha_tau",
            f"SGD steps s=0 {g0.mean():.0f}, s=16 {g16.mean():.0f}, s=16 + α/τ "
            f"{inv.mean():.0f}: recovered {res.estimate:.0%} of the penalty" + mom,
            res,
            pd.concat(
                [
                    _runs(sw, seeds, model="mlp", optimizer="sgd").pipe(lambda d: d[s_of(d).isin([0, 16])]),
                    _runs(lr, seeds, optimizer="sgd"),
                ]
            ),
        )
    )

    rows.append(_backup_claim(df, cur, "sim", spec["vi_sim"]))

    # (vii) coherence
    c = spec["vii_coherence"]
    seeds = c["seeds"]
    parts = []
    for o in OPTS:
        for s0, s1 in zip(SS, SS[1:]):
            parts.append(
                V.difference(
                    _col_by_seed(sw, "coherence_mean", seeds, model="mlp", optimizer=o, s=s0),
                    _col_by_seed(sw, "coherence_mean", seeds, model="mlp", optimizer=o, s=s1),
                    0.0,
                    ">",
                    label=f"{o} {s0}→{s1}",
                )
            )
    rows.append(
        _row(
            "vii_coherence",
            "; ".join(
                f"{o}: " + ", ".join(f"{v:.3f}" for v in mlp[mlp.optimizer == o].sort_values("s").coh)
                for o in OPTS
            ),
            V.all_of(parts),
            _runs(sw, seeds, model="mlp"),
        )
    )

    rows.append(_validation_claim(df, spec["validation"]))
    rows.append(_validation_claim(df, spec["validation_2ms"], "real2ms_async", "validation_2ms"))
    rows.append(_backup_claim(df, cur, "real", spec["vi_real"]))
    rows.append(_calib_claim(df))
    if df.experiment.isin(["sweep_v2", "lr_rule_v2", "calib_alpha"]).any():
        rows += _v2_rows(df, cur, spec)
    v3_seeds = set(spec["validation_v3"]["seeds"]) | set(spec["vi_real_v3"]["seeds"])
    if (df.experiment.isin(V3_EXPERIMENTS) & df.seed.isin(v3_seeds)).any():
        rows += _v3_rows(df, cur, spec)
    from . import claims_v4  # the fourth design (issue 31): its rows once its runs are in the CSV

    rows += claims_v4.rows(df, cur, spec)
    return rows


V3_EXPERIMENTS = ("validation_v3", "real_async", "real_sync", "real_backup")  # with seeds of the v3 claims


def _v3_rows(df: pd.DataFrame, cur: pd.DataFrame, spec: dict) -> list[dict]:
    """The third design's rows (claims.toml validation_v3, vi_real_v3; issue 17): the first design's two
    comparisons with lower-variance statistics, on the claims' seeds only."""
    return [
        _validation_claim(
            df,
            spec["validation_v3"],
            "real_async",
            "validation_v3",
            acc=late_acc,
            cur=cur,
            what=f"mean test accuracy over the last {LATE:,} updates: ",
        ),
        _backup_claim(
            df,
            cur,
            "real",
            spec["vi_real_v3"],
            acc=acc_window,
            what="mean accuracy over (0.8·T_eq, T_eq], T_eq",
        ),
    ]


V2_EXPERIMENTS = ("calib_alpha", "lr_rule_v2", "sweep_v2")


def v2_table(runs: pd.DataFrame) -> str:
    """The second design's arms (README block `v2`): steps to 80 % and final accuracy per arm and alpha0."""
    d = runs[runs.experiment.isin(V2_EXPERIMENTS)].assign(s=lambda x: s_of(x))
    if not len(d):
        return "No runs of the second design yet."
    g = d.groupby(["experiment", "model", "optimizer", "s", "lr_rule", "lr"])
    t = pd.DataFrame(
        {
            "n": g.size(),
            "steps to 80 %": g.steps_to_target.apply(_fmt_steps),
            "budget": g.steps.max(),
            "final acc. (%)": g.final_test_acc.apply(lambda v: fmt_mean_std(v.fillna(CHANCE) * 100, 2)),
        }
    ).reset_index()
    return markdown_table(t.rename(columns={"lr": "lr (α0)"}))


def alpha_table(df: pd.DataFrame) -> pd.DataFrame:
    """The alpha0 calibration (calib_alpha): mean steps to 80 % and 85 % per alpha0 over the calibration seeds
    (a seed that never reaches a target: +inf); the pick is the fewest steps to 80 %, then to 85 %, then the
    smaller alpha0 (claims.toml calib_alpha)."""
    c = df[df.experiment == "calib_alpha"]
    t = (
        c.groupby("lr")
        .agg(
            k80=("steps_to_target", A.censored_mean),
            k85=("steps_to_85", A.censored_mean),
            n=("seed", "size"),
        )
        .reset_index()
        .sort_values(["k80", "k85", "lr"])
    )
    t["pick"] = [i == 0 for i in range(len(t))]
    return t


def alpha_pick(df: pd.DataFrame) -> float | None:
    t = alpha_table(df)
    return float(t.lr.iloc[0]) if len(t) else None


def resolution(df: pd.DataFrame, cur: pd.DataFrame, experiment: str = "sweep_v2") -> float:
    """The largest evaluation interval / steps to 80 % over the runs of `experiment` that reach it."""
    d = df[(df.experiment == experiment) & df.steps_to_target.notna()]
    out = 0.0
    for r in d.itertuples():
        st = cur[cur.run_id == r.run_id].step.sort_values().to_numpy()
        if len(st) > 1:
            out = max(out, float(pd.Series(st).diff().median()) / r.steps_to_target)
    return out


def _v2_rows(df: pd.DataFrame, cur: pd.DataFrame, spec: dict) -> list[dict]:
    """The second design's rows (claims.toml calib_alpha, v2_*; issue 17)."""
    rows = []
    sw = df[df.experiment == "sweep_v2"]
    lr2 = df[df.experiment == "lr_rule_v2"]
    t = alpha_table(df)
    pick = alpha_pick(df)
    rows.append(
        _row(
            "calib_alpha",
            "; ".join(
                f"α0 {r.lr:g}: {_r(r.k80) if math.isinf(r.k80) else f'{r.k80:.0f}'} steps to 80 % "
                f"(n={r.n}){' **pick**' if r.pick else ''}"
                for r in t.sort_values("lr").itertuples()
            )
            or "runs missing",
            None,
            df[df.experiment == "calib_alpha"],
        )
    )

    def st(d, model, o, s, seeds):  # a seed that never reaches 80 % (or diverges) counts at its arm's budget
        v = _col_by_seed(d, "steps_to_target", seeds, model=model, optimizer=o, s=s)
        return v.fillna(float(V2_ARMS[(model, o, s)][0]))

    def cens(d, model, o, s, seeds):
        return _censored(d, seeds, model=model, optimizer=o, s=s)

    def slow(d, model, o, seeds):
        a, b = st(d, model, o, 16, seeds), st(d, model, o, 0, seeds)
        return a.mean() / b.mean() if len(a) and len(b) else math.nan

    # (v): the picked alpha0 on the judged seeds
    c = spec["v2_v_alpha_tau"]
    seeds = c["seeds"]
    g16, g0 = st(sw, "mlp", "sgd", 16, seeds), st(sw, "mlp", "sgd", 0, seeds)
    judged = lr2[np.isclose(lr2.lr, pick)] if pick is not None else lr2.iloc[:0]
    inv = _col_by_seed(judged, "steps_to_target", seeds, optimizer="sgd").fillna(float(ALPHA_ARM[0]))
    if len(g16) >= 2 and len(inv) >= 2 and len(g0) >= 2:
        res = V.bootstrap(
            [g16, inv, g0],
            lambda a, b, z: (a.mean() - b.mean()) / (a.mean() - z.mean()),
            c["threshold"],
            ">",
            paired=True,
            what="recovered fraction",
        )
        if cens(sw, "mlp", "sgd", 16, seeds) or _censored(judged, seeds, optimizer="sgd"):
            res = V.replace(res, outcome=V.INCONCLUSIVE, method=res.method + ", censored")
        others = []
        for a, g in lr2.groupby("lr"):
            x = _col_by_seed(g, "steps_to_target", seeds, optimizer="sgd")
            never = int(x.isna().sum())
            frac = (g16.mean() - x.fillna(float(ALPHA_ARM[0])).mean()) / (g16.mean() - g0.mean())
            others.append(
                f"{a:g}: {frac:.0%}" + (f" ({never}/{len(x)} never reach 80 %: at most)" if never else "")
            )
        ours = (
            f"SGD steps s=0 {g0.mean():.0f}, s=16 {g16.mean():.0f}, s=16 + α0/τ at α0 = {pick:g} "
            f"{inv.mean():.0f}: recovered {res.estimate:.0%} of the penalty (every α0 on these seeds, "
            f"not judged: {', '.join(others)})"
        )
    else:
        res, ours = V.all_of([]), "runs missing"
    rows.append(
        _row(
            "v2_v_alpha_tau",
            ours,
            res,
            pd.concat([_runs(sw, seeds, model="mlp", optimizer="sgd"), _runs(judged, seeds)]),
        )
    )

    # (ii)
    c = spec["v2_ii_optimizer"]
    seeds = c["seeds"]
    parts = [
        V.at_least(
            V.bootstrap(
                [
                    st(sw, "mlp", o, 16, seeds),
                    st(sw, "mlp", o, 0, seeds),
                    st(sw, "mlp", "sgd", 16, seeds),
                    st(sw, "mlp", "sgd", 0, seeds),
                ],
                _ratio_diff,
                0.0,
                ">",
                paired=True,
                label=f"{o} − sgd",
                what="Δ slowdown",
            ),
            cens(sw, "mlp", o, 16, seeds),
        )
        for o in ("momentum", "adam")
    ]
    rows.append(
        _row(
            "v2_ii_optimizer",
            ", ".join(f"{o} {_r(slow(sw, 'mlp', o, seeds))}x" for o in OPTS)
            + f" (steps to 80 % resolved to ≤ {resolution(df, cur):.1%} of their value)",
            V.all_of(parts),
            _runs(sw, seeds, model="mlp"),
        )
    )

    # (iii): one row per optimizer the design repeats
    for o, cid in (("adam", "v2_iii_adam"), ("sgd", "v2_iii_sgd")):
        c = spec[cid]
        seeds = c["seeds"]
        res = V.at_least(
            V.bootstrap(
                [
                    st(sw, "deep_mlp", o, 16, seeds),
                    st(sw, "deep_mlp", o, 0, seeds),
                    st(sw, "mlp", o, 16, seeds),
                    st(sw, "mlp", o, 0, seeds),
                ],
                _ratio_diff,
                0.0,
                ">",
                paired=True,
                what="Δ slowdown",
            ),
            cens(sw, "deep_mlp", o, 16, seeds),
        )
        never = int(_runs(sw, seeds, model="deep_mlp", optimizer=o, s=16).steps_to_target.isna().sum())
        rows.append(
            _row(
                cid,
                f"{o}: deep {_r(slow(sw, 'deep_mlp', o, seeds))}x vs MLP {_r(slow(sw, 'mlp', o, seeds))}x"
                + (f" ({never} deep seed(s) at s = 16 never reach 80 %: at the budget)" if never else ""),
                res,
                _runs(sw, seeds, optimizer=o),
            )
        )
    return rows


def _calib_claim(df: pd.DataFrame) -> dict:
    c = calib_table(df)
    picks = c[c.pick]
    ours = "; ".join(
        f"{r.optimizer}: lr {r.lr:g} ({r.steps_to_85:.0f} steps to 85 %, configured "
        f"{OPTIMIZERS[r.optimizer]['lr_base']:g}{', the pick' if r.configured else ', not the pick'})"
        for r in picks.itertuples()
    )
    return _row("calib", ours, None, df[df.experiment == "calib"])


def acc_at(curve: pd.DataFrame, t_eq: float) -> float:
    """Test accuracy at the last evaluation at or before t_eq (vi_sim, vi_real)."""
    return A.value_at(curve, "test_acc", t_eq)


def acc_window(curve: pd.DataFrame, t_eq: float, frac: float = 0.8) -> float:
    """Mean test accuracy of the evaluations with time in (frac·t_eq, t_eq] (vi_real_v3; times within 1e-6
    count as equal, as in analysis.value_at); none there: the last evaluation at or before t_eq."""
    d = curve.dropna(subset=["test_acc"])
    d = d[(d.time > frac * t_eq + 1e-6) & (d.time <= t_eq + 1e-6)]
    return float(d.test_acc.mean()) if len(d) else acc_at(curve, t_eq)


def backup_table(
    df: pd.DataFrame, cur: pd.DataFrame, kind: str = "sim", acc=acc_at, seeds=None
) -> pd.DataFrame:
    """Per seed (of `seeds`, default all): time to target of <kind>_{sync, backup, async}; accuracy
    `acc(curve, T_eq)` with T_eq = min(the backup run's end, the async run's end) (a run that did not
    complete: CHANCE)."""
    out = []
    backups = df[df.experiment == f"{kind}_backup"]
    for seed in sorted(backups.seed if seeds is None else backups[backups.seed.isin(seeds)].seed):
        b = df[(df.experiment == f"{kind}_backup") & (df.seed == seed)].iloc[0]
        a = df[(df.experiment == f"{kind}_async") & (df.seed == seed)]
        t_eq = min(b.time_end, a.time_end.iloc[0]) if len(a) and pd.notna(a.time_end.iloc[0]) else b.time_end
        row = {"seed": seed, "t_eq": t_eq, "t_eq_is_async_end": bool(t_eq < b.time_end)}
        for m in ("sync", "backup", "async"):
            r = df[(df.experiment == f"{kind}_{m}") & (df.seed == seed)]
            if not len(r):
                continue
            c = cur[(cur.run_id == r.run_id.iloc[0]) & (cur.experiment == f"{kind}_{m}")]
            row[f"{m}_ttt"] = r.time_to_target.iloc[0]
            row[f"{m}_acc_teq"] = acc(c, t_eq) if r.status.iloc[0] == "complete" else CHANCE
        out.append(row)
    return pd.DataFrame(out)


def _backup_claim(
    df: pd.DataFrame, cur: pd.DataFrame, kind: str, c: dict, acc=acc_at, what: str = "accuracy at T_eq"
) -> dict:
    """(vi) on the claim's seeds: time to target sync − backup > 0 and accuracy backup − async > 0, the
    accuracy being `acc(curve, T_eq)` (acc_at: vi_sim, vi_real; acc_window: vi_real_v3)."""
    unit = "units" if kind == "sim" else "s"
    cid = c["id"]
    bt = backup_table(df, cur, kind, acc=acc, seeds=c["seeds"])
    runs = df[
        df.experiment.isin([f"{kind}_sync", f"{kind}_backup", f"{kind}_async"]) & df.seed.isin(c["seeds"])
    ]
    need = {"sync_ttt", "backup_ttt", "async_acc_teq", "backup_acc_teq"}
    if len(bt) < 2 or not need <= set(bt.columns):
        return _row(cid, "runs missing", V.all_of([]), runs)
    b = bt.set_index("seed")
    sync_t = b.sync_ttt.astype(float).rename_axis("seed")
    back_t = b.backup_ttt.astype(float).rename_axis("seed")
    back_a = (b.backup_acc_teq * 100).rename_axis("seed")
    asyn_a = (b.async_acc_teq.fillna(CHANCE) * 100).rename_axis("seed")
    res = V.all_of(
        [
            V.difference(sync_t, back_t, 0.0, ">", label="time: sync − backup"),
            V.difference(back_a, asyn_a, 0.0, ">", label="acc: backup − async"),
        ]
    )
    end = "async" if bt.t_eq_is_async_end.all() else "backup" if not bt.t_eq_is_async_end.any() else "first"
    return _row(
        cid,
        f"time to target: backup {fmt_mean_std(bt.backup_ttt, 1)} vs sync "
        f"{fmt_mean_std(bt.sync_ttt, 1)} {unit}; {what} = {end}'s end ({bt.t_eq.mean():.1f} "
        f"{unit}): backup {fmt_mean_std(back_a, 2)} vs async {fmt_mean_std(asyn_a, 2)} %",
        res,
        runs,
    )


def final_acc(runs: pd.DataFrame, cur: pd.DataFrame | None = None) -> pd.Series:
    """Final test accuracy (%) per seed (validation, validation_2ms)."""
    return _col_by_seed(runs, "final_test_acc", sorted(runs.seed)) * 100


def late_acc(runs: pd.DataFrame, cur: pd.DataFrame) -> pd.Series:
    """Mean test accuracy (%) per seed over each run's evaluations with step > BUDGET − LATE (validation_v3);
    a run that did not complete counts CHANCE."""
    out = {}
    for r in runs.itertuples():
        c = cur[(cur.run_id == r.run_id) & (cur.experiment == r.experiment) & (cur.step > BUDGET - LATE)]
        acc = c.test_acc.dropna()
        out[r.seed] = CHANCE if r.status != "complete" else float(acc.mean()) if len(acc) else math.nan
    return (pd.Series(out, dtype=float) * 100).rename_axis("seed").sort_index()


def _validation_claim(
    df: pd.DataFrame,
    c: dict,
    real_exp: str = "real_async",
    val_exp: str = "validation",
    acc=final_acc,
    cur: pd.DataFrame | None = None,
    what: str = "",
) -> dict:
    """Real async runs vs the core replaying their staleness, on the claim's seeds: `acc(runs, cur)` per seed
    (final_acc: validation, validation_2ms; late_acc: validation_v3), TOST at the claim's margin."""
    seeds = c["seeds"]
    real = acc(_runs(df[df.experiment == real_exp], seeds), cur)
    rep = acc(_runs(df[df.experiment == val_exp], seeds), cur)
    base = df[
        (df.experiment == "sweep")
        & (df.model == "mlp")
        & (df.optimizer == "momentum")
        & (df.staleness_dist == "none")
    ].final_test_acc
    runs = df[df.experiment.isin([real_exp, val_exp]) & df.seed.isin(seeds)]
    mr = _runs(df[df.experiment == real_exp], seeds).staleness_mean.mean()
    res = None if c["test"] == "exploratory" else V.equivalence(real, rep, c["margin"])
    if not len(real) or not len(rep):
        return _row(c["id"], f"runs missing (real n={len(real)}, replay n={len(rep)})", res, runs)
    return _row(
        c["id"],
        f"{what}real {fmt_mean_std(real, 2)} vs replay {fmt_mean_std(rep, 2)} % "
        f"(diff {real.mean() - rep.mean():+.2f} pt); mean staleness {mr:.1f}; no staleness: "
        f"{fmt_mean_std(base * 100, 2)} %",
        res,
        runs,
    )


def readme_blocks(data_dir: Path) -> dict[str, str | None]:
    """The study README's generated blocks (written by `python -m largebatch.report`)."""
    runs, _ = load(data_dir)
    table = steps_table(runs)
    t = table.assign(
        **{
            "steps to 80 %": table.steps_txt,
            "acc. after 6000 (%)": table.acc_txt,
            "coherence": table.coh.map(lambda v: fmt_num(v, 3)),
        }
    )
    t = t.assign(**{"reach 85 %": table.reach_85})
    t = t[["model", "optimizer", "s", "n", "steps to 80 %", "acc. after 6000 (%)", "reach 85 %", "coherence"]]
    other = runs[~runs.experiment.isin(["sweep", "calib", *V2_EXPERIMENTS])].groupby(
        ["experiment", "mechanism", "optimizer", "staleness_dist", "lr_rule"]
    )
    o = pd.DataFrame(
        {
            "n": other.size(),
            "staleness mean": other.staleness_mean.mean().map(lambda v: fmt_num(v, 3)),
            "steps to 80 %": other.steps_to_target.apply(_fmt_steps),
            "final acc. (%)": other.final_test_acc.apply(lambda v: fmt_mean_std(v * 100, 2)),
            "time to 80 %": other[["time_unit", "time_to_target"]].apply(
                lambda g: "–" if (g.time_unit == "steps").all() else _fmt_steps(g.time_to_target, 1)
            ),
            "time unit": other.time_unit.first(),
        }
    ).reset_index()
    cal = calib_table(runs)
    cal = pd.DataFrame(
        {
            "optimizer": cal.optimizer,
            "lr": cal.lr.map(lambda v: f"{v:g}"),
            "steps to 85 %": cal.steps_to_85.map(lambda v: "never" if pd.isna(v) else f"{v:.0f}"),
            "steps to 80 %": cal.steps_to_target.map(lambda v: "never" if pd.isna(v) else f"{v:.0f}"),
            "acc. after 6000 (%)": (cal.final_test_acc * 100).map(lambda v: f"{v:.2f}"),
            "pick": cal.pick.map({True: "**pick**", False: ""}),
            "used by the sweep": cal.configured.map({True: "yes", False: ""}),
        }
    )
    wall = runs.drop_duplicates("run_id").groupby("mechanism").wall_s.agg(["sum", "count"])
    walltime = (
        "; ".join(
            f"{m} runs: {int(r['count'])}, {r['sum'] / 60:.1f} min summed run wall time"
            for m, r in wall.iterrows()
        )
        + f" (total {wall['sum'].sum() / 60:.1f} min; 2 CPU cores)"
    )
    return {
        "sweep": markdown_table(t),
        "other": markdown_table(o),
        "v2": v2_table(runs),
        "calib": markdown_table(cal),
        "walltime": walltime,
        "claims": None,
    }
