"""Async-staleness study: controlled staleness in the core, the parameter server, the event simulation.

Checked: the grid resolves (world sizes 1 and 8); tau = 0 equals plain training bitwise (momentum, BN
buffers included); fixed tau applies the gradient of w_{t-tau} to w_t (against a hand-written loop);
tau draws are seeded, capped by t and follow the replayed histogram; resume is exact with a stale ring;
alpha/tau equals the same run with lr / tau; the server's bookkeeping applies each pushed gradient once
with staleness = server version - worker version (async), waits for all (sync), drops the late b
(backup); the event simulation gives round-robin staleness N-1 for equal-speed workers; smoke runs go
through the sweep. Slow: real 2-worker async runs under torchrun exit cleanly ten times in a row and
the server's log matches what every worker pushed.
Run: `WANDB_MODE=disabled .venv/bin/python -m pytest -q tests/test_async_staleness.py` (-m "not slow": ~20 s).
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from interrupt import train_until

from experiments.async_staleness import analysis, config
from experiments.async_staleness import param_server as ps
from largebatch.config import make_config, resolve
from largebatch.data import EpochSampler, make_synthetic
from largebatch.models import build_model
from largebatch.staleness import Staleness
from largebatch.sweep import run_sweep
from largebatch.trainer import train

DATA = make_synthetic(256, (1, 28, 28), 10, seed=3)
V4 = (
    "sweep_v4",
    "simv4_sync",
    "simv4_backup",
    "simv4_async",
    "sweep_v5",
    "sweep_v6",
)  # the fourth to sixth designs: own tests
KW = dict(
    study="t",
    dataset="synthetic",
    model="mlp",
    width=16,
    global_batch=32,
    per_worker_batch=16,
    lr_base=0.1,
    lr_base_batch=32,
    momentum=0.9,
    epochs=10,
    max_steps=8,
    eval_every_steps=4,
    eval_train_examples=0,
    progress=False,
    wandb="off",
)


def _train(tmp_path, name, **kw):
    cfg = make_config(**{**KW, "out_dir": str(tmp_path / name), **kw})
    s, model = train(cfg, data=DATA, return_model=True)
    return s, {k: v.detach().clone() for k, v in model.state_dict().items()}


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_grid_resolves():
    cfgs = config.grid("cpu")
    for cfg in cfgs + config.grid("smoke"):
        resolve(cfg, 1)
    for cfg in config.grid("paper"):
        resolve(cfg, 1)
        resolve(cfg, 8)  # 8 ranks x 1 worker x 32
    assert len({c.tag for c in cfgs}) == 16 and all(c.staleness_max in config.STALENESS for c in cfgs)
    for cfg, sc, k in config.real_grid("cpu"):
        ps.check(cfg, sc, k)


def test_tau_zero_equals_plain_training_bitwise(tmp_path):
    kw = dict(model="mlp_bn")  # BN buffers are part of the snapshot
    _, plain = _train(tmp_path, "a", **kw)
    s, zero = _train(tmp_path, "b", **kw, staleness="fixed", staleness_max=0, log_coherence_every_steps=2)
    assert _equal(plain, zero) and s["staleness_mean"] == 0 and s["coherence_mean"] == 1.0
    _, uni0 = _train(tmp_path, "c", **kw, staleness="uniform", staleness_max=0)
    assert _equal(plain, uni0)


def test_fixed_tau_matches_hand_loop(tmp_path):
    tau, lr, steps = 2, 0.1, 6
    s, got = _train(tmp_path, "a", staleness="fixed", staleness_max=tau, momentum=0.0, max_steps=steps)
    torch.manual_seed(0)
    m = build_model("mlp", (1, 28, 28), 10, 16, 0, False, 16)
    sampler = EpochSampler(len(DATA.y_train), 32, 0, 1, 0)
    hist = []
    for t in range(steps):  # w_{t+1} = w_t - lr * grad L_t(w_{t - min(tau, t)})
        hist.append([p.detach().clone() for p in m.parameters()])
        stale = hist[t - min(tau, t)]
        m_old = build_model("mlp", (1, 28, 28), 10, 16, 0, False, 16)
        with torch.no_grad():
            for p, w in zip(m_old.parameters(), stale):
                p.copy_(w)
        idx = sampler.indices(t)
        loss = F.cross_entropy(m_old(DATA.x_train[idx]), DATA.y_train[idx], reduction="sum") / 32
        grads = torch.autograd.grad(loss, list(m_old.parameters()))
        with torch.no_grad():
            for p, g in zip(m.parameters(), grads):
                p.sub_(lr * g)
    for (k, v), p in zip(got.items(), m.parameters()):
        torch.testing.assert_close(v, p.detach(), rtol=0, atol=1e-6, msg=k)
    assert s["staleness_counts"] == [1, 1, 4]  # tau_t = min(2, t)


def test_draws_seeded_capped_and_replayed(tmp_path):
    model = torch.nn.Linear(2, 2)
    cfg = make_config(staleness="uniform", staleness_max=4, seed=5)
    a, b = Staleness(cfg, model), Staleness(cfg, model)
    da = [a.draw(t) for t in range(400)]
    assert da == [b.draw(t) for t in range(400)] and all(x <= t for t, x in enumerate(da))  # tau_t <= t
    assert set(da[10:]) == {0, 1, 2, 3, 4} and da[0] == 0
    path = tmp_path / "h.csv"
    pd.DataFrame({"staleness_dist": ["x", "x", "y"], "staleness": [1, 3, 0], "count": [1, 3, 9]}).to_csv(path)
    r = Staleness(make_config(staleness="replay", staleness_replay=f"{path}#x"), model)
    draws = np.array([r.draw(10**6) for _ in range(4000)])
    assert r.s == 3 and set(draws) == {1, 3} and abs((draws == 3).mean() - 0.75) < 0.03


def test_resume_with_stale_ring_is_exact(tmp_path):
    kw = dict(
        staleness="uniform",
        staleness_max=3,
        log_coherence_every_steps=2,
        max_steps=9,
        eval_every_steps=3,
        out_dir=str(tmp_path / "x"),
    )
    full, full_model = train(
        make_config(**{**KW, **kw, "out_dir": str(tmp_path / "full")}), data=DATA, return_model=True
    )
    cfg = make_config(**{**KW, **kw})
    train_until(cfg, 7, data=DATA)  # checkpoint at 6
    done, done_model = train(cfg, data=DATA, return_model=True)
    assert _equal(full_model.state_dict(), done_model.state_dict())
    assert (
        full["staleness_counts"] == done["staleness_counts"]
        and full["coherence_mean"] == done["coherence_mean"]
    )


def test_after_restores_logs_coherence_and_scales_lr():
    torch.manual_seed(0)
    m = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(m.parameters(), lr=0.3)
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    cfg = make_config(staleness="fixed", staleness_max=2, staleness_lr="inverse", log_coherence_every_steps=1)
    st = Staleness(cfg, m)

    def grad_at(ws):
        mm = torch.nn.Linear(3, 2)
        with torch.no_grad():
            for p, w in zip(mm.parameters(), ws):
                p.copy_(w)
        return torch.autograd.grad(F.cross_entropy(mm(x), y, reduction="sum") / 8, list(mm.parameters()))

    w0 = [p.detach().clone() for p in m.parameters()]
    st.before(0, m)
    assert (
        st.after(m, opt, x, y) == {"stale/tau": 0, "stale/coherence": 1.0}
        and opt.param_groups[0]["lr"] == 0.3
    )
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.5)
    w1 = [p.detach().clone() for p in m.parameters()]
    st.before(1, m)  # tau = 1: the model now holds w0
    assert all(torch.equal(p, w) for p, w in zip(m.parameters(), w0))
    (F.cross_entropy(m(x), y, reduction="sum") / 8).backward()
    rec = st.after(m, opt, x, y)
    g0, g1 = grad_at(w0), grad_at(w1)
    want = sum((a * b).sum() for a, b in zip(g0, g1)) / (
        sum(a.pow(2).sum() for a in g0).sqrt() * sum(b.pow(2).sum() for b in g1).sqrt()
    )
    assert rec["stale/tau"] == 1 and rec["stale/coherence"] == pytest.approx(float(want), abs=1e-6)
    assert all(torch.equal(p, w) for p, w in zip(m.parameters(), w1))  # w_t restored, stale gradient kept
    assert all(torch.allclose(p.grad, g) for p, g in zip(m.parameters(), g0))
    st.before(2, m)  # tau = 2: w0 again
    assert all(torch.equal(p, w) for p, w in zip(m.parameters(), w0))
    st.after(m, opt, x, y)
    assert opt.param_groups[0]["lr"] == 0.15 and st.counts.tolist() == [1, 1, 1]  # lr / max(tau, 1)


def test_inverse_lr_and_coherence_in_training(tmp_path):
    kw = dict(staleness="fixed", staleness_max=3, momentum=0.0, log_coherence_every_steps=1)
    s_inv, a = _train(tmp_path, "a", **kw, staleness_lr="inverse")
    s, b = _train(tmp_path, "b", **kw)
    assert not _equal(a, b)
    assert -1 <= s["coherence_mean_stale"] < 1 and s["coherence_mean"] > s["coherence_mean_stale"]


def _drive(mode, workers, backups, updates, order):
    """Feed the server pushes in `order` (worker ids; a worker pushes only while it holds parameters)."""
    srv = ps.Server(mode, workers, backups, updates)
    held = {w: 0 for w in range(1, workers + 1)}  # the version each worker computes at
    seq = {w: 0 for w in held}
    pushed = []
    for w in order:
        if w not in srv.busy:
            continue
        pushed.append((w, seq[w]))
        _, reply = srv.on_message(w, held[w], seq[w])
        seq[w] += 1
        for r in reply:
            held[r] = srv.version
    return srv, pushed


def test_server_async_applies_each_push_once_with_staleness():
    srv, pushed = _drive("async", 2, 0, 5, [1, 2, 2, 2, 1, 1, 2])
    log = pd.DataFrame(srv.log, columns=["version", "worker", "seq", "wver", "tau", "applied"])
    assert srv.version == 6 and not srv.busy  # 5 updates + worker 2's gradient in flight at the end
    assert sorted(zip(log.worker, log.seq)) == sorted(pushed) and log.applied.all()
    assert list(log.version) == list(range(6))
    # w1@v0 -> 0; w2@v0 -> 1; w2@v2 -> 0; w2@v3 -> 0; w1@v1 -> 3 (budget spent); w2@v4 -> 1 (in flight)
    assert list(log.tau) == [0, 1, 0, 0, 3, 1]
    assert srv.to_stop() == [1, 2] and srv.to_stop() == []


def test_server_sync_and_backup():
    srv, _ = _drive("sync", 3, 0, 2, [1, 2, 3, 3, 1, 2])
    assert srv.version == 2 and [r[5] for r in srv.log] == [1] * 6 and not srv.busy
    srv, _ = _drive("backup", 3, 1, 2, [2, 1, 3, 2, 3, 1, 3])
    log = [(r[1], r[4], r[5]) for r in srv.log]
    # step 1 uses workers 2, 1; worker 3's gradient (tau 1) is dropped; it then computes at v1
    assert log[:3] == [(2, 0, 1), (1, 0, 1), (3, 1, 0)] and srv.version == 2
    assert sum(1 for r in srv.log if r[5]) == 4 and not srv.busy


def test_event_simulation_round_robin_and_order_statistics():
    t, tau = analysis.async_events(4, 12, 0, sigma=0.0, p=0.0)
    assert list(tau) == [0, 1, 2, 3] + [3] * 8 and list(t[:5]) == [1, 1, 1, 1, 2]
    x = analysis.sync_step_times(4, 0, 2000, 1)
    y = analysis.sync_step_times(4, 2, 2000, 1)
    assert x.shape == (2000,) and (analysis.sync_step_times(4, 0, 2000, 1) == x).all() and y.mean() < x.mean()
    one = analysis.sync_step_times(3, 0, 4, 2, sigma=0.0, p=0.0)
    assert (one == 1.0).all()
    assert analysis.censored_mean([1.0, np.nan]) == np.inf and analysis.censored_mean([2.0, 4.0]) == 3.0


def test_smoke_sweep(tmp_path):
    assert run_sweep("async_staleness", "smoke", 1, extra=[f"--out_dir={tmp_path}", "--wandb=off"]) == 0
    assert len(list(tmp_path.glob("async_staleness/*/summary.json"))) == len(config.grid("smoke"))


@pytest.mark.slow
def test_real_async_runs_exit_cleanly_four_times_and_apply_each_push_once(tmp_path):
    base = replace(
        config.BASE,
        dataset="synthetic",
        synthetic_examples=256,
        model="mlp",
        width=16,
        log_coherence_every_steps=0,
        out_dir=str(tmp_path),
        wandb="off",
        momentum=0.9,
        lr_base=0.01,
    )
    for i in range(4):  # ten in an earlier version: 82 s of the suite's budget
        cfg = replace(base, seed=i)
        sc = ps.ServerConfig(updates=20, delay="exp", delay_ms=1.0, eval_every=10)
        r = ps.launch(cfg, sc, 2, timeout=120, env_extra={"WANDB_MODE": "disabled"})
        assert r.returncode == 0, f"run {i}: rc={r.returncode}\n{r.stderr[-3000:]}"
        d = ps.run_dir(cfg, sc, 2)
        assert (d / "summary.json").exists()
        log = pd.read_csv(d / "updates.csv")
        pushes = pd.concat([pd.read_csv(d / f"pushes_w{w}.csv").assign(worker=w) for w in (1, 2)])
        assert len(log) == len(pushes) == 21 and log.applied.all()  # 20 + the other worker's in-flight one
        m = log.merge(pushes, on=["worker", "seq"], validate="one_to_one")
        assert (m.worker_version == m.version).all() and (m.staleness == m.server_version - m.version).all()
        assert list(log.server_version) == list(range(21))


def test_replay_run_id_hashes_the_distribution_content(tmp_path):
    """A replay run's id changes with the histogram it replays, so a resumed sweep never reuses a run
    that replayed another distribution."""
    from largebatch.config import run_id

    p = tmp_path / "h.csv"
    p.write_text("staleness_dist,staleness,count\na,0,1\na,3,2\nb,1,5\n")
    cfg = make_config(**{**KW, "staleness": "replay", "staleness_replay": f"{p}#a"})
    first = run_id(cfg)
    assert run_id(cfg) == first
    p.write_text("staleness_dist,staleness,count\na,0,1\na,3,2\nb,1,6\n")  # another name's rows: same id
    assert run_id(cfg) == first
    p.write_text("staleness_dist,staleness,count\na,0,1\na,3,3\nb,1,6\n")
    assert run_id(cfg) != first
    assert run_id(replace(cfg, staleness="none", staleness_replay="")) != first


def test_calibration_pick_rule():
    """Fastest to 85 %, ties broken by the steps to 80 %; a run that never reaches counts as +inf."""
    from experiments.async_staleness import stats

    df = pd.DataFrame(
        {
            "experiment": "calib",
            "optimizer": ["sgd"] * 3,
            "lr": [0.03, 0.1, 0.3],
            "steps_to_85": [np.nan, 1850.0, 1850.0],
            "steps_to_target": [300.0, 450.0, 350.0],
        }
    )
    t = stats.calib_table(df)
    assert t[t.pick].lr.tolist() == [0.3] and t[t.lr == 0.1].configured.all()


def test_equal_time_is_the_earlier_end():
    """(vi): a run that has stopped is not compared at a later time: T_eq = min(backup end, async end)."""
    from experiments.async_staleness import stats

    df = pd.DataFrame(
        {
            "experiment": ["real_sync", "real_backup", "real_async"],
            "seed": 0,
            "run_id": ["s", "b", "a"],
            "status": "complete",
            "time_to_target": [4.0, 3.0, 5.0],
            "time_end": [40.0, 30.0, 15.0],
        }
    )
    cur = pd.DataFrame(
        {
            "run_id": ["s", "s", "b", "b", "a", "a"],
            "experiment": ["real_sync"] * 2 + ["real_backup"] * 2 + ["real_async"] * 2,
            "time": [10.0, 40.0, 10.000000400, 30.0, 5.0, 15.0],
            "test_acc": [0.80, 0.86, 0.81, 0.87, 0.70, 0.84],
        }
    )
    bt = stats.backup_table(df, cur, "real").iloc[0]
    assert bt.t_eq == 15.0 and bt.t_eq_is_async_end
    assert bt.async_acc_teq == 0.84 and bt.backup_acc_teq == 0.81 and bt.sync_acc_teq == 0.80
    df.loc[2, "time_end"] = 50.0  # async outlasts the backups: T_eq is the backups' end
    bt = stats.backup_table(df, cur, "real").iloc[0]
    assert bt.t_eq == 30.0 and not bt.t_eq_is_async_end and bt.backup_acc_teq == 0.87


def test_second_design_appended_resolved_and_within_budget():
    """Issue 17: the v2 runs come after the first design's (whose run ids all stay), each v2 arm evaluates at
    most every 5 % of the fewest steps to 80 % the first design measured for it, its budget exceeds the
    first design's slowest seed, and the extra runs fit 20 minutes by the committed wall times."""
    from experiments.async_staleness import analysis, stats
    from largebatch.config import run_id
    from largebatch.results import DATA

    df = pd.read_csv(DATA / "async_staleness.csv")
    cfgs = config.grid("cpu")[:183]  # the third and fourth designs come after the second
    v2 = config.alpha_v2() + config.sweep_v2()
    assert cfgs[len(cfgs) - len(v2) :] == v2
    first = {run_id(c) for c in cfgs[: len(cfgs) - len(v2)]}
    core = df[(df.mechanism == "simulated") & ~df.experiment.isin(["validation_v3", *V4])]  # own tests
    assert set(core[~core.experiment.isin(["calib_alpha", "lr_rule_v2", "sweep_v2"])].run_id) <= first
    assert set(core[core.experiment.isin(["calib_alpha", "lr_rule_v2", "sweep_v2"])].run_id) <= {
        run_id(c) for c in v2
    }
    sw = df[df.experiment == "sweep"]
    for (net, opt, s), (budget, every) in config.V2_ARMS.items():
        steps = stats.steps_by_seed(sw, config.SEEDS, model=net, optimizer=opt, s=s)
        reached = df[
            (df.experiment == "sweep") & (df.model == net) & (df.optimizer == opt) & (stats.s_of(df) == s)
        ].steps_to_target
        lo = reached.min() if reached.notna().any() else config.BUDGET  # never reached: beyond the old budget
        assert every <= 0.05 * lo and budget > steps.max(), (net, opt, s)
    lr = df[(df.experiment == "lr_rule") & (df.optimizer == "sgd")].steps_to_target
    assert config.ALPHA_ARM[1] <= 0.05 * 250 and config.ALPHA_ARM[0] > lr.max()  # as fast as s = 0 at best
    assert not set(config.ALPHA_CALIB_SEEDS) & set(config.V2_SEEDS)
    assert analysis.estimate_wall_s(v2, df, config.net_name, config.opt_name) / 60 < 15


