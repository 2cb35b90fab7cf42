"""Tests of largebatch.lars.LARS (arXiv 1708.03888, Algorithm 1).

Checked: single and consecutive steps on a toy 2-tensor model (a 2x2 weight and a bias, float64, grads set
by hand) against Algorithm 1 written out in plain Python floats (`_ref_step`) and, for the default case,
against literal hand-computed numbers, for every switch (weight decay, nesterov off/on, a lars_exclude
group, denom="sum_grad", trust_clip); the zero-norm guards (lambda = 1, finite results); that
weight_decay=0 still adapts (differs from SGD); the state_dict round trip; convergence on a quadratic;
last_stats; the per-tensor fallback equals the foreach path; p.grad is left untouched.

Run: cd /work/main && OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python -m pytest -q tests/test_lars.py
"""

import copy
import math

import pytest
import torch

from largebatch import lars as lars_mod
from largebatch.lars import LARS

W0 = [3.0, 0.0, 0.0, 4.0]  # 2x2 weight, ||W|| = 5
B0 = [0.3, 0.4]  # bias, ||b|| = 0.5
GW = [0.6, 0.0, 0.0, 0.8]  # ||g_W|| = 1
GB = [3.0, 4.0]  # ||g_b|| = 5


def _norm(xs):
    return math.sqrt(sum(x * x for x in xs))


def _ref_step(
    ws,
    gs,
    vs,
    lr,
    momentum=0.9,
    weight_decay=0.0,
    trust_coef=0.001,
    eps=0.0,
    nesterov=False,
    trust_clip=False,
    denom="paper",
    exclude=False,
):
    """Algorithm 1 on flat float lists, one list per tensor; returns (new ws, new vs, lambdas)."""
    new_w, new_v, lams = [], [], []
    for w, g, v in zip(ws, gs, vs):
        nw, ng = _norm(w), _norm(g)
        d = [gi + weight_decay * wi for gi, wi in zip(g, w)]
        if exclude:
            lam, scale = 1.0, lr
        else:
            den = (ng + weight_decay * nw if denom == "paper" else _norm(d)) + eps
            lam = trust_coef * nw / den if nw > 0 and ng > 0 and den > 0 else 1.0
            scale = lr * min(lam / lr, 1.0) if trust_clip else lr * lam
        u = [scale * di for di in d]
        v = [momentum * vi + ui for vi, ui in zip(v, u)]
        step = [momentum * vi + ui for vi, ui in zip(v, u)] if nesterov else v
        new_w.append([wi - si for wi, si in zip(w, step)])
        new_v.append(v)
        lams.append(lam)
    return new_w, new_v, lams


def _toy():
    w = torch.tensor(W0, dtype=torch.float64).reshape(2, 2).requires_grad_()
    b = torch.tensor(B0, dtype=torch.float64).requires_grad_()
    return w, b


def _grads(k):
    """Grads of step k (varied so the momentum test is not a rescaled single step)."""
    return [x * (1 + k) - 0.1 * k for x in GW], [x * (1 - 0.3 * k) for x in GB]


CASES = {
    "default": (dict(lr=0.1), {}),
    "weight_decay": (dict(lr=0.1, weight_decay=0.1, trust_coef=0.02), {}),
    "nesterov_off_momentum": (dict(lr=0.1, momentum=0.5, nesterov=False, trust_coef=0.02), {}),
    "nesterov_on": (dict(lr=0.1, momentum=0.5, nesterov=True, trust_coef=0.02), {}),
    "lars_exclude_bias": (
        dict(lr=0.1, weight_decay=0.1, trust_coef=0.02),
        dict(lars_exclude=True, weight_decay=0.01),
    ),
    "sum_grad": (dict(lr=0.1, weight_decay=0.1, trust_coef=0.02, denom="sum_grad", eps=1e-3), {}),
    "trust_clip": (dict(lr=0.01, trust_coef=0.01, trust_clip=True), {}),  # W clipped, b not
}


def _run_case(name, steps):
    kw, bias_group = CASES[name]
    w, b = _toy()
    groups = [{"params": [w], "names": ["W"]}, {"params": [b], "names": ["b"], **bias_group}]
    opt = LARS(groups, **kw)
    ws, vs = [W0, B0], [[0.0] * 4, [0.0] * 2]
    bkw = dict(kw, **{k: v for k, v in bias_group.items() if k != "lars_exclude"})
    for k in range(steps):
        gw, gb = _grads(k)
        w.grad = torch.tensor(gw, dtype=torch.float64).reshape(2, 2)
        b.grad = torch.tensor(gb, dtype=torch.float64)
        opt.step()
        (ws[0],), (vs[0],), lam_w = _ref_step([ws[0]], [gw], [vs[0]], **kw)
        (ws[1],), (vs[1],), lam_b = _ref_step(
            [ws[1]], [gb], [vs[1]], exclude=bias_group.get("lars_exclude", False), **bkw
        )
    return opt, (w, b), ws, vs, lam_w + lam_b


