"""Tests of largebatch.rmsprop_warmup (Akiba et al., arXiv 1711.04325, RMSprop warm-up).

Checked: alpha_sgd is continuous on a dense grid (max jump bounded by its slope), ~0 long before
beta_center, 1/2 at beta_center, exactly 1 from beta_center + beta_period/2 on (slope 1), clamped to
[0, 1] and monotone for slopes 1 and 2, and C^1 at beta_center for slope 1; alpha_rms = (1 - alpha_sgd) k;
the pure-SGD limit (a_sgd = 1, a_rms = 0) equals torch.optim.SGD(momentum) step by step (with weight
decay and a changing lr); the pure-RMSprop limit (a_sgd = 0, momentum 0) equals torch.optim.RMSprop
with lr = eta * k (fixed k) or lr = rms_lr (default k = rms_lr / eta), eps outside the square root; two
steps computed by hand; the state_dict round trip (also through torch.save) continues identically;
p.grad is untouched, lr = 0 gives no NaN, a missing "epoch" means 0, bad arguments raise.

Run: cd /work/main && OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q tests/test_rmsprop_warmup.py
"""

import copy
import io
import itertools
import math

import pytest
import torch

from largebatch.rmsprop_warmup import RMSpropWarmup, alpha_rms, alpha_sgd


def _params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(3, 4, generator=g, dtype=torch.float64).requires_grad_(),
        torch.randn(4, generator=g, dtype=torch.float64).requires_grad_(),
    ]


def _grads(k, params):
    g = torch.Generator().manual_seed(100 + k)
    return [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in params]


def _run(opt, params, steps, start=0, lrs=None, epochs=None):
    """`steps` steps with fixed pseudo-random gradients; returns parameter snapshots after each step."""
    out = []
    for k in range(start, start + steps):
        for p, g in zip(params, _grads(k, params)):
            p.grad = g.clone()
        for group in opt.param_groups:
            if lrs is not None:
                group["lr"] = lrs[k]
            if epochs is not None:
                group["epoch"] = epochs[k]
        opt.step()
        out.append([p.detach().clone() for p in params])
    return out


@pytest.mark.parametrize("slope", [1.0, 2.0])
def test_alpha_sgd_continuous_monotone_clamped(slope):
    c, p = 10.0, 5.0
    h = 1e-4
    es = [c - 6 * p + i * h for i in range(int(8 * p / h))]
    a = [alpha_sgd(e, c, p, slope) for e in es]
    jumps = [b - x for x, b in itertools.pairwise(a)]
    assert max(abs(j) for j in jumps) <= max(1.0, slope) * h / p * (1 + 1e-6)  # no jump beyond the slope
    assert min(jumps) >= 0.0  # monotone non-decreasing
    assert all(0.0 <= x <= 1.0 for x in a)


def test_alpha_sgd_end_points_and_shape():
    c, p = 10.0, 5.0
    assert alpha_sgd(c - 20 * p, c, p) < 1e-15
    assert alpha_sgd(-1e6, c, p) == 0.0  # underflow, not an error
    assert alpha_sgd(c, c, p) == 0.5
    assert alpha_sgd(c + p / 4, c, p) == pytest.approx(0.75)
    assert alpha_sgd(c + p / 2, c, p) == 1.0  # slope 1 reaches 1 exactly at beta_center + beta_period/2
    assert alpha_sgd(c + p / 4, c, p, slope=2.0) == 1.0  # slope 2 is clamped there, not 1.3 later
    assert alpha_sgd(c + 0.4 * p, c, p, slope=2.0) == 1.0
    for e in (c + p, 90.0, 1e9):
        assert alpha_sgd(e, c, p) == 1.0
    # slope 1: value 1/2 and slope 1/beta_period on both sides of beta_center (C^1)
    d = 1e-6
    left = (alpha_sgd(c, c, p) - alpha_sgd(c - d, c, p)) / d
    right = (alpha_sgd(c + d, c, p) - alpha_sgd(c, c, p)) / d
    assert left == pytest.approx(1 / p, rel=1e-5) and right == pytest.approx(1 / p, rel=1e-9)
    assert alpha_sgd(c - p / 2, c, p) == pytest.approx(0.5 * math.exp(-1.0))


