"""Write the seed article's numbers next to ours: paper_figures/data/{seed_article,scaling_model}.csv.

    python -m experiments.scaling_model.collect

seed_article.csv: one row per quantity (quantity, article_says, measured_here, std, n, unit, kind, source,
how). kind says where `measured_here` comes from: "counted" (torch.utils.flop_counter on the real
models), "measured" (the seed MLP's 20-epoch run under torchrun, runs/seed_mlp/), "modelled"
(perfmodel.py fitted to the published points) or "published" (no number of ours).
scaling_model.csv: Figure 1, speedup over 8 GPUs vs GPUs: published points, model curves per preset,
the ideal line. Counting ResNet-50 forward + backward takes a few seconds on one CPU thread.
"""

from __future__ import annotations

import math
import platform
from pathlib import Path

import pandas as pd

from largebatch.config import run_id
from largebatch.csvcheck import read_csv as read_checked
from largebatch.flops import count_flops, param_count
from largebatch.models import build_model, resnet50
from largebatch.paths import DATA, ROOT
from largebatch.runs import checked_summary, load_runs, run_config
from largebatch.study import SCALES
from largebatch.tables import collect_main, write_csvs

from . import perfmodel as pm

ARTICLE = "Okanohara, Nikkei Robotics, Jan 2018"
HE = "He et al., arXiv:1512.03385 (Table 1: 3.8 x 10^9 FLOPs, counted as multiply-adds)"
COLUMNS = ["quantity", "article_says", "measured_here", "std", "n", "unit", "kind", "source", "how"]
WRITES = SCALES  # published numbers and counts: the same CSVs at every scale
KEYS = {"seed_article.csv": ("quantity",)}  # what identifies a row (scaling_model.csv: no key, exact repeats)
GPUS = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
PER_GPU_BATCH = 32  # Goyal's and Akiba's per-GPU batch
SEED_MLP_PREFIX = "seed MLP 20 epochs"


def _row(quantity, article, ours, unit, kind, source, how, std=float("nan"), n=1) -> dict:
    nan = float("nan")
    return {
        "quantity": quantity,
        "article_says": nan if article is None else article,
        "measured_here": nan if ours is None else ours,
        "std": std,
        "n": n if ours is not None else 0,
        "unit": unit,
        "kind": kind,
        "source": source,
        "how": how,
    }


def _he_layout(model):
    """torchvision ResNet-50 (v1.5: stride in the 3x3 conv) -> He et al.'s (stride in the first 1x1)."""
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for b in layer:
            if b.conv2.stride == (2, 2):
                b.conv1.stride, b.conv2.stride = (2, 2), (1, 1)
    return model


COUNTED_HOW = "largebatch.flops.count_flops (torch.utils.flop_counter), batch 1; "


def count_rows() -> list[dict]:
    """Parameter and FLOP counts of the article's MLP and ResNet-50 (torch convention: multiply-add = 2)."""
    return _mlp_count_rows() + _resnet_count_rows()


def _mlp_count_rows() -> list[dict]:
    mlp = build_model("mlp", (1, 28, 28), 10)
    m = count_flops(mlp, (1, 1, 28, 28), train=True)
    mlp_how = COUNTED_HOW + "largebatch.models 'mlp' 784-100-100-10"
    return [
        _row(
            "MLP params (article: under 100k)",
            100_000,
            param_count(mlp),
            "params",
            "counted",
            ARTICLE,
            "largebatch.flops.param_count of largebatch.models 'mlp' 784-100-100-10",
        ),
        _row(
            "MLP forward FLOPs per image",
            250_000,
            m["forward_flops"],
            "FLOPs",
            "counted",
            ARTICLE,
            mlp_how + "; = 2 x 89,400 multiply-adds",
        ),
        _row(
            "MLP training FLOPs per image",
            750_000,
            m["train_flops"],
            "FLOPs",
            "counted",
            ARTICLE,
            mlp_how + "; forward + backward w.r.t. parameters (no input gradient for layer 1)",
        ),
        _row("MLP training / forward", 3.0, m["train_to_forward"], "ratio", "counted", ARTICLE, mlp_how),
    ]


