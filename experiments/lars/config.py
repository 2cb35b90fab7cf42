"""Grids of the LARS study (You, Gitman & Ginsburg, arXiv 1708.03888; You et al., arXiv 1709.05011).

Every run: momentum 0.9, weight decay 5e-4 on weights (none on BN/biases), gradual per-iteration warmup
from 1/(B/128) of the peak lr, then poly(2) decay to 0 (Algorithm 1), the same examples at every batch. LARS
is Algorithm 1 with eta = 0.001 applied to every tensor, biases and BN included (the paper's Table 2 lists
biases; `lars_exclude_bn_bias=False`), denominator ||g|| + beta ||w||.

The cpu grid is the third design (v3, issue 28): Fashion-MNIST, the AlexNet-like MLP without BN and its BN
variant (ghost BN over n = 32), experiments/lars/models.py, both with the paper's Caffe Gaussian init; each
net's batches are the images of the paper's 512 (the baseline), 4K, 8K (and 16K without BN) against the
B* of tuned SGD measured on that net (proxy.py). `tag` = the `experiment` column of lars.csv:
  main    net x {SGD peak-lr grid, LARS gamma0 grid} x B (Tables 1 and 3)
  longer  no-BN net, LARS at the image of 16K for 2 E epochs ("train longer", Table 5)
  table2  one LARS step at B = 128: per-layer ||w||, ||g|| of the freshly initialised net on the first
          batch, logged by the trainer at its step-1 evaluation (Table 2)
The first two designs' grids are in git history (README). The paper scale is ResNet-50 (Table 4) and
AlexNet-BN (Table 3) on ImageNet with LARS.
"""

from __future__ import annotations

from dataclasses import replace

from largebatch.config import TrainConfig
from largebatch.recipes import LARS_BASE_BATCH, lars_gamma
from largebatch.scales import by_scale

from . import (
    models,  # noqa: F401  (registers alexnet_fm, alexnet_bn_fm, alexnet_bn in MODELS)
    proxy,
)

STUDY = "lars"
NETS = {"nobn": "alexnet_mlp", "bn": "alexnet_mlp_bn"}
EPOCHS = 10
WARMUP_EPOCHS = 2.0  # docs/papers.md#lars: 2 epochs (the paper's 2-5 of 100, made longer for E = 10)
BASE_BATCH = LARS_BASE_BATCH  # 128
TRUST_COEF = 0.001
ETA_REF = 0.05  # the first design's SGD reference lr at B = 128 (the smoke grid's, the B_simple probe's)

BASE = TrainConfig(
    study=STUDY,
    dataset="fashion_mnist",
    per_worker_batch=32,
    epochs=EPOCHS,
    momentum=0.9,
    weight_decay=5e-4,
    wd_exclude_bn_bias=True,
    warmup="gradual",
    warmup_epochs=WARMUP_EPOCHS,
    decay="poly",
    decay_power=2.0,
    trust_coef=TRUST_COEF,
    lars_denom="paper",
    lars_trust_clip=False,
    lars_exclude_bn_bias=False,
    eval_train_examples=2000,
    eval_batch=5000,
    log_every_steps=10,
)


def sgd(base: TrainConfig, b: int, eta: float) -> TrainConfig:
    """SGD peaking at eta * b/128 (lr_base eta at 128, linear rule), warmup from eta."""
    return replace(
        base, optimizer="sgd", global_batch=b, lr_base=eta, lr_base_batch=BASE_BATCH, lr_scaling="linear"
    )


def lars(base: TrainConfig, b: int, gamma0: float) -> TrainConfig:
    """LARS with global lr gamma0 (no batch scaling), warmup from gamma0 * 128/b (recipes.lars_gamma)."""
    return replace(base, **lars_gamma(b, gamma0))


def table2(net: str, b: int, seed: int) -> TrainConfig:
    """One LARS step: the trainer's step-1 evaluation logs ||w||, ||g|| of every tensor at init."""
    return replace(lars(replace(BASE, model=NETS[net], seed=seed), b, 1.0), tag="table2", max_steps=1)


