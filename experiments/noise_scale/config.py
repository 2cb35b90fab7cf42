"""Grids of the gradient-noise-scale study (Smith & Le, arXiv 1710.06451; McCandlish, arXiv 1812.06162).

Three experiments, all on Fashion-MNIST with a BN-free MLP 784-200-10:
  optimal_batch   test accuracy vs B at constant lr eps, momentum 0.9, on training subsets of N
                  examples, for a fixed number of updates U = 2000 * 0.1 / eps (Smith & Le §5)
  critical_batch  steps S and examples E to reach train loss 0.45 for B = 16 ... 8192, plain SGD,
                  lr tuned per B on a 4-point grid (McCandlish §3)
  bsimple         B_simple over training at B = 1024 with the two-batch estimator (McCandlish App. A)
The paper scale is a ResNet-50/ImageNet batch sweep with the noise module on.
"""

from __future__ import annotations

from dataclasses import replace

from largebatch.config import TrainConfig

MLP = dict(dataset="fashion_mnist", model="mlp", width=200, depth=1)
BASE = TrainConfig(study="noise_scale", **MLP, lr_scaling="none", warmup="none", decay="none",
                   weight_decay=0.0, eval_every_steps=10**9, eval_train_examples=0, eval_batch=5000)

# optimal_batch: (N, eps) pairs: eps varies at N = 1000, N varies at eps = 0.1
OPT_PAIRS = [(1000, 0.03), (1000, 0.1), (1000, 0.3), (2000, 0.1), (4000, 0.1)]
OPT_SEEDS = [0, 1, 2, 3, 4]
U_REF, EPS_REF = 2000, 0.1  # updates at the reference lr; U = U_REF * EPS_REF / eps (Smith & Le)
# critical_batch
CRIT_BATCHES = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
CRIT_LR_MULTS = [0.25, 0.5, 1.0, 2.0]
CRIT_TARGET = 0.45  # train loss (cross-entropy, nats)
CRIT_SEEDS = [0, 1]
BSIMPLE_SEEDS = [0, 1, 2]


def batches_for(n: int) -> list[int]:
    """Powers of two from 8 below N, then B = N (full batch)."""
    out, b = [], 8
    while b < n:
        out.append(b)
        b *= 2
    return out + [n]


def lr_center(b: int) -> float:
    """Grid centre for plain SGD at batch b: eps_opt ~ eps_max / (1 + B_noise/b) (McCandlish eq. 2.7),
    with eps_max = 0.8 and B_noise = 300 from two calibration sweeps (B = 16, 256, 4096)."""
    return 0.8 * b / (b + 300)


def optimal_batch() -> list[TrainConfig]:
    out = []
    for n, eps in OPT_PAIRS:
        steps = round(U_REF * EPS_REF / eps)
        for b in batches_for(n):
            for s in OPT_SEEDS:
                out.append(replace(BASE, tag="optimal_batch", train_examples=n, global_batch=b,
                                   per_worker_batch=b, lr_base=eps, lr_base_batch=b, momentum=0.9,
                                   epochs=1e6, max_steps=steps, eval_train_examples=n, seed=s))
    return out


def critical_batch() -> list[TrainConfig]:
    out = []
    for b in CRIT_BATCHES:
        for mult in CRIT_LR_MULTS:
            for s in CRIT_SEEDS:
                out.append(replace(BASE, tag="critical_batch", global_batch=b, per_worker_batch=b,
                                   lr_base=round(lr_center(b) * mult, 5), lr_base_batch=b, momentum=0.0,
                                   epochs=min(40.0, max(2.0, b / 100)), stop_at_train_loss=CRIT_TARGET,
                                   log_every_steps=max(1, round(256 / b)), seed=s))
    return out


def bsimple() -> list[TrainConfig]:
    return [replace(BASE, tag="bsimple", global_batch=1024, per_worker_batch=64, momentum=0.0,
                    lr_base=round(lr_center(1024), 5), lr_base_batch=1024, epochs=20.0, log_every_steps=4,
                    noise_every_steps=4, eval_every_steps=58, eval_train_examples=10000, seed=s)
            for s in BSIMPLE_SEEDS]


def paper() -> list[TrainConfig]:
    """ResNet-50/ImageNet batch sweep, 90 epochs, noise module on (run with multi-node torchrun)."""
    base = replace(BASE, tag="paper", dataset="imagenet", model="resnet50", width=0, depth=0,
                   per_worker_batch=32, lr_base=0.1, lr_base_batch=256, lr_scaling="linear",
                   momentum=0.9, nesterov=True, weight_decay=1e-4, zero_gamma=True, epochs=90,
                   warmup="gradual", warmup_epochs=5, decay="step", decay_milestones_epochs=(30, 60, 80),
                   eval_every_steps=0, eval_train_examples=0, noise_every_steps=50, noise_ema=0.99,
                   eval_batch=250)
    return [replace(base, global_batch=b) for b in (256, 1024, 4096, 8192, 16384, 32768)]


def smoke_cfg(cfg: TrainConfig) -> TrainConfig:
    """A few steps of the same configuration on tiny data."""
    if cfg.dataset == "imagenet":
        return replace(cfg, dataset="synthetic_imagenet", synthetic_examples=64, image_size=64,
                       global_batch=32, per_worker_batch=16, max_steps=2, noise_every_steps=1,
                       eval_batch=16, test_examples=16, num_classes=10)
    return replace(cfg, train_examples=min(cfg.train_examples or 2048, 2048), max_steps=3,
                   test_examples=500, eval_train_examples=min(cfg.eval_train_examples, 256),
                   global_batch=min(cfg.global_batch, 256), per_worker_batch=min(cfg.per_worker_batch, 256)
                   if cfg.tag != "bsimple" else 64, noise_every_steps=min(cfg.noise_every_steps, 1))


def grid(scale: str = "cpu") -> list[TrainConfig]:
    if scale == "paper":
        return paper()
    cfgs = optimal_batch() + critical_batch() + bsimple()
    if scale == "smoke":
        picks = [cfgs[0], critical_batch()[0], bsimple()[0]]
        return [smoke_cfg(c) for c in picks] + [smoke_cfg(paper()[0])]
    return cfgs
