"""Analytical model of data-parallel SGD: alpha-beta allreduce costs, iteration time, speedup, time to train,
FLOP lower bounds, and the published records it is checked against.

Sending n bytes costs alpha + n*beta (alpha in s, beta in s/byte); collectives follow Thakur et al. (2005);
the hierarchical allreduce pipelined with backprop is Goyal et al.'s. Records: Goyal et al.
(arXiv:1706.02677), You et al. (arXiv:1709.05011), Akiba et al. (arXiv:1711.04325), as cited by Okanohara
(Nikkei Robotics, Jan 2018). Preset hardware numbers are assumptions from public specs; PUBLISHED holds
values stated by the article and papers, never measurements of this repo.
"""

from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass

IMAGENET_TRAIN_IMAGES = 1_281_167  # ILSVRC-2012 training set size.


@dataclass(frozen=True)
class ModelSpec:
    """A network as the performance model sees it.

    Attributes:
        name: Label.
        params: Parameter count = gradient elements allreduced per iteration.
        forward_macs: Forward multiply-adds per image.
        train_to_forward: Training (forward + backward) over forward cost, 3 by convention.
        bytes_per_grad: Bytes per gradient element on the wire (4 = fp32).
    """

    name: str
    params: int
    forward_macs: float
    train_to_forward: float = 3.0
    bytes_per_grad: int = 4

    @property
    def train_flops(self) -> float:
        """Training FLOPs per image (a multiply-add = 2 FLOPs)."""
        return 2.0 * self.forward_macs * self.train_to_forward


# ResNet-50: 3.8e9 forward MACs (He et al., arXiv:1512.03385), torchvision's 25,557,032 params (~100 MB fp32).
RESNET50 = ModelSpec("resnet50", 25_557_032, 3.8e9)
# 784-100-100-10 MLP: 89,610 parameters, 89,400 forward MACs (the article quotes ~250k forward FLOPs).
MLP_784_100_100_10 = ModelSpec("mlp784-100-100-10", 89_610, 89_400.0)


@dataclass(frozen=True)
class Hardware:
    """A cluster of identical GPUs in nodes of `gpus_per_node`.

    Attributes:
        name: Label.
        images_per_s_per_gpu: ResNet-50 training images/s of one GPU.
        gpus_per_node: GPUs sharing the fast intra-node fabric.
        intra_alpha, intra_beta: Intra-node latency (s) and inverse bandwidth (s/byte).
        inter_alpha, inter_beta: Inter-node latency (s) and inverse bandwidth of one link (s/byte).
        peak_flops_per_gpu: Peak FLOP/s of one GPU at the training precision.
        inter_links_per_node: Parallel inter-node links (rails) per node; they divide inter_beta.
        inter_algorithm: "halving_doubling" or "ring" for the inter-node allreduce.
    """

    name: str
    images_per_s_per_gpu: float
    gpus_per_node: int
    intra_alpha: float
    intra_beta: float
    inter_alpha: float
    inter_beta: float
    peak_flops_per_gpu: float
    inter_links_per_node: int = 1
    inter_algorithm: str = "halving_doubling"


# Goyal et al. ASSUMPTIONS: 230 img/s = typical 2017 fp32 ResNet-50 training per P100 (Goyal's 29 h for 90
# epochs on 8 GPUs implies ~138 img/s/GPU end to end; the fitted `efficiency` absorbs this); 8 P100 SXM2 per
# server (Goyal); NVLink ~40 GB/s effective, 5 us (assumed); 50 Gbit/s Ethernet at line rate, one NIC per
# server (Goyal), 20 us TCP latency (assumed); 10.6 TFLOP/s fp32 peak (P100 SXM2 spec sheet).
P100_2017_ETHERNET50 = Hardware("P100 + 50GbE (Goyal)", 230.0, 8, 5e-6, 1 / 40e9, 20e-6, 8 / 50e9, 10.6e12)
# Akiba et al. on PFN's MN-1: 128 nodes x 8 P100, two 56 Gb/s FDR InfiniBand links per node, ring allreduce
# (PFN's MN-1 blog). ASSUMPTIONS: 230 img/s as above; PCIe P100s (the blog's 4.7 TFLOP/s fp64 is the PCIe
# part), so 9.3 TFLOP/s fp32 peak and ~10 GB/s PCIe 3.0 x16 intra-node, 5 us; 2 us InfiniBand latency.
P100_2017_IB_FDR = Hardware(
    "P100 + IB FDR (Akiba 2017)",
    230.0,
    8,
    5e-6,
    1 / 10e9,
    2e-6,
    8 / 56e9,
    9.3e12,
    inter_links_per_node=2,
    inter_algorithm="ring",
)
# ASSUMPTIONS: ~3000 img/s mixed-precision ResNet-50 training per H100 SXM; NVLink 4 (900 GB/s bidirectional
# spec) as ~360 GB/s effective allreduce bandwidth, 3 us; one 400 Gb/s NIC per GPU (8 rails per node, DGX
# H100 layout), 3 us; 989 TFLOP/s dense bf16 peak (H100 SXM spec sheet, no sparsity).
H100_2025 = Hardware(
    "H100 + NVLink + 400G (2025)", 3000.0, 8, 3e-6, 1 / 360e9, 3e-6, 8 / 400e9, 989e12, inter_links_per_node=8
)
PRESETS = {
    "P100_2017_ETHERNET50": P100_2017_ETHERNET50,
    "P100_2017_IB_FDR": P100_2017_IB_FDR,
    "H100_2025": H100_2025,
}


