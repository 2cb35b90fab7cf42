"""LARS, layer-wise adaptive rate scaling, as a `torch.optim.Optimizer`.

Owns the LARS update (You, Gitman & Ginsburg, arXiv 1708.03888, Algorithm 1) and its per-tensor
diagnostics; the global schedule gamma_t, parameter-group construction and logging live elsewhere.
For each parameter tensor w ("layer" l) of a group, with gamma_t = group["lr"], m = group["momentum"],
beta = group["weight_decay"], eta = group["trust_coef"], v = state[w]["momentum_buffer"] (starts at 0):

    g      = p.grad                                   data-loss gradient (p.grad is never modified)
    lambda = eta ||w|| / (||g|| + beta ||w|| + eps)   denom="paper"
    lambda = eta ||w|| / (||g + beta w|| + eps)       denom="sum_grad" (TF / MLPerf variant)
    lambda = 1                                        where ||w|| = 0, ||g|| = 0 or the denominator is 0
    v <- m v + gamma_t * lambda_eff * (g + beta w)
    w <- w - v                         nesterov: w <- w - (m v + gamma_t lambda_eff (g + beta w))

lambda_eff = lambda, except: a group with lars_exclude=True uses lambda = lambda_eff = 1 (SGD with momentum
in this v-form, still with the group's own beta); trust_clip=True is NVIDIA apex LARC's clip mode,
adaptive_lr = min(lambda / gamma_t, 1) then scaled by gamma_t,
i.e. gamma_t * lambda_eff = min(lambda, gamma_t)
(computed as that clamp, so gamma_t = 0 needs no division): the local lr never exceeds the global one.
beta = 0 keeps lambda = eta ||w|| / ||g|| (still LARS, not SGD).

Norms and updates run as torch._foreach_* kernels over each group's (device, dtype) buckets (falling back
to a per-tensor loop where an op is missing) and the guards use torch.where, so a step never syncs with
the host. The last step's per-tensor ||w||, ||g||, lambda stay on device until `last_stats()` is called.
"""

from __future__ import annotations

from collections import defaultdict

import torch

_USE_FOREACH = True  # tests switch this off to check the per-tensor fallback


def _fe(op: str, xs, *args, **kw):
    """torch._foreach_<op>(xs, *args, **kw), or the same Tensor method applied tensor by tensor."""
    fn = getattr(torch, "_foreach_" + op, None) if _USE_FOREACH else None
    if fn is not None:
        return fn(xs, *args, **kw)
    out = [
        getattr(x, op)(*(a[i] if isinstance(a, (list, tuple)) else a for a in args), **kw)
        for i, x in enumerate(xs)
    ]
    return None if op.endswith("_") else out


