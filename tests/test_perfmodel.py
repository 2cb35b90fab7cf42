"""Checks of the analytical performance model, `experiments/scaling_model/perfmodel.py` (pure Python).

What is checked: the ring and halving/doubling allreduce costs against their closed forms on hand-computed
cases (p = 1, 2, 8; n = 100 MB), the non-power-of-two rule, halving/doubling's smaller latency term for
large p, the hierarchical scheme reducing to the flat allreduce when gpus_per_node = 1 and to the ring on
one node, speedup(8) = 1, exactly linear speedup on a perfect network (alpha = beta = 0), speedup monotone
in the GPU count, time to train, the FLOP lower bound / utilisation, the published table's shape, and that
`fit_overlap` recovers the overlap (and efficiency) used to generate synthetic points.

Run: cd /work/main && OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q tests/test_perfmodel.py
"""

import dataclasses
import itertools
import math

import pytest

from experiments.scaling_model import perfmodel as pm

N = 100e6  # 100 MB gradient
ALPHA, BETA = 10e-6, 1 / 10e9  # 10 us, 10 GB/s


def test_ring_closed_form_hand_cases():
    assert pm.ring_allreduce_time(N, 1, ALPHA, BETA) == 0.0
    # p = 2: 2*1*alpha + 2*(1/2)*n*beta = 20 us + 10 ms
    assert pm.ring_allreduce_time(N, 2, ALPHA, BETA) == pytest.approx(20e-6 + 0.01)
    # p = 8: 14*alpha + 2*(7/8)*n*beta = 140 us + 17.5 ms
    assert pm.ring_allreduce_time(N, 8, ALPHA, BETA) == pytest.approx(140e-6 + 0.0175)


def test_halving_doubling_closed_form_hand_cases():
    assert pm.halving_doubling_time(N, 1, ALPHA, BETA) == 0.0
    # p = 2: 2*log2(2)*alpha + 2*(1/2)*n*beta = 20 us + 10 ms (same as ring)
    assert pm.halving_doubling_time(N, 2, ALPHA, BETA) == pytest.approx(20e-6 + 0.01)
    # p = 8: 2*3*alpha + 2*(7/8)*n*beta = 60 us + 17.5 ms
    assert pm.halving_doubling_time(N, 8, ALPHA, BETA) == pytest.approx(60e-6 + 0.0175)
    # p = 12: cost over q = 8 plus the fold-in/fold-out of the 4 extra ranks, 2*(alpha + n*beta)
    expected = 60e-6 + 0.0175 + 2 * (ALPHA + N * BETA)
    assert pm.halving_doubling_time(N, 12, ALPHA, BETA) == pytest.approx(expected)


@pytest.mark.parametrize("p", [16, 64, 256, 1024])
def test_halving_doubling_latency_term_below_ring(p):
    # beta = 0 isolates the alpha term: 2 log2 p < 2 (p - 1) for p > 2; bandwidth terms are equal.
    assert pm.halving_doubling_time(N, p, ALPHA, 0.0) < pm.ring_allreduce_time(N, p, ALPHA, 0.0)
    assert pm.halving_doubling_time(N, p, 0.0, BETA) == pytest.approx(pm.ring_allreduce_time(N, p, 0.0, BETA))


@pytest.mark.parametrize("algorithm", ["ring", "halving_doubling"])
@pytest.mark.parametrize("p", [2, 8, 12, 256])
def test_hierarchical_reduces_to_flat_with_one_gpu_per_node(algorithm, p):
    flat = pm.ring_allreduce_time if algorithm == "ring" else pm.halving_doubling_time
    got = pm.hierarchical_time(N, p, 1, 1e-6, 1 / 100e9, ALPHA, BETA, algorithm)
    assert got == pytest.approx(flat(N, p, ALPHA, BETA))


def test_hierarchical_on_one_node_is_ring_and_adds_intra_cost():
    a_in, b_in = 2e-6, 1 / 50e9
    one_node = pm.hierarchical_time(N, 8, 8, a_in, b_in, ALPHA, BETA)
    assert one_node == pytest.approx(pm.ring_allreduce_time(N, 8, a_in, b_in))
    # 4 nodes of 8: intra reduce + broadcast (each 7 a_in + 7/8 n b_in) + halving/doubling over 4 nodes.
    expected = 2 * (7 * a_in + 7 / 8 * N * b_in) + pm.halving_doubling_time(N, 4, ALPHA, BETA)
    assert pm.hierarchical_time(N, 32, 8, a_in, b_in, ALPHA, BETA) == pytest.approx(expected)
    # two rails halve the inter-node beta
    two = pm.hierarchical_time(N, 32, 8, a_in, b_in, ALPHA, BETA, inter_links=2)
    intra = 2 * (7 * a_in + 7 / 8 * N * b_in)
    assert two == pytest.approx(intra + pm.halving_doubling_time(N, 4, ALPHA, BETA / 2))


@pytest.mark.parametrize("hw", list(pm.PRESETS.values()), ids=list(pm.PRESETS))
def test_speedup_of_baseline_is_one(hw):
    assert pm.speedup(8, 32, hw, overlap=0.3) == pytest.approx(1.0)


