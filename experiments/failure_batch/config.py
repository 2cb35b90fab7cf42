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

The rules that turn these runs into B* are fixed in largebatch.bstar before any probe runs.
"""

from __future__ import annotations

from dataclasses import replace

from largebatch.config import TrainConfig
from largebatch.recipes import GOYAL, goyal_schedule, goyal_warmup

STUDY = "failure_batch"
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


def grid(scale: str = "cpu") -> list[TrainConfig]:
    if scale == "smoke":
        tiny = replace(GOYAL_BASE, train_examples=2048, test_examples=500)
        return [replace(at(tiny, b, 2.0, 100), max_steps=4, eval_every_steps=2) for b in (256, 1024)]
    if scale == "paper":
        return []  # the papers' B* is read from their published ladders (largebatch.bstar.paper_b_star)
    return goyal_probe()