def ring_allreduce_time(n: float, p: int, alpha: float, beta: float) -> float:
    """Ring allreduce (reduce-scatter + allgather): 2(p-1) alpha + 2((p-1)/p) n beta; 0 for p = 1."""
    return 0.0 if p <= 1 else 2 * (p - 1) * alpha + 2 * (p - 1) / p * n * beta


def halving_doubling_time(n: float, p: int, alpha: float, beta: float) -> float:
    """Recursive halving/doubling allreduce: 2 log2(p) alpha + 2((p-1)/p) n beta for power-of-2 p.

    For other p, the p - q extra ranks (q = largest power of two <= p) send their vector to a partner first
    and get the result back at the end (Thakur et al. 2005), adding 2(alpha + n beta) to the cost over q.
    """
    q = 1 << (max(p, 1).bit_length() - 1)
    return 2 * math.log2(q) * alpha + 2 * (q - 1) / q * n * beta + (2 * (alpha + n * beta) if p > q else 0.0)


def hierarchical_time(
    n: float,
    p: int,
    gpus_per_node: int,
    intra_alpha: float,
    intra_beta: float,
    inter_alpha: float,
    inter_beta: float,
    algorithm: str = "halving_doubling",
    inter_links: int = 1,
) -> float:
    """Intra-node reduce over g GPUs, inter-node allreduce over ceil(p/g) nodes, intra-node broadcast.

    Pipelined reduce and broadcast over g GPUs each cost (g-1) alpha + ((g-1)/g) n beta, so one node gives
    the ring allreduce over p GPUs and gpus_per_node = 1 gives the flat `algorithm` over p ranks.
    `inter_links` parallel rails (multi-rail NICs) divide the inter-node beta.
    """
    g = max(1, min(gpus_per_node, p))
    intra = 2 * ((g - 1) * intra_alpha + (g - 1) / g * n * intra_beta)
    flat = ring_allreduce_time if algorithm == "ring" else halving_doubling_time
    return intra + flat(n, math.ceil(p / g), inter_alpha, inter_beta / inter_links)


def allreduce_time(gpus: int, hw: Hardware, model: ModelSpec = RESNET50) -> float:
    """Hierarchical allreduce time of one gradient of `model` on `gpus` GPUs of `hw`."""
    return hierarchical_time(
        model.params * model.bytes_per_grad,
        gpus,
        hw.gpus_per_node,
        hw.intra_alpha,
        hw.intra_beta,
        hw.inter_alpha,
        hw.inter_beta,
        hw.inter_algorithm,
        hw.inter_links_per_node,
    )


def iteration_time(
    gpus: int,
    per_gpu_batch: int,
    hw: Hardware,
    model: ModelSpec = RESNET50,
    overlap: float = 0.0,
    efficiency: float = 1.0,
) -> float:
    """Seconds per SGD iteration: compute plus the allreduce not hidden behind backward.

    Compute = per_gpu_batch / (hw.images_per_s_per_gpu * efficiency), rescaled by `model`'s training
    FLOPs over ResNet-50's. A fraction `overlap` of the allreduce is hidden behind backward, at most the
    backward time ((1 - 1/train_to_forward) of compute, i.e. 2/3).
    """
    compute = per_gpu_batch / hw.images_per_s_per_gpu / efficiency * model.train_flops / RESNET50.train_flops
    comm = allreduce_time(gpus, hw, model)
    return compute + comm - min(overlap * comm, compute * (1 - 1 / model.train_to_forward))