# ---- paper scale: ImageNet, You et al. Table 4 (ResNet-50) and Table 3 (AlexNet-BN), LARS eta = 0.001 --
# (global batch, gamma0, warmup epochs); 100 epochs, momentum 0.9, wd 5e-4, poly(2)
PAPER_RESNET50 = [(256, 4.0, 0), (1024, 9.0, 5), (8192, 30.0, 5), (16384, 33.0, 12), (32768, 40.0, 12)]
PAPER_ALEXNET_BN = [(512, 2.0, 5), (4096, 10.0, 5), (8192, 14.0, 5), (16384, 23.0, 5), (32768, 22.0, 5)]
PAPER_LONGER = [("resnet50", 16384, 33.0, 12, 200), ("alexnet_bn", 32768, 22.0, 5, 200)]  # Table 5 ends
PAPER_BASE = replace(
    BASE,
    dataset="imagenet",
    width=0,
    depth=0,
    epochs=100,
    eval_every_steps=0,
    eval_train_examples=0,
    eval_batch=250,
    checkpoint_every_steps=0,
)


def paper_run(
    model: str, b: int, gamma0: float, warm: float, epochs: float = 100, tag: str = "main"
) -> TrainConfig:
    """One LARS run of Table 3/4/5; warmup (when the table has one) starts from gamma0 * B_base / B, the
    same fraction of the peak as at the cpu scale (B_base = the table's smallest batch)."""
    base = replace(
        PAPER_BASE,
        model=model,
        tag=tag,
        epochs=epochs,
        warmup="gradual" if warm else "none",
        warmup_epochs=warm,
    )
    b_base = PAPER_RESNET50[0][0] if model == "resnet50" else PAPER_ALEXNET_BN[0][0]
    return replace(lars(base, b, gamma0), warmup_lr_init=gamma0 * b_base / b if warm else -1.0)


def paper_grid() -> list[TrainConfig]:
    """Table 4 (ResNet-50, per-worker BN n = 32), Table 3 (AlexNet-BN), Table 5's longest runs."""
    out = [paper_run("resnet50", *row) for row in PAPER_RESNET50]
    out += [paper_run("alexnet_bn", *row) for row in PAPER_ALEXNET_BN]
    out += [paper_run(m, b, g, w, e, tag="longer") for m, b, g, w, e in PAPER_LONGER]
    return out


# ---- smoke scale -----------------------------------------------------------------------------------
def smoke_grid() -> list[TrainConfig]:
    """A few steps of each kind of run on tiny data; the paper configs on 64x64 synthetic ImageNet."""
    tiny = dict(
        train_examples=2048,
        test_examples=500,
        eval_train_examples=256,
        max_steps=4,
        eval_every_steps=2,
        warmup_epochs=0.5,
    )
    t2 = dict(train_examples=1024, test_examples=256, eval_train_examples=0)
    out = [
        replace(sgd(replace(BASE, model=NETS["nobn"], **tiny), 512, 0.05), tag="main"),
        replace(lars(replace(BASE, model=NETS["bn"], **tiny), 512, 5.0), tag="main"),
        replace(table2("nobn", BASE_BATCH, 0), **t2),
    ]
    img = dict(
        dataset="synthetic_imagenet",
        synthetic_examples=64,
        image_size=64,
        num_classes=10,
        test_examples=16,
        eval_batch=16,
        global_batch=32,
        per_worker_batch=16,
        max_steps=2,
        eval_every_steps=2,
        log_every_steps=1,
        warmup_epochs=0.5,
    )
    for cfg in (
        paper_run(*("resnet50", *PAPER_RESNET50[2])),
        paper_run(*("alexnet_bn", *PAPER_ALEXNET_BN[1])),
    ):
        out.append(replace(cfg, **img, warmup_lr_init=cfg.lr_base * 32 / cfg.global_batch, lr_base_batch=32))
    return out


INITS = {"default": NETS, "caffe": {"nobn": "alexnet_mlp_caffe", "bn": "alexnet_mlp_bn_caffe"}}  # collect.py


