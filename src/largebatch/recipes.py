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


__all__ = ["BASELINE_BATCH", "GOYAL", "FINAL_WINDOW", "goyal_schedule", "goyal_warmup", "final_error"]
