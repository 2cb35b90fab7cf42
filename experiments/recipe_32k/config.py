"""Grids of the 32k-batch recipe study (Akiba, Suzuki & Fukuda, arXiv 1711.04325).

Every arm has the same example budget E, as in the paper (90 epochs for every arm), and every phase is the
paper's fraction of it.

  baseline   B = 256, Goyal recipe (lr 0.1 per 256, lr / 10 at 30/60/80 of 90, no warmup at 256)
  A          Goyal recipe at the large batch: linear scaling, gradual warmup from 0.1 to 0.1 B/256 over 5 of
             90, lr / 10 at 30/60/80 of 90
  B          A + slow start: gradual warmup to 0.5 eta, then 0.5 / 0.075 / 0.01 / 0.001 x eta at 0/40/70/85
  C          RMSprop warm-up (alpha_sgd rises around beta_center = 10, width beta_period = 5, of 90) in place
             of the lr warmup: eta = 0.1 B/256 from step 0, Goyal's steps at 30/60/80
  D          RMSprop warm-up + slow start (0.5 eta from step 0, no lr warmup) + BN statistics recomputed from
             the last training minibatches for evaluation
  D_running  D evaluated with running-average BN: not a run of its own. Every D run scores the running
             averages beside the recomputed statistics at each evaluation (trainer: test_running/*), which
             is exactly what a separate bn_eval=running run logs (same parameters; test_trainer.py), and
             collect.py writes those scores as the D_running rows
  D_fp16     D with fp16 gradient allreduce (PyTorch's fp16_compress_hook; acts only with >= 2 processes);
             at cpu scale the pair D2_fp32 / D2_fp16: D on two processes with the fp32 / fp16 allreduce

RMSprop warm-up has no lr warmup in front of it: in the Chainer reimplementation of the paper's schedule the
slow-start lr is 0.5 eta_base from epoch 0: the RMSprop phase *is* the warm-up. Putting a gradual lr warmup
under it inflates the RMSprop term: it enters the momentum buffer scaled by eta_RMS / eta_t and is later
multiplied by the larger eta of the following steps (largebatch.rmsprop_warmup; tests/test_rmsprop_warmup.py
measures the inflation).

Scales: cpu = the third design (issue 28): the Goyal study's proxy (largebatch.proxies.NET_V3: resmlp_bn
width 64, Fashion-MNIST, E = 12 epochs, every batch seeing E N examples), the arms at its image of 32k
(B_V3 = 4,288 = 2.28 B*), Nesterov momentum 0.9 in every arm; paper = ResNet-50 / ImageNet, 32k on 1024
GPUs (32 per GPU), 90 epochs; smoke = a few steps of each arm on tiny data. The paper and smoke grids keep
the second design's arm definitions (`arm`, `cpu_arm`: plain momentum; their run ids are unchanged), and
calibrate.py's B_simple probe and first eta_RMS grid (committed in recipe_32k_calib.csv) run on `cpu_arm`
too. The first and second cpu designs' grids are in the history of this file (the second's runs: the
history of recipe_32k.csv up to 20ded1f).
"""

from __future__ import annotations

from dataclasses import replace

from largebatch.config import TrainConfig
from largebatch.scales import smoke_imagenet

from . import proxy

STUDY = "recipe_32k"
NPROC = 1  # processes per cpu run; the fp16 pair asks for 2 itself (TrainConfig.nproc), the rest are pooled
E_CPU = proxy.E_CPU  # epochs of `cpu_arm` (the smoke grid and the committed calibration runs)
B_SMALL, B_LARGE_CPU, B_LARGE_PAPER = proxy.B_BASELINE, proxy.B_LARGE, 32768
RMS_LR_CPU = 3e-4  # eta_RMS of `cpu_arm`: calibrate.py's first grid picks it (recipe_32k_calib.csv, part rms)
ARMS = ("baseline", "A", "B", "C", "D", "D_running", "D_fp16")  # the arms of the paper grid, reported
RUN_ARMS = tuple(a for a in ARMS if a != "D_running")  # the arms run (D_running comes from D's runs)
BN_RECOMPUTE_BATCHES = 2  # last k training minibatches (k * B examples, B / 32 worker groups each)
EVALS = 20  # evaluations per run (every E/20 epochs)

