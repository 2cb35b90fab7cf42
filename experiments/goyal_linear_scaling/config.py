"""Grids of the Goyal et al. study, "Accurate, Large Minibatch SGD" (arXiv 1706.02677).

Every run uses Goyal's recipe (§2-§5, largebatch.recipes): per-worker BN over n = 32 examples (ghost BN, one
group per virtual worker), the loss of all kn examples divided by kn (Remark 3), one shuffle per epoch split
among the workers (Remark 4), zero-gamma in the last BN of each residual block, no weight decay on BN/biases,
Nesterov 0.9, eta = 0.1 * kn / 256 (linear scaling rule), gradual per-iteration warmup from 0.1 to eta over
5/90 of training for kn > 256 only (Goyal §5.1), and lr / 10 at 30, 60 and 80 of 90 epochs' fractions.

The cpu grid is the third design (v3, issue 28): the network, data and ladder shared with the 32k-recipe
study (largebatch.proxies), placed against the failure batch B* measured by experiments/failure_batch:
kn = 256, then the images of Goyal's 4k, 8k, 16k, 32k at 0.27, 0.58, 1.12, 2.28 B* (Goyal's: 0.28, 0.57,
1.13, 2.27), every batch seeing E N examples (equal_examples). `tag` names the experiment:
  batch    error vs kn (Fig. 1 / Table 3a), and the training curves of Fig. 2/4 from the same runs
  warmup   no warmup and constant warmup at the image of 8k (Table 1); gradual = the batch sweep's run
  rule     sqrt scaling and no scaling at the image of 8k (Table 2a); linear = the batch sweep's run
  gamma    gamma = 1 init at the image of 8k (Table 2b); gamma = 0 = the batch sweep's run
Seeds 20-29, fresh (no judged run of any study had used them), 10 per arm. The 32k-recipe study shares this
ladder's baseline (kn = 256) and its image of 32k (its arm A): those runs are made once, here. The first two
designs' grids are in git history (README). The paper scale is ResNet-50 on ImageNet with exactly §5's
hyperparameters (multi-node torchrun).
"""

from __future__ import annotations

from dataclasses import replace

from largebatch.config import TrainConfig
from largebatch.proxies import BATCHES_V3, E_V3, NET_V3, at_batch_v3
from largebatch.recipes import GOYAL, goyal_schedule, goyal_warmup
from largebatch.scales import by_scale, imagenet_paper, smoke_imagenet

STUDY = "goyal_linear_scaling"
DESIGN = "v3"  # written by collect.py into the CSV's `design` column (the second design's said "v2")
BASELINE_BATCH = 256  # Goyal's baseline kn = 8 workers x 32 (eta = 0.1)
E = E_V3  # epochs: every kn sees E N examples
BATCHES = list(BATCHES_V3)  # kn = 256, then the images of 4k, 8k, 16k, 32k
B_ABL = BATCHES[2]  # the ablations' batch: the image of Goyal's 8k, fixed before the sweep
SEEDS = list(range(20, 30))
BASE = replace(NET_V3, study=STUDY)


def ablations(base: TrainConfig, b: int, seed: int) -> list[TrainConfig]:
    """Tables 1, 2a, 2b at kn = b: no/constant warmup, sqrt/no scaling, gamma = 1 (5 runs of one seed)."""
    return [
        at_batch_v3(base, b, tag="warmup", warmup="none", seed=seed),
        at_batch_v3(base, b, tag="warmup", warmup="constant", seed=seed),
        at_batch_v3(base, b, tag="rule", lr_scaling="sqrt", seed=seed),
        at_batch_v3(base, b, tag="rule", lr_scaling="none", seed=seed),
        at_batch_v3(base, b, tag="gamma", zero_gamma=False, seed=seed),
    ]


def cpu_grid(base: TrainConfig = BASE, seeds=SEEDS) -> list[TrainConfig]:
    """The batch sweep (seeds innermost), then the five ablations at B_ABL (seeds outermost)."""
    out = [at_batch_v3(base, b, tag="batch", seed=s) for b in BATCHES for s in seeds]
    for s in seeds:
        out += ablations(base, B_ABL, s)
    return out


# ---- paper scale: ResNet-50 / ImageNet, Goyal et al. §5.1 ------------------------------------------
PAPER_BATCHES = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
PAPER_B_ABL = 8192
PAPER_SEEDS = [0]  # Goyal report mean +- std of 5 runs: add seeds 1-4 for the error bars
# Goyal's schedule as goyal_schedule(90) gives it (float epochs): the run ids hash the values as written
PAPER_BASE = imagenet_paper(
    TrainConfig(study=STUDY, log_every_steps=10, **GOYAL),
    **goyal_schedule(90),
    eval_train_examples=50000,
    checkpoint_every_steps=0,
)


def paper_grid(seeds=PAPER_SEEDS) -> list[TrainConfig]:
    """Fig. 1 / Table 3a (kn = 256 ... 32k), Table 1 (warmup), Table 2a (rule), Table 2b (gamma) at 8k."""
    b = PAPER_BASE
    out = [
        goyal_warmup(replace(b, tag="batch", global_batch=kn, seed=s)) for kn in PAPER_BATCHES for s in seeds
    ]
    for s in seeds:
        out += [
            replace(b, tag="warmup", global_batch=PAPER_B_ABL, warmup="none", seed=s),
            replace(b, tag="warmup", global_batch=PAPER_B_ABL, warmup="constant", seed=s),
            replace(b, tag="rule", global_batch=PAPER_B_ABL, lr_scaling="sqrt", seed=s),
            replace(b, tag="rule", global_batch=PAPER_B_ABL, lr_scaling="none", seed=s),
            goyal_warmup(replace(b, tag="gamma", global_batch=256, zero_gamma=False, seed=s)),
            replace(b, tag="gamma", global_batch=PAPER_B_ABL, zero_gamma=False, seed=s),
        ]
    return out


# ---- smoke scale -----------------------------------------------------------------------------------
def smoke_grid() -> list[TrainConfig]:
    """A few steps of each kind of run on tiny data, and the paper config on 64x64 synthetic ImageNet."""
    tiny = replace(
        BASE,
        train_examples=2048,
        test_examples=500,
        eval_train_examples=256,
        **goyal_schedule(2),
        max_steps=6,
    )
    fm = [goyal_warmup(replace(tiny, tag="batch", global_batch=b, eval_every_steps=2)) for b in (64, 1024)]
    fm += [replace(tiny, tag="warmup", global_batch=1024, warmup="constant", eval_every_steps=2)]
    img = smoke_imagenet(
        replace(PAPER_BASE, tag="batch"),
        batch=64,
        per_worker=32,
        examples=128,
        test_examples=32,
        eval_batch=32,
        eval_train_examples=32,
        micro_batch=32,
        eval_every_steps=2,
        log_every_steps=1,
    )
    return fm + [goyal_warmup(img)]


def grid(scale: str = "cpu") -> list[TrainConfig]:
    return by_scale(scale, cpu=cpu_grid, smoke=smoke_grid, paper=paper_grid)
