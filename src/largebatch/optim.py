"""Optimizers by name, parameter groups, and the per-step learning-rate setter.

SGD follows PyTorch's u-form, u <- m u + g + lambda w; w <- w - lr u (Goyal et al., arXiv 1706.02677,
eq. 9): the lr multiplies the buffer on the way out, so a changing lr needs no momentum correction
(Goyal Remark 2). Weight decay is part of the update, not of the loss (Remark 1), and is skipped on
BN parameters and biases (every tensor with ndim <= 1) when `wd_exclude_bn_bias` is set.
"""

from __future__ import annotations

import torch
from torch import nn

from .errors import ConfigError
from .lars import LARS
from .rmsprop_warmup import RMSpropWarmup


def param_groups(model: nn.Module, weight_decay: float, exclude_bn_bias: bool = True) -> list[dict]:
    """Two groups: decayed weights, and (if excluding) BN/bias tensors with weight_decay 0."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not exclude_bn_bias:
        return [
            {
                "params": [p for _, p in named],
                "names": [n for n, _ in named],
                "weight_decay": weight_decay,
                "name": "all",
            }
        ]
    decay = [(n, p) for n, p in named if p.ndim > 1]
    no_decay = [(n, p) for n, p in named if p.ndim <= 1]
    return [
        {
            "params": [p for _, p in decay],
            "names": [n for n, _ in decay],
            "weight_decay": weight_decay,
            "name": "decay",
        },
        {
            "params": [p for _, p in no_decay],
            "names": [n for n, _ in no_decay],
            "weight_decay": 0.0,
            "name": "no_decay",
        },
    ]


def _sgd(groups, cfg):
    return torch.optim.SGD(
        groups, lr=cfg.lr_base, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0
    )


def _adam(groups, cfg):
    return torch.optim.Adam(groups, lr=cfg.lr_base, betas=tuple(cfg.adam_betas))


def _lars(groups, cfg):
    for g in groups:  # skipping the trust ratio and skipping weight decay are separate switches
        g["lars_exclude"] = cfg.lars_exclude_bn_bias and g["name"] == "no_decay"
    return LARS(
        groups,
        lr=cfg.lr_base,
        momentum=cfg.momentum,
        trust_coef=cfg.trust_coef,
        nesterov=cfg.nesterov,
        trust_clip=cfg.lars_trust_clip,
        denom=cfg.lars_denom,
    )


def _rmsprop_warmup(groups, cfg):
    return RMSpropWarmup(
        groups,
        lr=cfg.lr_base,
        momentum=cfg.momentum,
        rms_lr=cfg.rms_lr,
        rms_decay=cfg.rms_decay,
        eps=cfg.rms_eps,
        beta_center=cfg.rms_beta_center_epochs,
        beta_period=cfg.rms_beta_period_epochs,
        nesterov=cfg.nesterov,
    )


OPTIMIZERS = {"sgd": _sgd, "adam": _adam, "lars": _lars, "rmsprop_warmup": _rmsprop_warmup}


def build_optimizer(model: nn.Module, cfg) -> torch.optim.Optimizer:
    """The optimizer named by cfg.optimizer over `model`'s parameter groups."""
    if cfg.optimizer not in OPTIMIZERS:
        raise ConfigError(f"optimizer={cfg.optimizer!r}: choose one of {tuple(OPTIMIZERS)}")
    groups = param_groups(model, cfg.weight_decay, cfg.wd_exclude_bn_bias)
    return OPTIMIZERS[cfg.optimizer](groups, cfg)


def set_lr(opt: torch.optim.Optimizer, lr: float, epoch: float = 0.0) -> None:
    """Set each group's lr (times its lr_mult) and the fractional epoch (epoch-aware optimizers)."""
    for g in opt.param_groups:
        g["lr"] = lr * g.get("lr_mult", 1.0)
        g["epoch"] = epoch