GOYAL = dict(
    lr_base=0.1,
    lr_base_batch=256,
    lr_scaling="linear",
    momentum=0.9,
    nesterov=False,
    weight_decay=1e-4,
    wd_exclude_bn_bias=True,
    zero_gamma=True,
    per_worker_batch=32,
)


def _s(epochs_of_90: float, E: float) -> float:
    """An epoch boundary of the 90-epoch recipe on an E-epoch budget (the same fraction of the run)."""
    return round(epochs_of_90 * E / 90, 6)


def goyal(E: float, B: int) -> dict:
    """Linear scaling, gradual warmup over 5 of 90 epochs (only for B > 256), lr / 10 at 30/60/80 of 90."""
    warm = (
        dict(warmup="gradual", warmup_epochs=_s(5, E)) if B > 256 else dict(warmup="none", warmup_epochs=0.0)
    )
    return dict(
        GOYAL,
        global_batch=B,
        epochs=E,
        decay="step",
        decay_factor=0.1,
        decay_milestones_epochs=tuple(_s(e, E) for e in (30, 60, 80)),
        **warm,
    )


def slow_start(E: float) -> dict:
    """Akiba's slow start: 0.5 / 0.075 / 0.01 / 0.001 x eta_Goyal, boundaries 40/70/85 of 90."""
    return dict(
        lr_base=0.05,
        warmup_lr_init=0.1,
        decay="piecewise",
        decay_milestones_epochs=tuple(_s(e, E) for e in (40, 70, 85)),
        decay_factors=(0.075 / 0.5, 0.01 / 0.5, 0.001 / 0.5),
    )


def rmsprop_warmup(E: float, rms_lr: float, rms_decay: float) -> dict:
    """RMSprop warm-up (beta_center 10, beta_period 5 of 90) in place of the lr warmup."""
    return dict(
        optimizer="rmsprop_warmup",
        rms_lr=rms_lr,
        rms_decay=rms_decay,
        rms_eps=1e-8,
        rms_beta_center_epochs=_s(10, E),
        rms_beta_period_epochs=_s(5, E),
        warmup="none",
        warmup_epochs=0.0,
        warmup_lr_init=-1.0,
    )


def arm(
    base: TrainConfig, name: str, E: float, B: int, rms_lr: float = RMS_LR_CPU, rms_decay: float = 0.99
) -> TrainConfig:
    """The configuration of arm `name` on top of `base` (dataset, model, evaluation settings)."""
    if name == "baseline":
        return replace(base, tag=name, **goyal(E, B_SMALL))
    kw = goyal(E, B)
    if name in ("B", "D", "D_running", "D_fp16"):
        kw.update(slow_start(E))
    if name in ("C", "D", "D_running", "D_fp16"):
        kw.update(rmsprop_warmup(E, rms_lr, rms_decay))
    if name in ("D", "D_fp16"):
        kw.update(bn_eval="recomputed", bn_recompute_batches=BN_RECOMPUTE_BATCHES)
    if name == "D_fp16":
        kw.update(comm_dtype="fp16")
    return replace(base, tag=name, **kw)


CPU_BASE = TrainConfig(
    study=STUDY,
    dataset="fashion_mnist",
    model="resmlp_bn",
    width=128,
    depth=2,
    eval_batch=5000,
    eval_train_examples=10000,
    log_every_steps=10,
)

PAPER_BASE = TrainConfig(
    study=STUDY,
    dataset="imagenet",
    model="resnet50",
    eval_batch=250,
    eval_train_examples=0,
    log_every_steps=10,
)


def cpu_arm(name: str, B: int | None = None, **kw) -> TrainConfig:
    """Arm `name` on the second design's proxy (proxy.PROXY: its epochs and scaled mu2), evaluated EVALS
    times: the smoke grid's arms and the calibration runs of calibrate.py's probe and first eta_RMS grid."""
    B = B or B_LARGE_CPU
    cfg = arm(CPU_BASE, name, E_CPU, B, rms_decay=proxy.PROXY.decays["rms_decay"])
    spe = proxy.FMNIST_N // cfg.global_batch
    return replace(cfg, eval_every_steps=max(1, round(E_CPU * spe / EVALS)), **kw)


