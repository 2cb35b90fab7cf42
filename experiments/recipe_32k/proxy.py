"""The 32k recipe's cpu proxy, placed by the scale-model rule (largebatch.scalemodel) against the paper.

Paper (Akiba et al., arXiv 1711.04325; Goyal et al., arXiv 1706.02677): ImageNet-1k, N = 1,281,167, 90 epochs
for every arm; batches 256 (baseline), 8k, 16k, 32k (Akiba). At 32k the run has 3,510 steps; the Goyal warmup
is 5 epochs (195 steps), the RMSprop blend is centred at epoch 10 (390 steps) with width 5 (195 steps), the
slow start drops at 40/70/85 of 90. Optimizer time constants: momentum mu1 = 0.9 (10 steps), RMSprop mu2 =
0.99 (100 steps).

Third design (issue 28, the cpu grid): the Goyal study's proxy (largebatch.proxies: resmlp_bn width 64 on
Fashion-MNIST, N = 60,000, E = 12 epochs with equal examples for every batch). The batches are the Goyal
ladder's, placed against the failure batch B* (the batch at which the plain recipe ends 1 pt above the
baseline: paper Table 3a, proxy experiments/failure_batch) as Goyal's stand against his: 8k, 16k, 32k ->
0.58, 1.12, 2.28 B*. mu2 is scaled so that the blend centre spans 3.9 of its time constants, as in the
paper (0.99 -> 0.79); momentum 0.9 is kept (scaling it would change the effective learning rate eta / (1 -
mu1) the recipes are about).

Second design (PROXY, kept for the smoke grid and the committed calibration runs, config.cpu_arm): width 128,
its batches placed against a B_simple probe (calibrate.py, 1,263) with 1,000 steps at the image of 32k and
an epoch budget of 90.9; its runs and claims are in the history of recipe_32k.csv and claims.toml (20ded1f).
"""

from __future__ import annotations

from dataclasses import replace

from largebatch.proxies import B_STAR_PAPER, B_STAR_V3, E_V3
from largebatch.proxies import MULTIPLE as MULTIPLE_V3
from largebatch.scalemodel import Regime, scale, table

IMAGENET_N, FMNIST_N = 1281167, 60000
PAPER = Regime(
    name="paper",
    train_examples=IMAGENET_N,
    epochs=90,
    batches=(256, 8192, 16384, 32768),
    ref_batch=8192,
    phases={
        "warmup": 5,
        "beta_center": 10,
        "beta_period": 5,
        "slow_start_1": 40,
        "slow_start_2": 70,
        "slow_start_3": 85,
        "goyal_step_1": 30,
    },
    decays={"momentum": 0.9, "rms_decay": 0.99},
    interacts={"momentum": "warmup", "rms_decay": "beta_center"},
)
B_BASELINE = 256

PAPER_V3 = replace(PAPER, ref_batch=B_STAR_PAPER)
PROXY_V3 = scale(
    PAPER_V3,
    FMNIST_N,
    B_STAR_V3,
    0,
    multiple=MULTIPLE_V3,
    scale_decays=("rms_decay",),
    pinned={256: B_BASELINE},
    epochs=E_V3,
    equal_examples=True,
)
B3_REF, B3_ALT, B3_LARGE = PROXY_V3.batches[1:]  # images of 8k, 16k, 32k (the Goyal ladder's rungs)
RMS_DECAY_V3 = PROXY_V3.decays["rms_decay"]


def regime_table_v3() -> list[dict]:
    """Paper vs proxy (v3) in steps, B / B* and time constants (rendered into the study README)."""
    return table(
        PAPER_V3,
        PROXY_V3,
        notes={
            f"batch 256 → {B_BASELINE}: B / ref": "pinned: Goyal's baseline, shared with the Goyal study",
            "reference batch (elbow / B_simple)": "B* (error 1 pt above the baseline's): paper Table 3a, "
            "proxy failure_batch probe",
            "warmup / time constant of momentum": "momentum kept at 0.9",
            "beta_center / time constant of rms_decay": "mu2 scaled to keep this ratio",
        },
    )


# The second design's placement (config.cpu_arm: the smoke grid, calibrate.py's probe and first eta_RMS grid).
# Measured by `python -m experiments.recipe_32k.calibrate` (probe: the baseline with the noise module on);
# tests/test_recipe_32k.py checks this value against paper_figures/data/recipe_32k_calib.csv.
B_SIMPLE = 1260.0  # 1263.2 measured (|G|^2 standard error 15 %), to 3 significant digits
PROXY = scale(
    PAPER,
    FMNIST_N,
    B_SIMPLE,
    1000,  # steps at the largest batch
    multiple=64,  # 2 processes x per-worker batch 32
    scale_decays=("rms_decay",),
    pinned={256: B_BASELINE},
)
B_LARGE = PROXY.batches[-1]  # its image of 32k
E_CPU = PROXY.epochs
