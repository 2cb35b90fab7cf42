"""Claims of the LARS study's third design (v3, issue 28: the paper's init, each net's ladder against its B*)
and of its fourth (v4, issue 31: the rows v3 could not decide, on fresh seeds with wider grids).

The claims are data in claims.toml (ids v3_*, v4_*); one registered function (largebatch.claims) computes
each statistic for every id that names it (both nets, both designs: it reads which from the id), taking the
study's data (`load`) and the id's [[claim]] table and returning a `Row`, or None while its settings have no
runs. Accuracies are the last evaluation's test accuracy in percent (diverged runs score chance); "best" is
the grid point with the highest seed mean; an arm whose best point sits at an edge of its grid makes its row
inconclusive (pre-registered). The batches are the spec's, fixed before the runs. The first and second
designs' claims are in git history (claims.toml names the commit).
readme_blocks writes the study README's generated blocks from the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from largebatch import verdict as V
from largebatch.claims import Row, claim
from largebatch.results import fmt_mean_std, markdown_table

from . import analysis, proxy
from .analysis import BASE_B, KEYS, scored
from .config import NETS_V3

CSV = "paper_figures/data/lars.csv"
BASELINE = {"nobn": 384, "bn": 512}
NAME = {"nobn": "no BN", "bn": "BN"}


@dataclass(frozen=True)
class Data:
    """The v3 runs, their per-setting table (analysis.settings) and the step-1 ratios."""

    runs: pd.DataFrame
    settings: pd.DataFrame
    ratios: pd.DataFrame
    v4: Data | None = None  # the fourth design's runs (design = "v4"), read by the v4_* claims

    def design(self, s: dict) -> Data:
        """The runs a claim reads: the fourth design's for a v4_* id (empty when `v4` is not given), else
        these (the third design's)."""
        if not s["id"].startswith("v4"):
            return self
        if self.v4 is not None:
            return self.v4
        none = self.runs.iloc[:0]
        return Data(none, analysis.settings(none), self.ratios)

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

    def grid_of(self, row: pd.Series) -> pd.DataFrame:
        """The settings of the grid `row` was chosen from (same experiment, net, optimizer, batch, epochs)."""
        st = self.settings
        return st[
            (st.experiment == row.experiment)
            & (st.net == row.net)
            & (st.optimizer == row.optimizer)
            & (st.global_batch == row.global_batch)
            & (st.epochs == row.epochs)
        ]

    def edge(self, row: pd.Series | None) -> bool:
        """The setting is at an edge of its grid (same experiment, net, optimizer, batch, epochs)."""
        if row is None:
            return True
        g = self.grid_of(row).lr_base
        return len(g) < 3 or bool(np.isclose(row.lr_base, g.min()) or np.isclose(row.lr_base, g.max()))


def load(data_dir: Path) -> Data:
    """The v3 rows of lars.csv (collect.py writes design = "v3"), their settings and the step-1 ratios; the
    fourth design's (design = "v4") the same way, as `v4`."""
    all_runs, _, ratios = analysis.load(Path(data_dir))

    def design(name: str) -> pd.DataFrame:
        return all_runs[all_runs["design"] == name] if "design" in all_runs.columns else all_runs.iloc[:0]

    v4 = design("v4")
    runs = design("v3")
    return Data(runs, analysis.settings(runs), ratios, v4=Data(v4, analysis.settings(v4), ratios))


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


def _net(s: dict) -> str:
    """The net a claim id names: "..._bn" the BN net, "..._nobn" the net without."""
    return "bn" if s["id"].endswith("_bn") else "nobn"


@claim("v3_a_nobn", "v3_a_bn", "v4_a_nobn", "v4_a_bn")
def a_fails(data: Data, s: dict) -> Row | None:
    """Precondition (a): tuned SGD fails at the image of 4K."""
    return _a_fails(data.design(s), s, _net(s))


@claim("v3_b_nobn", "v3_b_bn", "v4_b_nobn", "v4_b_bn")
def b_beats(data: Data, s: dict) -> Row | None:
    """(b): LARS beats tuned SGD at the images of 4K and 8K."""
    return _b_beats(data.design(s), s, _net(s))


@claim("v3_near_nobn", "v3_near_bn", "v4_near_nobn", "v4_near_bn")
def near_baseline(data: Data, s: dict) -> Row | None:
    """(b'): LARS within the margin of the baseline at the images of 4K and 8K."""
    return _near_baseline(data.design(s), s, _net(s))


@claim("v3_c_nobn", "v3_c_bn", "v4_c_nobn")
def c_small(data: Data, s: dict) -> Row | None:
    """(c): LARS = tuned SGD at the baseline batch."""
    return _c_small(data.design(s), s, _net(s))


@claim("v3_d_pre", "v4_d_pre")
def d_pre(data: Data, s: dict) -> Row | None:
    """Precondition (d), no BN: LARS itself more than the threshold below the baseline at the image of 16K."""
    data = data.design(s)
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


@claim("v3_d_nobn", "v4_d_nobn")
def d_nobn(data: Data, s: dict) -> Row | None:
    """(d) Table 5, no BN: the fraction of LARS's gap to the baseline that doubling the epochs recovers
    (ratio of seed means, seeds resampled together)."""
    data, b = data.design(s), s["batch"]
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


@claim("v3_e_nobn", "v3_e_bn")
def e_spread(data: Data, s: dict) -> Row | None:
    """(e): the step-1 spread of ‖w‖/‖g‖ across the weight tensors with the Caffe init."""
    return _e_spread(data, s, _net(s))


def _extended(data: Data, net: str, opt: str, b: int, epochs: float) -> tuple[pd.Series | None, bool]:
    """The best setting over a v3 grid (experiment main or longer) joined with its exploratory edge point
    (experiment edges) at the same net, optimizer, batch and epochs, and whether it is still at an edge."""
    st = data.settings
    st = st[(st.net == net) & (st.optimizer == opt) & (st.global_batch == b) & np.isclose(st.epochs, epochs)]
    if not len(st):
        return None, True
    top = st.sort_values(["mean", "lr_base"], ascending=[False, True]).iloc[0]
    return top, len(st) < 3 or bool(
        np.isclose(top.lr_base, st.lr_base.min()) or np.isclose(top.lr_base, st.lr_base.max())
    )


@claim("v3_edges")
def edge_points(data: Data, s: dict) -> Row | None:
    """Exploratory (added after the v3 results): each edge point against the v3 grid's best, and the
    preconditions' gaps on the extended grids (no verdict: the v3 rows stand as judged)."""
    from .config import EDGES

    ex = data.runs[data.runs.experiment == "edges"]
    if ex.empty:
        return None
    parts, used = [], []
    for net, b, opt, _x, k in EDGES:
        e = float(data.runs[(data.runs.experiment == "main")].epochs.iloc[0]) * k
        v3 = data.best(net, opt, b, "main" if k == 1 else "longer")
        top, at_edge = _extended(data, net, opt, b, e)
        pt = data.settings[
            (data.settings.experiment == "edges")
            & (data.settings.net == net)
            & (data.settings.optimizer == opt)
            & (data.settings.global_batch == b)
            & np.isclose(data.settings.epochs, e)
        ]
        if v3 is None or top is None or pt.empty:
            continue
        p = pt.iloc[0]
        used += [v3, p]
        knob = "lr" if opt == "sgd" else "γ0"
        parts.append(
            f"{NAME[net]} {opt.upper()}{' 2×' if k == 2 else ''} at {b}: {knob} {p.lr:g} "
            f"{100 * p['mean']:.2f} vs v3 best {knob} {v3.lr:g} {100 * v3['mean']:.2f}"
            f"{' (still at an edge)' if at_edge else ''}"
        )
    gaps = []
    for net, spec_b in (("nobn", 3200), ("bn", 4032)):
        b0 = BASELINE[net]
        e = float(data.runs[(data.runs.experiment == "main")].epochs.iloc[0])
        base, _ = _extended(data, net, "sgd", b0, e)
        big, _ = _extended(data, net, "sgd", spec_b, e)
        if base is not None and big is not None:
            x0, x = data.acc(base, s["seeds"]), data.acc(big, s["seeds"])
            d = V.difference(x0, x, 1.0, ">")
            gaps.append(
                f"{NAME[net]}: SGD at {b0} (lr {base.lr:g}) − SGD at {spec_b} (lr {big.lr:g}) "
                f"{x0.mean() - x.mean():+.2f} pt [{d.lo:.2f}, {d.hi:.2f}]"
            )
    if not parts:
        return None
    ours = "; ".join(parts) + (". Precondition (a) on the extended grids: " + "; ".join(gaps) if gaps else "")
    return _row(data, s, ours, None, used)


# ---- the study README's generated blocks (no claims: `python -m largebatch.report` writes them) ------------
NO_RUNS = "(no third-design runs in lars.csv yet: `python -m experiments.lars.collect` after the sweep)"


def b_star(net: str, data_dir: Path) -> float:
    """The net's B* for tuned SGD, measured by the failure_batch probe at the LARS budget (its claims module's
    `b_star`, model-free, from failure_batch.csv in `data_dir`): the number the ladder was placed against
    (proxy.B_STAR_V3 holds it to 3 significant digits)."""
    from largebatch.study import get

    fb = get("failure_batch").module("claims")
    return fb.b_star(f"lars_{net}", fb.LARS_E, data_dir)


def _grid_text(d: Data, row: pd.Series) -> str:
    """The best grid point, the grid it was chosen from, and whether it sits at an edge."""
    g = d.grid_of(row).sort_values("lr")
    text = f"{row.lr:g} of {{{', '.join(f'{x:g}' for x in g.lr)}}}"
    return text + (" (edge)" if d.edge(row) else "")


def _acc_text(row: pd.Series | None) -> str:
    if row is None:
        return ""
    s = "" if pd.isna(row["std"]) else f" ± {100 * row['std']:.2f}"
    out = f"{100 * row['mean']:.2f}{s} (n={int(row.n)})"
    return out + (f", {int(row.diverged)} diverged" if row.diverged else "")


def main_table(d: Data, net: str, bstar: float) -> pd.DataFrame:
    """One row per batch (and the no-BN net's 2× epochs run): B / B*, steps, the best SGD and the best LARS
    (seed mean, the grid point, its grid and whether it is at an edge)."""
    rows = []
    main = d.runs[(d.runs.net == net) & d.runs.experiment.isin(["main", "longer"])]
    for (exp, b), g in main.groupby(["experiment", "global_batch"], sort=False):
        sg, la = d.best(net, "sgd", int(b), exp), d.best(net, "lars", int(b), exp)
        rows.append(
            {
                "B": f"{int(b):,}",
                "B / B*": f"{b / bstar:.2f}",
                "epochs": f"{g.epochs.iloc[0]:.3g}" + (" (2×)" if exp == "longer" else ""),
                "steps": f"{int(g.steps.max()):,}",
                "best SGD acc % (mean ± std, n)": _acc_text(sg),
                "SGD peak lr (grid)": "" if sg is None else _grid_text(d, sg),
                "best LARS acc % (mean ± std, n)": _acc_text(la),
                "LARS γ0 (grid)": "" if la is None else _grid_text(d, la),
                "LARS − SGD (pt)": (
                    "" if sg is None or la is None else f"{100 * (la['mean'] - sg['mean']):+.2f}"
                ),
                "_order": (exp == "longer", int(b)),
            }
        )
    rows.sort(key=lambda r: r.pop("_order"))
    return pd.DataFrame(rows)


def step1_table(d: Data) -> pd.DataFrame:
    """Table 2: mean over seeds of ‖w‖/‖g‖ per tensor at step 1 (B = 128, Caffe init), per net."""
    t = analysis.step1(d.ratios, d.runs)
    t = t[(t.global_batch == BASE_B) & (t.w_norm > 0)]
    out = t.pivot_table(index="layer", columns="net", values="w_over_g", sort=False)
    out = out[[n for n in NAME if n in out.columns]].rename(columns=lambda n: f"{NAME[n]}: ‖w‖/‖g‖")
    order = {name: i for i, name in enumerate(analysis.LAYER_ORDER)}
    out = out.reset_index().sort_values("layer", key=lambda s: s.map(order))
    n = t.groupby("net").n.max()
    return (
        out.round(2)
        .assign(layer=lambda x: x.layer + "")
        .rename(
            columns={
                "layer": "tensor (seeds: " + ", ".join(f"{NAME[k]} {int(v)}" for k, v in n.items()) + ")"
            }
        )
    )


def timing(d: Data) -> str:
    """Summed run time from the CSV (the sweep's machine time is not in it)."""
    from .config import grid

    r = pd.concat([d.runs, d.v4.runs]) if d.v4 is not None and len(d.v4.runs) else d.runs
    shas = ", ".join(f"`{s[:7]}`" for s in sorted(r["meta.git_sha"].dropna().astype(str).unique()))
    return (
        f"{len(r)} of the cpu grid's {len(grid('cpu'))} runs, made at commit {shas}: "
        f"{r.wall_s.sum() / 60:.1f} min of summed run wall time (`wall_s`; {r.train_s.sum() / 60:.1f} min of "
        "it in training steps), on "
        f"{r['meta.device'].iloc[0]} with torch {r['meta.torch'].iloc[0]}."
    )


def results_block(d: Data, data_dir: Path) -> str:
    """The claims table, each net's main table, the step-1 table and the sweep's time."""
    if not len(d.runs):
        return "<<claims>>\n\n" + NO_RUNS
    parts = ["<<claims>>"]
    for net in NAME:
        bs = b_star(net, data_dir)
        parts.append(f"**{NAME[net]}** (`{NETS_V3[net]}`, B* = {bs:,.0f}):")
        t = main_table(d, net, bs)
        parts.append(markdown_table(t) if len(t) else NO_RUNS)
    t2 = step1_table(d)
    if len(t2):
        parts += ["**Step 1** (Table 2; B = 128, Caffe init):", markdown_table(t2)]
    v4 = d.v4
    if v4 is not None and len(v4.runs):
        for net in NAME:
            t = main_table(v4, net, b_star(net, data_dir))
            if len(t):
                parts.append(f"**Fourth design, {NAME[net]}** (seeds 30-34, the v4 grids):")
                parts.append(markdown_table(t))
    parts.append(timing(d))
    return "\n\n".join(parts)


def regime_block(data_dir: Path) -> str:
    """Each net's ladder against its B*: the paper's batch and the proxy's image, B / B* and steps on both
    sides (proxy.py's third-design placement; no runs needed)."""
    from .config import LONGER_BATCH

    rows = []
    for net in NAME:
        bs = b_star(net, data_dir)
        for pb, b in zip(proxy.PAPER_LADDER_V3[net], proxy.ladder_v3(net)):
            rows.append(
                {
                    "net": NAME[net],
                    "paper batch → proxy batch": f"{pb:,} → {b:,}",
                    "B / B*: paper": f"{pb / proxy.B_STAR_PAPER_V3[net]:.2f}",
                    "B / B*: proxy": f"{b / bs:.2f}",
                    "steps: paper (100 epochs)": f"{100 * proxy.IMAGENET_N / pb:,.0f}",
                    f"steps: proxy (E = {proxy.E_V3:.3g})": f"{proxy.E_V3 * proxy.FMNIST_N / b:,.0f}"
                    + (" (and 2E)" if b == LONGER_BATCH and net == "nobn" else ""),
                }
            )
    note = (
        "B* (the batch where tuned SGD's final error is 1 pt above the baseline batch's, model-free): proxy "
        + ", ".join(f"{NAME[n]} {b_star(n, data_dir):,.0f}" for n in NAME)
        + " (experiments/failure_batch's probe at E = "
        f"{proxy.E_V3:.3g}, recomputed here from failure_batch.csv; the ladder was placed against "
        + ", ".join(f"{proxy.B_STAR_V3[n]:,.0f}" for n in NAME)
        + ", proxy.B_STAR_V3, the same to 3 significant digits); paper "
        + ", ".join(f"{NAME[n]} {proxy.B_STAR_PAPER_V3[n]:,.0f}" for n in NAME)
        + " (the same rule on You et al.'s Table 1, tuned SGD at 512, 4K, 8K; largebatch.bstar.paper_b_star)."
        " The image of 32K is not run (fewer than 3 steps per epoch on both nets)."
    )
    return markdown_table(pd.DataFrame(rows)) + "\n\n" + note


def readme_blocks(data_dir: Path) -> dict[str, str | None]:
    """The study README's generated blocks (written by `python -m largebatch.report`): the claims, each net's
    main table, the step-1 table and the sweep's time ("results"); each net's ladder against B* ("regime")."""
    d = load(data_dir)
    return {"results": results_block(d, Path(data_dir)), "regime": regime_block(Path(data_dir))}
