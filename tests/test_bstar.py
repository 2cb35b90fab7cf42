"""The failure batch B* (largebatch.bstar): hand-computed cases and a known answer.

Checked: steps needed from budgets (interpolation in log epochs, censoring both ways), the fit of
S = S_min (1 + B_crit / B) recovers S_min and B_crit from exact model data, B* = E N / S_min - B_crit, the
model-free gap crossing, Goyal et al.'s published ladder gives B* ~ 14.4k, no bootstrap on < 3 seeds.
Run: `pytest tests/test_bstar.py`.
"""

import math

import pandas as pd
import pytest

from largebatch import bstar


def _runs(errs: dict, seeds=(100, 101, 102)) -> pd.DataFrame:
    """Runs whose every seed has the error of `errs[(batch, epochs)]`."""
    rows = [
        {"global_batch": b, "epochs": e, "seed": s, "status": "complete", "final_test_err": v}
        for (b, e), v in errs.items()
        for s in seeds
    ]
    return pd.DataFrame(rows)


def test_steps_needed_interpolates_in_log_epochs_and_censors():
    c = pd.DataFrame(
        {
            "global_batch": [1000, 1000, 1000, 2000, 2000, 4000],
            "epochs": [8.0, 16.0, 32.0, 8.0, 16.0, 8.0],
            "mean": [12.0, 11.0, 10.0, 10.0, 9.0, 20.0],
        }
    )
    need = bstar.steps_needed(c, 10.5, 60000).set_index("global_batch")
    # B = 1000: 11.0 at 16 epochs, 10.0 at 32: halfway in error -> sqrt(16 * 32) epochs
    assert need.loc[1000, "epochs_needed"] == pytest.approx(math.sqrt(16 * 32))
    assert need.loc[1000, "steps_needed"] == pytest.approx(math.sqrt(16 * 32) * 60)
    assert need.loc[1000, "censored"] == ""
    assert need.loc[2000, "censored"] == "below" and need.loc[4000, "censored"] == "above"


def test_fit_recovers_s_min_and_b_crit_and_b_star():
    s_min, b_crit, n = 500.0, 2000.0, 60000
    need = pd.DataFrame(
        {
            "global_batch": [256, 1024, 4096, 8192],
            "steps_needed": [s_min * (1 + b_crit / b) for b in (256, 1024, 4096, 8192)],
            "censored": ["", "", "", ""],
        }
    )
    f = bstar.fit(need, 32.0, n)
    assert f.s_min == pytest.approx(s_min) and f.b_crit == pytest.approx(b_crit)
    assert f.b_star == pytest.approx(32 * n / s_min - b_crit)  # 3840 - 2000 = 1840
    need.loc[1:, "censored"] = "above"
    assert bstar.fit(need, 32.0, n) is None  # one uncensored batch is no fit


def test_gap_crossing_and_target():
    runs = _runs({(256, 32.0): 10.0, (1024, 32.0): 10.5, (4096, 32.0): 12.5, (8192, 32.0): 15.0})
    c = bstar.cells(runs)
    assert bstar.target(c, 256, 32.0) == pytest.approx(11.0)
    # gap 0.5 at 1024 and 2.5 at 4096: 1 pt a quarter of the way in log B -> 1024 * 4^(1/4)
    assert bstar.gap_crossing(c, 256, 32.0) == pytest.approx(1024 * 4**0.25)
    flat = bstar.cells(_runs({(256, 32.0): 10.0, (1024, 32.0): 10.2}))
    assert bstar.gap_crossing(flat, 256, 32.0) == math.inf


def test_diverged_runs_count_as_chance():
    runs = _runs({(256, 8.0): 10.0, (8192, 8.0): 11.0})
    runs.loc[runs.global_batch == 8192, "status"] = "diverged"
    c = bstar.cells(runs).set_index("global_batch")
    assert c.loc[8192, "mean"] == 90.0 and c.loc[8192, "diverged"] == 3


def test_paper_b_star_from_goyal_table_3a():
    goyal = {256: 23.60, 512: 23.48, 1024: 23.53, 2048: 23.49, 4096: 23.56, 8192: 23.74, 16384: 24.79}
    b = bstar.paper_b_star({**goyal, 32768: 27.55})
    assert b == pytest.approx(8192 * 2 ** ((1 - 0.14) / (1.19 - 0.14)), rel=1e-3)  # ~14.4k
    assert 14000 < b < 15000


def test_no_bootstrap_on_fewer_than_three_seeds():
    errs = {(b, e): 10 + b / 4096 * 16 / e for b in (256, 1024, 4096) for e in (8.0, 16.0, 32.0)}
    assert bstar.bootstrap(_runs(errs, seeds=(100, 101)), 256, 32.0, 60000) == {}
    ci = bstar.bootstrap(_runs(errs), 256, 32.0, 60000, n_boot=20)
    assert set(ci) >= {"s_min", "b_crit", "b_star", "b_star_gap", "no_fit"}


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # the reference percentiles of an all-nan draw
def test_bootstrap_fast_path_equals_the_concatenated_resamples():
    """bootstrap() sums per-seed cell totals instead of concatenating each resample's runs; on random runs
    (one diverged, one NaN error) its intervals equal those of analyse() on the concatenated resamples."""
    import numpy as np
    import pandas as pd

    from largebatch import bstar

    rng = np.random.default_rng(3)
    rows = [
        {
            "seed": s,
            "global_batch": b,
            "epochs": e,
            "status": "complete",
            "final_test_err": 10 + b / 500 - e / 4 + rng.normal(0, 0.3),
        }
        for s in range(4)
        for b in (256, 1024, 2048, 4096)
        for e in (4.0, 8.0, 16.0)
    ]
    rows[5]["status"] = "diverged"
    rows[7]["final_test_err"] = float("nan")
    runs = pd.DataFrame(rows)
    got = bstar.bootstrap(runs, 256, 8.0, 60000, n_boot=50, seed=1)
    rng2 = np.random.default_rng(1)
    seeds = sorted(runs.seed.unique())
    draws = {k: [] for k in ("s_min", "b_crit", "b_star", "b_star_gap")}
    for _ in range(50):
        pick = rng2.choice(seeds, size=len(seeds), replace=True)
        r = pd.concat([runs[runs.seed == s].assign(seed=j) for j, s in enumerate(pick)])
        a = bstar.analyse(r, 256, 8.0, 60000)
        draws["b_star_gap"].append(a["b_star_gap"])
        if a["fit"] is not None:
            for k in ("s_min", "b_crit", "b_star"):
                draws[k].append(getattr(a["fit"], k))
    for k, v in draws.items():
        want = np.nanpercentile(v, [2.5, 97.5], method="inverted_cdf")
        assert np.allclose(got[k], want, rtol=1e-9, equal_nan=True), k
