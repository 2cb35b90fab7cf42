"""Noise-scale study: the grid resolves, smoke runs go through the sweep, the analysis fits known answers.

Run: `pytest tests/test_noise_scale.py`.
"""

import numpy as np
import pandas as pd
import pytest

from experiments.noise_scale import analysis, config
from largebatch import study
from largebatch.config import resolve
from largebatch.sweep import run_sweep


def _rows(data_dir) -> dict:
    """The study's claim rows on the CSVs under `data_dir`, by id."""
    return {r.id: r for r in study.get("noise_scale").claims(data_dir)}


def test_grid_resolves():
    for cfg in config.grid("cpu") + config.grid("smoke"):
        resolve(cfg, 1)
    for cfg in config.grid("paper"):
        if cfg.global_batch % (8 * 32) == 0:
            resolve(cfg, 8)
    steps = {c.lr_base: c.max_steps for c in config.optimal_batch()}
    assert steps[0.03] == 6667 and steps[0.1] == 2000 and steps[0.3] == 667  # U = 2000 * 0.1 / eps


def test_smoke_sweep(tmp_path):
    assert run_sweep("noise_scale", "smoke", 1, extra=[f"--out_dir={tmp_path}", "--wandb=off"]) == 0
    assert len(list(tmp_path.glob("noise_scale/*/summary.json"))) == len(config.grid("smoke"))


def test_pareto_fit_recovers_known_curve():
    B = np.array([16, 64, 256, 1024, 4096])
    S = 50 * (1 + 300 / B)
    fit = analysis.fit_pareto(B, S)
    assert fit["B_crit"] == pytest.approx(300, rel=0.01) and fit["r2"] > 0.999
    assert fit["E_min"] / fit["S_min"] == pytest.approx(fit["B_crit"])


def test_b_opt_quadratic_refinement():
    b, edge = analysis.refine(np.array([8, 16, 32, 64]), np.array([0.7, 0.8, 0.8, 0.7]), 1)
    assert not edge and b == pytest.approx(2**4.5)  # vertex midway between 16 and 32 in log2 B
    assert analysis.refine(np.array([8, 16]), np.array([0.7, 0.8]), 1) == (16.0, True)  # at the grid's top
    assert analysis.slope([1, 2, 4], [10, 20, 40]) == pytest.approx(1.0)


def test_second_design_appended_predicted_inside_and_within_budget():
    """Issue 17: the v2 runs come after the first design's (whose run ids all stay), the predicted optimum of
    the new setting lies strictly inside its grid, and the extra runs fit 20 minutes by the committed wall
    times."""
    from largebatch.config import run_id
    from largebatch.results import DATA

    runs = pd.read_csv(DATA / "noise_scale.csv")
    first = config.optimal_batch() + config.critical_batch() + config.bsimple()
    cfgs = config.grid("cpu")
    v2 = config.optimal_batch_v2()
    assert cfgs[: len(first)] == first and cfgs[len(first) : len(first) + len(v2)] == v2
    assert set(runs.run_id) <= {run_id(c) for c in cfgs}  # first design's runs, then the v2 runs (committed)
    n, eps = config.V2_PAIR
    bs = sorted({c.global_batch for c in v2 if (c.train_examples, c.lr_base) == (n, eps)})
    lo, hi = config.V2_PREDICTED
    assert bs[0] < lo and hi < bs[-1] == n and bs[-2] > hi and config.V2_B_PRED in bs
    assert lo <= config.V2_B_PRED <= hi
    assert analysis.estimate_wall_s(config.optimal_batch_v2(), runs) / 60 < 20 / 1.18 * 0.9


def _fake_row(c, acc: float, ok: bool) -> dict:
    """A made-up CSV row of the optimal-batch run `c` (diverged when not ok)."""
    from largebatch.config import run_id

    return {
        "study": "noise_scale",
        "experiment": c.tag,
        "run_id": run_id(c),
        "seed": c.seed,
        "N_train": c.train_examples,
        "global_batch": c.global_batch,
        "lr": c.lr_base,
        "momentum": 0.9,
        "steps": c.max_steps,
        "status": "complete" if ok else "diverged",
        "final_train_acc": 1.0 if ok else np.nan,
        "final_test_acc": acc if ok else np.nan,
        "wall_s": 1.0,
    }


