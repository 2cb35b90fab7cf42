"""BN without moving averages: evaluation statistics recomputed from training batches (arXiv 1711.04325).

Akiba et al. evaluate with BatchNorm statistics of the last training minibatches, averaged over all
workers, instead of the running averages (docs/papers.md#akiba, secondary source): at a 32k batch the running
averages see only ~40 updates per epoch and lag the weights. `recompute_bn_stats` sets every BN layer's
running_mean / running_var to

    mean = (sum over all BN groups of all batches on all ranks of the group mean) / (number of groups)
    var  = the same average of the groups' unbiased variances

where a group is what normalises together in training: `group` examples of a GhostBatchNorm (per-worker
BN), the whole batch for any other BN. Means of per-group variances, not the variance of the pooled
batches, because that is what the running averages estimate too (GhostBatchNorm.commit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from .models import GhostBatchNorm


def _flat_sums(bns, sums: dict) -> torch.Tensor:
    """One flat float64 tensor (one collective): each BN's sums of group means and variances, group count."""
    parts = []
    for m in bns:
        acc = m._acc if isinstance(m, GhostBatchNorm) else sums.get(m)
        if acc is None:
            raise RuntimeError(f"recompute_bn_stats: a {type(m).__name__} saw no input (no batches?)")
        s_m, s_v, cnt = acc
        parts += [
            s_m.double().flatten(),
            s_v.double().flatten(),
            torch.tensor([float(cnt)], dtype=torch.float64, device=s_m.device),
        ]
    return torch.cat([t.to(bns[0].running_mean.device) for t in parts])


def _assign(bns, flat: torch.Tensor) -> None:
    """Running mean and variance of each BN = its (reduced) sums / its group count."""
    off = 0
    for m in bns:
        c = m.running_mean.numel()
        cnt = flat[off + 2 * c]
        m.running_mean.copy_(flat[off : off + c] / cnt)
        m.running_var.copy_(flat[off + c : off + 2 * c] / cnt)
        off += 2 * c + 1


def _restore(handles, bns, saved: dict, ok: bool, modes) -> None:
    """Hooks removed; counters and pending GhostBatchNorm sums back; the running stats too unless `ok`;
    every module's train/eval flag as it was."""
    for h in handles:
        h.remove()
    for m in bns:
        nbt, rm, rv, acc = saved[m]
        m.num_batches_tracked.copy_(nbt)
        if not ok:
            m.running_mean.copy_(rm)
            m.running_var.copy_(rv)
        if isinstance(m, GhostBatchNorm):
            m._acc = acc  # None in normal use: nothing of ours is left behind
    for m, was in modes:
        m.training = was


def _input(batch):
    """The model input of a batch given as a tensor or as (x, y, ...)."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


@torch.no_grad()
def recompute_bn_stats(
    model: nn.Module, batches: Iterable, reduce_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> int:
    """Replace the running statistics of every BN layer by averages over `batches` (and ranks).

    GhostBatchNorm layers are measured by their own training forward (the `_acc` sums that
    `commit()` folds into the running averages), so the groups and the unbiased variances are exactly
    those of training; other BN layers by a forward pre-hook on their input. Parameters are untouched;
    each module's train/eval flag, num_batches_tracked and any pending GhostBatchNorm `_acc` are restored.
    Pass the bare model, not a DDP wrapper (DDP's buffer broadcast would run on every forward).

    Args:
        model: A model containing BatchNorm layers; BN layers without running stats are skipped.
        batches: This rank's training minibatches, tensors or tuples whose first item is the input.
        reduce_fn: Mean-reduces a flat tensor in place across ranks (largebatch.dist.all_reduce_mean_);
            None for one process. Sums and group counts are reduced, so ranks holding different
            numbers of groups still get the average over all groups.

    Returns:
        The number of batches run on this rank.
    """
    bns = [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        and m.track_running_stats
        and m.running_mean is not None
    ]
    if not bns:
        return 0
    modes = [(m, m.training) for m in model.modules()]
    # restored on the way out: counters and pending sums always, running stats if we fail midway
    # (torch BN overwrites them in every training forward)
    saved = {
        m: (
            m.num_batches_tracked.clone(),
            m.running_mean.clone(),
            m.running_var.clone(),
            m._acc if isinstance(m, GhostBatchNorm) else None,
        )
        for m in bns
    }
    sums = {}  # other BN: module -> [sum of batch means, sum of unbiased batch vars, number of batches]

    def hook(mod, args):
        x = args[0].detach()
        var, mean = torch.var_mean(x, dim=[0] + list(range(2, x.dim())), correction=1)
        s = sums.setdefault(mod, [torch.zeros_like(mean), torch.zeros_like(var), 0])
        s[0] += mean
        s[1] += var
        s[2] += 1

    handles = [m.register_forward_pre_hook(hook) for m in bns if not isinstance(m, GhostBatchNorm)]
    n, ok = 0, False
    try:
        for m in bns:
            if isinstance(m, GhostBatchNorm):
                m._acc = None
        model.train()
        for b in batches:
            model(_input(b))
            n += 1
        flat = _flat_sums(bns, sums)
        if reduce_fn is not None:
            reduce_fn(flat)  # mean of sums / mean of counts = global sum / global count
        _assign(bns, flat)
        ok = True
    finally:
        _restore(handles, bns, saved, ok, modes)
    return n
