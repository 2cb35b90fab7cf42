"""Tests of the LARS study (experiments/lars): grids, models, the step-1 table, collect and claims.

(The optimizer itself is tested in tests/test_lars.py; this file is the study's, named test_lars_study.py
because that name is taken.) Checked: every grid resolves for 1 and 8 processes where divisible; the smoke
grid runs end to end through the sweep (5 runs incl. ResNet-50 and AlexNet-BN on 64x64 synthetic ImageNet);
the AlexNet-like nets' shapes, names, parameter counts and ghost BN groups (by hand); the SGD and LARS lr
mappings (peak and warmup start) against hand values; the LARS switches the study sets; the trainer's
step-1 ||w||, ||g|| of a table2 run equal those of a fresh model's first-batch gradient computed here;
collect's long ratio table on a hand-built record; analysis and claims on a hand-made CSV set whose
verdicts are computed by hand.

Run: cd /work/main && WANDB_MODE=disabled OMP_NUM_THREADS=1 \
    .venv/bin/python -m pytest -q tests/test_lars_study.py
"""

import json
import math
from dataclasses import replace

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from experiments.lars import analysis, claims, collect, config
from largebatch import verdict as V
from largebatch.config import ConfigError, resolve, run_id
from largebatch.data import EpochSampler, subset
from largebatch.models import GhostBatchNorm, build_model
from largebatch.optim import build_optimizer
from largebatch.schedules import lr_at
from largebatch.sweep import run_sweep
from largebatch.trainer import train


@pytest.mark.parametrize("scale", ["smoke", "cpu", "paper"])
def test_grids_resolve(scale):
    cfgs = config.grid(scale)
    assert len({run_id(c) for c in cfgs}) == len(cfgs), "duplicate run ids"
    for c in cfgs:
        resolve(c, 1)
        if c.global_batch % (8 * c.per_worker_batch) == 0:
            resolve(c, 8)
        else:
            with pytest.raises(ConfigError):
                resolve(c, 8)
    if scale == "paper":
        assert all(c.global_batch % (8 * c.per_worker_batch) == 0 for c in cfgs)


def test_cpu_grid_shape():
    cfgs = config.grid("cpu_v1")
    main = [c for c in cfgs if c.tag == "main"]
    assert {c.global_batch for c in main if c.model == "alexnet_mlp"} == {128, 1024, 2048, 4096, 8192}
    assert {c.global_batch for c in main if c.model == "alexnet_mlp_bn"} == {128, 4096, 8192}
    assert {c.epochs for c in main} == {config.EPOCHS}
    assert {c.epochs for c in cfgs if c.tag == "longer"} == {2 * config.EPOCHS}
    assert {c.seed for c in cfgs} == set(config.SEEDS) and len(config.SEEDS) >= 3
    assert all(c.trust_coef == 0.001 and c.decay == "poly" and c.decay_power == 2 for c in cfgs)
    assert all(c.max_steps == 1 for c in cfgs if c.tag == "table2")
    # the tuned-SGD grid contains the linear rule for every B = 128 lr (claim a)
    for net in config.NETS:
        for eta in config.sgd_etas(net, 128):
            assert all(
                any(math.isclose(eta, e) for e in config.sgd_etas(net, b)) for b in config.SGD_MULTS[net]
            )
    assert all(not c.lars_exclude_bn_bias and c.wd_exclude_bn_bias for c in cfgs)


def test_smoke_sweep(tmp_path):
    extra = [f"--out_dir={tmp_path}", "--wandb=off", "--threads=1"]
    assert run_sweep("lars", "smoke", 1, extra=extra) == 0
    done = list(tmp_path.glob("lars/*/summary.json"))
    assert len(done) == len(config.grid("smoke"))
    assert {json.loads(p.read_text())["status"] for p in done} == {"complete"}