def _committed_without(tmp_path, tag: str) -> pd.DataFrame:
    """Copy the committed CSVs into tmp_path; the runs without those of `tag` (made-up ones replace them)."""
    import shutil

    from largebatch.results import DATA

    for name in ("noise_scale.csv", "noise_scale_curves.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    runs = pd.read_csv(tmp_path / "noise_scale.csv")
    return runs[runs.experiment != tag]


def _fake_v2(tmp_path, gap_pt: float):
    """The committed CSVs plus made-up v2 rows: accuracy peaking at log2 B = 10.5 (N = 4000, eps = 0.3)."""
    runs = _committed_without(tmp_path, "optimal_batch_v2")
    rng = np.random.default_rng(0)
    rows = []
    for c in config.optimal_batch_v2():
        x = np.log2(c.global_batch)
        peak = 10.5 if c.lr_base == 0.3 else np.log2(c.train_examples) - 3.7
        ok = c.global_batch >= 64
        acc = 0.84 - gap_pt / 100 * ((x - peak) / 1.5) ** 2 + rng.normal(0, 0.0005)
        rows.append(_fake_row(c, acc, ok))
    pd.concat([runs, pd.DataFrame(rows)]).to_csv(tmp_path / "noise_scale.csv", index=False)
    return tmp_path


@pytest.mark.parametrize("gap_pt, outcome", [(1.0, "reproduced"), (-1.0, "not reproduced")])
def test_second_design_claims(tmp_path, gap_pt, outcome):
    rows = _rows(_fake_v2(tmp_path, gap_pt))
    assert rows["a2_interior"].result.outcome == outcome
    if gap_pt > 0:  # the (4000, 0.3) peak at 2^10.5 is found between its sqrt(2) neighbours
        assert "argmax of the means B=1448" in rows["a2_interior"].text
    for cid in ("b2_slope_eps", "c2_slope_n"):  # the made-up cells join the committed ones: any finite slope
        assert np.isfinite(rows[cid].result.estimate) and rows[cid].result.level == 0.9
    # the first design's rows are judged on its own runs only
    assert rows["a_interior"].runs.experiment.eq("optimal_batch").all()


def test_third_design_fresh_seeds_windows_and_budget():
    """Issue 17: the v3 runs are appended after v2, use seeds no earlier design used (so no judged run
    predates its claim), every window reaches 1.5 doublings either side of each optimum measured so far (or
    N), and the 290 runs fit 20 minutes by the committed wall times."""
    from largebatch.results import DATA

    runs = pd.read_csv(DATA / "noise_scale.csv")
    cfgs, v3 = config.grid("cpu"), config.optimal_batch_v3()
    at = len(cfgs) - len(config.design_v4()) - len(v3)  # the fourth design is appended after it
    assert cfgs[at : at + len(v3)] == v3 and len(v3) == 290
    earlier = {c.seed for c in cfgs[:at] if c.tag.startswith("optimal_batch")}
    assert not earlier & set(config.V3_SEEDS) and {c.tag for c in v3} == {"optimal_batch_v3"}
    measured = {(1000, 0.1): 168, (2000, 0.1): 249, (4000, 0.1): 346, (4000, 0.3): 1471}  # README, v2 row
    for (n, eps), b_opt in measured.items():
        w = config.V3_WINDOWS[(n, eps)]
        assert w[0] <= b_opt / 2**1.5 * 1.1 and (w[-1] >= b_opt * 2**1.5 * 0.97 or w[-1] == n), (n, eps)
    assert analysis.estimate_wall_s(v3, runs) / 60 < 20.5 + 0.05


def _fake_v3(tmp_path):
    """The committed CSVs plus made-up v3 rows whose optimum is exactly proportional to eps N."""
    runs = _committed_without(tmp_path, "optimal_batch_v3")
    rng = np.random.default_rng(1)
    rows = []
    for c in config.optimal_batch_v3():
        peak = np.log2(1.28 * c.lr_base * c.train_examples)  # 128 at (1000, 0.1) ... 1536 at (4000, 0.3)
        acc = 0.84 - 0.01 * (np.log2(c.global_batch) - peak) ** 2 + rng.normal(0, 0.0002)
        rows.append(_fake_row(c, acc, True))
    pd.concat([runs, pd.DataFrame(rows)]).to_csv(tmp_path / "noise_scale.csv", index=False)
    return tmp_path


def test_third_design_claims_judge_only_their_runs(tmp_path):
    rows = _rows(_fake_v3(tmp_path))
    for cid in ("b3_slope_eps", "c3_slope_n"):
        r = rows[cid]
        assert r.runs.experiment.eq("optimal_batch_v3").all()
        assert set(r.runs.seed) == set(config.V3_SEEDS)
        assert r.result.estimate == pytest.approx(1.0, abs=0.05) and r.result.outcome == "reproduced"
    assert rows["b2_slope_eps"].runs.experiment.isin(["optimal_batch", "optimal_batch_v2"]).all()


def test_collect_merge_keeps_committed_rows(tmp_path):
    """`collect --merge` (runs made in a worktree that holds only the new ones): the committed rows come back
    byte for byte, the new column (meta.git_sha) empty for them."""
    import shutil

    from experiments.noise_scale import collect
    from largebatch.results import DATA, merge_committed, write_csvs

    for name, cols, sort in (
        ("noise_scale", collect.COLUMNS, ["experiment", "N_train", "lr", "global_batch", "seed"]),
        ("noise_scale_curves", collect.CURVE_COLUMNS, ["run_id", "step"]),
    ):
        shutil.copy(DATA / f"{name}.csv", tmp_path / f"{name}.csv")
        merged = merge_committed(pd.DataFrame(columns=cols), tmp_path / f"{name}.csv")
        write_csvs([(merged, tmp_path / f"{name}.csv", sort)])
        old = (DATA / f"{name}.csv").read_text().splitlines()
        new = (tmp_path / f"{name}.csv").read_text().splitlines()
        if "meta.git_sha" in cols and "meta.git_sha" not in old[0]:  # before any run recorded its sha
            new = [line.removesuffix(",") for line in new[1:]]
            old = old[1:]
        assert new == old


def test_replication_and_censored_slope_on_the_committed_csvs():
    """Issue 31: a2_interior (reproduced on seeds 0-9) is judged again on the third design's runs of its cells
    (seeds 10-19): B = 1448 − N is +0.06 [-0.26, 0.39] there, so it does not replicate; b_slope_eps rests
    on B_opt = N = 1000 at its grid's top at ε = 0.3, so it is flagged censored and cannot be reproduced."""
    from largebatch.results import DATA

    rows = _rows(DATA)
    a2 = rows["a2_interior"]
    assert a2.result.outcome == "reproduced" and a2.replication.seeds == list(range(10, 20))
    assert set(a2.replication.runs.experiment) == {"optimal_batch_v3"}
    assert set(a2.replication.runs.seed) == set(range(10, 20))
    rep = a2.replication.result
    assert rep.outcome == "inconclusive" and rep.parts[1].interval() == "0.06 [-0.26, 0.39]"
    b = rows["b_slope_eps"]
    assert b.result.outcome == "inconclusive" and "censored" in b.result.method
    assert b.flags and "B_opt = 1000 at its grid's top" in b.flags[0]
    assert not rows["c_slope_n"].flags


# ---- fourth design (issue 31): the trade-off row (d) and (e) on fresh seeds 20-29 ------------------------


def test_fourth_design_appended_unchanged_on_fresh_seeds():
    """The fourth design is the first design's critical_batch and bsimple runs, field for field, on seeds
    20-29 (used by no earlier design), appended so that every earlier index and run id stays."""
    from dataclasses import replace

    cfgs, v4 = config.grid("cpu"), config.design_v4()
    assert len(v4) == 410 and cfgs[-410:] == v4 and len(cfgs) == 763 + 410
    first = {(c.tag, c.global_batch, c.lr_base): c for c in config.critical_batch() + config.bsimple()}
    for c in v4:
        old = first[(c.tag.removesuffix("_v4"), c.global_batch, c.lr_base)]
        assert replace(c, tag=old.tag, seed=old.seed) == old
    assert {c.seed for c in v4} == set(config.V4_SEEDS) == set(range(20, 30))
    earlier = {c.seed for c in cfgs[:-410]}
    assert not earlier & set(config.V4_SEEDS)


def _relabelled_v4(tmp_path):
    """The committed CSVs plus the first design's critical_batch and bsimple runs copied as fourth-design
    runs (seed + 20), curves included."""
    from largebatch.results import DATA

    runs = pd.read_csv(DATA / "noise_scale.csv")
    cur = pd.read_csv(DATA / "noise_scale_curves.csv")
    runs = runs[~runs.experiment.str.endswith("_v4")]  # the committed fourth-design runs, once they exist
    first = runs[runs.experiment.isin(["critical_batch", "bsimple"])]
    v4 = first.assign(experiment=first.experiment + "_v4", seed=first.seed + 20, run_id=first.run_id + "-v4")
    v4cur = cur[cur.run_id.isin(first.run_id)].assign(run_id=lambda c: c.run_id + "-v4")
    pd.concat([runs, v4]).to_csv(tmp_path / "noise_scale.csv", index=False)
    curves = pd.concat([cur[cur.run_id.isin(runs.run_id)], v4cur])
    curves.to_csv(tmp_path / "noise_scale_curves.csv", index=False)
    return tmp_path


def test_fourth_design_claims_compute_the_first_designs_statistics(tmp_path):
    """On copies of the first design's runs, d4_pareto and e4_growth give d_pareto's and e_growth's text and
    estimates, reading only the fourth design's runs; the earlier rows are unchanged by them."""
    from largebatch.results import DATA

    rows, before = _rows(_relabelled_v4(tmp_path)), _rows(DATA)
    for new, old in (("d4_pareto", "d_pareto"), ("e4_growth", "e_growth")):
        a, b = rows[new], rows[old]
        assert a.text == b.text and a.result.estimate == pytest.approx(b.result.estimate), new
        assert set(a.runs.seed) <= set(config.V4_SEEDS) and a.runs.run_id.str.endswith("-v4").all()
        assert rows[old].text == before[old].text
    assert rows["e4_growth"].result.n == 3
