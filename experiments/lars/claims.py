"""Claims of the LARS study's third design (v3, issue 28): the paper's init, each net's ladder against its B*.

The claims are data in claims.toml (ids v3_*), one registered function each (largebatch.claims), in the
order of the README table; each takes the study's data (`load`) and its [[claim]] table and returns a `Row`,
or None while its settings have no runs. Accuracies are the last evaluation's test accuracy in percent
(diverged runs score chance); "best" is the grid point with the highest seed mean; an arm whose best point
sits at an edge of its grid makes its row inconclusive (pre-registered). The batches are the spec's, fixed
before the runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from largebatch import verdict as V
from largebatch.claims import Row, claim
from largebatch.prereg import load_spec
from largebatch.results import fmt_mean_std, markdown_table

from . import analysis
from .analysis import BASE_B, KEYS, scored, summary

CSV = "paper_figures/data/lars.csv"
BASELINE = {"nobn": 384, "bn": 512}
NAME = {"nobn": "no BN", "bn": "BN"}
NAMES = {"nobn": "no-BN net", "bn": "BN net"}
NETS = {"nobn": "AlexNet-like, no BN", "bn": "AlexNet-like + BN"}


@dataclass(frozen=True)
class Data:
    """The v3 runs, their per-setting table (analysis.settings) and the step-1 ratios."""

    runs: pd.DataFrame
    settings: pd.DataFrame
    ratios: pd.DataFrame
    data_dir: Path | None = None

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
    """The v3 rows of lars.csv (collect.py writes design = "v3"), their settings and the step-1 ratios."""
    runs, _, ratios = analysis.load(Path(data_dir))
    runs = runs[runs["design"] == "v3"] if "design" in runs.columns else runs.iloc[:0]
    return Data(runs, analysis.settings(runs), ratios, Path(data_dir))


def _ms(x: pd.Series) -> str:
    return fmt_mean_std(x, 2) + " %"


def _edged(res: V.Result, edges: list[str]) -> V.Result:
    """Pre-registered: an arm tuned to the edge of its grid is not shown to be tuned: inconclusive."""
    if not edges:
        return res
    return replace(
        res, outcome=V.INCONCLUSIVE, method=res.method + "; best at a grid edge: " + ", ".join(edges)
    )


def _row(data: Data, s: dict, ours: str, result, settings, control=None) -> Row:
    frames = [data.of(x, s["seeds"]) for x in settings if x is not None]
    runs = pd.concat(frames) if frames else data.runs.iloc[:0]
    wall = float(sum(f.wall_s.mean() for f in frames)) if frames and "wall_s" in runs.columns else None
    return Row(ours, result, runs=runs, csv=CSV, wall_per_seed=wall, control_result=control)


def _edges(data: Data, named: dict) -> list[str]:
    return [name for name, row in named.items() if data.edge(row)]


def _a_fails(data: Data, s: dict, net: str) -> Row | None:
    """Precondition (a): tuned SGD at the image of 4K more than the threshold below tuned SGD at the
    baseline batch (both tuned on their grids)."""
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


def _b_beats(data: Data, s: dict, net: str) -> Row | None:
    """(b): LARS (best γ0) minus tuned SGD above the threshold at every batch of the spec."""
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


def _near_baseline(data: Data, s: dict, net: str) -> Row | None:
    """(b'): LARS within the margin of the baseline (TOST) at every batch; tuned SGD by the same test is
    the control."""
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


def _c_small(data: Data, s: dict, net: str) -> Row | None:
    """(c): LARS at the baseline batch within the margin of tuned SGD there (TOST)."""
    la, sg = data.best(net, "lars", s["batch"]), data.best(net, "sgd", s["batch"])
    if la is None or sg is None:
        return None
    xl, xs = data.acc(la, s["seeds"]), data.acc(sg, s["seeds"])
    edges = _edges(data, {"LARS": la, "SGD": sg})
    ours = f"LARS (γ0 {la.lr:g}) {_ms(xl)} vs SGD (lr {sg.lr:g}) {_ms(xs)}: {xl.mean() - xs.mean():+.2f} pt"
    return _row(data, s, ours, _edged(V.equivalence(xl, xs, s["margin"]), edges), [la, sg])


def _e_spread(data: Data, s: dict, net: str) -> Row | None:
    """(e): per seed, max/min of ‖w‖/‖g‖ over the weight tensors at step 1 (Caffe init), above the
    threshold on average (the spread over all tensors is shown beside it)."""
    t2 = data.runs[data.runs.experiment == "table2"]
    mine = t2[
        (t2.net == net) & (t2.init == "caffe") & (t2.global_batch == s["batch"]) & t2.seed.isin(s["seeds"])
    ]
    if not len(mine):
        return None
    w = analysis.spread(data.ratios, mine, weights_only=True)
    a = analysis.spread(data.ratios, mine)
    return Row(
        f"Caffe init, weight tensors: {fmt_mean_std(w.spread, 1)}x; all tensors (biases, BN γ): "
        f"{fmt_mean_std(a.spread, 1)}x",
        V.one_sample(w.spread, s["threshold"], s["direction"]),
        runs=mine,
        csv=CSV,
        wall_per_seed=float(mine.wall_s.mean()) if "wall_s" in mine.columns else None,
    )


@claim("v3_a_nobn")
def a_nobn(data: Data, s: dict) -> Row | None:
    """Precondition (a), no BN: tuned SGD fails at the image of 4K."""
    return _a_fails(data, s, "nobn")


@claim("v3_a_bn")
def a_bn(data: Data, s: dict) -> Row | None:
    """Precondition (a), BN: tuned SGD fails at the image of 4K."""
    return _a_fails(data, s, "bn")


@claim("v3_b_nobn")
def b_nobn(data: Data, s: dict) -> Row | None:
    """(b), no BN: LARS beats tuned SGD at the images of 4K and 8K."""
    return _b_beats(data, s, "nobn")


@claim("v3_b_bn")
def b_bn(data: Data, s: dict) -> Row | None:
    """(b), BN: LARS beats tuned SGD at the images of 4K and 8K."""
    return _b_beats(data, s, "bn")


@claim("v3_near_nobn")
def near_nobn(data: Data, s: dict) -> Row | None:
    """(b'), no BN: LARS within the margin of the baseline at the images of 4K and 8K."""
    return _near_baseline(data, s, "nobn")


@claim("v3_near_bn")
def near_bn(data: Data, s: dict) -> Row | None:
    """(b'), BN: LARS within the margin of the baseline at the images of 4K and 8K."""
    return _near_baseline(data, s, "bn")


@claim("v3_c_nobn")
def c_nobn(data: Data, s: dict) -> Row | None:
    """(c), no BN: LARS = tuned SGD at the baseline batch."""
    return _c_small(data, s, "nobn")


@claim("v3_c_bn")
def c_bn(data: Data, s: dict) -> Row | None:
    """(c), BN: LARS = tuned SGD at the baseline batch."""
    return _c_small(data, s, "bn")


@claim("v3_d_pre")
def d_pre(data: Data, s: dict) -> Row | None:
    """Precondition (d), no BN: LARS itself more than the threshold below the baseline at the image of 16K."""
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


@claim("v3_d_nobn")
def d_nobn(data: Data, s: dict) -> Row | None:
    """(d) Table 5, no BN: the fraction of LARS's gap to the baseline that doubling the epochs recovers
    (ratio of seed means, seeds resampled together)."""
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


@claim("v3_e_nobn")
def e_nobn(data: Data, s: dict) -> Row | None:
    """(e), no BN: the step-1 spread of ‖w‖/‖g‖ across the weight tensors with the Caffe init."""
    return _e_spread(data, s, "nobn")


@claim("v3_e_bn")
def e_bn(data: Data, s: dict) -> Row | None:
    """(e), BN: the step-1 spread of ‖w‖/‖g‖ across the weight tensors with the Caffe init."""
    return _e_spread(data, s, "bn")


# ---- second design (v2): its rows from the v2 CSV through claims_v2 (below), one registered id each --------
@lru_cache(maxsize=4)
def _v2_rows(data_dir: str) -> dict[str, dict]:
    runs = pd.read_csv(Path(data_dir) / "lars.csv")
    return {r["id"]: r for r in claims_v2(Path(data_dir))} if is_v2(runs) else {}


def _v2(data: Data, cid: str) -> Row | None:
    r = _v2_rows(str(data.data_dir)).get(cid)
    return None if r is None else Row.from_dict(r)


@claim("v2_a_nobn")
def v2_a_nobn(data: Data, s: dict) -> Row | None:
    return _v2(data, "v2_a_nobn")


@claim("v2_b_nobn")
def v2_b_nobn(data: Data, s: dict) -> Row | None:
    return _v2(data, "v2_b_nobn")


@claim("v2_c_nobn")
def v2_c_nobn(data: Data, s: dict) -> Row | None:
    return _v2(data, "v2_c_nobn")


@claim("v2_d_nobn")
def v2_d_nobn(data: Data, s: dict) -> Row | None:
    return _v2(data, "v2_d_nobn")


@claim("v2_b_bn")
def v2_b_bn(data: Data, s: dict) -> Row | None:
    return _v2(data, "v2_b_bn")


@claim("v2_c_bn")
def v2_c_bn(data: Data, s: dict) -> Row | None:
    return _v2(data, "v2_c_bn")


@claim("v2_e_nobn_caffe")
def v2_e_nobn_caffe(data: Data, s: dict) -> Row | None:
    return _v2(data, "v2_e_nobn_caffe")


@claim("v2_e_nobn")
def v2_e_nobn(data: Data, s: dict) -> Row | None:
    return _v2(data, "v2_e_nobn")


@claim("v2_e_bn_caffe")
def v2_e_bn_caffe(data: Data, s: dict) -> Row | None:
    return _v2(data, "v2_e_bn_caffe")


@claim("v2_e_bn")
def v2_e_bn(data: Data, s: dict) -> Row | None:
    return _v2(data, "v2_e_bn")


def _acc(seeds) -> str:
    return fmt_mean_std(seeds, 2) + " %"


def _runs_of(runs: pd.DataFrame, row: pd.Series, seeds) -> pd.DataFrame:
    r = scored(runs)
    m = np.ones(len(r), bool)
    for k in KEYS:
        m &= (r[k] == row[k]).to_numpy() if k != "lr_base" else np.isclose(r[k], row[k])
    return r[m & r.seed.isin(seeds).to_numpy()]


def _by_seed(runs: pd.DataFrame, row: pd.Series, seeds) -> pd.Series:
    """Per-seed accuracy (%) of one setting, indexed by seed (diverged = chance)."""
    r = _runs_of(runs, row, seeds)
    return (r.set_index("seed").acc * 100).rename_axis("seed").sort_index()


def _wall(runs: pd.DataFrame, rows) -> float | None:
    if "wall_s" not in runs.columns:
        return None
    return float(sum(_runs_of(runs, x, runs.seed.unique()).wall_s.mean() for x in rows if x is not None))


def _row_v2(cid, ours, result, runs, settings_rows, seeds) -> dict:
    sub = pd.concat([_runs_of(runs, x, seeds) for x in settings_rows if x is not None])
    return {
        "id": cid,
        "ours": ours,
        "result": result,
        "runs": sub,
        "csv": CSV,
        "wall_per_seed": _wall(runs, settings_rows),
    }


def is_v2(runs: pd.DataFrame) -> bool:
    """The CSV holds the second design's runs (collect.py writes design = "v2"; the first CSV has none)."""
    return "design" in runs.columns and bool((runs["design"] == "v2").any())


# ---- second design (v2, issue 16): claims at the images of the paper's batches (config.py, proxy.py) ------
def grid_edge(st: pd.DataFrame, row: pd.Series | None) -> bool:
    """The best setting `row` lies at an edge of its lr grid (same experiment, net, optimizer, B, epochs)."""
    if row is None:
        return True
    g = st[
        (st.experiment == row.experiment)
        & (st.net == row.net)
        & (st.optimizer == row.optimizer)
        & (st.global_batch == row.global_batch)
        & (st.epochs == row.epochs)
    ].lr_base
    return len(g) < 3 or bool(np.isclose(row.lr_base, g.min()) or np.isclose(row.lr_base, g.max()))


def _edge_rule(res: V.Result, edges: list[str]) -> V.Result:
    """Pre-registered: a row whose SGD control's best lr sits at an edge of its grid is inconclusive (the
    control is not shown to be tuned)."""
    if not edges:
        return res
    from dataclasses import replace

    return replace(res, outcome=V.INCONCLUSIVE, method=res.method + "; best SGD lr at a grid edge")


def claims_v2(data_dir: Path) -> list[dict]:
    """The second design's rows (claims.toml ids v2_*), from the v2 rows of the committed CSVs."""
    from .config import NETS as _NETS
    from .proxy import B_CLAIM, B_LONGER

    spec = load_spec("lars")
    runs, _, ratios = analysis.load(Path(data_dir))
    runs = runs[runs["design"] == "v2"]
    st = analysis.settings(runs)
    rows = []

    def best(exp, net, opt, b):
        return analysis.best(st, exp, net, opt, b)

    for net in _NETS:
        base = best("main", net, "sgd", BASE_B)
        if base is None:
            continue
        sg, la = best("main", net, "sgd", B_CLAIM), best("main", net, "lars", B_CLAIM)
        lb = best("main", net, "lars", BASE_B)
        edge_base = ["SGD B=128"] if grid_edge(st, base) else []
        if net == "nobn" and "v2_a_nobn" in spec:
            s = spec["v2_a_nobn"]
            lin = st[
                (st.experiment == "main")
                & (st.net == net)
                & (st.optimizer == "sgd")
                & (st.global_batch == B_CLAIM)
                & np.isclose(st.lr_base, base.lr_base)
            ]
            if len(lin):
                lin = lin.iloc[0]
                b_, l_ = _by_seed(runs, base, s["seeds"]), _by_seed(runs, lin, s["seeds"])
                rows.append(
                    _row_v2(
                        "v2_a_nobn",
                        f"B={B_CLAIM}, lr {lin.lr:g} (η0 = {base.lr:g} × B/128): {int(lin.diverged)} of "
                        f"{int(lin.n)} seeds diverged; {_acc(l_)} vs baseline {_acc(b_)}: "
                        f"{l_.mean() - b_.mean():+.2f} pt",
                        _edge_rule(V.difference(b_, l_, s["threshold"], s["direction"]), edge_base),
                        runs,
                        [base, lin],
                        s["seeds"],
                    )
                )
        cid = f"v2_b_{net}"
        if cid in spec and la is not None and sg is not None:
            s = spec[cid]
            b_, l_, g_ = (_by_seed(runs, x, s["seeds"]) for x in (base, la, sg))
            edges = edge_base + ([f"SGD B={B_CLAIM}"] if grid_edge(st, sg) else [])
            res = V.all_of(
                [
                    V.difference(b_, l_, s["threshold"][0], "<", label="baseline − LARS"),
                    V.difference(l_, g_, s["threshold"][1], ">", label="LARS − SGD"),
                ]
            )
            rows.append(
                _row_v2(
                    cid,
                    f"B={B_CLAIM}: LARS (γ0={la.lr:g}) {_acc(l_)} vs baseline (SGD lr={base.lr:g}) "
                    f"{_acc(b_)}: gap {b_.mean() - l_.mean():.2f} pt; best SGD (lr={sg.lr:g}) {_acc(g_)}: "
                    f"LARS {l_.mean() - g_.mean():+.2f} pt"
                    + (f"; at a grid edge: {', '.join(edges)}" if edges else ""),
                    _edge_rule(res, edges),
                    runs,
                    [base, la, sg],
                    s["seeds"],
                )
            )
        cid = f"v2_c_{net}"
        if cid in spec and lb is not None:
            s = spec[cid]
            l_, b_ = _by_seed(runs, lb, s["seeds"]), _by_seed(runs, base, s["seeds"])
            rows.append(
                _row_v2(
                    cid,
                    f"LARS (γ0={lb.lr:g}) {_acc(l_)} vs SGD (lr={base.lr:g}) {_acc(b_)}: "
                    f"{l_.mean() - b_.mean():+.2f} pt"
                    + ("; SGD's best lr at a grid edge" if edge_base else ""),
                    _edge_rule(V.equivalence(l_, b_, s["margin"]), edge_base),
                    runs,
                    [lb, base],
                    s["seeds"],
                )
            )
        cid = f"v2_d_{net}"
        e1, e2 = best("main", net, "lars", B_LONGER), best("longer", net, "lars", B_LONGER)
        if cid in spec and e1 is not None and e2 is not None:
            s = spec[cid]
            x1, x2, b_ = (_by_seed(runs, x, s["seeds"]) for x in (e1, e2, base))
            common = x1.index.intersection(x2.index).intersection(b_.index)
            res = V.bootstrap(
                [x1[common], x2[common], b_[common]],
                lambda a, c, b: (c.mean() - a.mean()) / (b.mean() - a.mean()),
                s["threshold"],
                s["direction"],
                paired=True,
                what="recovered fraction",
            )
            rows.append(
                _row_v2(
                    cid,
                    f"B={B_LONGER}: LARS {e1.epochs:.3g} ep (γ0={e1.lr:g}) {_acc(x1)}, gap "
                    f"{b_.mean() - x1.mean():.2f} pt; {e2.epochs:.3g} ep (γ0={e2.lr:g}) {_acc(x2)}: "
                    f"{x2.mean() - x1.mean():+.2f} pt = {res.estimate:.0%} of it",
                    res,
                    runs,
                    [e1, e2, base],
                    s["seeds"],
                )
            )
    t2 = runs[runs.experiment == "table2"]
    for net in _NETS:
        for init in ("caffe", "default"):
            cid = f"v2_e_{net}" + ("_caffe" if init == "caffe" else "")
            if cid not in spec:
                continue
            c = spec[cid]
            mine = t2[
                (t2.net == net) & (t2.init == init) & (t2.global_batch == BASE_B) & t2.seed.isin(c["seeds"])
            ]
            if not len(mine):
                continue
            w = analysis.spread(ratios, mine, weights_only=True)
            a = analysis.spread(ratios, mine)
            rows.append(
                {
                    "id": cid,
                    "ours": f"{init} init, weight tensors: {fmt_mean_std(w.spread, 1)}x; all tensors "
                    f"(biases, BN γ): {fmt_mean_std(a.spread, 1)}x",
                    "result": V.one_sample(w.spread, c["threshold"], c["direction"]),
                    "runs": mine,
                    "csv": CSV,
                    "wall_per_seed": float(mine.wall_s.mean()) if "wall_s" in mine.columns else None,
                }
            )
    return rows


def regime_block() -> str:
    """The paper-vs-proxy table of the second design (proxy.regime_table), from the configs, not the runs."""
    from . import proxy

    rows = pd.DataFrame(proxy.regime_table())
    note = (
        f"B_simple = {proxy.B_SIMPLE:,.0f}"
        + (" (PROVISIONAL: not yet measured on this net)" if proxy.B_SIMPLE_PROVISIONAL else " (measured)")
        + f"; STEPS_LARGEST = {proxy.STEPS_LARGEST} at the image of 32K; ladder "
        + ", ".join(f"{b:,}" for b in proxy.LADDER)
        + f"; E = {proxy.E_CPU:.2f} epochs for every arm."
    )
    from .config import grid

    b, b1 = proxy.budget(grid("cpu_v2")), proxy.budget(grid("cpu_v1"))
    note += (
        f" Budget estimate of the v2 cpu grid: {b['runs']} runs, {b['minutes']:.1f} min of summed run wall "
        "time (examples / the first design's measured examples/s per net and B on this machine, plus "
        f"evaluations, times {b['safety']:g} for safety; the same estimate gives {b1['minutes']:.1f} min for "
        "the first design's 210 runs)."
    )
    return markdown_table(
        rows.rename(columns={"paper": "paper (AlexNet / AlexNet-BN)", "proxy": "cpu proxy v2"})
    ) + ("\n\n" + note)


def _results_v2(data_dir: Path) -> str:
    """The v2 results block: claims, accuracy per (net, B) of the tuned arms (the ladder), step-1 table per
    init, the sweep's time."""
    runs, _, ratios = analysis.load(Path(data_dir))
    runs = runs[runs["design"] == "v2"]
    bt = analysis.batch_table(runs)
    bt = bt.assign(order=bt.net.map({n: i for i, n in enumerate(NETS)})).sort_values(["order", "B"])

    def cell(m, s, n, lr, dv):
        if m is None or pd.isna(m):
            return ""
        out = (
            f"{100 * m:.2f} ± {100 * s:.2f} (n={int(n)})" if not pd.isna(s) else f"{100 * m:.2f} (n={int(n)})"
        )
        return out + f" @ {lr:g}" + (f", {int(dv)} diverged" if dv else "")

    steps = runs[runs.experiment == "main"].groupby("global_batch").steps.first()
    bt_md = pd.DataFrame(
        {
            "net": bt.net.map(NETS),
            "B": bt.B,
            "steps": bt.B.map(steps),
            **{
                f"{name} (%, lr)": [
                    cell(*r)
                    for r in bt[[f"{k}_mean", f"{k}_std", f"{k}_n", f"{k}_lr", f"{k}_diverged"]].itertuples(
                        index=False
                    )
                ]
                for name, k in (
                    ("SGD tuned", "sgd"),
                    ("SGD linear rule", "sgd_linear"),
                    ("LARS tuned", "lars"),
                )
            },
        }
    )
    t2 = runs[(runs.experiment == "table2") & (runs.global_batch == BASE_B)]
    r = ratios[(ratios.step == 1) & ratios.run_id.isin(t2.run_id)].merge(
        t2[["run_id", "net", "init"]], on="run_id"
    )
    r = r.assign(w_over_g=r.w_norm / r.g_norm, col=r.net.map({"nobn": "no-BN", "bn": "BN"}) + ", " + r.init)
    t2_md = r.pivot_table(index="layer", columns="col", values="w_over_g", sort=False).reset_index()
    t2_md = t2_md.assign(pos=t2_md.layer.map({n: i for i, n in enumerate(analysis.LAYER_ORDER)})).sort_values(
        "pos"
    )
    t2_md = t2_md.drop(columns="pos").round(2)
    timing = (
        f"cpu sweep (v2): {len(runs)} runs, sum of the runs' wall times {runs.wall_s.sum() / 60:.1f} min "
        f"(device {runs['meta.device'].iloc[0]}, torch {runs['meta.torch'].iloc[0]})"
    )
    return "\n\n".join(["<<claims>>", markdown_table(bt_md), markdown_table(t2_md), timing])


def readme_blocks(data_dir: Path) -> dict[str, str | None]:
    """The study README's generated blocks (written by `python -m largebatch.report`): the claims, the batch
    table, the step-1 table and the sweep's time ("results"); the v2 design's paper-vs-proxy table
    ("regime")."""
    if is_v2(pd.read_csv(Path(data_dir) / "lars.csv")):
        return {"results": _results_v2(Path(data_dir)), "regime": regime_block()}
    S = summary(Path(data_dir))
    runs = S["runs"]
    bt = (
        S["batch"]
        .assign(order=lambda d: d.net.map({n: i for i, n in enumerate(NETS)}))
        .sort_values(["order", "B"])
    )

    def cell(m, s, n, lr, dv):
        if m is None or pd.isna(m):
            return ""
        out = (
            f"{100 * m:.2f} ± {100 * s:.2f} (n={int(n)})" if not pd.isna(s) else f"{100 * m:.2f} (n={int(n)})"
        )
        return out + f" @ {lr:g}" + (f", {int(dv)} diverged" if dv else "")

    bt_md = pd.DataFrame(
        {
            "net": bt.net.map(NETS),
            "B": bt.B,
            **{
                f"{name} (%, lr)": [
                    cell(*r)
                    for r in bt[[f"{k}_mean", f"{k}_std", f"{k}_n", f"{k}_lr", f"{k}_diverged"]].itertuples(
                        index=False
                    )
                ]
                for name, k in (
                    ("SGD tuned", "sgd"),
                    ("SGD linear rule", "sgd_linear"),
                    ("LARS tuned", "lars"),
                )
            },
        }
    )
    t2 = S["step1"][S["step1"].global_batch == BASE_B]
    t2_md = t2.pivot_table(index="layer", columns="net", values="w_over_g", sort=False)[
        list(NETS)
    ].reset_index()
    t2_md = t2_md.assign(pos=t2_md.layer.map({n: i for i, n in enumerate(analysis.LAYER_ORDER)})).sort_values(
        "pos"
    )
    t2_md = t2_md.drop(columns="pos").rename(columns={"nobn": "no-BN ‖w‖/‖g‖", "bn": "BN ‖w‖/‖g‖"}).round(2)
    timing = (
        f"cpu sweep: {len(runs)} runs, sum of the runs' wall times {runs.wall_s.sum() / 60:.1f} min "
        f"(device {runs['meta.device'].iloc[0]}, torch {runs['meta.torch'].iloc[0]})"
    )
    return {
        "results": "\n\n".join(["<<claims>>", markdown_table(bt_md), markdown_table(t2_md), timing]),
        "regime": regime_block(),
    }