def paper() -> list[TrainConfig]:
    """ResNet-50 / ImageNet, 90 epochs, per-GPU batch 32, 32k on 1024 GPUs."""
    return [arm(PAPER_BASE, a, 90.0, B_LARGE_PAPER) for a in RUN_ARMS]


def smoke_cfg(cfg: TrainConfig) -> TrainConfig:
    """Two steps of the same arm on tiny data (synthetic 64x64 ImageNet for the paper configs)."""
    if cfg.dataset == "imagenet":
        return smoke_imagenet(cfg, 16, 8, 32, 8, 16, bn_recompute_batches=1)
    return replace(
        cfg,
        train_examples=2048,
        test_examples=500,
        eval_train_examples=256,
        max_steps=3,
        global_batch=min(cfg.global_batch, 512),
        eval_every_steps=2,
        log_every_steps=1,
    )


# The cpu grid (third design, issue 28). The baseline (B = 256) and arm A (Goyal's recipe at the image of
# 32k, 4,288 = 2.28 B*) are the Goyal study's own runs (its `batch` experiment, same seeds), made once; this
# grid holds the other arms at the same batch, Nesterov 0.9 in every arm (Goyal's SGD; RMSprop warm-up hands
# over to it exactly, largebatch.rmsprop_warmup). D2_fp32 / D2_fp16 are D as two-process runs (nproc = 2)
# with the fp32 / fp16 gradient allreduce: the fp16 claim compares the pair, so that nothing but the
# allreduce differs. Seeds 20-29 (fresh; 20-24 for the exploratory B and C).
DESIGN_V3 = "v3"
E_V3 = proxy.E_V3
B_V3 = proxy.B3_LARGE
RMS_LR_V3 = 3e-4  # eta_RMS: calibrate.py's v3 grid picks it (recipe_32k_calib.csv, part rms_v3)
SEEDS_V3 = {
    "B": list(range(20, 25)),
    "C": list(range(20, 25)),
    "D": list(range(20, 30)),
    "D2_fp32": list(range(20, 30)),
    "D2_fp16": list(range(20, 30)),
}
RUN_ARMS_V3 = tuple(SEEDS_V3)
SHARED_ARMS_V3 = {"baseline": 256, "A": B_V3}  # the Goyal study's runs: experiment "batch" at these kn


def arm_v3(name: str, seed: int, rms_lr: float = RMS_LR_V3) -> TrainConfig:
    """Arm `name` of the third design at B_V3 (A and baseline: the Goyal study's configuration)."""
    from largebatch.proxies import NET_V3, at_batch_v3

    cfg = at_batch_v3(replace(NET_V3, study=STUDY), B_V3 if name != "baseline" else 256, tag=name, seed=seed)
    kw: dict = {}
    if name in ("B", "D", "D2_fp32", "D2_fp16"):
        kw.update(slow_start(E_V3))
    if name in ("C", "D", "D2_fp32", "D2_fp16"):
        kw.update(rmsprop_warmup(E_V3, rms_lr, proxy.RMS_DECAY_V3))
    if name.startswith("D"):
        kw.update(bn_eval="recomputed", bn_recompute_batches=BN_RECOMPUTE_BATCHES)
    if name != "baseline":  # no train-set scoring: no claim of these arms reads it (Goyal's curves do)
        kw.update(eval_train_examples=0)
    if name.startswith("D2"):
        kw.update(nproc=2, comm_dtype="fp16" if name.endswith("fp16") else "fp32")
    return replace(cfg, **kw)


def cpu_v3() -> list[TrainConfig]:
    """Per arm, its seeds (the fp16 pair last: they are two-process runs, one at a time)."""
    return [arm_v3(a, s) for a in RUN_ARMS_V3 for s in SEEDS_V3[a]]


def grid(scale: str = "cpu") -> list[TrainConfig]:
    if scale == "paper":
        return paper()
    if scale == "smoke":
        first = [cpu_arm(a, seed=0) for a in RUN_ARMS]
        return [smoke_cfg(c) for c in first] + [smoke_cfg(paper()[RUN_ARMS.index("D")])]
    return cpu_v3()