def test_alexnet_mlp_shapes_and_counts():
    m = build_model("alexnet_mlp", (1, 28, 28), 10)
    assert [n for n, _ in m.named_parameters()] == [
        f"fc{i}.{p}" for i in range(1, 5) for p in ("weight", "bias")
    ]
    # 784x256+256, 256x256+256, 256x128+128, 128x10+10
    assert sum(p.numel() for p in m.parameters()) == 200960 + 65792 + 32896 + 1290
    bn = build_model("alexnet_mlp_bn", (1, 28, 28), 10, bn_group=32)
    assert [n for n, _ in bn.named_parameters()] == [
        "fc1.weight",
        "bn1.weight",
        "bn1.bias",
        "fc2.weight",
        "bn2.weight",
        "bn2.bias",
        "fc3.weight",
        "bn3.weight",
        "bn3.bias",
        "fc4.weight",
        "fc4.bias",
    ]
    assert [g.group for g in bn.modules() if isinstance(g, GhostBatchNorm)] == [32, 32, 32]
    x = torch.randn(64, 1, 28, 28)
    y = bn(x)  # ghost BN: each group of 32 normalised by its own statistics
    h = bn.fc1(x.flatten(1))
    g0 = (h[:32] - h[:32].mean(0)) / torch.sqrt(h[:32].var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(bn.bn1(h)[:32], g0, rtol=1e-4, atol=1e-4)
    assert y.shape == (64, 10)


def test_alexnet_fm_shapes_and_counts():
    m = build_model("alexnet_fm", (1, 28, 28), 10)
    names = [n for n, _ in m.named_parameters()]
    assert names == [
        "conv1.weight",
        "conv1.bias",
        "conv2.weight",
        "conv2.bias",
        "fc6.weight",
        "fc6.bias",
        "fc7.weight",
        "fc7.bias",
        "fc8.weight",
        "fc8.bias",
    ]
    # conv1 8x1x5x5+8, conv2 16x8x3x3+16, fc6 (16*7*7=784)x128+128, fc7 128x128+128, fc8 128x10+10
    assert sum(p.numel() for p in m.parameters()) == 208 + 1168 + 100480 + 16512 + 1290
    assert m(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    bn = build_model("alexnet_bn_fm", (1, 28, 28), 10, bn_group=32)
    gbns = [x for x in bn.modules() if isinstance(x, GhostBatchNorm)]
    assert len(gbns) == 4 and all(g.group == 32 for g in gbns)
    assert [n for n, _ in bn.named_parameters() if n.endswith("bias")] == [
        "bn1.bias",
        "bn2.bias",
        "bn3.bias",
        "bn4.bias",
        "fc8.bias",
    ]
    assert not any(
        isinstance(x, torch.nn.BatchNorm1d) for x in build_model("alexnet_fm", (1, 28, 28), 10).modules()
    )


def test_lr_mappings_by_hand():
    net = "nobn"
    base = replace(config.BASE, model=config.NETS[net])
    c = config.sgd(base, 4096, 0.05)  # peak 0.05 * 4096/128 = 1.6, warmup from 0.05
    r = resolve(c, 1)
    assert math.isclose(r.lr_peak, 1.6) and math.isclose(lr_at(0, c, r), 0.05)
    assert math.isclose(lr_at(r.warmup_steps, c, r), 1.6)
    c = config.lars(base, 4096, 10.0)  # peak gamma0 = 10, warmup from 10 * 128/4096 = 0.3125
    r = resolve(c, 1)
    assert math.isclose(r.lr_peak, 10.0) and math.isclose(lr_at(0, c, r), 0.3125)
    assert r.warmup_steps == round(2 * (60000 // 4096))  # 2 epochs of 14 steps
    t = r.warmup_steps + (r.total_steps - r.warmup_steps) // 2  # halfway through the decay: (1/2)^2
    assert math.isclose(
        lr_at(t, c, r), 10.0 * (1 - (t - r.warmup_steps) / (r.total_steps - r.warmup_steps)) ** 2
    )


def test_study_lars_switches():
    c = config.lars(replace(config.BASE, model="alexnet_bn_fm"), 1024, 5.0)
    opt = build_optimizer(build_model(c.model, (1, 28, 28), 10, bn_group=32), c)
    flags = {
        g["name"]: (g["lars_exclude"], g["weight_decay"], g["trust_coef"], g["denom"])
        for g in opt.param_groups
    }
    assert flags == {"decay": (False, 5e-4, 0.001, "paper"), "no_decay": (False, 0.0, 0.001, "paper")}


def test_table2_step1_matches_fresh_gradient(fmnist, tmp_path):
    data = subset(fmnist, 512, 200)
    cfg = replace(
        config.table2("bn", 128, 0),
        out_dir=str(tmp_path),
        wandb="off",
        progress=False,
        eval_train_examples=0,
        threads=1,
    )
    train(cfg, data=data)
    rec = [
        json.loads(x) for x in (tmp_path / "lars" / run_id(cfg) / "metrics.jsonl").read_text().splitlines()
    ]
    rec = next(r for r in rec if r["step"] == 1)
    assert rec["lars_layer/bn1.bias/w_norm"] == 0.0 and rec["lars_layer/bn1.bias/ratio"] == 1.0
    torch.manual_seed(cfg.seed)  # the trainer seeds the init the same way
    m = build_model(cfg.model, data.in_shape, 10, bn_group=cfg.per_worker_batch)
    idx = EpochSampler(len(data.y_train), 128, 0, 1, cfg.seed).indices(0)
    F.cross_entropy(m(data.x_train[idx]), data.y_train[idx]).backward()
    assert {k.split("/")[1] for k in rec if k.startswith("lars_layer/")} == {
        n for n, _ in m.named_parameters()
    }
    for name, p in m.named_parameters():
        assert math.isclose(rec[f"lars_layer/{name}/w_norm"], p.norm().item(), rel_tol=1e-5)
        assert math.isclose(rec[f"lars_layer/{name}/g_norm"], p.grad.norm().item(), rel_tol=1e-4)
        wd = 5e-4 if p.ndim > 1 else 0.0
        w, g = p.norm().item(), p.grad.norm().item()
        lam = 0.001 * w / (g + wd * w) if w > 0 and g > 0 else 1.0  # BN beta starts at 0: guard, lambda = 1
        assert math.isclose(rec[f"lars_layer/{name}/ratio"], lam, rel_tol=1e-4)


def test_ratio_table_melts_records():
    curves = pd.DataFrame(
        [
            {
                "run_id": "r",
                "step": 1,
                "test/acc": 0.5,
                "lars_layer/fc6.weight/w_norm": 2.0,
                "lars_layer/fc6.weight/g_norm": 0.5,
                "lars_layer/fc6.weight/ratio": 0.004,
                "lars_layer/fc8.bias/w_norm": 1.0,
                "lars_layer/fc8.bias/g_norm": 0.25,
                "lars_layer/fc8.bias/ratio": 0.004,
            }
        ]
    )
    t = collect.ratio_table(curves)
    assert t.to_dict("records") == [
        {"run_id": "r", "step": 1, "layer": "fc6.weight", "w_norm": 2.0, "g_norm": 0.5, "ratio": 0.004},
        {"run_id": "r", "step": 1, "layer": "fc8.bias", "w_norm": 1.0, "g_norm": 0.25, "ratio": 0.004},
    ]
    assert list(collect.curve_table(curves).columns) == ["run_id", "step", "test_acc"]


def _fake_csvs(tmp_path, lars4096=(0.885, 0.887, 0.889), lin_status="diverged"):
    """No-BN runs: SGD baseline at 128 (lr 0.05: 0.90, 0.90, 0.90; lr 0.1: 0.80), SGD and LARS at 4096 and
    8192, LARS longer at 8192; one table2 run with ||w||/||g|| = 4 and 100 -> spread 25."""
    rows, k = [], 0

    def add(exp, opt, b, lr_base, lr, accs, epochs=10, status="complete"):
        nonlocal k
        for s, a in enumerate(accs):
            k += 1
            rows.append(
                dict(
                    study="lars",
                    experiment=exp,
                    run_id=f"lars-{k:08d}-s{s}",
                    seed=s,
                    model="alexnet_mlp",
                    net="nobn",
                    bn=False,
                    optimizer=opt,
                    global_batch=b,
                    lr=lr,
                    lr_base=lr_base,
                    trust_coef=0.001,
                    epochs=epochs,
                    status=status,
                    final_test_acc=None if status == "diverged" else a,
                    final_train_loss=0.3,
                )
            )

    add("main", "sgd", 128, 0.05, 0.05, [0.90, 0.90, 0.90])
    add("main", "sgd", 128, 0.1, 0.1, [0.80, 0.80, 0.80])
    add("main", "lars", 128, 2.0, 2.0, [0.899, 0.899, 0.899])
    add("main", "sgd", 4096, 0.05, 1.6, [0, 0, 0], status=lin_status)
    add("main", "sgd", 4096, 0.0125, 0.4, [0.88, 0.88, 0.88])
    add("main", "lars", 4096, 10.0, 10.0, list(lars4096))
    add("main", "lars", 8192, 20.0, 20.0, [0.86, 0.86, 0.86])
    add("main", "sgd", 8192, 0.0125, 0.8, [0.85, 0.85, 0.85])
    add("longer", "lars", 8192, 20.0, 20.0, [0.88, 0.88, 0.88], epochs=20)
    add("table2", "lars", 128, 1.0, 1.0, [0.1])
    pd.DataFrame(rows).to_csv(tmp_path / "lars.csv", index=False)
    pd.DataFrame({"run_id": [rows[0]["run_id"]], "step": [1], "test_acc": [0.5]}).to_csv(
        tmp_path / "lars_curves.csv", index=False
    )
    t2 = rows[-1]["run_id"]
    pd.DataFrame(
        {
            "run_id": [t2, t2],
            "step": [1, 1],
            "layer": ["fc1.weight", "fc2.weight"],
            "w_norm": [2.0, 10.0],
            "g_norm": [0.5, 0.1],
            "ratio": [0.004, 0.1],
        }
    ).to_csv(tmp_path / "lars_trust_ratios.csv", index=False)


def _outcomes(tmp_path):
    rows = {r["id"]: r for r in claims.claims(tmp_path)}
    return rows, {k: r["result"].outcome for k, r in rows.items()}


def test_claims_by_hand(tmp_path):
    """Seeds identical within each arm: every paired interval is a point, so the verdicts are known."""
    _fake_csvs(tmp_path, lars4096=(0.887, 0.887, 0.887))
    rows, got = _outcomes(tmp_path)
    # (a) all 3 linear-rule seeds diverged: 90 - 10 = 80 pt lost > 3 -> reproduced
    assert got["a_nobn"] == V.REPRODUCED and "3 of 3 seeds diverged" in rows["a_nobn"]["ours"]
    # (b) LARS 88.7 vs baseline 90.0: gap 1.3 < 1.5; vs best SGD 88.0: +0.7 > 0.3 -> reproduced
    assert got["b_nobn"] == V.REPRODUCED and "gap 1.30 pt" in rows["b_nobn"]["ours"]
    # (c) 89.9 vs 90.0: |-0.10| < 0.3 -> reproduced (equivalence)
    assert got["c_nobn"] == V.REPRODUCED and "-0.10 pt" in rows["c_nobn"]["ours"]
    # (d) gap 90 - 86 = 4 pt, recovered 88 - 86 = 2 pt = 50 %: exactly on the threshold -> inconclusive
    assert got["d_nobn"] == V.INCONCLUSIVE and "50% of it" in rows["d_nobn"]["ours"]
    # (e) one table2 seed: ‖w‖/‖g‖ = 4 and 100 over the weight tensors -> 25x, but one seed: no interval
    assert got["e_nobn"] == V.INCONCLUSIVE and "25.0" in rows["e_nobn"]["ours"]
    # LARS seeds 88.5, 88.7, 88.9: the gap's interval [0.8, 1.8] straddles 1.5 -> inconclusive
    _fake_csvs(tmp_path)
    assert _outcomes(tmp_path)[1]["b_nobn"] == V.INCONCLUSIVE
    _fake_csvs(tmp_path, lars4096=(0.884, 0.884, 0.884), lin_status="complete")
    rows, got = _outcomes(tmp_path)
    # (a) linear rule 0 % accuracy (complete) is a 90 pt loss -> still reproduced; (b) gap 1.6 > 1.5 -> not
    assert got["a_nobn"] == V.REPRODUCED and got["b_nobn"] == V.NOT_REPRODUCED


def test_scored_counts_diverged_as_chance():
    r = pd.DataFrame({"status": ["complete", "diverged"], "final_test_acc": [0.8, None]})
    assert analysis.scored(r).acc.tolist() == [0.8, analysis.CHANCE]


# ---- second design (v2, issue 16) --------------------------------------------------------------------------
def test_v2_grid_from_the_scale_model_rule():
    """Ladder 128 + the images of 4K, 8K, 16K, 32K against B_simple (+ 8192); every arm shares E_V2 (the
    image of 32K gets STEPS_LARGEST steps); warmup the paper's fraction per net; the judged settings on
    SEEDS_V2, the other rungs on LADDER_SEEDS; SGD grids with the linear rule of every B = 128 lr at B_CLAIM;
    the budget estimate within 45 minutes."""
    from experiments.lars import proxy

    cfgs = config.grid("cpu_v2")
    assert len({run_id(c) for c in cfgs}) == len(cfgs)
    main = [c for c in cfgs if c.tag == "main"]
    assert {c.global_batch for c in main} == set(proxy.LADDER) and max(proxy.LADDER) >= 8192
    for b, ratio in zip(proxy.PROXY["nobn"].batches[1:], (0.5, 1, 2, 4)):
        assert b / proxy.B_SIMPLE == pytest.approx(ratio, rel=0.06) and b % 32 == 0
    assert all(c.epochs == pytest.approx(proxy.E_CPU) for c in main)
    assert all(c.epochs == pytest.approx(2 * proxy.E_CPU) for c in cfgs if c.tag == "longer")
    top = next(c for c in main if c.global_batch == proxy.B_4X)
    assert resolve(top, 1).total_steps >= proxy.STEPS_LARGEST
    for c in main:
        net = "bn" if c.model == config.NETS["bn"] else "nobn"
        r = resolve(c, 1)
        assert r.warmup_steps == round(proxy.WARMUP_EPOCHS[net] * r.steps_per_epoch)
        judged = c.global_batch in (128, proxy.B_CLAIM) or (
            net == "nobn" and c.global_batch == proxy.B_LONGER
        )
        assert c.seed in (config.SEEDS_V2 if judged else config.LADDER_SEEDS)
    for net in config.NETS:  # every B = 128 lr's linear rule is on the B_CLAIM grid (claim a)
        peaks = config.sgd_peaks_v2(net, proxy.B_CLAIM)
        for eta in config.sgd_peaks_v2(net, 128):
            assert any(math.isclose(eta * proxy.B_CLAIM / 128, p) for p in peaks)
        assert len(peaks) == 5 and len(config.lars_gammas_v2(net, proxy.B_CLAIM)) == 3
    t2 = [c for c in cfgs if c.tag == "table2"]
    assert {c.model for c in t2} == {m for names in config.INITS_V2.values() for m in names.values()}
    assert proxy.budget(cfgs)["minutes"] <= 45


def test_v2_claims_toml_batches_are_the_configs():
    from experiments.lars import proxy
    from largebatch.prereg import load_spec

    spec = load_spec("lars")
    for cid in ("v2_a_nobn", "v2_b_nobn", "v2_b_bn"):
        assert spec[cid]["batch"] == proxy.B_CLAIM and spec[cid]["seeds"] == config.SEEDS_V2
    assert spec["v2_d_nobn"]["batch"] == proxy.B_LONGER
    assert all(spec[k]["batch"] == 128 for k in ("v2_c_nobn", "v2_c_bn", "v2_e_nobn_caffe", "v2_e_bn"))


def test_v2_calibration_constant():
    """proxy.B_SIMPLE is the committed probe's value (3 significant digits) once the probe has run."""
    from experiments.lars import calibrate, proxy

    b = calibrate.measured()
    if b is None:
        assert proxy.B_SIMPLE_PROVISIONAL
        pytest.skip("no lars_calib.csv yet: B_SIMPLE is provisional")
    assert float(f"{b:.3g}") == proxy.B_SIMPLE and not proxy.B_SIMPLE_PROVISIONAL


def test_caffe_init_sets_gaussian_weights():
    torch.manual_seed(0)
    m = build_model("alexnet_mlp_caffe", (1, 28, 28), 10)
    assert m.fc2.weight.std().item() == pytest.approx(0.005, rel=0.05)
    assert m.fc1.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.all(m.fc2.bias == 0.1) and torch.all(m.fc1.bias == 0)
    bn = build_model("alexnet_mlp_bn_caffe", (1, 28, 28), 10, bn_group=32)
    assert bn.fc1.bias is None and bn.fc4.weight.std().item() == pytest.approx(0.01, rel=0.15)


def _fake_v2(tmp_path, claim_sgd=(0.85, 0.87, 0.88, 0.86, None), lars_claim=0.887, longer=0.88):
    """v2 CSVs, both nets alike: SGD at 128 (0.89, 0.90, 0.895: best 0.05, interior), LARS at 128 (best
    0.899); at B_CLAIM SGD on m = 1/4 .. 4 (claim_sgd; None = diverged; the linear point m = 1 is 0.88) and
    LARS (best lars_claim); at B_LONGER LARS 0.86 (1x) and `longer` (2x); table2 runs: Caffe init spreads
    100x (and 90x, 110x), default 3x."""
    from experiments.lars import proxy

    rows, ratios, k = [], [], 0

    def add(net, exp, opt, b, lr_base, lr, acc, epochs=10.0, init="default"):
        nonlocal k
        for s in range(3):
            k += 1
            rows.append(
                dict(
                    study="lars",
                    design="v2",
                    experiment=exp,
                    run_id=f"lars-{k:08d}-s{s}",
                    seed=s,
                    model=config.INITS_V2[init][net],
                    net=net,
                    init=init,
                    bn=net == "bn",
                    optimizer=opt,
                    global_batch=b,
                    lr=lr,
                    lr_base=lr_base,
                    trust_coef=0.001,
                    epochs=epochs,
                    status="diverged" if acc is None else "complete",
                    final_test_acc=acc,
                    steps=100,
                    wall_s=1.0,
                    **{"meta.device": "cpu", "meta.torch": "x"},
                )
            )

    for net in config.NETS:
        for lr, a in zip((0.025, 0.05, 0.1), (0.89, 0.90, 0.895)):
            add(net, "main", "sgd", 128, lr, lr, a)
        for g, a in zip((2.0, 4.0, 8.0), (0.895, 0.899, 0.89)):
            add(net, "main", "lars", 128, g, g, a)
        for m, a in zip((0.25, 0.5, 1.0, 2.0, 4.0), claim_sgd):
            add(net, "main", "sgd", proxy.B_CLAIM, 0.05 * m, 0.05 * m * proxy.B_CLAIM / 128, a)
        for g, a in zip((4.0, 8.0, 16.0), (lars_claim - 0.003, lars_claim, lars_claim - 0.005)):
            add(net, "main", "lars", proxy.B_CLAIM, g, g, a)
        add(net, "main", "lars", proxy.B_LONGER, 20.0, 20.0, 0.86)
        add(net, "longer", "lars", proxy.B_LONGER, 20.0, 20.0, longer, epochs=20.0)
        for init, (lo, hi) in (("caffe", (1.0, 100.0)), ("default", (10.0, 30.0))):
            add(net, "table2", "lars", 128, 1.0, 1.0, 0.1, init=init)
            for j, r in enumerate(rows[-3:]):
                f = (0.9, 1.0, 1.1)[j]
                ratios += [
                    dict(run_id=r["run_id"], step=1, layer="fc1.weight", w_norm=lo, g_norm=1.0, ratio=0.1),
                    dict(
                        run_id=r["run_id"], step=1, layer="fc2.weight", w_norm=hi * f, g_norm=1.0, ratio=0.1
                    ),
                ]
    pd.DataFrame(rows).to_csv(tmp_path / "lars.csv", index=False)
    pd.DataFrame({"run_id": [rows[0]["run_id"]], "step": [1], "test_acc": [0.5]}).to_csv(
        tmp_path / "lars_curves.csv", index=False
    )
    pd.DataFrame(ratios).to_csv(tmp_path / "lars_trust_ratios.csv", index=False)


def test_v2_claims_by_hand(tmp_path):
    """Seeds identical within each arm (paired intervals are points), so the verdicts are known."""
    _fake_v2(tmp_path)
    rows, got = _outcomes(tmp_path)
    assert set(got) == {k for k in claims.load_spec("lars") if k.startswith("v2_")}
    # (a) linear point 88.0 vs baseline 90.0: 2 pt < 3 -> not reproduced
    assert got["v2_a_nobn"] == V.NOT_REPRODUCED and "-2.00 pt" in rows["v2_a_nobn"]["ours"]
    # (b) LARS 88.7: gap 1.3 < 1.5, LARS − best SGD (88.0 at m = 1, interior) = 0.7 > 0.3 -> reproduced
    assert got["v2_b_nobn"] == got["v2_b_bn"] == V.REPRODUCED
    # (c) 89.9 vs 90.0 -> reproduced; (d) 2 of a 4 pt gap = 50 %: on the threshold -> inconclusive
    assert got["v2_c_nobn"] == V.REPRODUCED and got["v2_d_nobn"] == V.INCONCLUSIVE
    # (e) Caffe init: 90, 100, 110x > 10 -> reproduced; default init 2.7, 3, 3.3x -> not reproduced
    assert got["v2_e_nobn_caffe"] == V.REPRODUCED and got["v2_e_bn"] == V.NOT_REPRODUCED
    # the best SGD at B_CLAIM at the grid's edge (m = 4): (b) inconclusive, whatever the numbers
    _fake_v2(tmp_path, claim_sgd=(0.80, 0.81, 0.82, 0.83, 0.84))
    rows, got = _outcomes(tmp_path)
    assert got["v2_b_nobn"] == V.INCONCLUSIVE and "grid edge" in rows["v2_b_nobn"]["ours"]
    # LARS 87.0: gap 3 pt > 1.5 -> not reproduced; doubling recovers 3.5 of 4 pt -> reproduced
    _fake_v2(tmp_path, lars_claim=0.87, longer=0.895)
    got = _outcomes(tmp_path)[1]
    assert got["v2_b_nobn"] == V.NOT_REPRODUCED and got["v2_d_nobn"] == V.REPRODUCED


def test_v2_readme_blocks_and_v1_dispatch(tmp_path):
    _fake_v2(tmp_path)
    b = claims.readme_blocks(tmp_path)
    assert set(b) == {"results", "regime"} and "<<claims>>" in b["results"]
    assert "no-BN, caffe" in b["results"] and "cpu proxy v2" in b["regime"]
    from largebatch.results import DATA

    committed = pd.read_csv(DATA / "lars.csv")  # the rerun replaced the first design's CSV (issue 16)
    assert claims.is_v2(committed) and (committed.design == "v2").all()
    assert len(committed) == len(config.grid("cpu_v2"))
    assert all(r["id"].startswith("v2_") for r in claims.claims(DATA))
    assert not claims.is_v2(committed.drop(columns="design"))  # a first-design CSV (no column): first claims