def test_perfect_network_gives_linear_speedup_and_realistic_one_is_monotone():
    perfect = dataclasses.replace(
        pm.P100_2017_ETHERNET50, intra_alpha=0.0, intra_beta=0.0, inter_alpha=0.0, inter_beta=0.0
    )
    gpus = [8, 16, 64, 256, 1024, 4096]
    for g in gpus:
        assert pm.speedup(g, 32, perfect) == pytest.approx(g / 8, rel=1e-12)
    s = [pm.speedup(g, 32, pm.P100_2017_ETHERNET50, overlap=0.5) for g in gpus]
    assert all(b > a for a, b in itertools.pairwise(s))
    assert all(si <= g / 8 + 1e-12 for si, g in zip(s, gpus))  # never superlinear


def test_iteration_time_and_time_to_train():
    hw = pm.P100_2017_ETHERNET50
    compute = 32 / hw.images_per_s_per_gpu
    comm = pm.allreduce_time(256, hw)
    assert pm.iteration_time(256, 32, hw, overlap=0.0) == pytest.approx(compute + comm)
    assert pm.iteration_time(256, 32, hw, overlap=0.5) == pytest.approx(compute + 0.5 * comm)
    # full overlap hides at most the backward time (2/3 of compute)
    slow = dataclasses.replace(hw, inter_beta=1e-8)
    big = pm.allreduce_time(256, slow)
    assert pm.iteration_time(256, 32, slow, overlap=1.0) == pytest.approx(compute + big - 2 / 3 * compute)
    # efficiency 0.5 doubles compute
    half = pm.iteration_time(8, 32, hw, efficiency=0.5)
    assert half == pytest.approx(2 * compute + pm.allreduce_time(8, hw))
    iters = 90 * pm.IMAGENET_TRAIN_IMAGES / (256 * 32)
    assert pm.time_to_train(256, 90, pm.IMAGENET_TRAIN_IMAGES, 32, hw) == pytest.approx(
        iters * pm.iteration_time(256, 32, hw)
    )
    # MLP compute scales with its FLOPs relative to ResNet-50's
    ratio = pm.MLP_784_100_100_10.train_flops / pm.RESNET50.train_flops
    mlp = pm.iteration_time(1, 32, hw, pm.MLP_784_100_100_10)
    assert mlp == pytest.approx(compute * ratio)


def test_lower_bound_and_utilisation():
    total = 90 * pm.IMAGENET_TRAIN_IMAGES * pm.RESNET50.train_flops  # 2.6e18 FLOPs
    assert pm.RESNET50.train_flops == pytest.approx(6 * 3.8e9)
    lb = pm.lower_bound_seconds(total, 1024, 10.6e12)
    assert lb == pytest.approx(total / (1024 * 10.6e12))
    assert pm.utilisation(2 * lb, total, 1024, 10.6e12) == pytest.approx(0.5)
    assert 0 < pm.utilisation(15 * 60, total, 1024, pm.P100_2017_IB_FDR.peak_flops_per_gpu) < 1


def test_published_table_is_labelled_and_fit_points_resolve():
    records = [r for r in pm.PUBLISHED if r["kind"] == "record"]
    assert [r["minutes"] for r in records] == [240.0, 60.0, 30.0, 15.0]
    assert all(r["source"] for r in pm.PUBLISHED)
    assert {r["arxiv"] for r in records} == {"", "1706.02677", "1709.05011", "1711.04325"}
    assert len(pm.FIT_POINTS) == 5
    for p in pm.FIT_POINTS:
        assert p["preset"] in pm.PRESETS and p["metric"] in pm.FIT_METRICS
        assert math.isfinite(pm.predict(p, 0.5, 0.8))


def _synthetic(overlap, efficiency):
    pts = []
    for hw, gpus, pgb in [
        (pm.P100_2017_ETHERNET50, 8, 32),
        (pm.P100_2017_ETHERNET50, 256, 32),
        (pm.P100_2017_IB_FDR, 1024, 32),
        (pm.P100_2017_ETHERNET50, 64, 16),
    ]:
        pt = {
            "hw": hw,
            "gpus_or_cpus": gpus,
            "per_gpu_batch": pgb,
            "epochs": 90,
            "metric": "minutes",
            "label": f"{gpus}",
        }
        pts.append({**pt, "value": pm.predict(pt, overlap, efficiency)})
    ratio = {
        "hw": pm.P100_2017_ETHERNET50,
        "gpus_or_cpus": 352,
        "per_gpu_batch": 32,
        "metric": "iter_time_ratio",
    }
    pts.append({**ratio, "value": pm.predict(ratio, overlap, efficiency)})
    return pts


def test_fit_recovers_overlap_only():
    fit = pm.fit_overlap(_synthetic(0.37, 1.0), fit_efficiency=False)
    assert fit.overlap == pytest.approx(0.37, abs=1e-3)
    assert fit.efficiency == 1.0
    assert fit.rms_log_error < 1e-4


def test_fit_recovers_overlap_and_efficiency():
    fit = pm.fit_overlap(_synthetic(0.62, 0.7))
    assert fit.overlap == pytest.approx(0.62, abs=2e-3)
    assert fit.efficiency == pytest.approx(0.7, rel=2e-3)
    assert max(abs(r) for r in fit.rel_errors) < 1e-3
    assert len(fit.log_residuals) == len(fit.labels) == 5


def test_fit_on_published_points_reports_errors():
    fit = pm.fit_overlap()
    assert 0.0 <= fit.overlap <= 1.0 and 0.05 <= fit.efficiency <= 2.0
    assert len(fit.rel_errors) == len(pm.FIT_POINTS)
    assert fit.published == [p["value"] for p in pm.FIT_POINTS]
    # every published point within 10% once overlap and efficiency are fitted (found: < 4%)
    assert max(abs(e) for e in fit.rel_errors) < 0.10
