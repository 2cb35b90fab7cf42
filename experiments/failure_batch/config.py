"""Grid of the B* probes: the plain recipe of each proxy over batches x epoch budgets, on calibration seeds.

A probe measures where the plain large-batch recipe of a proxy stops keeping up (largebatch.bstar): for
each batch it runs the recipe at several epoch budgets E, every batch seeing E N examples
(equal_examples), and reads the steps needed to reach the baseline's error + 1 pt. Probes are calibration:
seeds 100-102, which no judged run uses; the studies place their ladders against the B* measured here.

  goyal   the Goyal / 32k-recipe proxy (both studies share it): `resmlp_bn` width 64 (784 -> 64, two
          residual blocks of two BN layers, -> 10) on Fashion-MNIST, Goyal's recipe (largebatch.recipes:
          ghost BN n = 32, Nesterov 0.9, wd 1e-4 off BN/biases, zero-gamma, eta = 0.1 B / 256, gradual
          warmup over 5/90 for B > 256, lr / 10 at 30/60/80 of 90), batches 256 ... 16384, budgets
          8, 16, 32, 64 epochs, 90 evaluations of the test set per run (the final error is the median of
          those in the last 5/90, Goyal §5.1). A fifth budget, 12 epochs, was added once the first four had
          run: there B* ~ 1.4k (E = 8) and ~2.4k (E = 16) by the model-free rule, and the recipe diverges
          at 8,192 at every budget (lr 3.2), so the image of 32k (~2.3 B*) is step-limited at E = 8 but
          next to the divergence limit at E = 16; 12 epochs is measured rather than interpolated.

  lars_nobn, lars_bn   the LARS study's nets with the paper's Gaussian (Caffe) init, `alexnet_mlp_caffe`
          (784-256-256-128-10) and `alexnet_mlp_bn_caffe` (ghost BN n = 32), on Fashion-MNIST, with You et
          al.'s *tuned* SGD (the paper's control, Table 1: momentum 0.9, wd 5e-4, warmup over 2 / 5 of 100
          epochs from peak x 128 / B, poly(2) decay; largebatch.recipes.lars_sgd) at batches 128 ... 8192 on
          the LARS study's budget of E = 100/11 epochs (its second design's), 20 evaluations per run (the
          final error is the last one, as in the LARS study). Two stages, fixed here before either runs:
          stage 1, seed 100 over peak lrs 0.0125 ... 1.6 (x2 apart) at every batch; stage 2, at each (net,
          batch) the stage-1 best lr (lowest error; ties: the smaller lr): seeds 101 and 102 at E, and seeds
          100-102 at 2E (the second budget of the fit). Stage 2 is read from the committed CSV (empty until
          stage 1 is collected). B* of a net: the rules of largebatch.bstar on the best-lr runs, baseline 128.

  lars_gamma   the LARS study's third design needs LARS's global lr gamma0 on the Caffe-init nets at its
          ladder (the images of the paper's 512, 4K, 8K and 16K against each net's B* above): a scan on
          seed 100 over gamma0 = 2.5 ... 80 (x2 apart) at each rung, E = 100/11, fixed here before it runs;
          the third design's 3-point grids are centred on each rung's best (the LARS study's config).

The rules that turn these runs into B* are fixed in largebatch.bstar before any probe runs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from largebatch.config import TrainConfig
from largebatch.recipes import GOYAL, goyal_schedule, goyal_warmup, lars_lars, lars_sgd
from largebatch.results import DATA

STUDY = "failure_batch"
# calibration, not a result: `make reproduce` skips it unless --only names it (its B* values are fixed in
# largebatch.proxies and the studies that use them; rerunning the probes checks them, at ~1.7 h of run time)
CALIBRATION = True
FMNIST_N = 60000
SEEDS = [100, 101, 102]  # calibration seeds: no judged run uses seeds >= 100
EVALS = 90  # evaluations per run: one per "paper epoch", so the final 5/90 hold 5 (Goyal: 5)

GOYAL_BATCHES = (256, 1024, 2048, 4096, 8192, 16384)
GOYAL_EPOCHS = (8.0, 16.0, 32.0, 64.0)
GOYAL_BASE = TrainConfig(
    study=STUDY,
    tag="goyal",
    dataset="fashion_mnist",
    model="resmlp_bn",
    width=64,
    depth=2,
    **GOYAL,
    equal_examples=True,
    eval_train_examples=0,
    eval_batch=5000,
    log_every_steps=10,
)


def at(base: TrainConfig, batch: int, epochs: float, seed: int) -> TrainConfig:
    """The plain Goyal recipe at `batch` on an `epochs` budget, evaluated EVALS times."""
    every = max(1, round(epochs * FMNIST_N / batch / EVALS))
    cfg = replace(base, global_batch=batch, seed=seed, eval_every_steps=every, **goyal_schedule(epochs))
    return goyal_warmup(cfg)


GOYAL_EPOCHS_ADDED = (12.0,)  # added after the first four budgets ran (below): appended, indices stay


def goyal_probe(seeds=SEEDS) -> list[TrainConfig]:
    """Seeds outermost (a partial probe has whole seeds), then budgets, then batches; the added budget's
    runs after all of those."""
    first = [at(GOYAL_BASE, b, e, s) for s in seeds for e in GOYAL_EPOCHS for b in GOYAL_BATCHES]
    return first + [at(GOYAL_BASE, b, e, s) for s in seeds for e in GOYAL_EPOCHS_ADDED for b in GOYAL_BATCHES]


LARS_NETS = {"lars_nobn": ("alexnet_mlp_caffe", "nobn"), "lars_bn": ("alexnet_mlp_bn_caffe", "bn")}
LARS_BATCHES = (128, 512, 1024, 2048, 4096, 8192)
LARS_LRS = (0.0125, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)  # SGD peak lrs of stage 1
LARS_EPOCHS = 100 / 11  # the LARS study's second-design budget (its image of 32K gets 400 steps)
LARS_EVALS = 20


def lars_at(probe: str, batch: int, peak: float, epochs: float, seed: int) -> TrainConfig:
    model, net = LARS_NETS[probe]
    steps = epochs * FMNIST_N / batch
    return TrainConfig(
        study=STUDY,
        tag=probe,
        dataset="fashion_mnist",
        model=model,
        seed=seed,
        equal_examples=True,
        eval_every_steps=max(1, round(steps / LARS_EVALS)),
        eval_train_examples=0,
        eval_batch=5000,
        log_every_steps=10,
        **lars_sgd(batch, peak, epochs, net),
    )


def lars_stage1() -> list[TrainConfig]:
    return [
        lars_at(p, b, lr, LARS_EPOCHS, SEEDS[0]) for p in LARS_NETS for b in LARS_BATCHES for lr in LARS_LRS
    ]


def lars_best_lrs(data_dir=DATA) -> dict[tuple[str, int], float]:
    """Stage 1's best peak lr per (probe, batch), from the committed CSV ({} before stage 1 is in it)."""
    import pandas as pd

    path = Path(data_dir) / f"{STUDY}.csv"
    if not path.is_file():
        return {}
    d = pd.read_csv(path)
    d = d[d.probe.isin(list(LARS_NETS)) & (d.seed == SEEDS[0]) & np.isclose(d.epochs, LARS_EPOCHS)]
    if d.empty:
        return {}
    d = d.assign(err=d.final_test_err.where(d.status != "diverged", 90.0).fillna(90.0))
    best = {}
    for (p, b), g in d.groupby(["probe", "global_batch"]):
        g = g.sort_values(["err", "lr_peak"])
        best[(p, int(b))] = float(g.lr_peak.iloc[0])
    return best