def test_alpha_rms_fades_out():
    k = 3e-4 / 6.4
    assert alpha_rms(10.0, k) == pytest.approx(0.5 * k)
    assert alpha_rms(0.0, k) == pytest.approx((1 - 0.5 * math.exp(-4)) * k)
    assert alpha_rms(12.5, k) == 0.0 and alpha_rms(50.0, k) == 0.0


@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_pure_sgd_limit_equals_torch_sgd(wd):
    lrs = [0.1, 0.1, 0.3, 0.05, 0.2, 0.0, 0.1]
    a, b = _params(), _params()
    ours = RMSpropWarmup(a, lr=0.1, momentum=0.9, alpha_rms=0.0, weight_decay=wd, alpha_sgd_fn=lambda e: 1.0)
    ref = torch.optim.SGD(b, lr=0.1, momentum=0.9, weight_decay=wd)
    for x, y in zip(_run(ours, a, 7, lrs=lrs), _run(ref, b, 7, lrs=lrs)):
        for p, q in zip(x, y):
            torch.testing.assert_close(p, q, rtol=0, atol=1e-15)
    for p, q in zip(a, b):  # Delta = -u, torch's buffer
        torch.testing.assert_close(
            ours.state[p]["delta"], -ref.state[q]["momentum_buffer"], rtol=0, atol=1e-15
        )
    assert ours.last_alpha_sgd == 1.0 and ours.last_alpha_rms == 0.0


def test_default_schedule_far_past_the_blend_is_sgd():
    a, b = _params(), _params()
    ours = RMSpropWarmup(a, lr=0.1, momentum=0.9)  # default k = rms_lr / lr, times (1 - a_sgd) = 0
    ref = torch.optim.SGD(b, lr=0.1, momentum=0.9)
    for x, y in zip(_run(ours, a, 4, epochs=[20.0, 21.0, 22.0, 23.0]), _run(ref, b, 4)):
        for p, q in zip(x, y):
            torch.testing.assert_close(p, q, rtol=0, atol=1e-15)


@pytest.mark.parametrize("eps", [1e-8, 0.3])  # 0.3 ~ sqrt(m): wrong eps placement would show
def test_pure_rmsprop_limit_equals_torch_rmsprop(eps):
    eta, k, rho = 0.5, 0.02, 0.9
    a, b = _params(), _params()
    ours = RMSpropWarmup(
        a, lr=eta, momentum=0.0, alpha_rms=k, rms_decay=rho, eps=eps, alpha_sgd_fn=lambda e: 0.0
    )
    ref = torch.optim.RMSprop(b, lr=eta * k, alpha=rho, eps=eps)
    for x, y in zip(_run(ours, a, 6), _run(ref, b, 6)):
        for p, q in zip(x, y):
            torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)
    for p, q in zip(a, b):
        torch.testing.assert_close(ours.state[p]["square_avg"], ref.state[q]["square_avg"], rtol=0, atol=0)


def test_default_rms_lr_is_independent_of_eta():
    a, b = _params(), _params()
    ours = RMSpropWarmup(a, lr=6.4, momentum=0.0, rms_lr=3e-4, alpha_sgd_fn=lambda e: 0.0)
    ref = torch.optim.RMSprop(b, lr=3e-4, alpha=0.99, eps=1e-8)
    for x, y in zip(_run(ours, a, 5, lrs=[6.4, 1.0, 0.1, 12.8, 3.0]), _run(ref, b, 5)):
        for p, q in zip(x, y):
            torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)
    assert ours.last_alpha_rms == pytest.approx(3e-4 / 3.0)


