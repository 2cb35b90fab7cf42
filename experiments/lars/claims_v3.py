"""The LARS study's claims, third design (v3, issue 28): the paper's init, ladders placed against B*.

One function per claim id of claims.toml (ids v3_*), each taking the study's data (`Data`) and its spec and
returning one row for largebatch.report; `CLAIMS` maps the ids to them. Accuracies are the last evaluation's
test accuracy in percent (diverged runs score chance); "best" is the grid point with the highest seed mean;
an arm whose best point sits at an edge of its grid makes its row inconclusive (pre-registered).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from largebatch import verdict as V
from largebatch.results import fmt_mean_std

from . import analysis
from .analysis import KEYS, scored

CSV = "paper_figures/data/lars.csv"
BASELINE = {"nobn": 384, "bn": 512}
NAME = {"nobn": "no BN", "bn": "BN"}


@dataclass(frozen=True)
class Data:
    """The v3 runs, their per-setting table (analysis.settings) and the step-1 ratios."""

    runs: pd.DataFrame
    settings: pd.DataFrame
    ratios: pd.DataFrame

    def best(self, net: str, opt: str, b: int, experiment: str = "main") -> pd.Series | None:
        return analysis.best(self.settings, experiment, net, opt, b)

    def acc(self, row: pd.Series, seeds) -> pd.Series:
        """Per-seed accuracy (%) of one setting, indexed by seed."""
        return (self.of(row, seeds).set_index("seed").acc * 100).rename_axis("seed").sort_index()

    def of(self, row: pd.Series, seeds) -> pd.DataFrame:
        r = scored(self.runs)
        m = np.ones(len(r), bool)
        for k in KEYS:
            m &= (r[k] == row[k]).to_numpy() if k != "lr_base" else np.isclose(r[k], row[k])
        return r[m & r.seed.isin(seeds).to_numpy()]

    def edge(self, row: pd.Series | None) -> bool:
        """The setting is at an edge of its grid (same experiment, net, optimizer, batch, epochs)."""
        if row is None:
            return True
        st = self.settings
        g = st[
            (st.experiment == row.experiment)
            & (st.net == row.net)
            & (st.optimizer == row.optimizer)
            & (st.global_batch == row.global_batch)
            & (st.epochs == row.epochs)
        ].lr_base
        return len(g) < 3 or bool(np.isclose(row.lr_base, g.min()) or np.isclose(row.lr_base, g.max()))


def load(data_dir: Path) -> Data:
    runs, _, ratios = analysis.load(Path(data_dir))
    runs = runs[runs["design"] == "v3"]
    return Data(runs, analysis.settings(runs), ratios)


def _ms(x: pd.Series) -> str:
    return fmt_mean_std(x, 2) + " %"


def _edged(res: V.Result, edges: list[str]) -> V.Result:
    """Pre-registered: an arm tuned to the edge of its grid is not shown to be tuned: inconclusive."""
    if not edges:
        return res
    return replace(
        res, outcome=V.INCONCLUSIVE, method=res.method + "; best at a grid edge: " + ", ".join(edges)
    )


def _row(data: Data, s: dict, ours: str, result, settings, control=None) -> dict:
    frames = [data.of(x, s["seeds"]) for x in settings if x is not None]
    runs = pd.concat(frames) if frames else data.runs.iloc[:0]
    wall = float(sum(f.wall_s.mean() for f in frames)) if frames and "wall_s" in runs.columns else None
    return {
        "id": s["id"],
        "ours": ours,
        "result": result,
        "runs": runs,
        "csv": CSV,
        "wall_per_seed": wall,
        "control_result": control,
    }


def _edges(data: Data, named: dict) -> list[str]:
    return [name for name, row in named.items() if data.edge(row)]


def _net(cid: str) -> str:
    return "nobn" if cid.endswith("nobn") else "bn"


def a_fails(data: Data, s: dict) -> dict | None:
    net = _net(s["id"])
    b0, b = s["batch"]
    base, sgd = data.best(net, "sgd", b0), data.best(net, "sgd", b)
    if base is None or sgd is None:
        return None
    x0, x = data.acc(base, s["seeds"]), data.acc(sgd, s["seeds"])
    edges = _edges(data, {f"SGD at {b0}": base, f"SGD at {b}": sgd})
    res = _edged(V.difference(x0, x, s["threshold"], s["direction"]), edges)
    ours = (
        f"best SGD at {b} (lr {sgd.lr:g}) {_ms(x)} vs at {b0} (lr {base.lr:g}) {_ms(x0)}: "
        f"{x0.mean() - x.mean():+.2f} pt; {int(sgd.diverged)} of {int(sgd.n)} seeds diverged"
    )
    return _row(data, s, ours, res, [base, sgd])


def b_beats(data: Data, s: dict) -> dict | None:
    net = _net(s["id"])
    parts, texts, used, edges = [], [], [], []
    for b in s["batch"]:
        la, sg = data.best(net, "lars", b), data.best(net, "sgd", b)
        if la is None or sg is None:
            return None
        xl, xs = data.acc(la, s["seeds"]), data.acc(sg, s["seeds"])
        parts.append(V.difference(xl, xs, s["threshold"], s["direction"], label=f"B={b}"))
        texts.append(f"B={b}: LARS (γ0 {la.lr:g}) {_ms(xl)}, SGD (lr {sg.lr:g}) {_ms(xs)}")
        used += [la, sg]
        edges += _edges(data, {f"LARS at {b}": la, f"SGD at {b}": sg})
    return _row(data, s, "; ".join(texts), _edged(V.all_of(parts), edges), used)


def near_baseline(data: Data, s: dict) -> dict | None:
    net = _net(s["id"])
    base = data.best(net, "sgd", BASELINE[net])
    if base is None:
        return None
    x0 = data.acc(base, s["seeds"])
    parts, ctl, texts, used, edges = [], [], [], [base], _edges(data, {"baseline SGD": base})
    for b in s["batch"]:
        la, sg = data.best(net, "lars", b), data.best(net, "sgd", b)
        if la is None or sg is None:
            return None
        xl, xs = data.acc(la, s["seeds"]), data.acc(sg, s["seeds"])
        parts.append(V.equivalence(xl, x0, s["margin"], label=f"B={b}"))
        ctl.append(V.equivalence(xs, x0, s["margin"], label=f"SGD B={b}"))
        texts.append(f"B={b}: LARS {xl.mean() - x0.mean():+.2f}, SGD {xs.mean() - x0.mean():+.2f} pt")
        used += [la, sg]
        edges += _edges(data, {f"LARS at {b}": la})
    ours = f"vs the baseline {_ms(x0)}: " + "; ".join(texts)
    return _row(data, s, ours, _edged(V.all_of(parts), edges), used, control=V.all_of(ctl, "SGD"))


def c_small(data: Data, s: dict) -> dict | None:
    net = _net(s["id"])
    la, sg = data.best(net, "lars", s["batch"]), data.best(net, "sgd", s["batch"])
    if la is None or sg is None:
        return None
    xl, xs = data.acc(la, s["seeds"]), data.acc(sg, s["seeds"])
    edges = _edges(data, {"LARS": la, "SGD": sg})
    ours = f"LARS (γ0 {la.lr:g}) {_ms(xl)} vs SGD (lr {sg.lr:g}) {_ms(xs)}: {xl.mean() - xs.mean():+.2f} pt"
    return _row(data, s, ours, _edged(V.equivalence(xl, xs, s["margin"]), edges), [la, sg])


def d_pre(data: Data, s: dict) -> dict | None:
    base, la = data.best("nobn", "sgd", BASELINE["nobn"]), data.best("nobn", "lars", s["batch"])
    if base is None or la is None:
        return None
    x0, xl = data.acc(base, s["seeds"]), data.acc(la, s["seeds"])
    edges = _edges(data, {"LARS 1x": la})
    ours = (
        f"LARS at {s['batch']} (γ0 {la.lr:g}) {_ms(xl)} vs the baseline {_ms(x0)}: gap "
        f"{x0.mean() - xl.mean():.2f} pt"
    )
    return _row(
        data, s, ours, _edged(V.difference(x0, xl, s["threshold"], s["direction"]), edges), [base, la]
    )


def d_longer(data: Data, s: dict) -> dict | None:
    b = s["batch"]
    base = data.best("nobn", "sgd", BASELINE["nobn"])
    e1, e2 = data.best("nobn", "lars", b), data.best("nobn", "lars", b, "longer")
    if base is None or e1 is None or e2 is None:
        return None
    x1, x2, x0 = (data.acc(x, s["seeds"]) for x in (e1, e2, base))
    common = x1.index.intersection(x2.index).intersection(x0.index)
    res = V.bootstrap(
        [x1[common], x2[common], x0[common]],
        lambda a, c, z: (c.mean() - a.mean()) / (z.mean() - a.mean()),
        s["threshold"],
        s["direction"],
        paired=True,
        what="recovered fraction",
    )
    edges = _edges(data, {"LARS 1x": e1, "LARS 2x": e2})
    ours = (
        f"B={b}: LARS 1x (γ0 {e1.lr:g}) {_ms(x1)}, 2x (γ0 {e2.lr:g}) {_ms(x2)}, baseline {_ms(x0)}: "
        f"{res.estimate:.0%} of the gap recovered"
    )
    return _row(data, s, ours, _edged(res, edges), [e1, e2, base])


def e_spread(data: Data, s: dict) -> dict | None:
    net = _net(s["id"])
    t2 = data.runs[data.runs.experiment == "table2"]
    mine = t2[
        (t2.net == net) & (t2.init == "caffe") & (t2.global_batch == s["batch"]) & t2.seed.isin(s["seeds"])
    ]
    if not len(mine):
        return None
    w = analysis.spread(data.ratios, mine, weights_only=True)
    a = analysis.spread(data.ratios, mine)
    return {
        "id": s["id"],
        "ours": f"Caffe init, weight tensors: {fmt_mean_std(w.spread, 1)}x; all tensors (biases, BN γ): "
        f"{fmt_mean_std(a.spread, 1)}x",
        "result": V.one_sample(w.spread, s["threshold"], s["direction"]),
        "runs": mine,
        "csv": CSV,
        "wall_per_seed": float(mine.wall_s.mean()) if "wall_s" in mine.columns else None,
    }


CLAIMS = {
    "v3_a_nobn": a_fails,
    "v3_a_bn": a_fails,
    "v3_b_nobn": b_beats,
    "v3_b_bn": b_beats,
    "v3_near_nobn": near_baseline,
    "v3_near_bn": near_baseline,
    "v3_c_nobn": c_small,
    "v3_c_bn": c_small,
    "v3_d_pre": d_pre,
    "v3_d_nobn": d_longer,
    "v3_e_nobn": e_spread,
    "v3_e_bn": e_spread,
}


def rows(data_dir: Path, spec: dict) -> list[dict]:
    """Every v3 row whose settings have runs (None from a claim without them is left out)."""
    data = load(data_dir)
    out = [fn(data, spec[cid]) for cid, fn in CLAIMS.items()]
    return [r for r in out if r is not None]
