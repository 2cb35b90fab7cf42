"""Async-staleness study, fifth design (issue 31 item 6): (ii) and (iii) for Adam with a smallest effect of
interest, on fresh seeds.

Checked: the grid is append-only (every earlier entry keeps its index) and the new entries are the second
design's arms (config.V2_ARMS, without plain SGD's deep arms) on fresh seeds 30-39 only; the spec carries a
sesoi on both rows; the v5 claims compute the second design's statistic (the committed sweep_v2 runs
relabelled as sweep_v5 give the v2 rows' estimates), and the sesoi turns an effect of about 0 into "not
reproduced"; v5 runs leave every earlier row as it is.
Run: `WANDB_MODE=disabled .venv/bin/python -m pytest -q tests/test_async_staleness_v5.py`.
"""

from dataclasses import replace

import pandas as pd
import pytest

from experiments.async_staleness import claims, config
from largebatch import claims as CL
from largebatch import report
from largebatch.prereg import load_spec
from largebatch.results import DATA

V5_IDS = ("v5_ii_optimizer", "v5_iii_adam")
V2_IDS = ("v2_ii_optimizer", "v2_iii_adam")


def test_fifth_design_appended_with_fresh_seeds():
    cfgs = config.grid("cpu")
    v5 = config.sweep_v5()
    assert len(v5) == 80 and cfgs[349:429] == v5 and len(cfgs) == 429 + len(config.sweep_v6())
    v2 = {
        (config.net_name(c), config.opt_name(c), c.staleness_max): c for c in config.sweep_v2() if c.seed == 0
    }
    for c in v5:
        key = (config.net_name(c), config.opt_name(c), c.staleness_max)
        assert key in config.V5_ARMS and replace(c, tag="sweep_v2", seed=0) == v2[key]
    assert set(config.V5_ARMS) == {
        k for k in config.V2_ARMS if k != ("deep_mlp", "sgd", 0) and k[:2] != ("deep_mlp", "sgd")
    }
    df = pd.read_csv(DATA / "async_staleness.csv")
    earlier = {c.seed for c in cfgs[:349]} | set(df[df.experiment != "sweep_v5"].seed)
    assert not earlier & set(config.V5_SEEDS) and config.V5_SEEDS == list(range(30, 40))
    spec = load_spec("async_staleness")
    assert list(spec)[-3:-1] == list(V5_IDS)  # then the sixth design's one claim
    for cid in V5_IDS:
        s = spec[cid]
        assert (
            s["seeds"] == config.V5_SEEDS and s["sesoi"] == 1.0 and s["threshold"] == 0.0 and s["sesoi_why"]
        )


def _relabelled():
    """The committed runs without the fifth design's, plus the sweep_v2 runs of the v5 arms copied as if they
    were sweep_v5 runs on seeds 30-34."""
    df = pd.read_csv(DATA / "async_staleness.csv")
    df = df[
        df.experiment != "sweep_v5"
    ]  # the committed fifth-design runs are left out: only the copies count
    cur = pd.read_csv(DATA / "async_staleness_curves.csv")
    sw = df[df.experiment == "sweep_v2"]
    arms = {(m, o) for m, o, _ in config.V5_ARMS}
    sw = sw[[(m, o) in arms for m, o in zip(sw.model, sw.optimizer)]]
    v5 = sw.assign(experiment="sweep_v5", seed=sw.seed + 30, run_id=sw.run_id + "-v5")
    return pd.concat([df, v5], ignore_index=True), cur


def test_fifth_design_claims_compute_the_second_designs_statistic():
    df, cur = _relabelled()
    spec = load_spec("async_staleness")
    data = claims.Data(df, cur)
    rows = CL.evaluate("async_staleness", data, spec, ids=set(V5_IDS) | set(V2_IDS))
    for v5, v2 in zip(V5_IDS, V2_IDS):
        a, b = rows[v5].result, rows[v2].result
        ea = [p.estimate for p in a.parts] if a.parts else [a.estimate]
        eb = [p.estimate for p in b.parts] if b.parts else [b.estimate]
        assert ea == pytest.approx(eb), v5
        assert set(rows[v5].runs.experiment) == {"sweep_v5"} and set(rows[v5].runs.seed) <= set(
            config.V5_SEEDS
        )
    # v5 runs leave the earlier rows as they are (they read other experiments and seeds)
    base = df[df.experiment != "sweep_v5"]
    before = CL.evaluate("async_staleness", claims.Data(base, cur), spec)
    after = CL.evaluate("async_staleness", data, spec)
    for cid, r in before.items():
        assert after[cid].text == r.text, cid


def test_sesoi_decides_a_null_effect():
    """Made-up slowdowns with no extra sensitivity: every optimizer's s = 16 arm 5x its s = 0 arm (± 2 %),
    both nets: the Adam part's interval lies wholly below the sesoi of 1: not reproduced."""
    rows = []
    for net, opt, s in config.V5_ARMS:
        for seed in config.V5_SEEDS:
            base = 300.0 * (1 + 0.02 * ((seed * 7 + len(opt)) % 5 - 2))
            rows.append(
                {
                    "study": "async_staleness",
                    "experiment": "sweep_v5",
                    "mechanism": "simulated",
                    "run_id": f"r-{net}-{opt}-{s}-{seed}",
                    "seed": seed,
                    "model": net,
                    "optimizer": opt,
                    "staleness_dist": f"uniform{{0..{s}}}" if s else "none",
                    "lr_rule": "constant",
                    "status": "complete",
                    "steps_to_target": base * (5.0 if s else 1.0),
                    "final_test_acc": 0.85,
                    "wall_s": 1.0,
                }
            )
    df = pd.DataFrame(rows)
    got = {
        r.id: report.judge("async_staleness", r)
        for r in CL.evaluate(
            "async_staleness", claims.Data(df, df.iloc[:0]), load_spec("async_staleness"), ids=set(V5_IDS)
        ).values()
    }
    assert got["v5_iii_adam"]["outcome"] == "not reproduced", got["v5_iii_adam"]["result"]
    assert got["v5_ii_optimizer"]["outcome"] == "not reproduced", got["v5_ii_optimizer"]["result"]
