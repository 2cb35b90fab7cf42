"""The seed article's claims, judged from paper_figures/data/{seed_article,scaling_model}.csv.

The claims are data in claims.toml. Counts and model evaluations are deterministic, so each is judged exactly
against its tolerance (relative tolerances become absolute ones here). Rows are grouped: counted, fitted
(points the performance model was fitted to: in-sample) and predictions (out-of-sample: the backprop time,
and the article's other numbers put through the model). The per-worker samples/s curve is measured by
benchmarks/bench_per_worker.py (benchmarks/per_worker.csv).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd

from largebatch import verdict as V
from largebatch.claims import Row, claim
from largebatch.formatting import fmt_num, markdown_table
from largebatch.paths import ROOT

from . import perfmodel as P

FIG1 = "paper_figures/seed_article_fig1.png"
CSV = "paper_figures/data/seed_article.csv"
PER_WORKER = ROOT / "benchmarks" / "per_worker.csv"
DAY = 86400.0
ALEXNET_EPOCHS, RESNET_ONE_GPU_EPOCHS = 90, 100
GTX580_FLOPS, V100_FLOPS = 1.6e12, 15.7e12  # the article's numbers


def _rel(value: float, spec: dict, what: str) -> V.Result:
    """|value / target − 1| < margin, judged exactly."""
    t = float(spec["threshold"])
    return V.exact(value, t, equivalence_margin=spec["margin"] * abs(t), what=what)


def _quantity_rows(a: pd.DataFrame, names) -> pd.DataFrame:
    return a.loc[[n for n in names if n in a.index]].reset_index()


def _alexnet_macs() -> float:
    """Forward multiply-adds of torchvision's AlexNet at 224×224 (counted)."""
    import torchvision  # noqa: PLC0415  (counted on demand: the report otherwise needs no torch)

    from largebatch.flops import count_flops

    return float(count_flops(torchvision.models.alexnet(), (1, 3, 224, 224))["forward_macs"])


def _mlp_train_with_input_grad() -> tuple[float, float]:
    """(training FLOPs with every layer's input gradient, forward FLOPs) of the seed MLP, one image."""
    import torch  # noqa: PLC0415
    from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415

    from largebatch.models import build_model

    m = build_model("mlp", (1, 28, 28), 10, 100, 2)
    x = torch.randn(1, 1, 28, 28, requires_grad=True)
    with torch.no_grad(), FlopCounterMode(display=False) as f:
        m(x.detach())
    with FlopCounterMode(display=False) as t:
        m(x).sum().backward()
    return float(t.get_total_flops()), float(f.get_total_flops())


def per_worker_table(path: Path = PER_WORKER) -> pd.DataFrame | None:
    """Mean ± std samples/s per (model, per-worker batch) from the benchmark CSV (None without it)."""
    if not Path(path).is_file():
        return None
    d = pd.read_csv(path)
    g = d.groupby(["model", "per_worker_batch"]).samples_per_s
    return pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "n": g.size()}).reset_index()


class Data(NamedTuple):
    """The CSVs the claims read: the article's quantities (indexed by name), Fig. 1's series, and the
    per-worker benchmark (None without benchmarks/per_worker.csv)."""

    article: pd.DataFrame
    fig: pd.DataFrame
    per_worker: pd.DataFrame | None

    def q(self, name: str, col: str = "measured_here") -> float:
        return float(self.article.loc[name, col])


def load(data_dir: Path) -> Data:
    pw = pd.read_csv(PER_WORKER) if PER_WORKER.is_file() else None
    return Data(
        pd.read_csv(Path(data_dir) / "seed_article.csv").set_index("quantity"),
        pd.read_csv(Path(data_dir) / "scaling_model.csv"),
        pw,
    )


def _row(d: Data, ours: str, result: V.Result | None, names=()) -> Row:
    """A row judged from seed_article.csv's quantities `names` (dated by their first commit)."""
    return Row(ours, result, runs=_quantity_rows(d.article, names), csv=CSV, key="quantity")


MLP_PARAMS = "MLP params (article: under 100k)"
MLP_FWD, MLP_TRAIN = "MLP forward FLOPs per image", "MLP training FLOPs per image"
MLP_TIME = "seed MLP 20 epochs: wall time (article: ~3 min on Xeon E5-2667)"
FITTED = "perf model: fitted efficiency"


@claim("mlp_params")
def mlp_params(d: Data, spec: dict) -> Row:
    p = d.q(MLP_PARAMS)
    return _row(d, f"{p:,.0f} (counted)", V.exact(p, spec["threshold"], "<", what="params"), [MLP_PARAMS])


@claim("mlp_forward")
def mlp_forward(d: Data, spec: dict) -> Row:
    fwd = d.q(MLP_FWD)
    return _row(
        d,
        f"{fwd:,.0f} FLOPs = {fwd / 2:,.0f} multiply-adds (torch flop counter); the layer "
        "sizes give 178,800 FLOPs in either convention",
        _rel(fwd, spec, "FLOPs"),
        [MLP_FWD],
    )


