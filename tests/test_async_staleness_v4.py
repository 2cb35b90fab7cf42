"""Async-staleness study, fourth design (issue 31): fresh-seed reruns of (i), (iv), (vi) simulated.

Checked: the grid is append-only (the first 193 entries' run ids are those of the grid before the design, by
digest) and the new entries are the first design's configurations on fresh seeds only (20-27; 20-25 for the
simulated-time runs), within the budget by the committed wall times; each v4 claim judges made-up runs with a
known truth (a clear trend / drop / backup benefit: reproduced; none: not reproduced, through the sesoi where
the threshold alone cannot say it; censored arms: a lower bound, or no bound at s <= 4); made-up v4 runs leave
every earlier row as it is; the committed CSVs give no v4 row and the README's claims table as committed; the
collector names the simulated-time runs of both designs by their experiment prefix.
Run: `WANDB_MODE=disabled .venv/bin/python -m pytest -q tests/test_async_staleness_v4.py` (~25 s).
"""

import hashlib
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from experiments.async_staleness import analysis, claims, collect, config
from largebatch import claims as CL
from largebatch import report
from largebatch.config import run_id
from largebatch.prereg import load_spec
from largebatch.results import DATA

# sha256 of the run ids of grid("cpu") at b12d9a0, the commit before the fourth design (193 entries)
GRID_BEFORE = "f506859355825342a78991140975290e8ad2e3e73ed8261600bb8efd305e21fa"
V4_IDS = ("v4_i_trend", "v4_iv_accuracy", "v4_vi_sim")
SHA = "f" * 40  # a made-up run commit


def test_fourth_design_appended_with_fresh_seeds():
    cfgs = config.grid("cpu")
    old = "\n".join(run_id(c) for c in cfgs[:193])
    assert hashlib.sha256(old.encode()).hexdigest() == GRID_BEFORE  # every earlier index keeps its run
    sweep, sim = config.sweep_v4(), config.sim_v4()
    assert len(cfgs) == 349 + len(config.sweep_v5()) + len(config.sweep_v6())
    assert cfgs[193:337] == sweep and cfgs[337:349] == sim
    assert len(sweep) == 144 and len(sim) == 12 and len(config.grid("smoke")) == 11

    first = {
        (c.optimizer, c.momentum, c.staleness_max): c
        for c in config.sweep()
        if c.seed == 0 and config.net_name(c) == "mlp"
    }
    for c in sweep:  # the first design's MLP arm, its seed and no coherence aside
        assert c.seed in config.V4_SEEDS
        f = first[(c.optimizer, c.momentum, c.staleness_max)]
        assert replace(c, tag="sweep", seed=0, log_coherence_every_steps=25) == f
    assert sorted((c.optimizer, c.momentum, c.staleness_max, c.seed) for c in sweep) == sorted(
        (*k, s) for k in first for s in config.V4_SEEDS
    )
    sim0 = {c.tag: c for c in config.sim() if c.seed == 0}
    for c in sim:
        assert (
            c.seed in config.V4_SIM_SEEDS
            and replace(c, tag="sim" + c.tag[5:], seed=0) == sim0["sim" + c.tag[5:]]
        )
    assert {c.tag for c in sim} == {"simv4_sync", "simv4_async"}

    df = pd.read_csv(DATA / "async_staleness.csv")
    earlier = {c.seed for c in cfgs[:193]} | {e[0].seed for e in config.real_grid("cpu")}
    earlier |= set(df[~df.experiment.isin(V4_EXPERIMENTS)].seed)
    assert not earlier & set(config.V4_SEEDS) and set(config.V4_SIM_SEEDS) <= set(config.V4_SEEDS)
    spec = load_spec("async_staleness")
    ids = list(spec)
    assert ids[ids.index(V4_IDS[0]) :][:3] == list(V4_IDS)  # appended after every earlier table (then v5)
    assert all(k.startswith(("v5_", "v6_")) for k in ids[ids.index(V4_IDS[0]) + 3 :])
    assert spec["v4_vi_sim"]["seeds"] == config.V4_SIM_SEEDS
    for cid in V4_IDS:
        s = spec[cid]
        assert s["direction"] == ">" and s["sesoi"] >= s["threshold"] and s["sesoi_why"], cid
        assert set(s["seeds"]) <= set(config.V4_SEEDS), cid
    assert spec["v4_i_trend"]["seeds"] == spec["v4_iv_accuracy"]["seeds"] == config.V4_SEEDS
    assert spec["v4_i_trend"]["sesoi"] == pytest.approx(np.log2(1.3) / np.log2(17), abs=1e-4)

    sweep_s = analysis.estimate_wall_s(sweep, df, config.net_name, config.opt_name)
    sim_s = (
        len(config.V4_SIM_SEEDS)
        * df[df.experiment.isin(["sim_sync", "sim_async"])].groupby("experiment").wall_s.mean().sum()
    )
    assert (sweep_s + sim_s) / 60 < 26  # 25.3 min summed (the spec's header)