def test_two_steps_by_hand():
    w = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    opt = RMSpropWarmup(
        [w],
        lr=0.5,
        momentum=0.9,
        alpha_rms=0.01,
        rms_decay=0.99,
        eps=0.0,
        weight_decay=0.1,
        beta_center=10.0,
        beta_period=5.0,
    )
    # step 1 at epoch 10: a_sgd = 1/2, a_rms = 0.005; g = 2 + 0.1*1 = 2.1; m = 0.01*2.1^2 = 0.0441;
    # Delta = -(0.5 + 0.005/0.21) * 2.1 = -1.1; w = 1 + 0.5*(-1.1) = 0.45
    w.grad = torch.tensor([2.0], dtype=torch.float64)
    opt.param_groups[0]["epoch"] = 10.0
    opt.step()
    assert w.item() == pytest.approx(0.45, abs=1e-14)
    assert opt.state[w]["square_avg"].item() == pytest.approx(0.0441, abs=1e-15)
    assert opt.last_alpha_sgd == 0.5 and opt.last_alpha_rms == pytest.approx(0.005)
    # step 2 at epoch 15: a_sgd = 1, a_rms = 0; g = 1 + 0.1*0.45 = 1.045;
    # Delta = 0.9*(-1.1) - 1.045 = -2.035; w = 0.45 - 0.5*2.035 = -0.5675; m = 0.99*0.0441 + 0.01*1.045^2
    w.grad = torch.tensor([1.0], dtype=torch.float64)
    opt.param_groups[0]["epoch"] = 15.0
    opt.step()
    assert w.item() == pytest.approx(-0.5675, abs=1e-14)
    assert opt.state[w]["delta"].item() == pytest.approx(-2.035, abs=1e-14)
    assert opt.state[w]["square_avg"].item() == pytest.approx(0.05457925, abs=1e-15)
    assert w.grad.item() == 1.0  # weight decay did not write into p.grad
    assert opt.last_alpha_sgd == 1.0 and opt.last_alpha_rms == 0.0


def test_missing_epoch_means_zero():
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = RMSpropWarmup([w], lr=1.0, momentum=0.9, alpha_rms=0.0)
    w.grad = torch.ones(1, dtype=torch.float64)
    opt.step()
    assert opt.last_alpha_sgd == pytest.approx(0.5 * math.exp(-4.0))
    assert w.item() == pytest.approx(-0.5 * math.exp(-4.0))


def test_state_dict_round_trip_continues_identically():
    epochs = [8.0 + 0.7 * k for k in range(8)]  # crosses the blend
    lrs = [0.2] * 4 + [0.1] * 4
    a = _params()
    opt = RMSpropWarmup(a, lr=0.2, momentum=0.9, weight_decay=1e-3, rms_lr=1e-2)
    _run(opt, a, 4, lrs=lrs, epochs=epochs)
    buf = io.BytesIO()
    torch.save({"params": [p.detach().clone() for p in a], "opt": opt.state_dict()}, buf)
    buf.seek(0)
    ck = torch.load(buf, weights_only=False)
    b = [p.clone().requires_grad_() for p in ck["params"]]
    opt2 = RMSpropWarmup(b, lr=0.5, momentum=0.0)  # constructor values are overwritten by the state
    opt2.load_state_dict(ck["opt"])
    assert opt2.param_groups[0]["momentum"] == 0.9 and opt2.param_groups[0]["epoch"] == epochs[3]
    for x, y in zip(
        _run(opt, a, 4, start=4, lrs=lrs, epochs=epochs), _run(opt2, b, 4, start=4, lrs=lrs, epochs=epochs)
    ):
        for p, q in zip(x, y):
            assert torch.equal(p, q)


def test_param_groups_and_lr_zero():
    a = _params()
    opt = RMSpropWarmup(
        [{"params": a[:1]}, {"params": a[1:], "weight_decay": 0.0, "beta_center": 0.0}],
        lr=0.0,
        weight_decay=0.1,
    )
    before = copy.deepcopy([p.detach() for p in a])
    _run(opt, a, 2)
    for p, q in zip(a, before):
        assert torch.equal(p.detach(), q)  # lr = 0: no move, no NaN from rms_lr / lr
        assert torch.isfinite(opt.state[p]["delta"]).all()
    assert opt.last_alpha_sgd == 1.0 - 0.5  # last group: beta_center 0, epoch 0


@pytest.mark.parametrize(
    "kw",
    [
        {"lr": -1.0},
        {"momentum": 1.0},
        {"rms_decay": 1.0},
        {"eps": -1.0},
        {"alpha_rms": -1.0},
        {"beta_period": 0.0},
        {"sgd_slope": 0.0},
    ],
)
def test_bad_arguments_raise(kw):
    with pytest.raises(ValueError):
        RMSpropWarmup(_params(), **{"lr": 0.1, **kw})