@claim("mlp_train_ratio")
def mlp_train_ratio(d: Data, spec: dict) -> Row:
    fwd, train = d.q(MLP_FWD), d.q(MLP_TRAIN)
    t_in, f_in = _mlp_train_with_input_grad()
    return _row(
        d,
        f"article's convention (every input gradient): {t_in:,.0f} FLOPs = "
        f"{t_in / f_in:.2f}× forward; autograd in training (layer 1 needs no input gradient): "
        f"{train:,.0f} FLOPs = {train / fwd:.2f}×; 750k = 3 × the article's 250k forward",
        _rel(t_in / f_in, spec, "ratio"),
        [MLP_TRAIN, MLP_FWD],
    )


@claim("resnet50_macs")
def resnet50_macs(d: Data, spec: dict) -> Row:
    he = d.q("ResNet-50 forward MACs, He et al. layout")
    tv = d.q("ResNet-50 forward MACs, torchvision (v1.5)")
    return _row(
        d,
        f"{he / 1e9:.2f} G MACs (original layout); {tv / 1e9:.2f} G torchvision v1.5",
        _rel(he, spec, "MACs"),
        ["ResNet-50 forward MACs, He et al. layout"],
    )


@claim("resnet50_train_ratio")
def resnet50_train_ratio(d: Data, spec: dict) -> Row:
    name = "ResNet-50 training / forward, He et al. layout"
    r_he = d.q(name)
    return _row(d, f"{r_he:.2f}× (counted)", _rel(r_he, spec, "ratio"), [name])


@claim("mlp_time")
def mlp_time(d: Data, spec: dict) -> Row:
    t = d.article.loc[MLP_TIME]
    t_std = "" if pd.isna(t["std"]) else f" ± {t['std']:.1f}"
    world = int(d.q("seed MLP 20 epochs: world size"))
    return _row(
        d,
        f"{t['measured_here']:.1f}{t_std} s (n={int(t['n'])}), {world}-process torchrun on this CPU",
        None,
        [MLP_TIME],
    )


@claim("model_fit")
def model_fit(d: Data, spec: dict) -> Row:
    """The fitted points (in-sample)."""
    name = "perf model: max |relative error| on published points"
    err = d.q(name)
    ov, eff = d.q("perf model: fitted overlap"), d.q(FITTED)
    a = d.article
    fitted = a[(a["kind"] == "modelled") & a["article_says"].notna() & ~a.index.str.contains("backprop")]
    return _row(
        d,
        f"max error {err:.1%} over {len(fitted)} points (overlap {ov:.2f}, efficiency {eff:.2f})",
        V.exact(err, spec["threshold"], "<", what="max |error|"),
        [name, *fitted.index],
    )


@claim("fig1_256")
def fig1_256(d: Data, spec: dict) -> Row:
    fig = d.fig
    pub256 = fig[(fig["kind"] == "published") & (fig["label"] == "Goyal ~90% efficiency")]["speedup"].iloc[0]
    mod256 = fig[(fig["series"] == "model: P100 + 50GbE (Goyal)") & (fig["gpus"] == 256)]["speedup"].iloc[0]
    return _row(
        d,
        f"{mod256:.1f}× (model, P100 + 50GbE; fitted to this point)",
        V.exact(mod256, pub256, equivalence_margin=spec["margin"] * pub256, what="speedup"),
        [FITTED],
    )


@claim("backprop_time")
def backprop_time(d: Data, spec: dict) -> Row:
    """A prediction (out of sample)."""
    name = next(n for n in d.article.index if "backprop" in n)
    bp, says = d.q(name), d.q(name, "article_says")
    return _row(
        d,
        f"model {bp * 1000:.0f} ms vs {says * 1000:.0f} ms ({bp / says - 1:+.0%}; not fitted)",
        _rel(bp, spec, "s"),
        [name],
    )


def utilisation(d: Data) -> float:
    """The FLOP utilisation the fitted model implies for ResNet-50 on a P100 (images/s x FLOPs / peak)."""
    hw = P.P100_2017_ETHERNET50
    return hw.images_per_s_per_gpu * d.q(FITTED) * P.RESNET50.train_flops / hw.peak_flops_per_gpu


@claim("alexnet_gtx580")
def alexnet_gtx580(d: Data, spec: dict) -> Row:
    util, alex = utilisation(d), _alexnet_macs()
    days = ALEXNET_EPOCHS * P.IMAGENET_TRAIN_IMAGES * 6 * alex / (2 * GTX580_FLOPS * util) / DAY
    lo, hi = spec["band"]
    return _row(
        d,
        f"{days:.1f} days: {ALEXNET_EPOCHS} epochs × 1.28 M images × "
        f"6 × {alex / 1e9:.2f} G MACs (torchvision AlexNet, counted) / (2 × 1.6 TFLOP/s × "
        f"{util:.3f} utilisation)",
        V.exact_band(days, (lo, hi), what="days"),
        [FITTED],
    )


