"""The third designs of the Goyal and 32k-recipe studies (issue 28) on made-up runs with known truth.

Checked: the shared proxy's ladder stands against B* as Goyal's against his (0.28/0.57/1.13/2.27), and its
B* constant is the committed probe's; the Goyal v3 claims and the recipe v3 claims are computed from made-up
CSVs in the committed format, one row per v3 spec; a recipe method row whose precondition (A fails) does not
hold reads "not testable here"; "D near the baseline" carries the control's result.
Run: `pytest tests/test_failure_first.py` (no training; seconds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.failure_batch import claims as FB
from experiments.goyal_linear_scaling import claims as G3
from experiments.goyal_linear_scaling import config as GC
from experiments.recipe_32k import claims as R3
from experiments.recipe_32k import config as RC
from largebatch import bstar, claims, prereg, proxies
from largebatch import verdict as V
from largebatch.results import DATA

SEEDS = list(range(20, 30))


def test_ladder_stands_against_bstar_as_goyals():
    paper = [b / proxies.B_STAR_PAPER for b in (4096, 8192, 16384, 32768)]
    ours = [b / proxies.B_STAR_V3 for b in proxies.BATCHES_V3[1:]]
    assert np.allclose(ours, paper, rtol=0.06)
    assert proxies.B_STAR_PAPER == round(bstar.paper_b_star(FB.PAPER_GOYAL))
    committed = FB.b_star("goyal", proxies.E_V3, DATA)
    assert float(f"{committed:.3g}") == proxies.B_STAR_V3
    assert RC.B_V3 == proxies.BATCHES_V3[-1] and all(b % 64 == 0 for b in proxies.BATCHES_V3)


def _goyal_runs(gap: dict[int, float], rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, curves = [], []
    for cfg in GC.grid("cpu"):
        base = 11.0 + gap.get(cfg.global_batch, 0.0) * (cfg.tag == "batch")
        if cfg.tag == "warmup":
            base += 0.8 if cfg.warmup == "none" else 1.5
        err = base + rng.normal(0, 0.1)
        rid = f"r{len(rows)}"
        rows.append(
            dict(
                design="v3",
                experiment=cfg.tag,
                run_id=rid,
                seed=cfg.seed,
                global_batch=cfg.global_batch,
                warmup=cfg.warmup,
                lr_rule=cfg.lr_scaling,
                zero_gamma=cfg.zero_gamma,
                epochs=cfg.epochs,
                status="complete",
                final_test_err=err,
                wall_s=10.0,
                **{"meta.git_sha": "abc"},
            )
        )
        for e in np.linspace(0, cfg.epochs, 13):
            curves.append(
                dict(run_id=rid, epoch=e, step=0, train_err=base - 5 + 0.1 * (cfg.epochs - e), test_err=err)
            )
    return pd.DataFrame(rows), pd.DataFrame(curves)


def test_goyal_v3_rows_on_made_up_runs():
    spec = prereg.load_spec("goyal_linear_scaling")
    runs, curves = _goyal_runs({512: 0.0, 1088: 0.05, 2112: 1.2, 4288: 4.0}, np.random.default_rng(0))
    rows = claims.evaluate("goyal_linear_scaling", G3.Data(runs, curves), spec)
    assert list(rows) == list(claims.registered("goyal_linear_scaling")) and set(rows) == set(spec)
    assert rows["v3_a_flat"].result.outcome == V.REPRODUCED
    assert rows["v3_b_fails"].result.outcome == V.REPRODUCED
    assert rows["v3_g_bstar"].result.outcome == V.REPRODUCED  # +1.2 inside (0.5, 2)
    assert rows["v3_c_warmup"].result.outcome == V.REPRODUCED
    assert rows["v3_e_rule"].result.outcome != V.REPRODUCED  # no rule effect in the made-up runs


def _recipe_dir(tmp_path, a_gap: float, d_gap: float):
    rng = np.random.default_rng(1)
    g, r = [], []
    for s in SEEDS:
        for arm, b, gap in (("baseline", 256, 0.0), ("A", RC.B_V3, a_gap)):
            g.append(
                dict(
                    design="v3",
                    experiment="batch",
                    run_id=f"g{arm}{s}",
                    seed=s,
                    global_batch=b,
                    status="complete",
                    final_test_err=11 + gap + rng.normal(0, 0.1),
                    wall_s=5.0,
                    **{"meta.git_sha": "abc"},
                )
            )
        for arm, gap in (
            ("B", a_gap),
            ("C", a_gap),
            ("D", d_gap),
            ("D_running", d_gap),
            ("D2_fp32", d_gap),
            ("D2_fp16", d_gap),
        ):
            r.append(
                dict(
                    design="v3",
                    arm=arm,
                    run_id=f"r{arm}{s}",
                    seed=s,
                    global_batch=RC.B_V3,
                    status="complete",
                    final_test_err=11 + gap + rng.normal(0, 0.05),
                    wall_s=5.0,
                    **{"meta.git_sha": "abc"},
                )
            )
    pd.DataFrame(g).to_csv(tmp_path / "goyal_linear_scaling.csv", index=False)
    pd.DataFrame(r).to_csv(tmp_path / "recipe_32k.csv", index=False)
    return tmp_path


@pytest.mark.parametrize("a_gap, expect", [(3.0, V.REPRODUCED), (0.2, V.NOT_REPRODUCED)])
def test_recipe_v3_rows_and_precondition(tmp_path, a_gap, expect):
    from largebatch import report

    spec = prereg.load_spec("recipe_32k")
    rows = claims.run("recipe_32k", R3, spec, _recipe_dir(tmp_path, a_gap, 0.3))
    assert {r.id for r in rows} == {k for k in spec if k.startswith("v3_")}
    by = {r.id: r for r in rows}
    assert by["v3_A_fails"].result.outcome == expect
    assert by["v3_D_near_baseline"].control_result is not None
    judged = [
        {
            "study": "recipe_32k",
            "id": r.id,
            "spec": spec[r.id],
            "result": r.result,
            "outcome": V.EXPLORATORY if r.result is None else r.result.outcome,
        }
        for r in rows
    ]
    out = {r["id"]: r["outcome"] for r in report.apply_preconditions(judged)}
    if expect == V.REPRODUCED:
        assert out["v3_D_beats_A"] == V.REPRODUCED and out["v3_D_near_baseline"] == V.REPRODUCED
    else:
        assert out["v3_D_beats_A"] == V.NOT_TESTABLE and out["v3_D_recovers"] == V.NOT_TESTABLE


def test_recipe_v3_eta_rms_is_the_calibration_pick():
    from experiments.recipe_32k import calibrate

    df = pd.read_csv(DATA / "recipe_32k_calib.csv")
    assert (df.part == "rms_v3").sum() == len(calibrate.RMS_GRID_V3) * len(calibrate.RMS_SEEDS_V3)
    assert calibrate.pick_rms_lr(df, "rms_v3") == RC.RMS_LR_V3
    d2 = [c for c in RC.grid("cpu") if c.tag.startswith("D2")]
    assert {c.nproc for c in d2} == {2} and {c.comm_dtype for c in d2} == {"fp16", "fp32"}
    assert all(c.nproc == 0 for c in RC.grid("cpu") if not c.tag.startswith("D2"))