def speedup(
    gpus: int,
    per_gpu_batch: int,
    hw: Hardware,
    model: ModelSpec = RESNET50,
    overlap: float = 0.0,
    efficiency: float = 1.0,
    baseline_gpus: int = 8,
) -> float:
    """Images/s of `gpus` GPUs over that of `baseline_gpus` GPUs at the same per-GPU batch."""
    t0, t = (iteration_time(g, per_gpu_batch, hw, model, overlap, efficiency) for g in (baseline_gpus, gpus))
    return gpus / baseline_gpus * t0 / t


def time_to_train(
    gpus: int,
    epochs: float,
    dataset_size: int,
    per_gpu_batch: int,
    hw: Hardware,
    model: ModelSpec = RESNET50,
    overlap: float = 0.0,
    efficiency: float = 1.0,
) -> float:
    """Seconds for `epochs` passes; iterations = epochs * dataset_size / global batch (not rounded)."""
    return (
        epochs
        * dataset_size
        / (gpus * per_gpu_batch)
        * iteration_time(gpus, per_gpu_batch, hw, model, overlap, efficiency)
    )


def lower_bound_seconds(total_train_flops: float, gpus: int, peak_flops: float) -> float:
    """Seconds to execute `total_train_flops` at the peak FLOP/s of every GPU."""
    return total_train_flops / (gpus * peak_flops)


def utilisation(record_seconds: float, total_train_flops: float, gpus: int, peak_flops: float) -> float:
    """Fraction of aggregate peak FLOP/s achieved by a run that took `record_seconds`."""
    return lower_bound_seconds(total_train_flops, gpus, peak_flops) / record_seconds


_O = "Okanohara, Nikkei Robotics, Jan 2018"
_GS = {
    "kind": "scaling",
    "who": "Goyal et al.",
    "arxiv": "1706.02677",
    "source": "arXiv:1706.02677",
    "hardware": "Tesla P100, 8/server, 50 Gbit Ethernet",
    "preset": "P100_2017_ETHERNET50",
    "per_gpu_batch": 32,
}
# PUBLISHED INPUTS: values stated by the article/papers, not measurements. kind "record": the article's
# timeline; kind "scaling": Goyal et al.'s statements. Rows with a preset and FIT_METRICS metric: FIT_POINTS.
PUBLISHED = [
    {
        "kind": "record",
        "date": "2017-01",
        "who": "(unattributed in article)",
        "arxiv": "",
        "hardware": "GPUs",
        "gpus_or_cpus": 100,
        "batch": None,
        "minutes": 240.0,
        "top1": None,
        "source": _O,
    },
    {
        **_GS,
        "kind": "record",
        "date": "2017-06",
        "who": "Goyal et al. (Facebook)",
        "gpus_or_cpus": 256,
        "batch": 8192,
        "minutes": 60.0,
        "top1": 76.26,
        "epochs": 90,
        "metric": "minutes",
        "value": 60.0,
        "source": f"{_O}; arXiv:1706.02677 (top-1 = 100 - 23.74% error at kn=8k)",
    },
    {
        "kind": "record",
        "date": "2017-09",
        "who": "You et al.",
        "arxiv": "1709.05011",
        "hardware": "CPUs",
        "gpus_or_cpus": 1600,
        "batch": None,
        "minutes": 30.0,
        "top1": None,
        "source": f"{_O}; arXiv:1709.05011",
    },
    {
        "kind": "record",
        "date": "2017-11",
        "who": "Akiba et al. (PFN)",
        "arxiv": "1711.04325",
        "epochs": 90,
        "hardware": "Tesla P100, MN-1, InfiniBand FDR",
        "gpus_or_cpus": 1024,
        "batch": 32768,
        "minutes": 15.0,
        "top1": 74.9,
        "source": f"{_O}; arXiv:1711.04325",
        "preset": "P100_2017_IB_FDR",
        "per_gpu_batch": 32,
        "metric": "minutes",
        "value": 15.0,
    },
    {
        **_GS,
        "label": "8-GPU baseline, 29 h",
        "gpus_or_cpus": 8,
        "batch": 256,
        "epochs": 90,
        "minutes": 29 * 60.0,
        "metric": "minutes",
        "value": 29 * 60.0,
    },
    {
        **_GS,
        "label": "time/iter +12% from kn=256 to 11264",
        "gpus_or_cpus": 352,
        "batch": 11264,
        "metric": "iter_time_ratio",
        "value": 1.12,
    },
    {
        **_GS,
        "label": "~90% scaling efficiency 8->256 GPUs",
        "gpus_or_cpus": 256,
        "batch": 8192,
        "metric": "scaling_efficiency",
        "value": 0.90,
    },
    {
        **_GS,
        "label": "backprop ~120 ms per P100 at 32 images",
        "gpus_or_cpus": 1,
        "batch": 32,
        "metric": "backprop_seconds",
        "value": 0.120,
        "preset": None,
    },
]
FIT_METRICS = ("minutes", "iter_time_ratio", "scaling_efficiency")
FIT_POINTS = [r for r in PUBLISHED if r.get("preset") and r.get("metric") in FIT_METRICS]  # default targets