@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("name", list(CASES))
def test_matches_algorithm_1(name, steps):
    opt, (w, b), ws, vs, lams = _run_case(name, steps)
    assert w.flatten().tolist() == pytest.approx(ws[0], rel=1e-12, abs=1e-15)
    assert b.tolist() == pytest.approx(ws[1], rel=1e-12, abs=1e-15)
    assert opt.state[w]["momentum_buffer"].flatten().tolist() == pytest.approx(vs[0], rel=1e-12, abs=1e-15)
    assert [s["ratio"] for s in opt.last_stats()] == pytest.approx(lams, rel=1e-12)


def test_default_step_literal_numbers():
    # lambda_W = 0.001 * 5 / 1 = 5e-3, lambda_b = 0.001 * 0.5 / 5 = 1e-4; lr = 0.1; v0 = 0.
    opt, (w, b), _, _, _ = _run_case("default", 1)
    assert w.flatten().tolist() == pytest.approx([3 - 5e-4 * 0.6, 0.0, 0.0, 4 - 5e-4 * 0.8], rel=1e-12)
    assert b.tolist() == pytest.approx([0.3 - 1e-5 * 3, 0.4 - 1e-5 * 4], rel=1e-12)


def test_trust_clip_literal_numbers():
    # lambda_W = 0.01 * 5 / 1 = 0.05 > lr = 0.01 -> local lr 0.01;
    # lambda_b = 0.01 * 0.5 / 5 = 1e-3 < lr stays.
    opt, (w, b), _, _, _ = _run_case("trust_clip", 1)
    assert w.flatten().tolist() == pytest.approx([3 - 0.01 * 0.6, 0.0, 0.0, 4 - 0.01 * 0.8], rel=1e-12)
    assert b.tolist() == pytest.approx([0.3 - 1e-3 * 3, 0.4 - 1e-3 * 4], rel=1e-12)
    assert [s["local_lr"] for s in opt.last_stats()] == pytest.approx([0.01, 1e-3], rel=1e-12)


def test_last_stats_hand_case():
    opt, _, _, _, _ = _run_case("default", 1)
    stats = opt.last_stats()
    assert [s["name"] for s in stats] == ["W", "b"]
    assert [s["w_norm"] for s in stats] == pytest.approx([5.0, 0.5])
    assert [s["g_norm"] for s in stats] == pytest.approx([1.0, 5.0])
    assert [s["ratio"] for s in stats] == pytest.approx([5e-3, 1e-4])
    w, b = _toy()
    unnamed = LARS([w, b], lr=0.1)
    w.grad, b.grad = torch.ones_like(w), torch.ones_like(b)
    unnamed.step()
    assert [s["name"] for s in unnamed.last_stats()] == [0, 1]


@pytest.mark.parametrize("denom", ["paper", "sum_grad"])
def test_zero_norm_guards(denom):
    lr, wd = 0.1, 0.5
    w_zero = torch.zeros(3, dtype=torch.float64, requires_grad=True)  # ||w|| = 0
    g_zero = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)  # ||g|| = 0
    both = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    cancel = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)  # g = -wd w
    opt = LARS([w_zero, g_zero, both, cancel], lr=lr, weight_decay=wd, denom=denom)
    w_zero.grad = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    g_zero.grad, both.grad = torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    cancel.grad = torch.tensor([-0.5, -0.5], dtype=torch.float64)
    opt.step()
    ratios = [s["ratio"] for s in opt.last_stats()]
    assert ratios[:3] == [1.0, 1.0, 1.0]
    # "cancel": sum_grad's denominator ||g + wd w|| is 0 -> guard; paper's is ||g|| + wd ||w|| = 2 sqrt(0.5).
    expected = 1.0 if denom == "sum_grad" else 1e-3 * math.sqrt(2) / (2 * math.sqrt(0.5))
    assert ratios[3] == pytest.approx(expected)
    assert w_zero.tolist() == pytest.approx([-lr * 1.0, lr * 2.0, -lr * 0.5])
    assert g_zero.tolist() == pytest.approx([1.0 - lr * wd * 1.0, 2.0 - lr * wd * 2.0])
    assert both.tolist() == [0.0, 0.0]
    assert cancel.tolist() == pytest.approx([1.0, 1.0])
    for p in (w_zero, g_zero, both, cancel):
        assert torch.isfinite(p).all() and torch.isfinite(opt.state[p]["momentum_buffer"]).all()


