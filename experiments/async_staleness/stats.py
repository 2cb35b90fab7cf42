"""The staleness study's statistics on its committed CSVs: per-seed values of an arm, the tables of the
README and the notebook, and the readings the claims use (claims.py judges them).

Readings of the criteria (first committed in claims.py; claims.toml holds the claims):
  * steps to target = first evaluation (every 50 steps) with test accuracy >= 80 % (config.TARGET); a seed
    that never reaches it (or diverges) counts at the budget (its `steps`), a lower bound, in the tests; the
    tables show such a mean as "> budget";
  * slowdown(s) = mean steps(s) / mean steps(0) (Dai et al.'s normalisation); a diverged run's fixed-budget
    accuracy is CHANCE;
  * (vi) T_eq = the backup run's end, or the async run's end if that comes first; a run's accuracy at T_eq is
    its last evaluation at or before T_eq (`acc_at`), or the mean over (0.8·T_eq, T_eq] (`acc_window`).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from largebatch.formatting import fmt_mean_std, markdown_table

from . import analysis as A
from .config import BUDGET, LATE, OPTIMIZERS

OPTS = ("sgd", "momentum", "adam")
CHANCE = 0.10
SS = (0, 2, 4, 8, 16, 32)
V2_EXPERIMENTS = ("calib_alpha", "lr_rule_v2", "sweep_v2")


def load_csvs(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, curves): async_staleness.csv and async_staleness_curves.csv."""
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
            "steps_txt": g.steps_to_target.apply(fmt_steps),
            "acc": g.final_test_acc.apply(lambda v: v.fillna(CHANCE).mean()),
            "acc_txt": g.final_test_acc.apply(lambda v: fmt_mean_std(v.fillna(CHANCE) * 100, 2)),
            "reach_85": g.steps_to_85.apply(lambda v: f"{v.notna().sum()}/{len(v)}"),
            "coh": g.coherence_mean.mean(),
            "n": g.size(),
        }
    ).reset_index()


def fmt_steps(v, digits: int = 0) -> str:
    """mean ± std (n) of steps (or times) to target; '> budget' when any seed never reaches it."""
    v = pd.Series(v, dtype=float)
    m = A.censored_mean(v)
    if math.isinf(m):
        return f"> budget ({int(v.isna().sum())}/{len(v)} seeds never reach it)"
    return fmt_mean_std(v, digits)


def slowdown(t: pd.DataFrame, model: str, opt: str, s: int = 16) -> float:
    x = t.set_index(["model", "optimizer", "s"]).steps
    return x[(model, opt, s)] / x[(model, opt, 0)]


def fmt_ratio(x: float) -> str:
    """A slowdown as text: 2 decimals, or inf."""
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


def select(df: pd.DataFrame, seeds=None, **match) -> pd.DataFrame:
    """The rows of `df` whose columns equal `match` (`s=`: the staleness s, from staleness_dist) and whose
    seed is in `seeds` (all seeds when None)."""
    d = df
    for k, v in match.items():
        d = d[s_of(d) == v] if k == "s" else d[d[k] == v]
    return d if seeds is None else d[d.seed.isin(seeds)]


def censored(df: pd.DataFrame, seeds, **match) -> bool:
    """Does some seed of the arm never reach the target (its steps are then a lower bound)?"""
    return bool(select(df, seeds, **match).steps_to_target.isna().any())


def steps_by_seed(df: pd.DataFrame, seeds, **match) -> pd.Series:
    """Steps to target per seed (a seed that never reaches it: its step budget, a lower bound)."""
    d = select(df, seeds, **match)
    v = d.steps_to_target.astype(float).where(d.steps_to_target.notna(), d.steps.astype(float))
    return v.set_axis(d.seed).rename_axis("seed").sort_index()


def col_by_seed(df: pd.DataFrame, col: str, seeds, fill=None, **match) -> pd.Series:
    """Column `col` per seed of the arm `match` (NaN filled with `fill` when given)."""
    d = select(df, seeds, **match)
    v = d[col].astype(float)
    if fill is not None:
        v = v.fillna(fill)
    return v.set_axis(d.seed).rename_axis("seed").sort_index()


def ratio_diff(*arrs):
    """slowdown(a) − slowdown(b) for arrays (a16, a0, b16, b0)."""
    a16, a0, b16, b0 = arrs
    return a16.mean() / a0.mean() - b16.mean() / b0.mean()


def recovered(a, b, z):
    """(v) the fraction of the staleness penalty a rule recovers: (steps(16) − steps(16, rule)) /
    (steps(16) − steps(0)), arrays (a16, rule, a0)."""
    return (a.mean() - b.mean()) / (a.mean() - z.mean())


def v2_table(runs: pd.DataFrame) -> str:
    """The second design's arms (README block `v2`): steps to 80 % and final accuracy per arm and alpha0."""
    d = runs[runs.experiment.isin(V2_EXPERIMENTS)].assign(s=lambda x: s_of(x))
    if not len(d):
        return "No runs of the second design yet."
    g = d.groupby(["experiment", "model", "optimizer", "s", "lr_rule", "lr"])
    t = pd.DataFrame(
        {
            "n": g.size(),
            "steps to 80 %": g.steps_to_target.apply(fmt_steps),
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


def final_acc(runs: pd.DataFrame, cur: pd.DataFrame | None = None) -> pd.Series:
    """Final test accuracy (%) per seed (validation, validation_2ms)."""
    return col_by_seed(runs, "final_test_acc", sorted(runs.seed)) * 100


def late_acc(runs: pd.DataFrame, cur: pd.DataFrame) -> pd.Series:
    """Mean test accuracy (%) per seed over each run's evaluations with step > BUDGET − LATE (validation_v3);
    a run that did not complete counts CHANCE."""
    out = {}
    for r in runs.itertuples():
        c = cur[(cur.run_id == r.run_id) & (cur.experiment == r.experiment) & (cur.step > BUDGET - LATE)]
        acc = c.test_acc.dropna()
        out[r.seed] = CHANCE if r.status != "complete" else float(acc.mean()) if len(acc) else math.nan
    return (pd.Series(out, dtype=float) * 100).rename_axis("seed").sort_index()