def predict(point: dict, overlap: float, efficiency: float = 1.0, model: ModelSpec = RESNET50) -> float:
    """The model's value of `point["metric"]` for a PUBLISHED-style row (hardware from `hw` or `preset`)."""
    hw, args = point.get("hw") or PRESETS[point["preset"]], (model, overlap, efficiency)
    p, b, m = point["gpus_or_cpus"], point["per_gpu_batch"], point["metric"]
    base = point.get("baseline_gpus", 8)
    if m == "minutes":
        size = point.get("dataset_size", IMAGENET_TRAIN_IMAGES)
        return time_to_train(p, point["epochs"], size, b, hw, *args) / 60
    if m == "iter_time_ratio":
        return iteration_time(p, b, hw, *args) / iteration_time(base, b, hw, *args)
    if m == "scaling_efficiency":
        return speedup(p, b, hw, *args, baseline_gpus=base) * base / p
    raise ValueError(f"unknown metric {m!r}")


FitResult = namedtuple(
    "FitResult", "overlap efficiency labels published predicted log_residuals rel_errors rms_log_error"
)


def fit_overlap(
    points: list[dict] | None = None,
    model: ModelSpec = RESNET50,
    fit_efficiency: bool = True,
    efficiency: float = 1.0,
) -> FitResult:
    """Least squares on log values over overlap in [0, 1] and efficiency in [0.05, 2] (refined grid search).

    Args:
        points: Rows with gpus_or_cpus, per_gpu_batch, metric, value, preset or hw (and epochs for
            "minutes"); defaults to FIT_POINTS.
        model: Network whose gradient is communicated.
        fit_efficiency: Also fit one throughput efficiency factor shared by all points.
        efficiency: The fixed factor when fit_efficiency is False.

    Returns:
        FitResult: best parameters and per-point errors (log residual = log(predicted / published)).
    """
    pts = FIT_POINTS if points is None else points
    logv = [math.log(p["value"]) for p in pts]

    def loss(o: float, e: float) -> float:
        return sum((math.log(predict(p, o, e, model)) - v) ** 2 for p, v in zip(pts, logv))

    o, le = 0.5, (math.log(0.1) / 2 if fit_efficiency else math.log(efficiency))  # grid centre; le = log e
    so, se = 0.05, (math.log(40) / 20 if fit_efficiency else 0.0)  # steps: 21 x 21 grids, halving
    for _ in range(16):
        grid = [(min(1.0, max(0.0, o + so * i)), le + se * j) for i in range(-10, 11) for j in range(-10, 11)]
        _, o, le = min((loss(a, math.exp(b)), a, b) for a, b in grid)
        so, se = so / 2, se / 2
    pred = [predict(p, o, math.exp(le), model) for p in pts]
    res = [math.log(q) - v for q, v in zip(pred, logv)]
    labels, pub = [p.get("label") or p.get("who", "") for p in pts], [p["value"] for p in pts]
    return FitResult(
        o,
        math.exp(le),
        labels,
        pub,
        pred,
        res,
        [q / v - 1 for q, v in zip(pred, pub)],
        math.sqrt(sum(r * r for r in res) / len(res)),
    )