def _rms_displacement(lrs, momentum=0.9):
    """Total parameter displacement of the pure RMSprop part (a_sgd = 0) under the lr sequence `lrs`, for a
    constant gradient: every step adds rms_lr / eta_t * g / sqrt(m) to the buffer, later multiplied by eta."""
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = RMSpropWarmup(
        [w], lr=lrs[0], momentum=momentum, rms_lr=1e-3, rms_decay=0.0, alpha_sgd_fn=lambda e: 0.0
    )
    for lr in lrs:
        w.grad = torch.ones(1, dtype=torch.float64)
        opt.param_groups[0]["lr"] = lr
        opt.step()
    return -w.item()


def test_rms_term_under_an_lr_ramp_is_inflated():
    """The recipe's form scales the RMSprop term by 1/eta_t when it enters the buffer and by the later
    eta when it leaves it: at constant eta each step moves w by rms_lr / (1 - mu1) in the end (the method's
    intent, eta-free), under a gradual lr ramp by more. With m = g^2 (mu2 = 0) and g = 1, each step adds
    rms_lr / eta_t; with momentum 0 the displacement is exactly rms_lr per step whatever the lr."""
    T = 30
    const = _rms_displacement([1.0] * T)
    # hand value at constant eta: sum_t rms_lr * (1 - mu^(T - t)) / (1 - mu) (eps = 1e-8 aside)
    hand = sum(1e-3 * (1 - 0.9 ** (T - t)) / (1 - 0.9) for t in range(T))
    assert const == pytest.approx(hand, rel=1e-6)
    assert _rms_displacement([0.1 + 0.9 * t / 20 for t in range(T)], momentum=0.0) == pytest.approx(
        1e-3 * T, rel=1e-6
    )  # no momentum: no inflation
    ramp = [0.1 + 2.1 * min(t, 20) / 20 for t in range(T)]  # 0.1 -> 2.2 over 20 steps (22x), then flat
    assert _rms_displacement(ramp) > 2 * const  # 2.02x: the buffer is re-scaled by the rising lr


@pytest.mark.parametrize("wd", [0.0, 1e-2])
def test_nesterov_pure_sgd_limit_equals_torch_nesterov_sgd(wd):
    """nesterov=True: with a_sgd = 1 the update is torch.optim.SGD(nesterov=True) step by step (Goyal's
    SGD), so the recipe's RMSprop warm-up arms hand over to exactly the Goyal arm's optimizer."""
    lrs = [0.1, 0.1, 0.3, 0.05, 0.2, 0.0, 0.1]
    a, b = _params(), _params()
    ours = RMSpropWarmup(
        a, lr=0.1, momentum=0.9, alpha_rms=0.0, weight_decay=wd, nesterov=True, alpha_sgd_fn=lambda e: 1.0
    )
    ref = torch.optim.SGD(b, lr=0.1, momentum=0.9, weight_decay=wd, nesterov=True)
    for x, y in zip(_run(ours, a, 7, lrs=lrs), _run(ref, b, 7, lrs=lrs)):
        for p, q in zip(x, y):
            torch.testing.assert_close(p, q, rtol=0, atol=1e-14)


def test_nesterov_two_steps_by_hand():
    w = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    opt = RMSpropWarmup(
        [w], lr=0.5, momentum=0.9, alpha_rms=0.01, rms_decay=0.99, eps=0.0, weight_decay=0.1, nesterov=True
    )
    # step 1 at epoch 10: u = (0.5 + 0.005/0.21) * 2.1 = 1.1; Delta = -1.1; w = 1 + 0.5*(0.9*(-1.1) - 1.1)
    #   = 1 - 0.5 * 2.09 = -0.045
    w.grad = torch.tensor([2.0], dtype=torch.float64)
    opt.param_groups[0]["epoch"] = 10.0
    opt.step()
    assert w.item() == pytest.approx(-0.045, abs=1e-14)
    # step 2 at epoch 15: g = 1 + 0.1*(-0.045) = 0.9955 = u; Delta = -0.99 - 0.9955 = -1.9855;
    #   w = -0.045 + 0.5*(0.9*(-1.9855) - 0.9955) = -0.045 - 0.5*2.78245 = -1.436225
    w.grad = torch.tensor([1.0], dtype=torch.float64)
    opt.param_groups[0]["epoch"] = 15.0
    opt.step()
    assert opt.state[w]["delta"].item() == pytest.approx(-1.9855, abs=1e-14)
    assert w.item() == pytest.approx(-1.436225, abs=1e-14)