def _sweep_rows(b: dict, drop: dict, rng, every: int) -> tuple[list[dict], list[pd.DataFrame]]:
    """Made-up sweep_v4 runs: steps to 80 % = 300 (1 + s)^b[opt] (±3 %), resolved to `every` updates, never
    when beyond the budget; the late accuracy falls linearly by drop[opt] pt from s = 0 to s = 16. b[opt] may
    be a pair (b, w): the exponent is b + w on even seeds and b − w on odd ones."""
    rows, cur = [], []
    for c in config.sweep_v4():
        o, s = config.opt_name(c), c.staleness_max
        bo, w = b[o] if isinstance(b[o], tuple) else (b[o], 0.0)
        k = 300 * (1 + s) ** (bo + w * (-1) ** c.seed) * np.exp(rng.normal(0, 0.03))
        k = np.ceil(k / every) * every
        acc = 0.87 - drop[o] / 100 * min(s, 16) / 16 + rng.normal(0, 0.001)
        rid = f"fake_v4_{len(rows)}"
        rows.append(
            {
                "study": "async_staleness",
                "experiment": "sweep_v4",
                "mechanism": "simulated",
                "run_id": rid,
                "seed": c.seed,
                "model": "mlp",
                "optimizer": o,
                "staleness_dist": f"uniform{{0..{s}}}" if s else "none",
                "lr_rule": "constant",
                "status": "complete",
                "steps_to_target": k if k <= config.BUDGET else np.nan,
                "final_test_acc": acc,
                "steps": config.BUDGET,
                "time_unit": "steps",
                "wall_s": 10.0,
                "meta.git_sha": SHA,
            }
        )
        steps = np.arange(5050, 6001, 50)
        cur.append(
            pd.DataFrame(
                {
                    "run_id": rid,
                    "experiment": "sweep_v4",
                    "step": steps,
                    "test_acc": acc + rng.normal(0, 0.001, len(steps)),
                }
            )
        )
    return rows, cur


def _sim_rows(saving: float, lead: float, rng) -> tuple[list[dict], list[pd.DataFrame]]:
    """Made-up simv4 runs (seeds 20-25): the backups reach 80 % `saving` units before sync (± 0.3 units,
    alternating by seed) and are `lead` pt above async at T_eq (± 0.05 pt, alternating)."""
    rows, cur = [], []
    for seed in config.V4_SIM_SEEDS:
        sync_t, alt = 550 * (1 + rng.normal(0, 0.01)), (-1) ** seed
        backup_acc = 0.85 + rng.normal(0, 0.002)
        async_acc = backup_acc - lead / 100 + 0.0005 * alt + rng.normal(0, 0.0001)
        for exp, rid, t_end, ttt, acc in (
            ("simv4_sync", f"sync{seed}", 1500.0, sync_t, backup_acc),
            (
                "simv4_backup",
                f"sync{seed}",
                700.0,
                sync_t - saving + 0.3 * alt + rng.normal(0, 0.05),
                backup_acc,
            ),
            ("simv4_async", f"async{seed}", 800.0, 300.0, async_acc),
        ):
            rows.append(
                {
                    "study": "async_staleness",
                    "experiment": exp,
                    "mechanism": "simulated",
                    "run_id": rid,
                    "seed": seed,
                    "model": "mlp",
                    "optimizer": "momentum",
                    "staleness_dist": "replay:sim_async_n16" if "async" in exp else "none",
                    "lr_rule": "constant",
                    "status": "complete",
                    "time_to_target": ttt,
                    "time_end": t_end,
                    "time_unit": "simulated",
                    "final_test_acc": acc,
                    "wall_s": 5.0,
                    "meta.git_sha": SHA,
                }
            )
            times = np.linspace(t_end / 20, t_end, 20)
            cur.append(pd.DataFrame({"run_id": rid, "experiment": exp, "time": times, "test_acc": acc}))
    return rows, cur


