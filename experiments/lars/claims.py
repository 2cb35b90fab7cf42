"""Claims of the LARS study, judged from the committed CSVs by largebatch.verdict (issue 20).

The claims are data in claims.toml (issue 10's criteria; arms, batch, threshold or margin, seeds). Accuracies
are test accuracy in percent (diverged runs score chance); "best" = the lr of the grid with the highest seed
mean. (a)-(d) are the paper's Tables 1, 3 and 5 on the no-BN net (AlexNet); the BN variant's (b)-(c) use the
same criteria. (e) is judged across weight tensors (the paper's 233x is conv1.w to fc6.w, both weights);
the spread over all tensors (biases and BN γ included, the first reading) is shown beside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from largebatch import verdict as V
from largebatch.prereg import load_spec
from largebatch.results import fmt_mean_std, markdown_table

from . import analysis
from .analysis import BASE_B, KEYS, scored, summary

CSV = "paper_figures/data/lars.csv"
NAMES = {"nobn": "no-BN net", "bn": "BN net"}
NETS = {"nobn": "AlexNet-like, no BN", "bn": "AlexNet-like + BN"}


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


def _row(cid, ours, result, runs, settings_rows, seeds) -> dict:
    sub = pd.concat([_runs_of(runs, x, seeds) for x in settings_rows if x is not None])
    return {
        "id": cid,
        "ours": ours,
        "result": result,
        "runs": sub,
        "csv": CSV,
        "wall_per_seed": _wall(runs, settings_rows),
    }


def _net_rows(runs: pd.DataFrame, d: dict, net: str, big: int, spec: dict) -> list[dict]:
    base = d["base"]
    rows = []
    la, sg = d["lars_claim"], d["sgd_claim"]
    if f"b_{net}" in spec and la is not None and sg is not None:
        s = spec[f"b_{net}"]
        seeds = s["seeds"]
        b_, l_, g_ = (_by_seed(runs, x, seeds) for x in (base, la, sg))
        res = V.all_of(
            [
                V.difference(b_, l_, s["threshold"][0], "<", label="baseline − LARS"),
                V.difference(l_, g_, s["threshold"][1], ">", label="LARS − SGD"),
            ]
        )
        rows.append(
            _row(
                f"b_{net}",
                f"LARS (γ0={la.lr:g}) {_acc(l_)} vs baseline (SGD lr={base.lr:g}) "
                f"{_acc(b_)}: gap {b_.mean() - l_.mean():.2f} pt; best SGD (lr={sg.lr:g}) {_acc(g_)}: "
                f"LARS {l_.mean() - g_.mean():+.2f} pt",
                res,
                runs,
                [base, la, sg],
                seeds,
            )
        )
    lb = d["lars_base"]
    if f"c_{net}" in spec and lb is not None:
        s = spec[f"c_{net}"]
        l_, b_ = _by_seed(runs, lb, s["seeds"]), _by_seed(runs, base, s["seeds"])
        rows.append(
            _row(
                f"c_{net}",
                f"LARS (γ0={lb.lr:g}) {_acc(l_)} vs SGD (lr={base.lr:g}) {_acc(b_)}: "
                f"{l_.mean() - b_.mean():+.2f} pt",
                V.equivalence(l_, b_, s["margin"]),
                runs,
                [lb, base],
                s["seeds"],
            )
        )
    e1, e2 = d["lars_big"], d["lars_big_2x"]
    if f"d_{net}" in spec and e1 is not None and e2 is not None:
        s = spec[f"d_{net}"]
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
            _row(
                f"d_{net}",
                f"LARS {int(e1.epochs)} ep (γ0={e1.lr:g}) {_acc(x1)}, gap "
                f"{b_.mean() - x1.mean():.2f} pt; {int(e2.epochs)} ep (γ0={e2.lr:g}) {_acc(x2)}: "
                f"+{x2.mean() - x1.mean():.2f} pt = {res.estimate:.0%} of it",
                res,
                runs,
                [e1, e2, base],
                s["seeds"],
            )
        )
    return rows


def is_v2(runs: pd.DataFrame) -> bool:
    """The CSV holds the second design's runs (collect.py writes design = "v2"; the first CSV has none)."""
    return "design" in runs.columns and bool((runs["design"] == "v2").any())


def claims(data_dir: Path) -> list[dict]:
    """Rows for the README table (see largebatch.report): the third design's once its runs are in the CSV."""
    committed = pd.read_csv(Path(data_dir) / "lars.csv")
    if "design" in committed.columns and (committed["design"] == "v3").any():
        from . import claims_v3

        return claims_v3.rows(Path(data_dir), load_spec("lars"))
    if is_v2(committed):
        return claims_v2(Path(data_dir))
    spec = load_spec("lars")
    s = summary(Path(data_dir))
    runs = s["runs"]
    rows = []
    d = s["nets"].get("nobn")
    if d is not None and d["linear"] is not None:
        sp = spec["a_nobn"]
        lin, base = d["linear"], d["base"]
        b_, l_ = _by_seed(runs, base, sp["seeds"]), _by_seed(runs, lin, sp["seeds"])
        rows.append(
            _row(
                "a_nobn",
                f"lr {lin.lr:g}: {int(lin.diverged)} of {int(lin.n)} seeds diverged; "
                f"{_acc(l_)} (diverged = 10 %) vs baseline {_acc(b_)}: {l_.mean() - b_.mean():+.2f} pt",
                V.difference(b_, l_, sp["threshold"], sp["direction"]),
                runs,
                [base, lin],
                sp["seeds"],
            )
        )
    for net in ("nobn", "bn"):
        if net in s["nets"]:
            rows += _net_rows(runs, s["nets"][net], net, s["largest_B"], spec)
    sp_all, sp_w = s["spread"], s["spread_w"]
    for net in ("nobn", "bn"):
        cid = f"e_{net}"
        if cid not in spec:
            continue
        c = spec[cid]
        w = sp_w[(sp_w.net == net) & (sp_w.global_batch == BASE_B) & sp_w.seed.isin(c["seeds"])]
        a = sp_all[(sp_all.net == net) & (sp_all.global_batch == BASE_B) & sp_all.seed.isin(c["seeds"])]
        if not len(w):
            continue
        t2 = runs[runs.run_id.isin(w.run_id)]
        rows.append(
            {
                "id": cid,
                "ours": f"weight tensors: {fmt_mean_std(w.spread, 1)}x; all tensors (biases, "
                f"BN γ): {fmt_mean_std(a.spread, 1)}x",
                "result": V.one_sample(w.spread, c["threshold"], c["direction"]),
                "runs": t2,
                "csv": CSV,
                "wall_per_seed": float(t2.wall_s.mean()) if "wall_s" in t2.columns else None,
            }
        )
    return rows


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
                    _row(
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
                _row(
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
                _row(
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
                _row(
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