def test_weight_decay_zero_still_adapts():
    lr = 0.1
    w_l, _ = _toy()
    w_s = w_l.detach().clone().requires_grad_()
    g = torch.tensor(GW, dtype=torch.float64).reshape(2, 2) * 7.0  # ||g|| = 7
    lars, sgd = LARS([w_l], lr=lr, weight_decay=0.0), torch.optim.SGD([w_s], lr=lr, momentum=0.9)
    w_l.grad, w_s.grad = g.clone(), g.clone()
    lars.step()
    sgd.step()
    lam = 0.001 * 5.0 / 7.0
    assert torch.allclose(w_l, torch.tensor(W0, dtype=torch.float64).reshape(2, 2) - lr * lam * g)
    assert not torch.allclose(w_l, w_s)
    assert lars.last_stats()[0]["ratio"] == pytest.approx(lam)


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))


def _opt(model):
    (w1, b1), (w2, b2) = [(m.weight, m.bias) for m in model if isinstance(m, torch.nn.Linear)]
    return LARS(
        [
            {"params": [w1, w2], "names": ["w1", "w2"]},
            {"params": [b1, b2], "names": ["b1", "b2"], "lars_exclude": True, "weight_decay": 0.0},
        ],
        lr=0.5,
        momentum=0.9,
        weight_decay=1e-2,
        trust_coef=0.02,
        nesterov=True,
    )


def _train(model, opt, steps, start):
    for k in range(start, start + steps):
        gen = torch.Generator().manual_seed(k)
        x, y = torch.randn(8, 4, generator=gen), torch.randn(8, 2, generator=gen)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def test_state_dict_round_trip():
    model_a = _model()
    opt_a = _opt(model_a)
    _train(model_a, opt_a, 3, 0)
    saved_model, saved_opt = copy.deepcopy(model_a.state_dict()), copy.deepcopy(opt_a.state_dict())
    model_b = _model()
    model_b.load_state_dict(saved_model)
    opt_b = _opt(model_b)
    opt_b.load_state_dict(saved_opt)
    assert opt_b.param_groups[1]["lars_exclude"] and opt_b.param_groups[0]["names"] == ["w1", "w2"]
    _train(model_a, opt_a, 2, 3)
    _train(model_b, opt_b, 2, 3)
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(pa, pb)


@pytest.mark.parametrize("trust_clip", [False, True])
def test_converges_on_quadratic(trust_clip):
    gen = torch.Generator().manual_seed(0)
    shapes = [(4,), (3, 3), (5,)]
    mats = [
        torch.eye(math.prod(s), dtype=torch.float64)
        + 0.2 * torch.randn(math.prod(s), math.prod(s), generator=gen, dtype=torch.float64)
        for s in shapes
    ]
    targets = [m @ torch.randn(m.shape[0], generator=gen, dtype=torch.float64) for m in mats]
    ws = [torch.randn(s, generator=gen, dtype=torch.float64).requires_grad_() for s in shapes]

    def loss_fn():
        return sum(0.5 * (a @ w.flatten() - t).square().sum() for a, w, t in zip(mats, ws, targets))

    lr0, steps = 0.1, 300
    opt = LARS(ws, lr=lr0, momentum=0.9, trust_coef=1.0 if trust_clip else 0.05, trust_clip=trust_clip)
    initial = loss_fn().item()
    for t in range(steps):
        if not trust_clip:  # plain LARS is normalised GD: use the paper's polynomial lr decay
            opt.param_groups[0]["lr"] = lr0 * (1 - t / steps) ** 2
        opt.zero_grad()
        opt.step(lambda: (lambda loss: (loss.backward(), loss)[1])(loss_fn()))
    assert loss_fn().item() < 1e-7 * initial


def test_foreach_fallback_matches(monkeypatch):
    for name in ("weight_decay", "nesterov_on", "lars_exclude_bias", "sum_grad", "trust_clip"):
        _, fast, _, _, _ = _run_case(name, 2)
        monkeypatch.setattr(lars_mod, "_USE_FOREACH", False)
        _, slow, _, _, _ = _run_case(name, 2)
        monkeypatch.setattr(lars_mod, "_USE_FOREACH", True)
        for a, b in zip(fast, slow):
            assert torch.allclose(a, b, rtol=1e-14, atol=0)


def test_grad_untouched_and_mixed_dtypes():
    w = torch.ones(3, dtype=torch.float32, requires_grad=True)
    v = torch.ones(2, dtype=torch.float64, requires_grad=True)
    opt = LARS([w, v], lr=0.1, weight_decay=0.1)
    w.grad, v.grad = torch.full((3,), 2.0), torch.full((2,), 2.0, dtype=torch.float64)
    opt.step()
    assert w.grad.tolist() == [2.0] * 3 and v.grad.tolist() == [2.0] * 2
    assert [s["name"] for s in opt.last_stats()] == [0, 1]
    assert w.dtype == torch.float32 and opt.state[v]["momentum_buffer"].dtype == torch.float64


def test_rejects_bad_args():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(ValueError):
        LARS([w], lr=0.1, denom="other")
    with pytest.raises(ValueError):
        LARS([w], lr=0.1, momentum=0.0, nesterov=True)
    with pytest.raises(ValueError):
        LARS([{"params": [w], "names": ["a", "b"]}], lr=0.1)