def _fake(b, drop, saving, lead, every: int = 50, seed: int = 31) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    r1, c1 = _sweep_rows(b, drop, rng, every)
    r2, c2 = _sim_rows(saving, lead, rng)
    return pd.DataFrame(r1 + r2), pd.concat(c1 + c2, ignore_index=True)


PAPER_LIKE = {"sgd": 0.73, "momentum": 0.93, "adam": 0.63}  # the first design's exponents
FLAT = {"sgd": (0.0, 0.05), "momentum": (0.0, 0.05), "adam": (0.0, 0.05)}  # seeds ±0.05 about 0
NO_DROP = {"sgd": 0.0, "momentum": 0.0, "adam": 0.0}


V4_EXPERIMENTS = ("sweep_v4", "simv4_sync", "simv4_backup", "simv4_async")


def _v4_rows(df, cur, spec) -> list:
    """The v4 claims' registered functions on made-up CSVs (rows without runs are left out)."""
    return list(CL.evaluate("async_staleness", claims.Data(df, cur), spec, ids=set(V4_IDS)).values())


def _judged(df, cur) -> dict:
    """The v4 rows as the report shows them (the spec's sesoi applied)."""
    rows = _v4_rows(df, cur, load_spec("async_staleness"))
    return {r.id: report.judge("async_staleness", r) for r in rows}


def test_fourth_design_claims_on_clear_effects():
    """A trend like the first design's, drops of 7 and 2 pt, backups 300 units sooner and 30 pt ahead:
    every v4 row is reproduced; momentum's s = 32 never reaches 80 % (300·33^0.93 > 6000): a lower bound."""
    df, cur = _fake(PAPER_LIKE, {"sgd": 2.0, "momentum": 7.0, "adam": 2.0}, 300.0, 30.0)
    got = _judged(df, cur)
    assert set(got) == set(V4_IDS)
    for cid, r in got.items():
        assert r["outcome"] == "reproduced", (cid, r["result"])
    trend = got["v4_i_trend"]["result"]
    assert [p.label for p in trend.parts] == ["sgd", "momentum", "adam"] and trend.n == 8
    sgd, momentum, adam = trend.parts
    # resolved to 50 updates, s = 0 reads up to 17 % late: b a little low
    assert sgd.estimate == pytest.approx(0.73, abs=0.05) and adam.estimate == pytest.approx(0.63, abs=0.05)
    assert "censored" not in sgd.method + adam.method  # 300·33^0.73 < 6000
    assert "censored: lower bound" in momentum.method and 0.8 < momentum.estimate < 0.93  # at 6000, not ~7700
    assert "≥ 6000" in got["v4_i_trend"]["ours"]
    iv = got["v4_iv_accuracy"]["result"]
    assert [p.estimate for p in iv.parts] == pytest.approx([7.0, 2.0], abs=0.1)
    vi = got["v4_vi_sim"]["result"]
    assert [p.estimate for p in vi.parts] == pytest.approx([300.0, 30.0], rel=0.05)
    assert (
        got["v4_vi_sim"]["ours"].startswith("time to target: backup") and " units" in got["v4_vi_sim"]["ours"]
    )
    rows = {r.id: r for r in _v4_rows(df, cur, load_spec("async_staleness"))}
    assert set(rows["v4_i_trend"].runs.seed) == set(config.V4_SEEDS)
    assert set(rows["v4_iv_accuracy"].runs.optimizer) == {"momentum", "adam"}
    assert set(rows["v4_vi_sim"].runs.seed) == set(config.V4_SIM_SEEDS)
    assert set(rows["v4_vi_sim"].runs.experiment) == {"simv4_sync", "simv4_backup", "simv4_async"}


def test_fourth_design_claims_on_null_effects():
    """No trend, no drop, no backup benefit: every v4 row is not reproduced. For (i) and (vi) the threshold
    is 0, so it is the sesoi that decides (their intervals straddle or touch 0 but lie wholly below it)."""
    df, cur = _fake(FLAT, NO_DROP, 0.0, 0.0, every=1)
    got = _judged(df, cur)
    for cid, r in got.items():
        assert r["outcome"] == "not reproduced", (cid, r["result"])
    spec = load_spec("async_staleness")
    for cid in ("v4_i_trend", "v4_vi_sim"):
        res = got[cid]["result"]
        assert all(p.hi < spec[cid]["sesoi"] for p in res.parts), cid
        assert f"sesoi {spec[cid]['sesoi']:g}" in res.rule, cid
        raw = {r.id: r for r in _v4_rows(df, cur, spec)}[cid].result
        assert raw.outcome == "inconclusive", (cid, raw)  # the threshold alone leaves it open


