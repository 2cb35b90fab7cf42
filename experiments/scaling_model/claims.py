"""The seed article's claims, judged from paper_figures/data/{seed_article,scaling_model}.csv.

The claims are data in claims.toml. Counts and model evaluations are deterministic, so each is judged exactly
against its tolerance (relative tolerances become absolute ones here). Rows are grouped: counted, fitted
(points the performance model was fitted to: in-sample) and predictions (out-of-sample: the backprop time,
and the article's other numbers put through the model). The per-worker samples/s curve is measured by
benchmarks/bench_per_worker.py (benchmarks/per_worker.csv).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from largebatch import verdict as V
from largebatch.prereg import load_spec
from largebatch.results import ROOT, fmt_num, markdown_table

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


def claims(data_dir: Path) -> list[dict]:
    """Rows for the README table (see largebatch.report)."""
    spec = load_spec("scaling_model")
    a = pd.read_csv(Path(data_dir) / "seed_article.csv").set_index("quantity")
    fig = pd.read_csv(Path(data_dir) / "scaling_model.csv")

    def q(name: str, col: str = "measured_here") -> float:
        return float(a.loc[name, col])

    def row(cid, ours, result, names=(), csv=CSV, runs=None):
        return {
            "id": cid,
            "ours": ours,
            "result": result,
            "csv": csv,
            "key": "quantity",
            "runs": _quantity_rows(a, names) if runs is None else runs,
            "wall_per_seed": None,
        }

    p, fwd, train = (
        q("MLP params (article: under 100k)"),
        q("MLP forward FLOPs per image"),
        q("MLP training FLOPs per image"),
    )
    he = q("ResNet-50 forward MACs, He et al. layout")
    tv = q("ResNet-50 forward MACs, torchvision (v1.5)")
    r_he = q("ResNet-50 training / forward, He et al. layout")
    rows = [
        row(
            "mlp_params",
            f"{p:,.0f} (counted)",
            V.exact(p, spec["mlp_params"]["threshold"], "<", what="params"),
            ["MLP params (article: under 100k)"],
        ),
        row(
            "mlp_forward",
            f"{fwd:,.0f} FLOPs = {fwd / 2:,.0f} multiply-adds (torch flop counter); the layer "
            "sizes give 178,800 FLOPs in either convention",
            _rel(fwd, spec["mlp_forward"], "FLOPs"),
            ["MLP forward FLOPs per image"],
        ),
    ]
    t_in, f_in = _mlp_train_with_input_grad()
    rows.append(
        row(
            "mlp_train_ratio",
            f"article's convention (every input gradient): {t_in:,.0f} FLOPs = "
            f"{t_in / f_in:.2f}× forward; autograd in training (layer 1 needs no input gradient): "
            f"{train:,.0f} FLOPs = {train / fwd:.2f}×; 750k = 3 × the article's 250k forward",
            _rel(t_in / f_in, spec["mlp_train_ratio"], "ratio"),
            ["MLP training FLOPs per image", "MLP forward FLOPs per image"],
        )
    )
    rows.append(
        row(
            "resnet50_macs",
            f"{he / 1e9:.2f} G MACs (original layout); {tv / 1e9:.2f} G torchvision v1.5",
            _rel(he, spec["resnet50_macs"], "MACs"),
            ["ResNet-50 forward MACs, He et al. layout"],
        )
    )
    rows.append(
        row(
            "resnet50_train_ratio",
            f"{r_he:.2f}× (counted)",
            _rel(r_he, spec["resnet50_train_ratio"], "ratio"),
            ["ResNet-50 training / forward, He et al. layout"],
        )
    )
    t = a.loc["seed MLP 20 epochs: wall time (article: ~3 min on Xeon E5-2667)"]
    t_std = "" if pd.isna(t["std"]) else f" ± {t['std']:.1f}"
    world = int(q("seed MLP 20 epochs: world size"))
    rows.append(
        row(
            "mlp_time",
            f"{t['measured_here']:.1f}{t_std} s (n={int(t['n'])}), {world}-process torchrun on this CPU",
            None,
            ["seed MLP 20 epochs: wall time (article: ~3 min on Xeon E5-2667)"],
        )
    )

    # fitted points (in-sample)
    err = q("perf model: max |relative error| on published points")
    ov, eff = q("perf model: fitted overlap"), q("perf model: fitted efficiency")
    fitted = a[(a["kind"] == "modelled") & a["article_says"].notna() & ~a.index.str.contains("backprop")]
    rows.append(
        row(
            "model_fit",
            f"max error {err:.1%} over {len(fitted)} points (overlap {ov:.2f}, efficiency {eff:.2f})",
            V.exact(err, spec["model_fit"]["threshold"], "<", what="max |error|"),
            ["perf model: max |relative error| on published points", *fitted.index],
        )
    )
    pub256 = fig[(fig["kind"] == "published") & (fig["label"] == "Goyal ~90% efficiency")]["speedup"].iloc[0]
    mod256 = fig[(fig["series"] == "model: P100 + 50GbE (Goyal)") & (fig["gpus"] == 256)]["speedup"].iloc[0]
    rows.append(
        row(
            "fig1_256",
            f"{mod256:.1f}× (model, P100 + 50GbE; fitted to this point)",
            V.exact(mod256, pub256, equivalence_margin=spec["fig1_256"]["margin"] * pub256, what="speedup"),
            ["perf model: fitted efficiency"],
        )
    )

    # predictions (out of sample)
    bp_name = next(n for n in a.index if "backprop" in n)
    bp = q(bp_name)
    rows.append(
        row(
            "backprop_time",
            f"model {bp * 1000:.0f} ms vs {q(bp_name, 'article_says') * 1000:.0f} ms "
            f"({bp / q(bp_name, 'article_says') - 1:+.0%}; not fitted)",
            _rel(bp, spec["backprop_time"], "s"),
            [bp_name],
        )
    )
    # the FLOP utilisation the fitted model implies for ResNet-50 on a P100 (images/s x FLOPs / peak)
    hw = P.P100_2017_ETHERNET50
    util = hw.images_per_s_per_gpu * eff * P.RESNET50.train_flops / hw.peak_flops_per_gpu
    alex = _alexnet_macs()
    alex_days = ALEXNET_EPOCHS * P.IMAGENET_TRAIN_IMAGES * 6 * alex / (2 * GTX580_FLOPS * util) / DAY
    band = spec["alexnet_gtx580"]["band"]
    inside = band[0] < alex_days < band[1]
    rows.append(
        row(
            "alexnet_gtx580",
            f"{alex_days:.1f} days: {ALEXNET_EPOCHS} epochs × 1.28 M images × "
            f"6 × {alex / 1e9:.2f} G MACs (torchvision AlexNet, counted) / (2 × 1.6 TFLOP/s × "
            f"{util:.3f} utilisation)",
            V.Result(
                V.REPRODUCED if inside else V.NOT_REPRODUCED,
                alex_days,
                alex_days,
                alex_days,
                1,
                "exact",
                f"days in ({band[0]:g}, {band[1]:g})",
                threshold=band[0],
            ),
            ["perf model: fitted efficiency"],
        )
    )
    r50 = RESNET_ONE_GPU_EPOCHS * P.IMAGENET_TRAIN_IMAGES * P.RESNET50.train_flops / DAY
    p100_days = r50 / (hw.peak_flops_per_gpu * util)
    v100_days = r50 / (V100_FLOPS * util)
    rows.append(
        row(
            "resnet50_one_gpu",
            f"one P100: {p100_days:.1f} days ({RESNET_ONE_GPU_EPOCHS} epochs at {util:.3f} of 10.6 TFLOP/s)",
            _rel(p100_days, spec["resnet50_one_gpu"], "days"),
            ["perf model: fitted efficiency"],
        )
    )
    rows.append(
        row(
            "v100",
            f"one V100: {v100_days:.1f} days ({RESNET_ONE_GPU_EPOCHS} epochs at {util:.3f} of 15.7 TFLOP/s)",
            None,
            ["perf model: fitted efficiency"],
        )
    )
    rec = next((n for n in a.index if n.startswith("record 2017-01")), None)
    rows.append(
        row(
            "record_2017_01",
            f"{q(rec, 'article_says'):.0f} min on 100 GPUs (not modelled: hardware not stated)"
            if rec
            else "not in the CSV",
            None,
            [rec] if rec else [],
        )
    )

    pw = per_worker_table()
    if pw is not None:
        d = pd.read_csv(PER_WORKER)
        c = spec["per_worker_curve"]
        parts = []
        for m in ("mlp", "resnet_small"):
            big = d[(d.model == m) & (d.per_worker_batch == 256)].samples_per_s.to_numpy()
            small = d[(d.model == m) & (d.per_worker_batch == 8)].samples_per_s.to_numpy()
            parts.append(
                V.bootstrap(
                    [big, small],
                    lambda x, y: x.mean() / y.mean(),
                    c["threshold"],
                    c["direction"],
                    label=m,
                    what="ratio",
                )
            )
        txt = "; ".join(
            f"{m}: "
            + ", ".join(
                f"{int(b)}: {r['mean']:,.0f}"
                for b, r in pw[pw.model == m].set_index("per_worker_batch").iterrows()
            )
            for m in ("mlp", "resnet_small")
        )
        rows.append(
            row(
                "per_worker_curve",
                f"samples/s by per-worker batch — {txt} ({d['device'].iloc[0]}, "
                f"{int(d['threads'].iloc[0])} thread; other jobs shared the machine)",
                V.all_of(parts),
                csv="benchmarks/per_worker.csv",
                runs=d.assign(quantity=d.model + "-" + d.per_worker_batch.astype(str)),
            )
        )
    return rows


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


__all__ = ["claims", "readme_blocks", "per_worker_table", "np"]
