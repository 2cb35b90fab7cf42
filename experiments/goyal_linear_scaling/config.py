"""Grids of the Goyal et al. study, "Accurate, Large Minibatch SGD" (arXiv 1706.02677).

Every run uses Goyal's recipe (§2-§5): per-worker BN over n = 32 examples (ghost BN, one group per
virtual worker), the loss of all kn examples divided by kn (Remark 3), one shuffle per epoch split among
the workers (Remark 4), zero-gamma in the last BN of each residual block, no weight decay on BN/biases,
Nesterov 0.9, eta = 0.1 * kn / 256 (linear scaling rule), gradual per-iteration warmup from 0.1 to eta
over 5/90 of training, and lr / 10 at 1/3, 2/3 and 8/9 of training (epochs 30/60/80 of 90).

Experiments (cpu scale: Fashion-MNIST, residual MLP with BN; `tag` names the experiment):
  batch    error vs kn = 64 ... 16k (Fig. 1 / Table 3a analogue)
  warmup   no warmup and constant warmup at each of ABL_BATCHES (Table 1); gradual = the batch sweep's run
  rule     sqrt scaling and no scaling at each of ABL_BATCHES (Table 2a); linear = the batch sweep's run
  gamma    gamma = 1 init at each of ABL_BATCHES (Table 2b); gamma = 0 = the batch sweep's run
The ablations ran first at B_ABL = 1024 (fixed before the sweep from one calibration seed), then, once
the 3-seed batch sweep had measured B_flat = 2048, also at B_ABL_FLAT = 2048, where the issue judges them.
Training curves of every run (Fig. 2/4) come from the same runs' evaluations.
The paper scale is ResNet-50 on ImageNet with exactly §5's hyperparameters (multi-node torchrun).

Warmup only for kn > 256 (Goyal §5.1: the gradual warmup "used for kn > 256"; it starts at eta = 0.1, the
baseline's lr). Before this fix every kn warmed "up" from 0.1 to 0.1 kn / 256, so kn < 256 warmed *down*
(kn = 64 from 4x its own lr); `goyal_warmup` applies the fix to every grid (run ids of kn <= 256 changed).

Second design (v2, `grid("cpu")` since issue 16): the scale-model rule (`proxy.py`) places the ladder
against the proxy's measured B_simple (kn = 256, then the images of 4k, 8k, 16k, 32k), gives the largest
batch proxy.STEPS_LARGEST steps and every phase the paper's fraction of the run; the ablations run at the
image of 8k (B_ABL_V2 = proxy.B_REF), fixed here before any v2 run. The first design stays as `cpu_grid()`
(its CSV is judged by the v1 claims until the rerun replaces it).
"""

from __future__ import annotations

from dataclasses import replace

from largebatch.config import TrainConfig
from largebatch.proxies import NET_V3, at_batch_v3
from largebatch.recipes import GOYAL, goyal_schedule, goyal_warmup

from . import proxy

STUDY = "goyal_linear_scaling"
# ---- cpu scale -------------------------------------------------------------------------------------
EPOCHS = 36  # E: Goyal's 90 epochs mapped to E (milestones E/3, 2E/3, 8E/9; warmup E/18)
WIDTH, DEPTH = 64, 2  # resmlp_bn: 784 -> 64, 2 residual blocks of two BN layers each, -> 10
BASELINE_BATCH = 256  # Goyal's baseline kn = 8 workers x 32 (eta = 0.1)
BATCHES = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
B_ABL = 1024  # batch of the ablations: the largest kn within 0.3 pt of kn=256 in calibration (README)
B_ABL_FLAT = 2048  # second ablation batch, run after the sweep: the B_flat its 3 seeds measured (README)
ABL_BATCHES = (B_ABL, B_ABL_FLAT)
SEEDS = [0, 1, 2]
EVALS_PER_EPOCH = 1  # evaluations per epoch: the curves, and 3 in the final 5/90 (analysis.final_error)


BASE = TrainConfig(
    study=STUDY,
    dataset="fashion_mnist",
    model="resmlp_bn",
    width=WIDTH,
    depth=DEPTH,
    **GOYAL,
    **goyal_schedule(EPOCHS),
    eval_train_examples=10000,
    eval_batch=5000,
    log_every_steps=10,
)