def closure_loss(closure):
    """The loss of an optimizer step's optional `closure` (a callable that re-evaluates the model and returns
    the loss), computed with gradients enabled inside the step's no_grad; None without a closure."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class LARS(torch.optim.Optimizer):
    """LARS (arXiv 1708.03888, Algorithm 1) with LARC clipping and the TF denominator as options.

    Every option below is a group default; param groups may override any of them, plus
    `lars_exclude` (bool, default False: the group skips the trust ratio, lambda = 1) and
    `names` (list of str, same length as `params`, used by `last_stats`).

    Args:
        params: Iterable of tensors or of param-group dicts.
        lr: Global learning rate gamma_t (set per step by the schedule).
        momentum: Momentum m of the buffer v <- m v + gamma_t lambda (g + beta w).
        weight_decay: beta, added to the update as beta w and to the "paper" denominator as beta ||w||.
        trust_coef: eta, the trust coefficient of the local lr.
        eps: Added to the trust-ratio denominator.
        nesterov: Step w <- w - (m v + gamma_t lambda (g + beta w)) instead of w <- w - v.
        trust_clip: apex LARC clip mode, gamma_t * lambda_eff = gamma_t * min(lambda / gamma_t, 1).
        denom: "paper" for ||g|| + beta ||w|| + eps, "sum_grad" for ||g + beta w|| + eps.
    """

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coef: float = 0.001,
        eps: float = 0.0,
        nesterov: bool = False,
        trust_clip: bool = False,
        denom: str = "paper",
    ):
        if lr < 0 or momentum < 0 or weight_decay < 0 or eps < 0 or trust_coef <= 0:
            raise ValueError(
                f"LARS: invalid lr={lr}, momentum={momentum}, weight_decay={weight_decay}, "
                f"eps={eps} or trust_coef={trust_coef}"
            )
        if denom not in ("paper", "sum_grad"):
            raise ValueError(f"LARS: denom={denom!r}, choose 'paper' or 'sum_grad'")
        if nesterov and momentum == 0:
            raise ValueError("LARS: nesterov needs momentum > 0")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            trust_coef=trust_coef,
            eps=eps,
            nesterov=nesterov,
            trust_clip=trust_clip,
            denom=denom,
            lars_exclude=False,
        )
        self._stats: list = []
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Adds a group, checking that an optional `names` list matches `params`."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        if "names" in group and len(group["names"]) != len(group["params"]):
            raise ValueError("LARS: a group's 'names' must have one entry per parameter")

    @torch.no_grad()
    def step(self, closure=None):
        """One LARS step on every parameter that has a gradient; returns `closure_loss(closure)`."""
        loss = closure_loss(closure)
        self._stats = []
        offset = 0
        for group in self.param_groups:
            buckets = defaultdict(list)
            for i, p in enumerate(group["params"]):
                if p.grad is not None:
                    if p.grad.is_sparse:
                        raise RuntimeError("LARS does not support sparse gradients")
                    buckets[(p.device, p.dtype)].append(i)
            names = group.get("names")
            for idx in buckets.values():
                norms = self._update(group, [group["params"][i] for i in idx])
                keys = [(offset + i, names[i] if names else offset + i) for i in idx]
                self._stats.append((keys, *norms))
            offset += len(group["params"])
        return loss

    def _update(self, group: dict, ps: list) -> tuple:
        """Applies Algorithm 1 to one (device, dtype) bucket; returns ||w||, ||g||, lambda as 1-D tensors."""
        lr, m, wd = group["lr"], group["momentum"], group["weight_decay"]
        gs = [p.grad for p in ps]
        w_n, g_n = torch.stack(_fe("norm", ps)), torch.stack(_fe("norm", gs))
        d = _fe("add", gs, ps, alpha=wd) if wd != 0 else gs  # g + beta w (new tensors; p.grad is only read)
        if group["lars_exclude"]:
            lam = torch.ones_like(w_n)
            scale = lam * lr
        else:
            den = g_n + wd * w_n if group["denom"] == "paper" else torch.stack(_fe("norm", d))
            den = den + group["eps"]
            ok = (w_n > 0) & (g_n > 0) & (den > 0)
            lam = torch.where(ok, group["trust_coef"] * w_n / den, torch.ones_like(w_n))
            scale = lam.clamp(max=lr) if group["trust_clip"] else lam * lr  # gamma_t * lambda_eff
        scales = list(scale.unbind())  # 0-dim device tensors: no host sync
        bufs = []
        for p in ps:
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            bufs.append(state["momentum_buffer"])
        _fe("mul_", bufs, m)
        _fe("addcmul_", bufs, d, scales)  # v <- m v + gamma_t lambda_eff (g + beta w)
        if group["nesterov"]:  # w <- w - m v - gamma_t lambda_eff (g + beta w)
            _fe("sub_", ps, bufs, alpha=m)
            _fe("addcmul_", ps, d, scales, value=-1)
        else:
            _fe("sub_", ps, bufs)
        return w_n, g_n, lam, scale

    def last_stats(self) -> list[dict]:
        """Per-tensor diagnostics of the last step, in parameter order (tensors without a grad are skipped).

        Returns:
            One dict per stepped tensor: "name" (the group's `names` entry, else the tensor's global
            index in the optimizer), "w_norm" ||w|| and "g_norm" ||g|| (before the step), "ratio" lambda
            (1 for excluded groups and zero-norm guards) and "local_lr" gamma_t * lambda_eff.
        """
        rows = []
        for keys, *tensors in self._stats:
            for (order, name), w, g, r, s in zip(keys, *(t.tolist() for t in tensors)):
                rows.append((order, {"name": name, "w_norm": w, "g_norm": g, "ratio": r, "local_lr": s}))
        return [row for _, row in sorted(rows, key=lambda x: x[0])]