def test_alpha_pick_rule():
    """Fewest mean steps to 80 % over the calibration seeds (never = +inf), then to 85 %, then the smaller."""
    from experiments.async_staleness import stats

    df = pd.DataFrame(
        {
            "experiment": "calib_alpha",
            "lr": [0.1, 0.1, 0.2, 0.2, 0.4, 0.4, 0.8, 0.8],
            "seed": [100, 101] * 4,
            "steps_to_target": [900.0, 1000.0, 500.0, 600.0, 550.0, 550.0, 300.0, np.nan],
            "steps_to_85": [np.nan, 3000.0, 2000.0, 2000.0, 1900.0, 2000.0, 1000.0, np.nan],
        }
    )
    assert stats.alpha_pick(df) == 0.4  # 0.8: a seed never reaches 80 %; 0.2 and 0.4 tie, 0.4 to 85 %
    df.loc[5, "steps_to_85"] = 2100.0  # a tie at both targets: the smaller alpha0
    assert stats.alpha_pick(df) == 0.2


def _fake_v2(slow_adam: float, slow_deep_adam: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Made-up v2 rows: steps to 80 % per arm and seed (s = 0 ~300, SGD slowdown 4.4, momentum 12)."""
    rng = np.random.default_rng(0)
    base = {
        ("mlp", "sgd"): 300,
        ("mlp", "momentum"): 300,
        ("mlp", "adam"): 270,
        ("deep_mlp", "sgd"): 2400,
        ("deep_mlp", "adam"): 1100,
    }
    slow = {
        ("mlp", "sgd"): 4.4,
        ("mlp", "momentum"): 12.0,
        ("mlp", "adam"): slow_adam,
        ("deep_mlp", "sgd"): 6.0,
        ("deep_mlp", "adam"): slow_deep_adam,
    }
    rows, cur = [], []
    for c in config.alpha_v2() + config.sweep_v2():
        net, opt = config.net_name(c), config.opt_name(c)
        if c.staleness_lr == "inverse":
            k = 1320 - 2500 * min(c.lr_base, 0.4) + (200 if c.lr_base == 0.8 else 0)
        else:
            k = base[(net, opt)] * (slow[(net, opt)] if c.staleness_max else 1.0)
        k = round(k * (1 + rng.normal(0, 0.03)) / c.eval_every_steps) * c.eval_every_steps
        rid = f"x{len(rows)}"
        dist = f"uniform{{0..{c.staleness_max}}}" if c.staleness_max else "none"
        rows.append(
            {
                "experiment": c.tag,
                "mechanism": "simulated",
                "run_id": rid,
                "seed": c.seed,
                "model": net,
                "optimizer": opt,
                "staleness_dist": dist,
                "lr_rule": "alpha/tau" if c.staleness_lr == "inverse" else "constant",
                "status": "complete",
                "steps_to_target": float(k),
                "steps_to_85": float(3 * k),
                "final_test_acc": 0.85,
                "lr": c.lr_base,
                "steps": c.max_steps,
                "wall_s": 1.0,
            }
        )
        cur += [
            {"run_id": rid, "experiment": c.tag, "step": s}
            for s in range(0, 3 * c.eval_every_steps, c.eval_every_steps)
        ]
    return pd.DataFrame(rows), pd.DataFrame(cur)


@pytest.mark.parametrize(
    "slow_adam, slow_deep_adam, ii, iii",
    [(8.0, 12.0, "reproduced", "reproduced"), (2.0, 1.5, "not reproduced", "not reproduced")],
)
def test_second_design_claims(slow_adam, slow_deep_adam, ii, iii):
    from experiments.async_staleness import claims
    from largebatch.claims import evaluate
    from largebatch.prereg import load_spec

    df, cur = _fake_v2(slow_adam, slow_deep_adam)
    v2 = ("calib_alpha", "v2_v_alpha_tau", "v2_ii_optimizer", "v2_iii_adam", "v2_iii_sgd")
    data = claims.Data(df, cur)
    rows = evaluate("async_staleness", data, load_spec("async_staleness"), v2)
    assert set(rows) == set(v2)
    assert "0.4: " in rows["calib_alpha"].text and "**pick**" in rows["calib_alpha"].text
    assert rows["calib_alpha"].result is None
    v = rows["v2_v_alpha_tau"]
    assert "α0 = 0.4" in v.text and v.result.outcome == "reproduced"  # ~1030 of ~1050 steps recovered
    assert rows["v2_ii_optimizer"].result.outcome == ii and "≤ " in rows["v2_ii_optimizer"].text
    assert rows["v2_iii_adam"].result.outcome == iii
    assert rows["v2_iii_sgd"].result.outcome == "reproduced"  # 6.0x vs 4.4x


# ---- third design (issue 17): validation_v3 and vi_real_v3 on fresh seeds 10-19 ---------------------------
V3_CLAIMS = ("validation_v3", "vi_real_v3")


def test_third_design_appended_with_fresh_seeds():
    """The v3 entries come after every earlier one (grid indices 183-192, real_grid entries 36-65), the
    earlier designs' run ids all stay, the v3 runs are the 10 ms design's configurations on seeds 10-19
    (disjoint from every earlier seed), the smoke grids are unchanged, and the 40 runs fit 20 min by the
    committed wall times."""
    from largebatch.config import run_id
    from largebatch.prereg import load_spec
    from largebatch.results import DATA

    df = pd.read_csv(DATA / "async_staleness.csv")
    cfgs, v3 = config.grid("cpu")[:193], config.validation_v3()  # the fourth design after it: its own test
    assert cfgs[183:] == v3 and [c.seed for c in v3] == config.V3_SEEDS
    assert {c.tag for c in cfgs[:183]} == {c.tag for c in cfgs} - {"validation_v3"}
    core = df[(df.mechanism == "simulated") & ~df.experiment.isin(V4)]
    old = core.experiment != "validation_v3"
    assert set(core[old].run_id) <= {
        run_id(c) for c in cfgs[:183]
    }  # every committed core run keeps its index
    assert set(core[~old].run_id) == {run_id(c) for c in v3}  # the third design's replays, run and committed
    ten_ms = [c for c in config.validation() if c.tag == "validation"]
    assert all(replace(c, tag="validation", seed=0) == ten_ms[0] for c in v3)
    assert ten_ms[0].staleness_replay == f"{config.REPLAY}#real_async_k8"

    rg = config.real_grid("cpu")
    assert len(rg) == 66 and rg[36:] == config.real_grid("v3")
    real = df[df.mechanism == "real"]
    assert {ps.run_id(*e) for e in rg[:36]} == set(real[~real.seed.isin(config.V3_SEEDS)].run_id)  # ids stay
    assert {ps.run_id(*e) for e in rg[36:]} == set(real[real.seed.isin(config.V3_SEEDS)].run_id)
    first_10ms = [e for e in rg[:36] if e[1].delay_ms == config.REAL.delay_ms and e[0].seed == 0]
    assert [e[1].mode for e in first_10ms] == ["async", "sync", "backup"]
    for i, (cfg, sc, k) in enumerate(rg[36:]):
        c0, sc0, k0 = first_10ms[i % 3]
        assert cfg.seed == config.V3_SEEDS[i // 3] and (replace(cfg, seed=0), sc, k) == (c0, sc0, k0)
    for cfg, sc, k in rg[36:]:
        ps.check(cfg, sc, k)

    earlier = (
        set(config.SEEDS) | set(config.REAL_SEEDS) | set(config.V2_SEEDS) | set(config.ALPHA_CALIB_SEEDS)
    )
    earlier |= {c.seed for c in cfgs[:183]} | set(
        df[~df.run_id.isin(set(real[real.seed.isin(config.V3_SEEDS)].run_id) | {run_id(c) for c in v3})].seed
    )
    assert not earlier & set(config.V3_SEEDS) and len(config.V3_SEEDS) == 10
    spec = load_spec("async_staleness")
    assert all(spec[cid]["seeds"] == config.V3_SEEDS for cid in V3_CLAIMS)
    assert spec["validation_v3"]["test"] == "equivalence" and spec["validation_v3"]["margin"] == 1.0
    assert (spec["vi_real_v3"]["test"], spec["vi_real_v3"]["direction"]) == ("difference", ">")

    smoke = config.grid("smoke")
    assert len(smoke) == 11 and "validation_v3" not in {c.tag for c in smoke}
    assert len(config.real_grid("smoke")) == 1
    wall = df.groupby("experiment").wall_s.mean()
    per_seed = wall[["real_async", "real_sync", "real_backup", "validation"]].sum()
    assert 10 * per_seed / 60 < 20  # ~17.7 min


def _fake_v3(replay_shift: float, async_lead: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Made-up v3 runs (seeds 10-19): real async and replay runs whose late accuracy (after update 4000)
    differs by `replay_shift` (a fraction) plus noise, and sync / backup runs where the backups reach 80 %
    ~1.5 s before sync and are 0.01 − `async_lead` more accurate than async over (0.8 T_eq, T_eq]."""
    rng = np.random.default_rng(17)
    rows, cur = [], []

    def run(exp, seed, steps, times, acc, **kw):
        rid = f"fake_{exp}_{seed}"
        rows.append(
            {
                "study": "async_staleness",
                "experiment": exp,
                "mechanism": "simulated" if exp == "validation_v3" else "real",
                "run_id": rid,
                "seed": seed,
                "model": "mlp",
                "optimizer": "momentum",
                "staleness_dist": "replay:real_async_k8" if exp == "validation_v3" else exp + "_k8",
                "staleness_mean": 7.0 if exp in ("validation_v3", "real_async") else 0.0,
                "lr_rule": "constant",
                "status": "complete",
                "final_test_acc": acc[-1],
                "steps": steps[-1],
                "time_unit": "steps" if exp == "validation_v3" else "s",
                "wall_s": 10.0,
                **kw,
            }
        )
        cur.append(
            pd.DataFrame({"run_id": rid, "experiment": exp, "step": steps, "test_acc": acc, "time": times})
        )

    for seed in config.V3_SEEDS:
        late = 0.85 + rng.normal(0, 0.005)
        # final accuracy far noisier than the late mean: only the late mean can decide
        for exp, every, shift in (("real_async", 100, 0.0), ("validation_v3", 50, replay_shift)):
            steps = np.r_[np.arange(every, 6001, every), [6007] if exp == "real_async" else []]
            acc = np.where(steps > 4000, late + shift + rng.normal(0, 0.001, len(steps)), 0.7)
            acc[-1] += rng.normal(0, 0.03)
            times = steps / steps[-1] * 14.0 if exp == "real_async" else np.full(len(steps), np.nan)
            kw = {"time_to_target": 4.3, "time_end": 14.0} if exp == "real_async" else {}
            run(exp, seed, steps, times, acc, **kw)
        a = late + 0.01 - async_lead  # async's window (times > 11.2 s, updates > 4800) is at `late` + noise
        for exp, t_end, ttt in (("real_sync", 50.0, 4.5), ("real_backup", 30.0, 3.0)):
            steps = np.arange(12, 751, 12)
            times = steps / 750 * t_end
            acc = a + rng.normal(0, 0.002, len(steps))
            run(exp, seed, steps, times, acc, time_to_target=ttt + rng.normal(0, 0.3), time_end=t_end)
    return pd.DataFrame(rows), pd.concat(cur, ignore_index=True)


def _with_fake(tmp_path, replay_shift, async_lead):
    from largebatch.results import DATA

    df, cur = _fake_v3(replay_shift, async_lead)
    old, old_cur = pd.read_csv(DATA / "async_staleness.csv"), pd.read_csv(DATA / "async_staleness_curves.csv")
    v3_ids = set(old[old.seed.isin(config.V3_SEEDS)].run_id)  # the committed v3 runs give way to made-up ones
    old, old_cur = old[~old.run_id.isin(v3_ids)], old_cur[~old_cur.run_id.isin(v3_ids)]
    pd.concat([old, df], ignore_index=True).to_csv(tmp_path / "async_staleness.csv", index=False)
    pd.concat([old_cur, cur], ignore_index=True).to_csv(tmp_path / "async_staleness_curves.csv", index=False)
    return tmp_path


@pytest.mark.parametrize(
    "replay_shift, async_lead, outcome",
    [(0.0, 0.0, "reproduced"), (-0.03, 0.03, "not reproduced")],
)
def test_third_design_claims(tmp_path, replay_shift, async_lead, outcome):
    """On made-up v3 runs the v3 rows come out as their data say, judge seeds 10-19 only, and leave the first
    design's `validation` and `vi_real` rows exactly as they are on the committed CSVs."""
    from largebatch import study
    from largebatch.results import DATA

    s = study.get("async_staleness")
    rows = {r.id: r for r in s.claims(_with_fake(tmp_path, replay_shift, async_lead))}
    committed = {r.id: r for r in s.claims(DATA)}
    assert set(V3_CLAIMS) <= set(committed)  # the committed v3 runs give the v3 rows
    for cid in V3_CLAIMS:
        r = rows[cid]
        assert set(r.runs.seed) == set(config.V3_SEEDS), cid
        assert r.result.n == 10, cid
        if outcome == "reproduced":
            assert r.result.outcome == "reproduced", (cid, r.result)
        else:
            assert r.result.outcome in ("not reproduced", "inconclusive"), (cid, r.result)
    assert set(rows["validation_v3"].runs.experiment) == {"real_async", "validation_v3"}
    assert set(rows["vi_real_v3"].runs.experiment) == {"real_async", "real_sync", "real_backup"}
    assert rows["validation_v3"].text.startswith("mean test accuracy over the last 1,000 updates")
    if outcome == "not reproduced":  # the replay 3 pt low; async 2 pt above backup late in the window
        assert rows["validation_v3"].result.outcome == "not reproduced"
        acc_part = rows["vi_real_v3"].result.parts[1]
        assert acc_part.outcome == "not reproduced" and acc_part.estimate == pytest.approx(-2.0, abs=0.5)
        assert rows["vi_real_v3"].result.parts[0].outcome == "reproduced"  # time: backups still faster
    for cid in set(committed) - set(V3_CLAIMS):  # every other row, the first design's included, unchanged
        a, b = committed[cid], rows[cid]
        assert a.text == b.text and repr(a.result) == repr(b.result), cid
        assert list(a.runs.run_id) == list(b.runs.run_id), cid
    assert set(rows["validation"].runs.seed) == set(rows["vi_real"].runs.seed) == set(config.REAL_SEEDS)


def test_third_design_statistics():
    """late_acc: the mean over evaluations with step > 5000 (a run that did not complete: 10 %); acc_window:
    the mean over (0.8 T_eq, T_eq], times within 1e-6 equal, else the last evaluation at or before T_eq."""
    from experiments.async_staleness import stats

    runs = pd.DataFrame(
        {"run_id": ["a", "b"], "experiment": "x", "seed": [11, 10], "status": ["complete", "diverged"]}
    )
    cur = pd.DataFrame(
        {
            "run_id": ["a"] * 4,
            "experiment": "x",
            "step": [4900, 5000, 5500, 6007],
            "test_acc": [0.1, 0.2, 0.8, 0.9],
        }
    )
    got = stats.late_acc(runs, cur)
    assert list(got.index) == [10, 11] and got[10] == pytest.approx(10.0) and got[11] == pytest.approx(85.0)
    c = pd.DataFrame({"time": [7.0, 8.0, 9.0, 10.0000004, 11.0], "test_acc": [0.1, 0.2, 0.4, 0.6, 0.9]})
    assert stats.acc_window(c, 10.0) == pytest.approx(0.5)  # 9.0 and 10.0000004; 8.0 is not > 8.0
    assert stats.acc_window(c[c.time < 8.5], 10.0) == 0.2  # none in the window: the last one before


def test_third_design_real_rows_record_their_commit():
    """The real parameter-server runs write git_sha into config.json; collect carries it into the CSV, so the
    third design's rows are dated by their runs' commit (pre-registration), not left unverified."""
    from largebatch.results import DATA

    runs = pd.read_csv(DATA / "async_staleness.csv")
    v3 = runs[runs.seed.isin(config.V3_SEEDS)]
    assert len(v3) == 40 and set(v3.experiment) == {"real_async", "real_sync", "real_backup", "validation_v3"}
    assert v3["meta.git_sha"].notna().all() and v3["meta.git_sha"].str.fullmatch("[0-9a-f]{40}").all()