# ---- cpu scale, third design (v3, issue 28): the paper's init, ladders placed against each net's B* ------
# proxy.py (v3 section): every run uses the paper's Caffe Gaussian init; each net's batches are the images of
# the paper's 512 (the baseline), 4K, 8K (and 16K without BN) against the B* of tuned SGD measured by
# experiments/failure_batch. SGD's grid at each rung: 3 peak lrs x2 apart centred on the probe's best lr at
# the nearest probed batch (0.2, 0.4, 0.4 without BN; with BN 5 points at the baseline, where the probe's
# landscape was flat and its best at its grid's foot, then 3 centred on 0.1); LARS's grid: gamma0 x {1/2, 1,
# 2} around the best of failure_batch's gamma0 scan at the rung (seed 100). A best lr or gamma0 at the edge
# of its judged grid makes the row inconclusive (the v2 rule, kept). Seeds 20-24 (fresh; 5 for every judged
# arm). Train longer (Table 5): LARS at 2E at the image of 16K, judged only if LARS's gap there is > 1 pt.
DESIGN = "v3"  # written by collect.py into the CSV's `design` column (the second design's said "v2")
NETS_V3 = INITS["caffe"]
SEEDS = list(range(20, 25))
EVALS = 20  # evaluations per run (curves); the claims use the final one
SGD_PEAKS = {
    "nobn": {384: (0.1, 0.2, 0.4), 3200: (0.2, 0.4, 0.8), 6336: (0.2, 0.4, 0.8)},
    "bn": {512: (0.003125, 0.00625, 0.0125, 0.025, 0.05), 4032: (0.05, 0.1, 0.2), 8064: (0.05, 0.1, 0.2)},
}
LONGER_BATCH = 12736  # the no-BN net's image of 16K: LARS only, at E and 2E


def gamma_centre(net: str, b: int) -> float:
    """The best gamma0 of failure_batch's scan (seed 100) at this rung (ties: the smaller)."""
    import pandas as pd

    from largebatch.results import DATA

    d = pd.read_csv(DATA / "failure_batch.csv")
    d = d[(d.probe == "lars_gamma") & (d.global_batch == b)]  # the two nets' rungs are different batches
    if d.empty:
        raise ValueError(f"no gamma0 scan at B = {b} ({net}) in failure_batch.csv: run it first")
    d = d.assign(err=d.final_test_err.where(d.status != "diverged", 90.0).fillna(90.0))
    return float(d.sort_values(["err", "lr_peak"]).lr_peak.iloc[0])


def _at(net: str, b: int, seed: int, tag: str = "main", epochs: float | None = None) -> TrainConfig:
    from largebatch.recipes import LARS_TRUST

    e = epochs or proxy.E_V3
    steps = e * proxy.FMNIST_N / b
    return replace(
        BASE,
        **LARS_TRUST,
        tag=tag,
        model=NETS_V3[net],
        seed=seed,
        epochs=e,
        equal_examples=True,
        warmup_epochs=e * {"nobn": 2.0, "bn": 5.0}[net] / 100,
        eval_every_steps=max(1, int(round(steps / EVALS))),
        eval_train_examples=0,
    )


def runs_at(net: str, b: int, seed: int) -> list[TrainConfig]:
    base = _at(net, b, seed)
    sgd_runs = [sgd(base, b, p * BASE_BATCH / b) for p in SGD_PEAKS[net].get(b, ())]
    c = gamma_centre(net, b)
    return sgd_runs + [lars(base, b, float(f"{c * m:.3g}")) for m in (0.5, 1.0, 2.0)]


def longer(seed: int) -> list[TrainConfig]:
    c = gamma_centre("nobn", LONGER_BATCH)
    base = _at("nobn", LONGER_BATCH, seed, tag="longer", epochs=2 * proxy.E_V3)
    return [lars(base, LONGER_BATCH, float(f"{c * m:.3g}")) for m in (0.5, 1.0, 2.0)]


# ---- exploratory (added after the third design's results, commit 6e6ee96; never judged) ----------------
# One grid point beyond each edge where a v3 best setting sat, on the same seeds: does the edge hide a better
# setting? (net, B, optimizer, peak lr for SGD or gamma0 for LARS, epochs as multiples of E). Tag "edges": the
# pre-registered v3 rows read the "main" and "longer" runs only, so these runs cannot change them.
EDGES = (
    ("nobn", 384, "sgd", 0.05, 1),  # the no-BN baseline's best lr 0.1 was its grid's lowest
    ("nobn", 6336, "sgd", 1.6, 1),  # 0.8, the highest
    ("bn", 4032, "sgd", 0.025, 1),  # 0.05, the lowest
    ("bn", 4032, "lars", 40.0, 1),  # gamma0 20, the highest
    ("bn", 8064, "lars", 10.0, 1),  # gamma0 20 of {20, 40, 80}, the lowest
    ("nobn", LONGER_BATCH, "lars", 40.0, 2),  # the 2x arm's 80, the lowest
)


