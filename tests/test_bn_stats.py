"""Tests of largebatch.bn_stats.recompute_bn_stats (BN without moving averages, arXiv 1711.04325).

Checked on Linear -> GhostBatchNorm(group=4) -> ReLU -> Linear -> GhostBatchNorm(group=0), float64, with
3 batches of 8: the running statistics equal a hand computation (per-group means and unbiased variances of
each BN input, the second BN's input produced by training-mode normalisation, averaged over all groups
of all batches); a plain nn.BatchNorm1d (hook path) gives the same as a whole-batch ghost BN, and
BatchNorm2d / GhostBatchNorm on conv features match the per-channel hand values; reduce_fn is called and
its result is used: two simulated ranks equal the manual average of their single-rank results, and with
unequal batch counts the pooled average over all groups; parameters, num_batches_tracked, a pending
`_acc` and every module's train/eval flag are as before; eval-mode outputs use the new statistics.

Run: cd /work/main && OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q tests/test_bn_stats.py
"""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from largebatch.bn_stats import recompute_bn_stats
from largebatch.models import GhostBatchNorm


def _model(seed=0, last_bn=None):
    torch.manual_seed(seed)
    m = nn.Sequential(
        nn.Linear(5, 8),
        GhostBatchNorm(8, group=4),
        nn.ReLU(),
        nn.Linear(8, 3),
        last_bn if last_bn is not None else GhostBatchNorm(3, group=0),
    ).double()
    with torch.no_grad():  # non-trivial affine parameters, so the first BN's output matters
        m[1].weight.uniform_(0.5, 2.0)
        m[1].bias.uniform_(-1.0, 1.0)
    return m


def _batches(seed, n=3, size=8):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(size, 5, generator=g, dtype=torch.float64) * 2 + 1, torch.zeros(size, dtype=torch.long))
        for _ in range(n)
    ]


def _hand(model, batches):
    """[(mean, var) of BN 1, (mean, var) of BN 2] averaged over all groups of all batches."""
    lin1, bn1, _, lin2, _ = model
    s1, s2 = [], []
    with torch.no_grad():
        for x, _ in batches:
            h = lin1(x).reshape(-1, 4, 8)  # groups of 4 examples
            s1 += [(grp.mean(0), grp.var(0, unbiased=True)) for grp in h]
            y = (h - h.mean(1, keepdim=True)) / torch.sqrt(h.var(1, unbiased=False, keepdim=True) + bn1.eps)
            z = lin2(torch.relu(y * bn1.weight + bn1.bias).reshape(len(x), 8))
            s2.append((z.mean(0), z.var(0, unbiased=True)))  # group 0 = the whole batch
    return [
        (torch.stack([a for a, _ in s]).mean(0), torch.stack([b for _, b in s]).mean(0)) for s in (s1, s2)
    ]


def _running(model):
    return [
        (m.running_mean.clone(), m.running_var.clone())
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]


def _close(a, b):
    for (m1, v1), (m2, v2) in zip(a, b):
        torch.testing.assert_close(m1, m2, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(v1, v2, rtol=1e-12, atol=1e-12)


def test_matches_hand_computation_and_leaves_model_alone():
    model, batches = _model(), _batches(1)
    model.eval()
    model[3].train()  # a mixed state must come back as it was
    params = copy.deepcopy(list(model.parameters()))
    nbt = [m.num_batches_tracked.clone() for m in (model[1], model[4])]
    assert recompute_bn_stats(model, batches) == 3
    _close(_running(model), _hand(model, batches))
    assert [m.training for m in model.modules()] == [False, False, False, False, True, False]
    for p, q in zip(model.parameters(), params):
        assert torch.equal(p, q)
    for m, n in zip((model[1], model[4]), nbt):
        assert m._acc is None and torch.equal(m.num_batches_tracked, n)
    x = batches[0][0]
    bn1 = model[1]
    want = F.batch_norm(
        model[0](x), bn1.running_mean, bn1.running_var, bn1.weight, bn1.bias, False, 0.0, bn1.eps
    )
    torch.testing.assert_close(model[1](model[0](x)), want)  # eval mode normalises with the new stats


def test_plain_batchnorm_hook_path_equals_whole_batch_ghost_bn():
    a, b = _model(), _model(last_bn=nn.BatchNorm1d(3).double())
    batches = _batches(2)
    recompute_bn_stats(a, batches)
    recompute_bn_stats(b, batches)
    _close(_running(b), _running(a))
    assert b[4].num_batches_tracked.item() == 0  # torch BN's training-mode count was undone
    assert not b[4]._forward_pre_hooks


@pytest.mark.parametrize("bn", [lambda: GhostBatchNorm(4), lambda: nn.BatchNorm2d(4)])
def test_conv_features_per_channel(bn):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), bn()).double()
    xs = [torch.randn(6, 2, 7, 7, dtype=torch.float64) for _ in range(2)]
    recompute_bn_stats(model, xs)  # batches given as bare tensors
    with torch.no_grad():
        hs = [model[0](x) for x in xs]
    mean = torch.stack([h.mean((0, 2, 3)) for h in hs]).mean(0)
    var = torch.stack([h.transpose(0, 1).reshape(4, -1).var(1, unbiased=True) for h in hs]).mean(0)
    _close(_running(model), [(mean, var)])


def test_reduce_fn_averages_two_simulated_ranks():
    model = _model()
    ba, bb = _batches(3), _batches(4)
    ra = _running(_run_copy(model, ba))
    rb = _running(_run_copy(model, bb))
    seen = {}

    def capture(t):  # "rank B": one rank's mean-reduce is the identity; keep its contribution
        seen["b"] = t.clone()
        return t

    recompute_bn_stats(copy.deepcopy(model), bb, reduce_fn=capture)

    def allreduce_mean(t):  # "rank A": average with rank B's flat tensor, in place
        seen["a_called"] = True
        return t.add_(seen["b"]).div_(2)

    recompute_bn_stats(model, ba, reduce_fn=allreduce_mean)
    assert seen["a_called"]
    _close(_running(model), [((ma + mb) / 2, (va + vb) / 2) for (ma, va), (mb, vb) in zip(ra, rb)])


def test_reduce_fn_unequal_counts_give_the_pooled_average():
    model = _model()
    ba, bb = _batches(5, n=3), _batches(6, n=1)
    seen = {}
    recompute_bn_stats(copy.deepcopy(model), bb, reduce_fn=lambda t: seen.setdefault("b", t.clone()))
    recompute_bn_stats(model, ba, reduce_fn=lambda t: t.add_(seen["b"]).div_(2))
    _close(_running(model), _hand(model, ba + bb))


def _run_copy(model, batches):
    m = copy.deepcopy(model)
    recompute_bn_stats(m, batches)
    return m


def test_pending_acc_restored_and_errors_restore_state():
    model = _model()
    model(_batches(7)[0][0])  # a training forward whose statistics are not committed yet
    pending = [t.clone() if torch.is_tensor(t) else t for t in model[1]._acc]
    before = _running(model)
    with pytest.raises(RuntimeError, match="saw no input"):
        recompute_bn_stats(model, [])
    _close(_running(model), before)
    assert model[1]._acc[2] == pending[2] and torch.equal(model[1]._acc[0], pending[0])
    recompute_bn_stats(model, _batches(8))
    assert torch.equal(model[1]._acc[0], pending[0])


def test_no_batchnorm_is_a_no_op():
    model = nn.Sequential(nn.Linear(5, 2)).double()
    assert recompute_bn_stats(model, _batches(9)) == 0