def eval_every(b: int, n_train: int = 60000, per_epoch: int = EVALS_PER_EPOCH) -> int:
    """Steps between evaluations so that every batch size is evaluated `per_epoch` times per epoch."""
    return max(1, (n_train // b) // per_epoch)


def at_batch(base: TrainConfig, b: int, **kw) -> TrainConfig:
    return goyal_warmup(replace(base, global_batch=b, eval_every_steps=eval_every(b), **kw))


def cpu_grid(base: TrainConfig = BASE, seeds=SEEDS) -> list[TrainConfig]:
    out = [at_batch(base, b, tag="batch", seed=s) for b in BATCHES for s in seeds]
    for b in ABL_BATCHES:  # B_ABL's runs first, as in the original 42-run grid: indices stay the same
        for s in seeds:
            out += ablations(base, b, s)
    return out


def ablations(base: TrainConfig, b: int, seed: int) -> list[TrainConfig]:
    """Tables 1, 2a, 2b at kn = b: no/constant warmup, sqrt/no scaling, gamma = 1 (5 runs of one seed)."""
    return [
        at_batch(base, b, tag="warmup", warmup="none", seed=seed),
        at_batch(base, b, tag="warmup", warmup="constant", seed=seed),
        at_batch(base, b, tag="rule", lr_scaling="sqrt", seed=seed),
        at_batch(base, b, tag="rule", lr_scaling="none", seed=seed),
        at_batch(base, b, tag="gamma", zero_gamma=False, seed=seed),
    ]


# ---- paper scale: ResNet-50 / ImageNet, Goyal et al. §5.1 ------------------------------------------
PAPER_BATCHES = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
PAPER_B_ABL = 8192
PAPER_SEEDS = [0]  # Goyal report mean +- std of 5 runs: add seeds 1-4 for the error bars
PAPER_BASE = replace(
    BASE,
    dataset="imagenet",
    model="resnet50",
    width=0,
    depth=0,
    **goyal_schedule(90),
    eval_every_steps=0,
    eval_train_examples=50000,
    eval_batch=250,
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
    img = replace(
        PAPER_BASE,
        tag="batch",
        dataset="synthetic_imagenet",
        synthetic_examples=128,
        image_size=64,
        num_classes=10,
        test_examples=32,
        eval_train_examples=32,
        eval_batch=32,
        global_batch=64,
        micro_batch=32,
        max_steps=2,
        eval_every_steps=2,
        log_every_steps=1,
    )
    return fm + [goyal_warmup(img)]


# ---- cpu scale, second design (v2): the scale-model rule (proxy.py) ------------------------------------
DESIGN = "v2"  # written by collect.py into the CSV's `design` column; the first design's CSV has none
E_V2 = proxy.E_CPU  # every kn shares this example budget (the largest batch gets proxy.STEPS_LARGEST steps)
BATCHES_V2 = list(proxy.BATCHES)  # kn = 256, then the images of 4k, 8k, 16k, 32k
B_ABL_V2 = proxy.B_REF  # ablation batch, fixed before the sweep by the rule: the image of Goyal's 8k
SEEDS_V2 = [0, 1, 2, 3]  # seeds by power (README "v2 design"): 4 for every judged arm
EVALS_V2 = 90  # evaluations per run: one per "paper epoch" (E/90), so the final 5/90 hold 5 (Goyal: 5)


def at_batch_v2(base: TrainConfig, b: int, **kw) -> TrainConfig:
    """kn = b on the v2 budget, evaluated every E/90 epochs (at least every step)."""
    spe = proxy.FMNIST_N // b
    every = max(1, int(round(E_V2 * spe / EVALS_V2)))
    return goyal_warmup(replace(base, global_batch=b, eval_every_steps=every, **kw))


BASE_V2 = replace(BASE, **goyal_schedule(E_V2))


def cpu_grid_v2(base: TrainConfig = BASE_V2, seeds=SEEDS_V2) -> list[TrainConfig]:
    """The batch sweep (seeds innermost), then the five ablations at B_ABL_V2 (seeds outermost)."""
    out = [at_batch_v2(base, b, tag="batch", seed=s) for b in BATCHES_V2 for s in seeds]
    for s in seeds:
        out += [
            at_batch_v2(base, B_ABL_V2, tag="warmup", warmup="none", seed=s),
            at_batch_v2(base, B_ABL_V2, tag="warmup", warmup="constant", seed=s),
            at_batch_v2(base, B_ABL_V2, tag="rule", lr_scaling="sqrt", seed=s),
            at_batch_v2(base, B_ABL_V2, tag="rule", lr_scaling="none", seed=s),
            at_batch_v2(base, B_ABL_V2, tag="gamma", zero_gamma=False, seed=s),
        ]
    return out


# ---- cpu scale, third design (v3, issue 28): the ladder placed against the failure batch B* -------------
# proxy.py (v3 section) derives the ladder from B* measured by experiments/failure_batch at E_V3 = 12 epochs:
# kn = 256, then the images of 4k, 8k, 16k, 32k at 0.27, 0.58, 1.12, 2.28 B* (Goyal's: 0.28, 0.57, 1.13,
# 2.27), every batch seeing E N examples (equal_examples). The ablations (Tables 1, 2a, 2b) run at the image
# of 8k, as Goyal's do at 8k. Fresh seeds 20-29, which no judged run of any study has used; 10 per arm, the
# power rule's cap (claims.toml says why each row needs them). The 32k-recipe study shares this ladder's
# baseline (kn = 256) and its image of 32k (its arm A): those runs are made once, here.
DESIGN_V3 = "v3"
E_V3 = proxy.E_V3
BATCHES_V3 = list(proxy.BATCHES_V3)
B_ABL_V3 = proxy.B3_REF  # the image of 8k
SEEDS_V3 = list(range(20, 30))
BASE_V3 = replace(NET_V3, study=STUDY)


def cpu_grid_v3(base: TrainConfig = BASE_V3, seeds=SEEDS_V3) -> list[TrainConfig]:
    """The batch sweep (seeds innermost), then the five ablations at B_ABL_V3 (seeds outermost)."""
    out = [at_batch_v3(base, b, tag="batch", seed=s) for b in BATCHES_V3 for s in seeds]
    for s in seeds:
        out += [
            at_batch_v3(base, B_ABL_V3, tag="warmup", warmup="none", seed=s),
            at_batch_v3(base, B_ABL_V3, tag="warmup", warmup="constant", seed=s),
            at_batch_v3(base, B_ABL_V3, tag="rule", lr_scaling="sqrt", seed=s),
            at_batch_v3(base, B_ABL_V3, tag="rule", lr_scaling="none", seed=s),
            at_batch_v3(base, B_ABL_V3, tag="gamma", zero_gamma=False, seed=s),
        ]
    return out


def grid(scale: str = "cpu") -> list[TrainConfig]:
    if scale == "paper":
        return paper_grid()
    if scale == "smoke":
        return smoke_grid()
    if scale == "cpu_v1":  # the first design (its CSV is committed; not a study scale, for reference)
        return cpu_grid()
    if scale == "cpu_v2":  # the second design (committed CSV until v3 replaces it)
        return cpu_grid_v2()
    return cpu_grid_v3()
