"""Training recipes that more than one study runs: Goyal et al.'s large-minibatch SGD (arXiv 1706.02677).

Goyal §2-§5: per-worker BN over n = 32 examples, Nesterov momentum 0.9, weight decay 1e-4 (none on BN and
biases), zero-gamma in the last BN of each residual block, eta = 0.1 kn / 256 (the linear scaling rule),
gradual warmup from 0.1 to eta over 5 of 90 epochs used only for kn > 256 (§5.1), and lr / 10 at epochs 30,
60 and 80 of 90. A study maps the 90 epochs onto its own budget with `goyal_schedule(E)` (every phase the
same fraction of the run) and applies §5.1's warmup rule with `goyal_warmup`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

BASELINE_BATCH = 256  # Goyal's kn = 8 workers x 32, eta = 0.1

GOYAL = {
    "per_worker_batch": 32,
    "lr_base": 0.1,
    "lr_base_batch": BASELINE_BATCH,
    "lr_scaling": "linear",
    "optimizer": "sgd",
    "momentum": 0.9,
    "nesterov": True,
    "weight_decay": 1e-4,
    "wd_exclude_bn_bias": True,
    "zero_gamma": True,
}


def goyal_schedule(epochs: float) -> dict:
    """Goyal's 90-epoch schedule mapped to `epochs`: warmup 5/90, lr / 10 at 30/90, 60/90, 80/90."""
    return {
        "epochs": epochs,
        "warmup": "gradual",
        "warmup_epochs": epochs * 5 / 90,
        "decay": "step",
        "decay_milestones_epochs": tuple(epochs * m / 90 for m in (30, 60, 80)),
        "decay_factor": 0.1,
    }


def goyal_warmup(cfg, baseline_batch: int = BASELINE_BATCH):
    """Goyal §5.1: gradual warmup only for kn > 256; kn <= 256 trains at its own eta from step 0."""
    if cfg.global_batch <= baseline_batch and cfg.warmup != "none":
        return replace(cfg, warmup="none", warmup_epochs=0.0)
    return cfg


# You, Gitman & Ginsburg (arXiv 1708.03888), Algorithm 1 and Table 1: momentum 0.9, weight decay 5e-4 (none
# on BN/biases here), gradual warmup over 2 (AlexNet) / 5 (AlexNet-BN) of 100 epochs starting from the peak
# lr x 128 / B, then poly(2) decay to 0; SGD's lr tuned per batch (Table 1), LARS's trust coefficient 0.001.
LARS_SGD = {
    "per_worker_batch": 32,
    "optimizer": "sgd",
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "wd_exclude_bn_bias": True,
    "warmup": "gradual",
    "decay": "poly",
    "decay_power": 2.0,
}
LARS_WARMUP_OF_100 = {"nobn": 2.0, "bn": 5.0}  # warmup epochs of 100 (AlexNet, AlexNet-BN)
LARS_BASE_BATCH = 128  # the proxies' small batch (the rule's image of the paper's 512 is smaller still)


def lars_sgd(batch: int, peak_lr: float, epochs: float, net: str) -> dict:
    """You et al.'s SGD at `batch` peaking at `peak_lr` (warmup from peak x 128 / B over 2 or 5 of 100)."""
    return dict(
        LARS_SGD,
        global_batch=batch,
        lr_base=peak_lr * LARS_BASE_BATCH / batch,
        lr_base_batch=LARS_BASE_BATCH,
        lr_scaling="linear",
        epochs=epochs,
        warmup_epochs=epochs * LARS_WARMUP_OF_100[net] / 100,
    )


# Algorithm 1: eta = 0.001 on every tensor (Table 2 lists biases), denominator ||g|| + beta ||w||
LARS_TRUST = {
    "trust_coef": 0.001,
    "lars_denom": "paper",
    "lars_trust_clip": False,
    "lars_exclude_bn_bias": False,
}


def lars_gamma(batch: int, gamma0: float) -> dict:
    """LARS's optimizer and lr fields at `batch`: global lr gamma0 (no batch scaling), warmup from
    gamma0 x 128 / B."""
    return {
        "optimizer": "lars",
        "global_batch": batch,
        "lr_base": gamma0,
        "lr_base_batch": batch,
        "lr_scaling": "none",
        "warmup_lr_init": gamma0 * LARS_BASE_BATCH / batch,
    }


def lars_lars(batch: int, gamma0: float, epochs: float, net: str) -> dict:
    """You et al.'s LARS at `batch`, global lr gamma0 (no batch scaling), warmup from gamma0 x 128 / B."""
    return dict(
        LARS_SGD,
        **LARS_TRUST,
        **lars_gamma(batch, gamma0),
        epochs=epochs,
        warmup_epochs=epochs * LARS_WARMUP_OF_100[net] / 100,
    )


FINAL_WINDOW = 5 / 90  # Goyal §5.1: "the median error of the final 5 epochs" of 90


def final_error(epoch, err, epochs: float, window: float = FINAL_WINDOW) -> tuple[float, int]:
    """Goyal's model error: the median of the errors evaluated at epoch >= epochs * (1 - window);
    (NaN, 0) if there are none.

    Args:
        epoch: Epoch of each evaluation (fractional).
        err: Error at each evaluation (NaN entries are ignored).
        epochs: Length of the run in epochs.
        window: Fraction of training at the end whose evaluations count.
    """
    e, v = np.asarray(epoch, dtype=float), np.asarray(err, dtype=float)
    keep = (e >= epochs * (1 - window) - 1e-9) & np.isfinite(v)
    return (float(np.median(v[keep])), int(keep.sum())) if keep.any() else (float("nan"), 0)


__all__ = [
    "BASELINE_BATCH",
    "GOYAL",
    "FINAL_WINDOW",
    "LARS_SGD",
    "LARS_WARMUP_OF_100",
    "LARS_BASE_BATCH",
    "goyal_schedule",
    "goyal_warmup",
    "lars_sgd",
    "lars_lars",
    "LARS_TRUST",
    "final_error",
]
