"""Ghost BN against a hand computation, its once-per-step running averages, zero-gamma, models.

Run: `pytest tests/test_models.py`.
"""

import pytest
import torch

from largebatch.config import ConfigError
from largebatch.models import GhostBatchNorm, build_model, commit_bn_stats


def test_ghost_bn_normalises_each_group_by_its_own_statistics():
    torch.manual_seed(0)
    x = torch.randn(8, 3) * 3 + 1
    bn = GhostBatchNorm(3, group=4, momentum=0.5)
    y = bn(x)
    exp = torch.cat([(g - g.mean(0)) / torch.sqrt(g.var(0, unbiased=False) + 1e-5) for g in (x[:4], x[4:])])
    torch.testing.assert_close(y, exp)
    assert torch.equal(bn.running_mean, torch.zeros(3))  # nothing until commit
    bn.commit()
    m = (x[:4].mean(0) + x[4:].mean(0)) / 2
    v = (x[:4].var(0, unbiased=True) + x[4:].var(0, unbiased=True)) / 2
    torch.testing.assert_close(bn.running_mean, 0.5 * m)
    torch.testing.assert_close(bn.running_var, 0.5 * torch.ones(3) + 0.5 * v)


def test_ghost_bn_conv_input_and_chunking_invariance():
    torch.manual_seed(0)
    x = torch.randn(8, 2, 3, 3)
    a, b = GhostBatchNorm(2, group=2), GhostBatchNorm(2, group=2)
    ya = a(x)
    yb = torch.cat([b(x[:4]), b(x[4:])])  # the same step split into two micro-batches
    torch.testing.assert_close(ya, yb)
    a.commit(), b.commit()
    torch.testing.assert_close(a.running_mean, b.running_mean)
    torch.testing.assert_close(a.running_var, b.running_var)
    g = x[:2]
    torch.testing.assert_close(
        ya[:2],
        (g - g.mean((0, 2, 3), keepdim=True))
        / torch.sqrt(g.var((0, 2, 3), unbiased=False, keepdim=True) + 1e-5),
    )


@pytest.mark.parametrize("group", [0, 2])
def test_batched_commit_equals_per_module_commit_bitwise(group):
    """commit_bn_stats (foreach, the trainer's path) = each module's commit(), bit for bit."""
    torch.manual_seed(0)
    mk = lambda: [
        GhostBatchNorm(3, group, momentum=0.1),
        GhostBatchNorm(3, group, momentum=0.3),  # noqa: E731
        GhostBatchNorm(3, group, momentum=0.1),
    ]
    a, b = mk(), mk()
    for _ in range(3):
        xs = [torch.randn(8, 3) * 2 + 1 for _ in a]
        for m, x in zip(a, xs):
            m(x)
            m.commit()
        for m, x in zip(b, xs):
            m(x)
        commit_bn_stats(b)
    for m, n in zip(a, b):
        for k in ("running_mean", "running_var", "num_batches_tracked"):
            assert torch.equal(getattr(m, k), getattr(n, k)), k
        assert n._acc is None and int(n.num_batches_tracked) == 3


def test_ghost_bn_rejects_ragged_batch():
    with pytest.raises(ValueError, match="multiple of the BN group"):
        GhostBatchNorm(2, group=4)(torch.randn(6, 2))


@pytest.mark.parametrize(
    "name,shape",
    [
        ("mlp", (1, 28, 28)),
        ("mlp_bn", (1, 28, 28)),
        ("resmlp_bn", (1, 28, 28)),
        ("resnet_small", (1, 28, 28)),
        ("mlp", (1, 40)),
    ],
)
def test_models_forward(name, shape):
    m = build_model(name, shape, 10, bn_group=4)
    assert m(torch.randn(8, *shape)).shape == (8, 10)
    commit_bn_stats(m)


def test_seed_mlp_size_and_zero_gamma():
    m = build_model("mlp", (1, 28, 28), 10)
    assert sum(p.numel() for p in m.parameters()) == 784 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10
    r = build_model("resnet_small", (1, 28, 28), 10, zero_gamma=True)
    assert all(b.b2.weight.abs().sum() == 0 for b in r.blocks)
    with pytest.raises(ConfigError, match="zero_gamma"):
        build_model("mlp", (1, 28, 28), 10, zero_gamma=True)