def test_fourth_design_trend_censored_low_is_no_bound():
    """A seed that never reaches 80 % at s <= 4 would pull the slope down: that optimizer's part is
    inconclusive, whatever its interval, and the sesoi leaves it so."""
    df, cur = _fake(FLAT, NO_DROP, 0.0, 0.0, every=1)
    i = df.index[(df.experiment == "sweep_v4") & (df.optimizer == "adam") & (df.seed == 20)]
    low = i[df.loc[i, "staleness_dist"] == "uniform{0..2}"]
    df.loc[low, "steps_to_target"] = np.nan
    res = _judged(df, cur)["v4_i_trend"]["result"]
    adam = res.parts[2]
    assert adam.outcome == "inconclusive" and "no bound" in adam.method
    assert res.outcome == "not reproduced"  # SGD and momentum: no trend, decided by the sesoi


def test_fourth_design_leaves_every_earlier_row(tmp_path):
    """The hook in claims.claims adds the v4 rows once their runs are in the CSV, and leaves every earlier
    row exactly as the committed CSVs give it."""
    df, cur = _fake(PAPER_LIKE, {"sgd": 2.0, "momentum": 7.0, "adam": 2.0}, 300.0, 30.0)
    d = claims.load(DATA)
    old, old_cur = d.runs, d.curves
    old = old[~old.experiment.isin(V4_EXPERIMENTS)]
    old_cur = old_cur[~old_cur.experiment.isin(V4_EXPERIMENTS)]
    pd.concat([old, df], ignore_index=True).to_csv(tmp_path / "async_staleness.csv", index=False)
    pd.concat([old_cur, cur], ignore_index=True).to_csv(tmp_path / "async_staleness_curves.csv", index=False)
    spec = load_spec("async_staleness")
    before = {r.id: r for r in CL.run("async_staleness", claims, spec, DATA) if r.id not in V4_IDS}
    after = {r.id: r for r in CL.run("async_staleness", claims, spec, tmp_path)}
    assert set(after) == set(before) | set(V4_IDS)
    for cid, a in before.items():
        b = after[cid]
        assert a.text == b.text and repr(a.result) == repr(b.result), cid
        assert list(a.runs.run_id) == list(b.runs.run_id), cid


def test_committed_csvs_have_no_v4_row_until_the_runs():
    """Until the fourth design's runs are collected there is no v4 row (the v4 specs change no earlier row:
    `report --check` compares every generated block)."""
    df = claims.load(DATA).runs
    rows = CL.run("async_staleness", claims, load_spec("async_staleness"), DATA)
    if not df.experiment.isin(V4_EXPERIMENTS).any():
        assert not {r.id for r in rows} & set(V4_IDS)


def test_collect_names_simulated_time_runs_by_prefix(tmp_path, monkeypatch):
    """A <kind>_sync run gives the <kind>_sync and <kind>_backup rows and a <kind>_async run simulated times,
    for the first design's `sim` and the fourth's `simv4` alike (smoke-sized runs)."""
    from largebatch.trainer import train

    first = [c for c in config.sim() if c.seed == 0]
    v4 = [c for c in config.sim_v4() if c.seed == config.V4_SIM_SEEDS[0]]
    cfgs = [
        replace(config.smoke_cfg(c), out_dir=str(tmp_path), wandb="off", progress=False) for c in first + v4
    ]
    for c in cfgs:
        train(c)
    monkeypatch.setattr(collect, "grid", lambda scale="cpu": cfgs)
    rows = [r for rs, _, _ in collect.core_rows(tmp_path) for r in rs]
    by = {r["experiment"]: r for r in rows}
    assert set(by) == {f"{k}_{m}" for k in config.SIM_KINDS for m in ("sync", "backup", "async")}
    for k in config.SIM_KINDS:
        assert by[f"{k}_sync"]["run_id"] == by[f"{k}_backup"]["run_id"]
        assert (by[f"{k}_sync"]["workers"], by[f"{k}_backup"]["workers"], by[f"{k}_async"]["workers"]) == (
            16,
            17,
            16,
        )
        assert all(by[f"{k}_{m}"]["time_unit"] == "simulated" for m in ("sync", "backup", "async"))
        assert by[f"{k}_backup"]["time_end"] < by[f"{k}_sync"]["time_end"]
    assert by["simv4_async"]["seed"] == config.V4_SIM_SEEDS[0]
