"""RMSprop warm-up: momentum SGD blended with RMSprop early in training (Akiba et al., arXiv 1711.04325).

Owns the update and its blending schedule; the lr schedule (slow start) and the trainer live elsewhere.
For each parameter w with gradient g, eta = group["lr"], mu1 = momentum, mu2 = rms_decay, e = group["epoch"]
(fractional epoch, set by the trainer before each step; 0.0 if missing), state m, Delta (start at 0):

    g     <- g + weight_decay * w                                  (p.grad itself is never modified)
    m     <- mu2 m + (1 - mu2) g^2                                 elementwise
    u     <- (a_sgd(e) + a_rms(e) / (sqrt(m) + eps)) g
    Delta <- mu1 Delta - u
    w     <- w + eta Delta                                         (nesterov: w + eta (mu1 Delta - u))

    a_sgd(e) = 1/2 exp(2 (e - beta_center) / beta_period)          e <  beta_center
             = min(1, 1/2 + c (e - beta_center) / beta_period)     e >= beta_center
    a_rms(e) = (1 - a_sgd(e)) * k,   k = alpha_rms if given, else rms_lr / eta

Provenance (docs/papers.md#akiba, all secondary: the paper's full text was not found). The form of m, Delta,
w and a_sgd is what a reading note and two Chainer reimplementations agree on. Uncertain constants:
  * c, the slope of the linear segment: one source writes 2, which overshoots 1 and is discontinuous at
    beta_center + beta_period/2 unless clamped; we default to c = 1 (the other kernel's value), which
    makes a_sgd C^1 at beta_center (value 1/2, slope 1/beta_period on both sides) and exactly 1 from
    beta_center + beta_period/2 on. The min(1, .) keeps any c continuous and within [0, 1].
  * a_rms is not in any source we read of the paper. The reimplementations use
    (1 - a_sgd) * rms_lr / eta with rms_lr = 3e-4, so the RMSprop part moves w by
    (1 - a_sgd) rms_lr g / (sqrt(m) + eps) whatever eta is, and fades out as a_sgd -> 1 (the note says
    training "transitions to momentum SGD"). That is the default; `alpha_rms=k` fixes k instead, so the
    RMSprop step then scales with eta (differs only while eta changes during the blend).
  * mu1 = 0.9, mu2 = 0.99, eps = 1e-8, beta_center = 10, beta_period = 5 (for 90 epochs): reimplementers'
    defaults; scale beta_* with the epoch budget (docs/papers.md#akiba: E/9 and E/18).
eps sits outside the square root, as in torch.optim.RMSprop (g / (sqrt(v) + eps)).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .lars import closure_loss


def alpha_sgd(epoch: float, beta_center: float = 10.0, beta_period: float = 5.0, slope: float = 1.0) -> float:
    """The SGD weight a_sgd(epoch): an ELU-like rise from ~0 to 1, continuous and within [0, 1].

    Args:
        epoch: Fractional epoch e.
        beta_center: Epoch where a_sgd = 1/2.
        beta_period: Width of the transition in epochs (> 0).
        slope: c of the linear segment 1/2 + c (e - beta_center) / beta_period (1 = C^1 at beta_center).
    """
    x = (epoch - beta_center) / beta_period
    if x < 0:
        return 0.5 * math.exp(2.0 * x)  # in (0, 1/2); underflows to 0 far before beta_center
    return min(1.0, 0.5 + slope * x)


def alpha_rms(
    epoch: float, coef: float, beta_center: float = 10.0, beta_period: float = 5.0, slope: float = 1.0
) -> float:
    """The RMSprop weight a_rms(epoch) = (1 - a_sgd(epoch)) * coef (coef = k in the module docstring)."""
    return (1.0 - alpha_sgd(epoch, beta_center, beta_period, slope)) * coef


class RMSpropWarmup(torch.optim.Optimizer):
    """Momentum SGD whose early steps are RMSprop steps, handed over smoothly (arXiv 1711.04325).

    Every option except `alpha_sgd_fn` is a group default that param groups may override; the trainer
    sets each group's "epoch" (float) before `step()`. After a step, `last_alpha_sgd` and
    `last_alpha_rms` hold the weights used by the last group stepped (for logging).

    Args:
        params: Iterable of tensors or of param-group dicts.
        lr: Global learning rate eta (set per step by the schedule).
        momentum: mu1, decay of the update buffer Delta.
        alpha_rms: Fixed RMSprop coefficient k; None means k = rms_lr / eta (the reimplementations).
        rms_lr: The RMSprop part's own learning rate when alpha_rms is None.
        rms_decay: mu2, decay of the second-moment average m.
        eps: Added to sqrt(m).
        weight_decay: L2 coefficient, added to the gradient (so it also enters m).
        beta_center: Epoch where a_sgd = 1/2.
        beta_period: Width of the transition in epochs.
        sgd_slope: c, slope of a_sgd's linear segment in units of 1/beta_period.
        nesterov: Nesterov's look-ahead, w <- w + eta (mu1 Delta - u): with a_sgd = 1 exactly
            torch.optim.SGD(nesterov=True), so that the blend's SGD limit is Goyal's Nesterov SGD.
        alpha_sgd_fn: Optional callable epoch -> a_sgd replacing the schedule above (tests, ablations);
            kept out of the param groups so that state_dict stays picklable.
    """

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.9,
        alpha_rms: float | None = None,
        rms_lr: float = 3e-4,
        rms_decay: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        beta_center: float = 10.0,
        beta_period: float = 5.0,
        sgd_slope: float = 1.0,
        nesterov: bool = False,
        alpha_sgd_fn: Callable[[float], float] | None = None,
    ):
        if lr < 0 or not 0 <= momentum < 1 or not 0 <= rms_decay < 1 or eps < 0 or weight_decay < 0:
            raise ValueError(
                f"RMSpropWarmup: invalid lr={lr}, momentum={momentum}, rms_decay={rms_decay}, "
                f"eps={eps} or weight_decay={weight_decay}"
            )
        if (alpha_rms is not None and alpha_rms < 0) or rms_lr < 0:
            raise ValueError(f"RMSpropWarmup: alpha_rms={alpha_rms} and rms_lr={rms_lr} must be >= 0")
        if beta_period <= 0 or sgd_slope <= 0:
            raise ValueError(
                f"RMSpropWarmup: beta_period={beta_period} and sgd_slope={sgd_slope} must be > 0"
            )
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha_rms": alpha_rms,
            "rms_lr": rms_lr,
            "rms_decay": rms_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "beta_center": beta_center,
            "beta_period": beta_period,
            "sgd_slope": sgd_slope,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)
        self.alpha_sgd_fn = alpha_sgd_fn
        self.last_alpha_sgd: float | None = None
        self.last_alpha_rms: float | None = None

    def _alphas(self, group: dict) -> tuple[float, float]:
        """(a_sgd, a_rms) for this group at its current epoch."""
        e = float(group.get("epoch", 0.0))
        if self.alpha_sgd_fn is not None:
            a_sgd = float(self.alpha_sgd_fn(e))
        else:
            a_sgd = alpha_sgd(e, group["beta_center"], group["beta_period"], group["sgd_slope"])
        k = group["alpha_rms"]
        if k is None:
            # rms_lr / eta; at eta = 0 the step is 0 whatever Delta is, so drop the term, not divide by 0
            k = group["rms_lr"] / group["lr"] if group["lr"] > 0 else 0.0
        return a_sgd, (1.0 - a_sgd) * k

    @torch.no_grad()
    def step(self, closure=None):
        """One step on every parameter that has a gradient; returns `closure_loss(closure)`."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            ps = [p for p in group["params"] if p.grad is not None]
            if not ps:
                continue
            if any(p.grad.is_sparse for p in ps):
                raise RuntimeError("RMSpropWarmup does not support sparse gradients")
            a_sgd, a_rms = self._alphas(group)
            self.last_alpha_sgd, self.last_alpha_rms = a_sgd, a_rms
            wd, mu2 = group["weight_decay"], group["rms_decay"]
            for p in ps:
                st = self.state[p]
                if not st:
                    st["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    st["delta"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                g = p.grad.add(p, alpha=wd) if wd != 0 else p.grad
                m, d = st["square_avg"], st["delta"]
                # m is kept up to date even after a_rms reaches 0 so the state never depends on the schedule
                m.mul_(mu2).addcmul_(g, g, value=1 - mu2)
                if not group.get("nesterov", False):  # the original order of operations, bit for bit
                    d.mul_(group["momentum"]).add_(g, alpha=-a_sgd)
                    if a_rms != 0:
                        d.addcdiv_(g, m.sqrt().add_(group["eps"]), value=-a_rms)
                    p.add_(d, alpha=group["lr"])
                    continue
                u = g.mul(a_sgd)
                if a_rms != 0:
                    u.addcdiv_(g, m.sqrt().add_(group["eps"]), value=a_rms)
                d.mul_(group["momentum"]).sub_(u)
                p.add_(d.mul(group["momentum"]).sub_(u), alpha=group["lr"])
        return loss
