"""The staleness study's sixth design (issue 31): (vii) as a trend on fresh seeds 40-45.

The sixth design is the first design's MLP sweep, unchanged, on seeds no earlier design used; its claim is the
slope of mean coherence on log2(1 + s) per seed, a diverged run left out of its seed's fit.
Run: `WANDB_MODE=disabled .venv/bin/python -m pytest -q tests/test_async_staleness_v6.py`.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from experiments.async_staleness import claims, config
from largebatch import claims as CL
from largebatch import verdict as V
from largebatch.prereg import load_spec
from largebatch.results import DATA


def test_sixth_design_appended_unchanged_on_fresh_seeds():
    cfgs, v6 = config.grid("cpu"), config.sweep_v6()
    assert len(v6) == 108 and cfgs[-108:] == v6 and len(cfgs) == 429 + 108
    mlp = [c for c in config.sweep() if c.seed == 0 and config.net_name(c) == "mlp"]
    first = {(config.opt_name(c), c.staleness_max): c for c in mlp}
    for c in v6:
        old = first[(config.opt_name(c), c.staleness_max)]
        assert config.net_name(c) == "mlp" and replace(c, tag="sweep", seed=0) == old
        assert c.log_coherence_every_steps == 25
    assert {c.seed for c in v6} == set(config.V6_SEEDS) == set(range(40, 46))
    assert not {c.seed for c in cfgs[:-108] if c.seed < 100} & set(config.V6_SEEDS)


def _relabelled():
    """The committed runs (no sixth-design runs) plus the first design's MLP sweep copied as sweep_v6 runs on
    seeds 40-42."""
    df = pd.read_csv(DATA / "async_staleness.csv")
    df = df[df.experiment != "sweep_v6"]
    cur = pd.read_csv(DATA / "async_staleness_curves.csv")
    sw = df[(df.experiment == "sweep") & (df.model == "mlp")]
    v6 = sw.assign(experiment="sweep_v6", seed=sw.seed + 40, run_id=sw.run_id + "-v6")
    return pd.concat([df, v6], ignore_index=True), cur


def test_sixth_design_slopes_on_copies_of_the_first_designs_runs():
    """On copies of seeds 0-2 the slopes are the ones the spec quotes (SGD -0.097, momentum -0.058, Adam
    -0.052), momentum's diverged s = 32 run left out and named; earlier rows are unchanged (the copies are
    3 seeds, not the design's 6: this checks the statistic, not the power)."""
    df, cur = _relabelled()
    spec = load_spec("async_staleness")
    rows = CL.evaluate("async_staleness", claims.Data(df, cur), spec, ids={"v6_vii_trend", "vii_coherence"})
    r = rows["v6_vii_trend"]
    est = {p.label: p.estimate for p in r.result.parts}
    assert est == pytest.approx({"sgd": -0.0971, "momentum": -0.0575, "adam": -0.0520}, abs=5e-4)
    assert "(1 diverged run(s) left out)" in r.text and set(r.runs.experiment) == {"sweep_v6"}
    # at n = 3 momentum's spread (sd 0.025) leaves its interval across 0; SGD's and Adam's lie below it
    outcome = {p.label: p.outcome for p in r.result.parts}
    assert outcome == {"sgd": V.REPRODUCED, "momentum": V.INCONCLUSIVE, "adam": V.REPRODUCED}
    base = CL.evaluate("async_staleness", claims.Data(df[df.experiment != "sweep_v6"], cur), spec)
    assert rows["vii_coherence"].text == base["vii_coherence"].text


def test_coherence_slopes_leave_out_diverged_runs():
    """Made-up runs: coherence 1 − 0.1·log2(1 + s) exactly; a diverged run with a wild value does not move
    the slope, and a seed with fewer than 3 complete runs gives none."""
    rows = []
    for seed in (40, 41):
        for s in config.STALENESS:
            diverged = seed == 41 and s > 2
            rows.append(
                {
                    "seed": seed,
                    "s": s,
                    "status": "diverged" if diverged else "complete",
                    "coherence_mean": 0.1 if diverged else 1 - 0.1 * np.log2(1 + s),
                }
            )
    rows.append({"seed": 40, "s": 32, "status": "diverged", "coherence_mean": 0.99})
    out = claims.coherence_slopes(pd.DataFrame(rows))
    assert list(out.index) == [40] and out[40] == pytest.approx(-0.1)