def _resnet_count_rows() -> list[dict]:
    how = COUNTED_HOW
    tv = count_flops(resnet50().eval(), (1, 3, 224, 224), train=True)
    he = count_flops(_he_layout(resnet50()).eval(), (1, 3, 224, 224), train=True)
    return [
        _row(
            "ResNet-50 params (torchvision)",
            None,
            param_count(resnet50()),
            "params",
            "counted",
            "",
            "largebatch.flops.param_count of torchvision resnet50",
        ),
        _row(
            "ResNet-50 forward MACs, He et al. layout",
            3.8e9,
            he["forward_macs"],
            "multiply-adds",
            "counted",
            f"{ARTICLE}; {HE}",
            how + "torchvision resnet50, stride moved to the first 1x1 "
            "conv of each downsampling block (the original layout); convs + FC, BN/ReLU/pool/add = 0",
        ),
        _row(
            "ResNet-50 forward MACs, torchvision (v1.5)",
            3.8e9,
            tv["forward_macs"],
            "multiply-adds",
            "counted",
            f"{ARTICLE}; {HE}",
            how + "torchvision resnet50 at 224x224 (stride in the 3x3 conv)",
        ),
        _row(
            "ResNet-50 training MACs, He et al. layout",
            3 * 3.8e9,
            he["train_macs"],
            "multiply-adds",
            "counted",
            ARTICLE,
            how + "forward + backward, original layout",
        ),
        _row(
            "ResNet-50 training / forward, He et al. layout",
            3.0,
            he["train_to_forward"],
            "ratio",
            "counted",
            ARTICLE,
            how + "original layout",
        ),
        _row(
            "ResNet-50 training / forward, torchvision (v1.5)",
            3.0,
            tv["train_to_forward"],
            "ratio",
            "counted",
            ARTICLE,
            how + "torchvision resnet50",
        ),
    ]


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def seed_mlp_rows(runs_dir: str | Path, previous: pd.DataFrame | None) -> list[dict]:
    """20-epoch time, world size and accuracy of the seed MLP's complete full-data runs."""
    df = load_runs("seed_mlp", runs_dir)
    if len(df):
        df = df[
            (df["epochs"] == 20)
            & (df["max_steps"] == 0)
            & (df["train_examples"] == 0)
            & (df["status"] == "complete")
        ]
    if not len(df):  # no runs on this machine: keep the committed measurement rather than erase it
        if previous is None:
            return []
        return previous[previous["quantity"].str.startswith(SEED_MLP_PREFIX)].to_dict("records")
    for rid in df["run_id"]:  # a run whose files disagree (an edited config or summary) is refused
        d = Path(runs_dir) / "seed_mlp" / rid
        checked_summary(d, run_id(c) if (c := run_config(d)) is not None else None)
    ids = ", ".join(df["run_id"])
    src = f"runs/seed_mlp/{{{ids}}}/summary.json"
    how = (
        f"`python -m largebatch.sweep seed_mlp --nproc=2`: torchrun, {int(df['world_size'].iloc[0])} "
        f"processes, Fashion-MNIST, Adam, batch 100, on {_cpu()} ({len(df)} run(s); host at collect time)"
    )
    out = []
    for q, col, art, unit, src_art in [
        (
            "wall time (article: ~3 min on Xeon E5-2667)",
            "wall_s",
            180.0,
            "s",
            f"{ARTICLE} (Chainer MNIST example)",
        ),
        ("wall time on a GPU (article: ~1 min on Tesla P100)", None, 60.0, "s", f"{ARTICLE} (Chainer)"),
        ("training-loop time", "train_s", None, "s", ""),
        ("world size", "world_size", None, "processes", ""),
        ("final test accuracy (Fashion-MNIST)", "final_test_acc", None, "fraction", ""),
    ]:
        s = df[col].astype(float) if col else pd.Series(dtype=float)
        m = float(s.mean()) if len(s) else None
        sd = float(s.std()) if len(s) > 1 else math.nan
        out.append(
            _row(
                f"{SEED_MLP_PREFIX}: {q}",
                art,
                m,
                unit,
                "measured" if col else "published",
                src_art,
                f"{col} from {src}; {how}" if col else "not measured: no GPU run",
                std=sd,
                n=len(s),
            )
        )
    return out