def lars_stage2(data_dir=DATA) -> list[TrainConfig]:
    best = lars_best_lrs(data_dir)
    out = []
    for (p, b), lr in sorted(best.items()):
        out += [lars_at(p, b, lr, LARS_EPOCHS, s) for s in SEEDS[1:]]
        out += [lars_at(p, b, lr, 2 * LARS_EPOCHS, s) for s in SEEDS]
    return out


GAMMA_LADDER = {"lars_nobn": (384, 3200, 6336, 12736), "lars_bn": (512, 4032, 8064)}  # lars proxy v3
GAMMAS = (2.5, 5.0, 10.0, 20.0, 40.0, 80.0)
# Added once the scan had run: without BN the best gamma0 at 3,200, 6,336 and 12,736 was the scan's top, 80
# (accuracy still rising), so the scan continues upwards there before the third design centres on it.
GAMMAS_ADDED = {"lars_nobn": {3200: (160.0, 320.0), 6336: (160.0, 320.0), 12736: (160.0, 320.0)}}


def _gamma_run(p: str, b: int, g: float) -> TrainConfig:
    model, net = LARS_NETS[p]
    return TrainConfig(
        study=STUDY,
        tag="lars_gamma",
        dataset="fashion_mnist",
        model=model,
        seed=SEEDS[0],
        equal_examples=True,
        eval_every_steps=max(1, round(LARS_EPOCHS * FMNIST_N / b / LARS_EVALS)),
        eval_train_examples=0,
        eval_batch=5000,
        log_every_steps=10,
        **lars_lars(b, g, LARS_EPOCHS, net),
    )


def gamma_scan() -> list[TrainConfig]:
    """The first scan, then the runs added to it (appended: the first scan's indices stay)."""
    first = [(p, b, g) for p, bs in GAMMA_LADDER.items() for b in bs for g in GAMMAS]
    added = [(p, b, g) for p, bs in GAMMAS_ADDED.items() for b, gs in bs.items() for g in gs]
    return [_gamma_run(*x) for x in first + added]


def grid(scale: str = "cpu") -> list[TrainConfig]:
    if scale == "smoke":
        tiny = replace(GOYAL_BASE, train_examples=2048, test_examples=500)
        return [replace(at(tiny, b, 2.0, 100), max_steps=4, eval_every_steps=2) for b in (256, 1024)]
    if scale == "paper":
        return []  # the papers' B* is read from their published ladders (largebatch.bstar.paper_b_star)
    return goyal_probe() + lars_stage1() + lars_stage2() + gamma_scan()