def edges(seed: int) -> list[TrainConfig]:
    out = []
    for net, b, opt, x, k in EDGES:
        base = _at(net, b, seed, tag="edges", epochs=k * proxy.E_V3)
        out.append(sgd(base, b, x * BASE_BATCH / b) if opt == "sgd" else lars(base, b, x))
    return out


# ---- cpu scale, fourth design (v4, issue 31): the v3 ladders on fresh seeds, grids fixed wider in advance --
# Fixed before its runs (after the v3 results and the exploratory edge points, which chose these grids: a
# grid chosen on seeds 20-24 is judged on seeds 30-34, which no LARS run has used). The v3 rows stay as
# judged. Same nets, batches, epochs, schedules and init as v3; every grid has at least one point beyond
# each side of the best v3/edge point, so "best at an edge" (the pre-registered rule, kept) is a finding, not
# the grid's shape. Explicit grids (peak lr for SGD, gamma0 for LARS) instead of v3's centre x {1/2, 1, 2}.
# LARS at the BN net's baseline batch is not run ((c) BN reproduced in v3 and is not rerun).
DESIGN_V4 = "v4"
SEEDS_V4 = list(range(30, 35))
SGD_PEAKS_V4 = {
    "nobn": {384: (0.05, 0.1, 0.2, 0.4), 3200: (0.1, 0.2, 0.4, 0.8), 6336: (0.2, 0.4, 0.8, 1.6)},
    "bn": {
        512: (0.00625, 0.0125, 0.025, 0.05, 0.1),
        4032: (0.025, 0.05, 0.1, 0.2),
        8064: (0.025, 0.05, 0.1, 0.2),
    },
}
GAMMAS_V4 = {
    "nobn": {
        384: (10.0, 20.0, 40.0),
        3200: (40.0, 80.0, 160.0),
        6336: (40.0, 80.0, 160.0),
        12736: (80.0, 160.0, 320.0),
    },
    "bn": {4032: (10.0, 20.0, 40.0, 80.0), 8064: (10.0, 20.0, 40.0, 80.0)},
}
GAMMAS_LONGER_V4 = (40.0, 80.0, 160.0)  # the no-BN net at the image of 16K, 2E epochs


def v4_runs(seed: int) -> list[TrainConfig]:
    """The fourth design's runs of one seed: each net's ladder (SGD and LARS grids), then LARS at 2E."""
    out = []
    for net in NETS_V3:
        for b in proxy.ladder_v3(net):
            base = _at(net, b, seed)
            out += [sgd(base, b, p * BASE_BATCH / b) for p in SGD_PEAKS_V4[net].get(b, ())]
            out += [lars(base, b, g) for g in GAMMAS_V4[net].get(b, ())]
    base = _at("nobn", LONGER_BATCH, seed, tag="longer", epochs=2 * proxy.E_V3)
    return out + [lars(base, LONGER_BATCH, g) for g in GAMMAS_LONGER_V4]


def cpu_grid() -> list[TrainConfig]:
    """Table 2's step-1 runs (Caffe init, both nets, B = 128), then per seed: each net's ladder, then the
    train-longer runs; then the exploratory edge points, then the fourth design (each appended: every earlier
    run keeps its index)."""
    out = [replace(table2(net, BASE_BATCH, s), model=NETS_V3[net]) for s in SEEDS for net in NETS_V3]
    for s in SEEDS:
        for net in NETS_V3:
            for b in proxy.ladder_v3(net):
                out += runs_at(net, b, s)
        out += longer(s)
    for s in SEEDS:
        out += edges(s)
    for s in SEEDS_V4:
        out += v4_runs(s)
    return out


def grid(scale: str = "cpu") -> list[TrainConfig]:
    return by_scale(scale, cpu=cpu_grid, smoke=smoke_grid, paper=paper_grid)
