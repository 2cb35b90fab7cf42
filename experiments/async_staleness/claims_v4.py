"""The staleness study's claims, fourth design (issue 31): (i), (iv) and (vi) simulated on fresh seeds.

One function per claim id of claims.toml (ids v4_*), each taking the study's data (`Data`) and its spec and
returning one row for largebatch.report, or None while the CSV holds none of the claim's runs; `CLAIMS` maps
the ids to them and `rows` gives the rows that have runs (none before the fourth design's sweep, so the report
is unchanged until then). The runs (config.sweep_v4, config.sim_v4) carry their own experiment names, so the
first design's rows, which select theirs, stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from largebatch import verdict as V
from largebatch.results import fmt_mean_std

from .claims import OPTS, SS, _backup_claim, _row, _runs, late_acc, s_of
from .config import BUDGET, LATE

SWEEP = "sweep_v4"
SIM = "simv4"  # experiments simv4_sync, simv4_backup, simv4_async (config.SIM_KINDS)
EXPERIMENTS = (SWEEP, f"{SIM}_sync", f"{SIM}_backup", f"{SIM}_async")


@dataclass(frozen=True)
class Data:
    """The study's runs and evaluation curves (async_staleness.csv, async_staleness_curves.csv)."""

    runs: pd.DataFrame
    curves: pd.DataFrame

    def sweep(self, seeds) -> pd.DataFrame:
        """The sweep_v4 runs (MLP) of `seeds`, with their s."""
        d = self.runs[(self.runs.experiment == SWEEP) & (self.runs.model == "mlp")]
        return d[d.seed.isin(seeds)].assign(s=lambda x: s_of(x))


def trend_x(s) -> np.ndarray:
    """The trend's abscissa: log2(1 + s) spaces the doubling ladder of s evenly."""
    return np.log2(1.0 + np.asarray(s, dtype=float))


X_MEAN = float(trend_x(SS).mean())  # arms above it (s >= 8) carry positive weight in the slope


def exponent(steps: pd.Series) -> float:
    """Least-squares slope of log2(steps) against log2(1 + s) (steps indexed by s): the exponent b of
    steps ∝ (1 + s)^b."""
    return float(np.polyfit(trend_x(steps.index), np.log2(steps.to_numpy(dtype=float)), 1)[0])


def exponents(d: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Per seed with all six arms: b (indexed by seed), and the steps table (seed x s) it was fitted on. A
    seed that never reaches 80 % (or diverges) counts at the budget."""
    k = d.steps_to_target.astype(float).fillna(float(BUDGET))
    tab = d.assign(k=k).pivot_table(index="seed", columns="s", values="k", aggfunc="first")
    tab = tab.reindex(columns=list(SS)).dropna()
    return pd.Series({seed: exponent(r) for seed, r in tab.iterrows()}, dtype=float), tab


def _trend_part(d: pd.DataFrame, label: str, threshold: float) -> tuple[V.Result, pd.Series, pd.DataFrame]:
    b, tab = exponents(d)
    res = V.bootstrap([b.to_numpy()], np.mean, threshold, ">", label=label, what="exponent b")
    cens = d[d.seed.isin(tab.index) & d.steps_to_target.isna()]
    if (trend_x(cens.s) < X_MEAN).any():  # a bound at s <= 4 pulls the slope down: b is no bound at all
        res = V.replace(res, outcome=V.INCONCLUSIVE, method=res.method + ", censored at s ≤ 4: no bound")
    else:
        res = V.at_least(res, len(cens) > 0)
    return res, b, tab


def i_trend(data: Data, spec: dict) -> dict | None:
    """v4_i_trend: every optimizer's mean exponent b > 0 (bootstrap over seeds)."""
    d = data.sweep(spec["seeds"])
    if not len(d):
        return None
    parts, txt = [], []
    for o in OPTS:
        g = d[d.optimizer == o]
        res, b, tab = _trend_part(g, o, spec["threshold"])
        parts.append(res)
        never = g[g.seed.isin(tab.index)].groupby("s").steps_to_target.apply(lambda v: int(v.isna().sum()))
        means = ", ".join(("≥ " if never.get(s, 0) else "") + f"{tab[s].mean():.0f}" for s in SS if len(tab))
        txt.append(f"{o}: b = {b.mean():.2f} (n={len(b)}), steps {means}")
    return _row(
        spec["id"],
        "exponent b of steps to 80 % ∝ (1 + s)^b, seed mean, and mean steps at s = "
        + ", ".join(map(str, SS))
        + f" (≥: some seed never reaches 80 %, counted at {BUDGET:,}): "
        + "; ".join(txt),
        V.all_of(parts),
        d,
    )


def iv_accuracy(data: Data, spec: dict) -> dict | None:
    """v4_iv_accuracy: late accuracy acc(0) − acc(16) > threshold for momentum and Adam (paired t)."""
    d = data.sweep(spec["seeds"])
    d = d[d.s.isin([0, 16])]
    if not len(d):
        return None

    def acc(o: str, s: int) -> pd.Series:
        return late_acc(_runs(d, spec["seeds"], optimizer=o, s=s), data.curves)

    parts = [
        V.difference(acc(o, 0), acc(o, 16), spec["threshold"], ">", label=o) for o in ("momentum", "adam")
    ]
    txt = "; ".join(
        f"{o}{' (not judged)' if o == 'sgd' else ''}: {fmt_mean_std(acc(o, 0), 2)} -> "
        f"{fmt_mean_std(acc(o, 16), 2)} % (drop {acc(o, 0).mean() - acc(o, 16).mean():.2f} pt)"
        for o in OPTS
    )
    return _row(
        spec["id"],
        f"mean test accuracy over the last {LATE:,} updates, s = 0 -> 16: {txt}",
        V.all_of(parts),
        d[d.optimizer.isin(["momentum", "adam"])],
    )


def vi_sim(data: Data, spec: dict) -> dict | None:
    """v4_vi_sim: vi_sim's criterion and code (claims._backup_claim) on the simv4_* runs."""
    mine = data.runs[data.runs.experiment.str.startswith(f"{SIM}_")]
    if not mine.seed.isin(spec["seeds"]).any():
        return None

    def as_sim(x: pd.DataFrame) -> pd.DataFrame:  # the first design's names, which _backup_claim reads
        return x.assign(experiment=x.experiment.str.replace(f"{SIM}_", "sim_", regex=False))

    cur = data.curves[data.curves.experiment.str.startswith(f"{SIM}_")]
    row = _backup_claim(as_sim(mine), as_sim(cur), "sim", spec)
    row["runs"] = mine[mine.run_id.isin(row["runs"].run_id) & mine.seed.isin(spec["seeds"])]
    return row


CLAIMS = {"v4_i_trend": i_trend, "v4_iv_accuracy": iv_accuracy, "v4_vi_sim": vi_sim}


def rows(df: pd.DataFrame, cur: pd.DataFrame, spec: dict) -> list[dict]:
    """Every v4 row whose runs are in the CSV (none before the fourth design's sweep)."""
    if not df.experiment.isin(EXPERIMENTS).any():
        return []
    data = Data(df, cur)
    out = [fn(data, spec[cid]) for cid, fn in CLAIMS.items()]
    return [r for r in out if r is not None]
