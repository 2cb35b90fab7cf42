"""Tests of the LARS study (experiments/lars): grids, models, the step-1 table, collect and claims.

(The optimizer itself is tested in tests/test_lars.py; this file is the study's, named test_lars_study.py
because that name is taken.) Checked: every grid resolves for 1 and 8 processes where divisible; the smoke
grid runs end to end through the sweep (5 runs incl. ResNet-50 and AlexNet-BN on 64x64 synthetic ImageNet);
the AlexNet-like nets' shapes, names, parameter counts and ghost BN groups (by hand); the SGD and LARS lr
mappings (peak and warmup start) against hand values; the LARS switches the study sets; the trainer's
step-1 ||w||, ||g|| of a table2 run equal those of a fresh model's first-batch gradient computed here;
collect's long ratio table on a hand-built record; the third design's grid against its spec and proxy.py;
each registered v3 claim and the README blocks on hand-made data whose verdicts are known by hand; the
committed CSV's v3 rows (skipped while lars.csv holds none).

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


def test_scored_counts_diverged_as_chance():
    r = pd.DataFrame({"status": ["complete", "diverged"], "final_test_acc": [0.8, None]})
    assert analysis.scored(r).acc.tolist() == [0.8, analysis.CHANCE]


def test_calibration_constant():
    """calibrate.B_SIMPLE (the second design's reference batch) is the committed probe's value (3 digits)."""
    from experiments.lars import calibrate

    b = calibrate.measured()
    if b is None:
        pytest.skip("no lars_calib.csv")
    assert float(f"{b:.3g}") == calibrate.B_SIMPLE


def test_caffe_init_sets_gaussian_weights():
    torch.manual_seed(0)
    m = build_model("alexnet_mlp_caffe", (1, 28, 28), 10)
    assert m.fc2.weight.std().item() == pytest.approx(0.005, rel=0.05)
    assert m.fc1.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.all(m.fc2.bias == 0.1) and torch.all(m.fc1.bias == 0)
    bn = build_model("alexnet_mlp_bn_caffe", (1, 28, 28), 10, bn_group=32)
    assert bn.fc1.bias is None and bn.fc4.weight.std().item() == pytest.approx(0.01, rel=0.15)


# ---- third design (v3, issue 28) ---------------------------------------------------------------------------
def test_v3_grid_matches_its_spec():
    """230 runs on seeds 20-24, every net with the Caffe init; the spec's batches are the ladder's rungs
    (proxy.ladder_v3: the images of 512, 4K, 8K, 16K against each net's B*); B_STAR_V3 is the failure_batch
    probe's B* to 3 significant digits; every arm sees E N examples."""
    from experiments.lars import proxy
    from largebatch.prereg import load_spec
    from largebatch.study import get

    everything = config.grid("cpu")
    cfgs = everything[:230]  # the exploratory edge points and the fourth design come after (below)
    assert [c for c in everything[:260] if c.tag != "edges"] == cfgs
    assert len({run_id(c) for c in everything[:260]}) == 260
    assert len(cfgs) == 230 and len({run_id(c) for c in cfgs}) == 230
    assert {c.seed for c in cfgs} == set(config.SEEDS) == set(range(20, 25))
    assert {c.model for c in cfgs} == set(config.NETS_V3.values())
    spec = load_spec("lars")
    for net in config.NETS_V3:
        lad = proxy.ladder_v3(net)
        assert lad[0] == claims.BASELINE[net]
        assert spec[f"v3_a_{net}"]["batch"] == list(lad[:2])
        assert spec[f"v3_b_{net}"]["batch"] == spec[f"v3_near_{net}"]["batch"] == list(lad[1:3])
        assert spec[f"v3_c_{net}"]["batch"] == lad[0]
        main = {c.global_batch for c in cfgs if c.tag == "main" and c.model == config.NETS_V3[net]}
        assert main == set(lad)
        fb = get("failure_batch").module("claims")
        assert float(f"{fb.b_star(f'lars_{net}', fb.LARS_E):.3g}") == proxy.B_STAR_V3[net]
    assert spec["v3_d_pre"]["batch"] == spec["v3_d_nobn"]["batch"] == config.LONGER_BATCH
    assert config.LONGER_BATCH == proxy.ladder_v3("nobn")[3]
    assert all(s["seeds"] == config.SEEDS for k, s in spec.items() if k.startswith("v3"))
    for c in cfgs:
        if c.tag != "table2":
            e = proxy.E_V3 * (2 if c.tag == "longer" else 1)
            assert c.epochs == pytest.approx(e) and c.equal_examples
    assert {c.global_batch for c in cfgs if c.tag == "longer"} == {config.LONGER_BATCH}
    ex = everything[230:260]  # one point beyond each edge, on the same seeds
    assert len(ex) == 30 and {c.tag for c in ex} == {"edges"} and {c.seed for c in ex} == set(config.SEEDS)


def test_v4_grid_matches_its_spec():
    """The fourth design: 48 runs a seed on fresh seeds 30-34 (none of v3's), the v3 ladders, epochs and
    init; every grid reaches beyond each side of the v3 grid's best setting (lars.csv, v3 and edge points),
    so the v4 grids contain the v3 grids' best points as interior points; every v4 spec names those seeds."""
    from experiments.lars import proxy
    from largebatch.prereg import load_spec

    everything = config.grid("cpu")
    v4 = everything[260:]
    assert len(v4) == 240 and len({run_id(c) for c in everything}) == 500
    assert {c.seed for c in v4} == set(config.SEEDS_V4) == set(range(30, 35))
    assert not set(config.SEEDS_V4) & set(config.SEEDS)
    for c in v4:
        net = {m: n for n, m in config.NETS_V3.items()}[c.model]
        assert c.global_batch in proxy.ladder_v3(net) and c.equal_examples
        e = proxy.E_V3 * (2 if c.tag == "longer" else 1)
        assert c.epochs == pytest.approx(e) and c.tag in ("main", "longer")
    spec = load_spec("lars")
    ids = [k for k in spec if k.startswith("v4")]
    assert len(ids) == 9 and all(spec[k]["seeds"] == config.SEEDS_V4 for k in ids)
    for k in ids:  # a directional row carries a sesoi no larger than its threshold
        if spec[k]["test"] != "equivalence":
            assert 0 < spec[k]["sesoi"] <= spec[k]["threshold"]
    grids = {**{(n, b): g for n, d in config.SGD_PEAKS_V4.items() for b, g in d.items()}}
    v3_best = {
        ("nobn", 384): 0.1,
        ("nobn", 3200): 0.4,
        ("nobn", 6336): 0.8,
        ("bn", 4032): 0.05,
        ("bn", 8064): 0.1,
    }
    for key, best in v3_best.items():
        assert min(grids[key]) < best < max(grids[key])
    assert min(config.GAMMAS_LONGER_V4) < 80 < max(config.GAMMAS_LONGER_V4)
    assert min(config.GAMMAS_V4["bn"][4032]) < 20 < max(config.GAMMAS_V4["bn"][4032])


def _v3_runs(sgd4k=(0.84, 0.86, 0.85), lars8k=(0.885, 0.893, 0.88), drop=()):
    """v3 runs, both nets alike, seeds 20-24 identical within each setting (every paired interval is a
    point): SGD at the baseline batch 88 / 90 / 89 % (best interior), LARS there 89.5 / 89.9 / 89; at the
    image of 4K SGD `sgd4k`, LARS 88 / 89.5 / 87; at the image of 8K SGD 80 / 82 / 81, LARS `lars8k`; no BN at
    the image of 16K LARS 80 / 85 / 84 (1x) and 86 / 88 / 87 (2x); table2 spreads of 100x (no BN) and 5x (BN)
    with seed factors 0.9-1.1. `drop`: (net, B) whose rows are left out."""
    from experiments.lars import proxy

    rows, ratios, k = [], [], 0

    def add(net, exp, opt, b, grid, accs, epochs=proxy.E_V3):
        nonlocal k
        if (net, b) in drop:
            return
        for lr, a in zip(grid, accs):
            for s in config.SEEDS:
                k += 1
                rows.append(
                    {
                        "study": "lars",
                        "design": "v3",
                        "experiment": exp,
                        "run_id": f"lars-{k:08x}-s{s}",
                        "seed": s,
                        "model": config.NETS_V3[net],
                        "net": net,
                        "init": "caffe",
                        "optimizer": opt,
                        "global_batch": b,
                        "lr": lr,
                        "lr_base": lr / b if opt == "sgd" else lr,
                        "epochs": epochs,
                        "status": "complete",
                        "steps": 100,
                        "final_test_acc": a,
                        "wall_s": 2.0,
                        "train_s": 1.5,
                        "meta.device": "cpu",
                        "meta.torch": "x",
                        "meta.git_sha": "a" * 40,
                    }
                )

    for net in config.NETS_V3:
        b0, b4, b8 = proxy.ladder_v3(net)[:3]
        add(net, "main", "sgd", b0, (0.1, 0.2, 0.4), (0.88, 0.90, 0.89))
        add(net, "main", "lars", b0, (10.0, 20.0, 40.0), (0.895, 0.899, 0.89))
        add(net, "main", "sgd", b4, (0.2, 0.4, 0.8), sgd4k)
        add(net, "main", "lars", b4, (40.0, 80.0, 160.0), (0.88, 0.895, 0.87))
        add(net, "main", "sgd", b8, (0.2, 0.4, 0.8), (0.80, 0.82, 0.81))
        add(net, "main", "lars", b8, (40.0, 80.0, 160.0), lars8k)
        for s in config.SEEDS:
            k += 1
            rid = f"lars-t2{k:06x}-s{s}"
            rows.append({**rows[-1], "experiment": "table2", "run_id": rid, "seed": s, "global_batch": 128})
            f = {20: 0.9, 21: 0.95, 22: 1.0, 23: 1.05, 24: 1.1}[s]
            hi = {"nobn": 100.0, "bn": 5.0}[net] * f
            for layer, w in (("fc1.weight", 1.0), ("fc2.weight", hi), ("fc2.bias", 1000.0)):
                ratios.append(
                    {"run_id": rid, "step": 1, "layer": layer, "w_norm": w, "g_norm": 1.0, "ratio": 0.1}
                )
    b16 = config.LONGER_BATCH
    add("nobn", "main", "lars", b16, (80.0, 160.0, 320.0), (0.80, 0.85, 0.84))
    add("nobn", "longer", "lars", b16, (80.0, 160.0, 320.0), (0.86, 0.88, 0.87), epochs=2 * proxy.E_V3)
    return pd.DataFrame(rows), pd.DataFrame(ratios)


def _v3_data(**kw):
    runs, ratios = _v3_runs(**kw)
    return claims.Data(runs, analysis.settings(runs), ratios)


def test_v4_claims_read_the_fourth_design_only():
    """The v3 made-up runs relabelled as the fourth design (seeds 30-34, design "v4"): every v4 row of a v3
    row that is rerun gets the v3 row's verdict (same grids, same numbers; the sesoi only turns an
    inconclusive row into "not reproduced"), and the v3 rows see none of them."""
    runs, ratios = _v3_runs()
    v4 = runs.assign(design="v4", seed=runs.seed + 10, run_id=runs.run_id + "-v4")
    v3_rows = _v3_rows(claims.Data(runs, analysis.settings(runs), ratios))
    none = runs.iloc[:0]
    v4_data = claims.Data(
        none, analysis.settings(none), ratios, v4=claims.Data(v4, analysis.settings(v4), ratios)
    )
    rows = _v3_rows(v4_data)
    v4_ids = [k for k in rows if k.startswith("v4") and rows[k] is not None and rows[k].result is not None]
    assert len(v4_ids) == 9
    for k in v4_ids:
        assert rows[k].result.outcome == v3_rows["v3" + k[2:]].result.outcome, k
    assert not [k for k in rows if k.startswith("v3")]  # no v3 row reads the v4 runs


def _v3_rows(data):
    from largebatch.claims import evaluate
    from largebatch.prereg import load_spec

    return evaluate("lars", data, load_spec("lars"))


def test_v3_claims_by_hand():
    from largebatch.prereg import load_spec

    rows = _v3_rows(_v3_data())
    got = {k: r.result.outcome for k, r in rows.items() if r.result is not None}
    v3 = {k for k in load_spec("lars") if k.startswith("v3")}
    assert set(got) == v3 - {"v3_edges"}  # exploratory: no row without its edge runs; v4: no v4 runs
    # (a) 90 - 86 = 4 pt > 1 at the image of 4K, both nets (best SGD interior on both grids)
    assert got["v3_a_nobn"] == got["v3_a_bn"] == V.REPRODUCED and "+4.00 pt" in rows["v3_a_nobn"].text
    # (b) LARS − SGD: 89.5 − 86 = 3.5 at 4K, 89.3 − 82 = 7.3 at 8K: > 1 (no BN) and > 0.75 (BN)
    assert got["v3_b_nobn"] == got["v3_b_bn"] == V.REPRODUCED
    # (b') LARS −0.5 and −0.7 pt from the baseline: within 1; SGD −4 and −8: the control fails (separates)
    assert got["v3_near_nobn"] == V.REPRODUCED and rows["v3_near_nobn"].control_result.outcome != V.REPRODUCED
    # (c) 89.9 vs 90.0: |−0.1| < 0.3
    assert got["v3_c_nobn"] == got["v3_c_bn"] == V.REPRODUCED and "-0.10 pt" in rows["v3_c_bn"].text
    # (d) gap 90 − 85 = 5 pt > 1; doubling recovers 88 − 85 = 3 of 5 = 60 % > 50 %
    assert got["v3_d_pre"] == V.REPRODUCED and got["v3_d_nobn"] == V.REPRODUCED
    assert "60% of the gap recovered" in rows["v3_d_nobn"].text
    # (e) weight tensors 90-110x (no BN) > 10; 4.5-5.5x (BN) < 10; the bias (1000x) only in "all tensors"
    assert got["v3_e_nobn"] == V.REPRODUCED and got["v3_e_bn"] == V.NOT_REPRODUCED
    assert all(len(r.runs) and r.wall_per_seed for r in rows.values())


def test_v3_claims_fail_without_the_effect_and_at_a_grid_edge():
    # LARS at the image of 8K no better than SGD there (82 %): (b) not reproduced, (b') not reproduced
    got = {k: r.result.outcome for k, r in _v3_rows(_v3_data(lars8k=(0.80, 0.82, 0.81))).items()}
    assert got["v3_b_nobn"] == V.NOT_REPRODUCED and got["v3_near_nobn"] == V.NOT_REPRODUCED
    # SGD's best at the top of its grid at the image of 4K: (a) and (b) inconclusive whatever the numbers
    rows = _v3_rows(_v3_data(sgd4k=(0.80, 0.82, 0.86)))
    assert rows["v3_a_nobn"].result.outcome == V.INCONCLUSIVE
    assert "best at a grid edge: SGD at" in rows["v3_a_nobn"].result.method
    assert rows["v3_b_bn"].result.outcome == V.INCONCLUSIVE


def test_v3_missing_settings_leave_their_rows_out(tmp_path):
    """A claim whose settings have no runs has no row (never an error); with no v3 run at all, no claim has
    one and the README blocks say so."""
    from largebatch.claims import evaluate
    from largebatch.prereg import load_spec

    rows = _v3_rows(_v3_data(drop={("nobn", 6336)}))
    assert "v3_b_nobn" not in rows and "v3_near_nobn" not in rows and "v3_a_nobn" in rows
    empty = _v3_runs()[0].iloc[:0]
    assert (
        evaluate("lars", claims.Data(empty, analysis.settings(empty), _v3_runs()[1]), load_spec("lars")) == {}
    )
    _write_v3(tmp_path, design="v2")  # a CSV without v3 rows (the committed second design's)
    assert not len(claims.load(tmp_path).runs)
    b = claims.readme_blocks(tmp_path)
    assert claims.NO_RUNS in b["results"] and "→ 3,200" in b["regime"]


def _write_v3(path, design="v3", **kw):
    import shutil

    from largebatch.results import DATA

    runs, ratios = _v3_runs(**kw)
    runs.assign(design=design).to_csv(path / "lars.csv", index=False)
    pd.DataFrame({"run_id": [runs.run_id.iloc[0]], "step": [1], "test_acc": [0.5]}).to_csv(
        path / "lars_curves.csv", index=False
    )
    ratios.to_csv(path / "lars_trust_ratios.csv", index=False)
    shutil.copy(DATA / "failure_batch.csv", path / "failure_batch.csv")


def test_v3_readme_blocks(tmp_path):
    """The main table per net: B / B* against the probe's B*, the best SGD and LARS with their grid point,
    the grid and the edge mark; the 2x epochs row; the step-1 table; the regime block's ladder."""
    from experiments.lars import proxy

    _write_v3(tmp_path, sgd4k=(0.80, 0.82, 0.86))
    b = claims.readme_blocks(tmp_path)
    res = b["results"]
    assert res.startswith("<<claims>>") and "B* = 573" in res and "B* = 2,504" in res
    bstar = claims.b_star("nobn", tmp_path)
    t = claims.main_table(claims.load(tmp_path), "nobn", bstar).set_index("B")
    assert t.loc["3,200", "B / B*"] == f"{3200 / bstar:.2f}" == "5.58"
    assert t.loc["3,200", "SGD peak lr (grid)"] == "0.8 of {0.2, 0.4, 0.8} (edge)"
    assert t.loc["384", "LARS γ0 (grid)"] == "20 of {10, 20, 40}"
    assert t.loc["384", "best SGD acc % (mean ± std, n)"] == "90.00 ± 0.00 (n=5)"
    assert t.loc["6,336", "LARS − SGD (pt)"] == "+7.30"
    assert list(t.index) == ["384", "3,200", "6,336", "12,736", "12,736"]
    assert t.epochs.iloc[-1].endswith("(2×)") and t["best SGD acc % (mean ± std, n)"].iloc[-1] == ""
    assert "fc2.weight" in res and "of the cpu grid's 500 runs" in res
    assert f"{proxy.ladder_v3('bn')[2]:,}" in b["regime"] and "2,535" in b["regime"]


def test_v3_rows_of_the_committed_csv():
    """The committed lars.csv's v3 rows: every run in the cpu grid, every claim with a row once the grid is
    complete, the README blocks rendered. Skipped while the CSV holds the second design's runs only."""
    from largebatch.claims import evaluate
    from largebatch.prereg import load_spec
    from largebatch.results import DATA

    committed = pd.read_csv(DATA / "lars.csv")
    if "design" not in committed.columns or not (committed.design == "v3").any():
        pytest.skip("paper_figures/data/lars.csv has no v3 rows yet (design != 'v3'): collect the v3 sweep")
    d = claims.load(DATA)
    ids = {run_id(c) for c in config.grid("cpu")}
    assert set(d.runs.run_id) <= ids
    rows = evaluate("lars", d, load_spec("lars"))
    if set(d.runs.run_id) == ids:
        assert set(rows) == set(load_spec("lars"))
    assert "<<claims>>" in claims.readme_blocks(DATA)["results"]