def model_rows(fit) -> list[dict]:
    """Published record timeline and Goyal's statements next to the fitted model; the FLOP lower bound."""
    fitted = {id(p): q for p, q in zip(pm.FIT_POINTS, fit.predicted)}
    how_fit = (
        f"largebatch.perfmodel.fit_overlap: overlap {fit.overlap:.3f}, "
        f"efficiency {fit.efficiency:.3f} "
        f"fitted to {len(pm.FIT_POINTS)} published points (per-GPU batch 32)"
    )
    units = {
        "minutes": "min",
        "iter_time_ratio": "ratio",
        "scaling_efficiency": "fraction",
        "backprop_seconds": "s",
    }
    rows = []
    for p in pm.PUBLISHED:
        if p["kind"] == "record":
            q = f"record {p['date']} {p['who']}: {p['gpus_or_cpus']} {p['hardware']}, time to train"
            val, unit = p["minutes"], "min"
        else:
            q, val, unit = f"Goyal et al.: {p['label']}", p["value"], units[p["metric"]]
        if id(p) in fitted:
            ours, kind, how = fitted[id(p)], "modelled", how_fit
        elif p.get("metric") == "backprop_seconds":  # not fitted: an out-of-sample check of the model
            ours = (
                (1 - 1 / pm.RESNET50.train_to_forward)
                * p["batch"]
                / (pm.P100_2017_ETHERNET50.images_per_s_per_gpu * fit.efficiency)
            )
            kind, how = "modelled", "not fitted: backward = 2/3 of the fitted compute time per iteration"
        else:
            ours, kind, how = None, "published", "not modelled (CPUs or unknown hardware)"
        rows.append(_row(q, val, ours, unit, kind, p["source"], how))
    rows += [
        _row("perf model: fitted overlap", None, fit.overlap, "fraction", "modelled", "", how_fit),
        _row("perf model: fitted efficiency", None, fit.efficiency, "fraction", "modelled", "", how_fit),
        _row(
            "perf model: max |relative error| on published points",
            None,
            max(abs(e) for e in fit.rel_errors),
            "fraction",
            "modelled",
            "",
            how_fit,
        ),
        _row("perf model: rms log error", None, fit.rms_log_error, "log", "modelled", "", how_fit),
    ]
    akiba = next(p for p in pm.PUBLISHED if p.get("arxiv") == "1711.04325")
    peak, gpus = pm.PRESETS[akiba["preset"]].peak_flops_per_gpu, akiba["gpus_or_cpus"]
    total = akiba["epochs"] * pm.IMAGENET_TRAIN_IMAGES * pm.RESNET50.train_flops
    lb_how = (
        f"{akiba['epochs']} epochs x {pm.IMAGENET_TRAIN_IMAGES:,} images x "
        f"{pm.RESNET50.train_flops:.3g} "
        f"FLOPs (6 x 3.8 G) / ({gpus} x {peak / 1e12:.1f} TFLOP/s fp32 P100 peak, preset assumption)"
    )
    rows += [
        _row(
            "15-min record: FLOP lower bound at peak",
            None,
            pm.lower_bound_seconds(total, gpus, peak) / 60,
            "min",
            "modelled",
            akiba["source"],
            "largebatch.perfmodel.lower_bound_seconds: " + lb_how,
        ),
        _row(
            "15-min record: utilisation of peak",
            None,
            pm.utilisation(15 * 60, total, gpus, peak),
            "fraction",
            "modelled",
            akiba["source"],
            "largebatch.perfmodel.utilisation: " + lb_how,
        ),
    ]
    return rows


