"""Learning-rate schedules: lr_at(step) as a pure function of the config and its Resolved values.

Warmup (Goyal et al., arXiv 1706.02677 §2.2): `gradual` raises the lr by a constant amount every
iteration from warmup_lr_init (default lr_base, Goyal's eta) to lr_peak (k*eta) over warmup_steps;
`constant` holds warmup_lr_init and then jumps. After warmup one decay rule applies:

    step       lr_peak * decay_factor^(number of milestones passed)        (Goyal: 30/60/80 of 90)
    piecewise  lr_peak * decay_factors[i] after milestone i                (Akiba et al. slow start)
    poly       lr_peak * (1 - (t - W)/(T - W))^p                           (You et al. LARS, p = 2)
    cosine     lr_peak * (1 + cos(pi (t - W)/(T - W))) / 2
Milestones are in epochs of the run and compare against the fractional epoch t / steps_per_epoch.
"""

from __future__ import annotations

import bisect
import math


def lr_at(step: int, cfg, res) -> float:
    """Learning rate for optimizer step `step` (0-based), before any per-group multiplier."""
    W, T, peak = res.warmup_steps, res.total_steps, res.lr_peak
    if step < W:
        start = cfg.lr_base if cfg.warmup_lr_init < 0 else cfg.warmup_lr_init
        if cfg.warmup == "constant":
            return start
        return start + (peak - start) * step / W
    epoch = step / res.steps_per_epoch
    if cfg.decay == "step":
        return peak * cfg.decay_factor ** bisect.bisect_right(list(cfg.decay_milestones_epochs), epoch)
    if cfg.decay == "piecewise":
        i = bisect.bisect_right(list(cfg.decay_milestones_epochs), epoch)
        return peak * (cfg.decay_factors[i - 1] if i else 1.0)
    frac = (step - W) / max(T - W, 1)
    if cfg.decay == "poly":
        return peak * max(1.0 - frac, 0.0) ** cfg.decay_power
    if cfg.decay == "cosine":
        return peak * 0.5 * (1.0 + math.cos(math.pi * min(frac, 1.0)))
    return peak


def lr_curve(cfg, res) -> list[float]:
    """The whole schedule, one value per step (for plots and tests)."""
    return [lr_at(t, cfg, res) for t in range(res.total_steps)]