def _resnet50_days(d: Data, peak_flops: float) -> float:
    return (
        RESNET_ONE_GPU_EPOCHS
        * P.IMAGENET_TRAIN_IMAGES
        * P.RESNET50.train_flops
        / DAY
        / (peak_flops * utilisation(d))
    )


@claim("resnet50_one_gpu")
def resnet50_one_gpu(d: Data, spec: dict) -> Row:
    days = _resnet50_days(d, P.P100_2017_ETHERNET50.peak_flops_per_gpu)
    return _row(
        d,
        f"one P100: {days:.1f} days ({RESNET_ONE_GPU_EPOCHS} epochs at {utilisation(d):.3f} of 10.6 TFLOP/s)",
        _rel(days, spec, "days"),
        [FITTED],
    )


@claim("v100")
def v100(d: Data, spec: dict) -> Row:
    """The same on a V100 (exploratory: the article gives no number to judge it against)."""
    days = _resnet50_days(d, V100_FLOPS)
    return _row(
        d,
        f"one V100: {days:.1f} days ({RESNET_ONE_GPU_EPOCHS} epochs at {utilisation(d):.3f} of 15.7 TFLOP/s)",
        None,  # exploratory
        [FITTED],
    )


@claim("record_2017_01")
def record_2017_01(d: Data, spec: dict) -> Row:
    rec = next((n for n in d.article.index if n.startswith("record 2017-01")), None)
    if rec is None:
        return _row(d, "not in the CSV", None)
    return _row(
        d, f"{d.q(rec, 'article_says'):.0f} min on 100 GPUs (not modelled: hardware not stated)", None, [rec]
    )


@claim("per_worker_curve")
def per_worker_curve(d: Data, spec: dict) -> Row | None:
    """samples/s at per-worker batch 256 over 8, per model (benchmarks/bench_per_worker.py)."""
    pw = d.per_worker
    if pw is None:
        return None
    parts = [
        V.bootstrap(
            [pw[(pw.model == m) & (pw.per_worker_batch == b)].samples_per_s.to_numpy() for b in (256, 8)],
            lambda x, y: x.mean() / y.mean(),
            spec["threshold"],
            spec["direction"],
            label=m,
            what="ratio",
        )
        for m in ("mlp", "resnet_small")
    ]
    t = per_worker_table()
    txt = "; ".join(
        f"{m}: "
        + ", ".join(
            f"{int(b)}: {r['mean']:,.0f}" for b, r in t[t.model == m].set_index("per_worker_batch").iterrows()
        )
        for m in ("mlp", "resnet_small")
    )
    return Row(
        f"samples/s by per-worker batch — {txt} ({pw['device'].iloc[0]}, "
        f"{int(pw['threads'].iloc[0])} thread; other jobs shared the machine)",
        V.all_of(parts),
        runs=pw.assign(quantity=pw.model + "-" + pw.per_worker_batch.astype(str)),
        csv="benchmarks/per_worker.csv",
        key="quantity",
    )


def readme_blocks(data_dir: Path) -> dict[str, str | None]:
    """The study README's generated blocks (written by `python -m largebatch.report`)."""
    article = pd.read_csv(Path(data_dir) / "seed_article.csv")

    def ours(r):
        s = fmt_num(r.measured_here)
        if r.n > 1:
            s += f" ± {fmt_num(r['std'], 2)} (n={r.n})"
        return s

    # the article attributes the January 2017 record (the CSV's label predates that reading; its collector
    # writes it from perfmodel.PUBLISHED)
    pfn = "Preferred Networks (Deep Learning Summit San Francisco 2017)"
    article = article.assign(
        quantity=article.quantity.str.replace("(unattributed in article)", pfn, regex=False)
    )
    order = {"counted": 0, "measured": 1, "modelled": 2, "published": 3}
    table = article.assign(
        order=article.kind.map(order),
        **{"article says": article.article_says.map(fmt_num), "measured here": article.apply(ours, axis=1)},
    )
    table = table.sort_values(["order", "quantity"])
    table = table[["quantity", "article says", "measured here", "unit", "kind", "source"]]
    out = {"table": markdown_table(table), "claims": None}
    pw = per_worker_table()
    if pw is not None:
        piv = (
            pw.assign(cell=[f"{m:,.0f} ± {s:,.0f}" for m, s in zip(pw["mean"], pw["std"])])
            .pivot(index="per_worker_batch", columns="model", values="cell")
            .reset_index()
        )
        eff = pw.pivot(index="per_worker_batch", columns="model", values="mean")
        rel = (eff / eff.max()).round(2).add_suffix(" (fraction of its best)").reset_index()
        out["per_worker"] = markdown_table(
            piv.merge(rel, on="per_worker_batch").rename(
                columns={
                    "per_worker_batch": "per-worker batch",
                    "mlp": "seed MLP samples/s",
                    "resnet_small": "ResNet-8 samples/s",
                }
            )
        )
    return out


__all__ = ["load", "readme_blocks", "per_worker_table", "utilisation"]