def figure1_rows(fit) -> list[dict]:
    """Speedup over 8 GPUs vs GPUs: published points, fitted model per preset, ideal line."""
    rows = [
        {
            "kind": "ideal",
            "series": "ideal (linear)",
            "gpus": g,
            "speedup": g / 8,
            "label": "",
            "source": "",
            "how": "gpus / 8",
        }
        for g in GPUS
    ]
    for name, hw in pm.PRESETS.items():
        eff = 1.0 if name == "H100_2025" else fit.efficiency  # efficiency was fitted to the P100 points only
        how = f"perfmodel.speedup(per_gpu_batch=32, overlap={fit.overlap:.3f}, efficiency={eff:.3f})"
        rows += [
            {
                "kind": "model",
                "series": f"model: {hw.name}",
                "gpus": g,
                "speedup": pm.speedup(g, PER_GPU_BATCH, hw, overlap=fit.overlap, efficiency=eff),
                "label": "",
                "source": "",
                "how": how,
            }
            for g in GPUS
        ]
    goyal = {p.get("metric"): p for p in pm.PUBLISHED if p.get("who") == "Goyal et al." and p.get("label")}
    base_min = goyal["minutes"]["value"]  # 29 h on 8 GPUs
    rec = {p["arxiv"]: p for p in pm.PUBLISHED if p["kind"] == "record"}
    eff, ratio = goyal["scaling_efficiency"], goyal["iter_time_ratio"]
    pub = [
        (8, 1.0, "Goyal 8 GPUs (baseline, 29 h)", goyal["minutes"]["source"], "baseline"),
        (
            eff["gpus_or_cpus"],
            eff["value"] * eff["gpus_or_cpus"] / 8,
            "Goyal ~90% efficiency",
            eff["source"],
            "stated scaling efficiency x gpus / 8",
        ),
        (
            ratio["gpus_or_cpus"],
            ratio["gpus_or_cpus"] / 8 / ratio["value"],
            "Goyal +12% time/iter",
            ratio["source"],
            "(gpus / 8) / stated time-per-iteration ratio, same per-GPU batch",
        ),
        (
            256,
            base_min / rec["1706.02677"]["minutes"],
            "Goyal 1 h",
            rec["1706.02677"]["source"],
            "29 h / 60 min",
        ),
        (
            1024,
            base_min / rec["1711.04325"]["minutes"],
            "Akiba 15 min (vs Goyal's 8-GPU 29 h)",
            rec["1711.04325"]["source"],
            "29 h / 15 min: another cluster (IB FDR), batch 32k",
        ),
    ]
    rows += [
        {
            "kind": "published",
            "series": "published",
            "gpus": g,
            "speedup": s,
            "label": lab,
            "source": src,
            "how": how,
        }
        for g, s, lab, src, how in pub
    ]
    return rows


def collect(
    scale: str = "cpu", runs_dir: str | Path = ROOT / "runs", data_dir: str | Path = DATA
) -> list[Path]:
    """Write seed_article.csv and scaling_model.csv under `data_dir` (the same at every `scale`)."""
    data_dir = Path(data_dir)
    prev_path = data_dir / "seed_article.csv"
    previous = read_checked(prev_path, KEYS["seed_article.csv"]) if prev_path.exists() else None
    fit = pm.fit_overlap()
    rows = count_rows() + seed_mlp_rows(runs_dir, previous) + model_rows(fit)
    a = pd.DataFrame(rows, columns=COLUMNS)
    return write_csvs(
        [
            (a.drop_duplicates("quantity"), data_dir / "seed_article.csv", ["quantity"]),
            (
                pd.DataFrame(figure1_rows(fit)),
                data_dir / "scaling_model.csv",
                ["kind", "series", "gpus", "label"],
            ),
        ],
        KEYS,
    )


if __name__ == "__main__":
    raise SystemExit(collect_main(collect))
