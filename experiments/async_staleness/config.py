"""Grids of the asynchronous-SGD / staleness study (Dai et al., arXiv 1810.03264; Zhang et al., arXiv
1511.05950; Chen et al., arXiv 1604.00981; Dean et al. 2012). See docs/papers.md#staleness.

Controlled staleness in the training core (`staleness=...`, largebatch.staleness), Fashion-MNIST,
one async worker's minibatch of n = 32 per update, constant lr, a fixed budget of BUDGET updates:
  sweep       tau ~ Uniform{0..s}, s in STALENESS, optimizers SGD / momentum 0.9 / Adam, the MLP
              784-100-100-10; the deeper MLP (8 hidden layers) at s in DEEP_STALENESS
  lr_rule     staleness-aware lr alpha/max(tau, 1) (Zhang et al.) at s = 16
  validation  tau replayed i.i.d. from the distribution measured in the real async runs
  sim_sync    sync SGD, N = 16 workers (B = 512): the training steps of both sync and sync + b = 1
              backup (they differ only in simulated step time, analysis.py)
  sim_async   async with N = 16 workers: tau replayed from the event simulation with stragglers
  calib_alpha, lr_rule_v2, sweep_v2   the second design (issue 17): alpha0 of alpha0/max(tau, 1) calibrated
              at s = 16, and the arms of (ii), (iii), (v) with finer evaluation and 5 seeds
  validation_v3   the third design (issue 17): `validation` on the fresh seeds V3_SEEDS
  sweep_v4, simv4_sync, simv4_async   the fourth design (issue 31): the MLP sweep and the simulated-time
              runs on the fresh seeds V4_SEEDS / V4_SIM_SEEDS
Real runs (param_server.py, `real_grid`): async / sync / backup (K = 8 (+1) workers, gloo point to
point, injected log-normal delays with stragglers), seeds REAL_SEEDS; the 10 ms design again on V3_SEEDS.
The paper scale is Dai et al.'s design on ResNet-50/ImageNet (multi-node torchrun, 8 workers x 32).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from largebatch.config import TrainConfig
from largebatch.scales import imagenet_paper, smoke_imagenet

from .server_config import ServerConfig

HERE = Path(__file__).resolve().parent
REPLAY = "experiments/async_staleness/replay.csv"  # committed distributions (collect.write_replay)
BUDGET = 6000  # updates (steps of one worker's minibatch): 3.2 epochs of Fashion-MNIST at n = 32
EVAL = 50  # steps between test evaluations (full 10k test set): the resolution of steps-to-target
TARGET = 0.80  # test accuracy; 85 % would be the natural pick, which most s = 16 runs never reach (README)
TARGET_HIGH = 0.85  # also reported (steps_to_85)
STALENESS = [0, 2, 4, 8, 16, 32]
DEEP_STALENESS = [0, 16]  # (iii) compares s = 16 with s = 0; s = 4 cut for time
SEEDS = [0, 1, 2]
REAL_SEEDS = [0, 1, 2, 3, 4, 5]  # the real runs and their replay: the real async runs vary a lot by seed
OPTIMIZERS = {  # lr tuned at s = 0 on a 3-point grid each (README, "Calibration")
    "sgd": dict(optimizer="sgd", momentum=0.0, lr_base=0.1),
    "momentum": dict(optimizer="sgd", momentum=0.9, lr_base=0.01),
    "adam": dict(optimizer="adam", lr_base=1e-3),
}
NETS = {"mlp": dict(model="mlp", width=100, depth=2), "deep_mlp": dict(model="mlp", width=100, depth=8)}
SIM_WORKERS, SIM_BACKUPS = 16, 1  # Chen et al.: b ~ 5-10 % of N
SIM_SYNC_STEPS = BUDGET // SIM_WORKERS // 2  # 187 steps of 512 = 1.6 epochs
SIM_ASYNC_UPDATES = 8000  # covers the sync + backup runs' simulated time (analysis.py)
REAL_WORKERS = 8
REAL_FAST = ServerConfig(
    updates=BUDGET, delay="lognormal", delay_ms=2.0, straggler_p=0.05, straggler_x=10.0, eval_every=EVAL * 2
)  # the first design: 10 processes on 2 cores, CPU contention swamps 2 ms delays (README)
REAL = replace(REAL_FAST, delay_ms=10.0)  # injected worker time dominates: the straggler model is tested

BASE = TrainConfig(
    study="async_staleness",
    dataset="fashion_mnist",
    **NETS["mlp"],
    global_batch=32,
    per_worker_batch=32,
    lr_scaling="none",
    lr_base_batch=32,
    epochs=100.0,
    max_steps=BUDGET,
    eval_every_steps=EVAL,
    eval_train_examples=0,
    eval_batch=5000,
    log_every_steps=EVAL,
    log_coherence_every_steps=25,
    checkpoint_every_steps=10**6,
    threads=0,  # sweeps set it: every core alone, cores // jobs side by side (not in the run id)
)


def opt_name(cfg: TrainConfig) -> str:
    return "adam" if cfg.optimizer == "adam" else ("momentum" if cfg.momentum > 0 else "sgd")


def net_name(cfg: TrainConfig) -> str:
    return "deep_mlp" if cfg.depth == NETS["deep_mlp"]["depth"] else "mlp"


CALIB_LRS = {"sgd": (0.03, 0.1, 0.3), "momentum": (0.003, 0.01, 0.03), "adam": (3e-4, 1e-3, 3e-3)}


def calib() -> list[TrainConfig]:
    """The lr grid behind OPTIMIZERS: s = 0, MLP, seed 0; the pick is the fastest to TARGET_HIGH (claims)."""
    return [
        replace(BASE, tag="calib", **{**OPTIMIZERS[o], "lr_base": lr}, log_coherence_every_steps=0, seed=0)
        for o, lrs in CALIB_LRS.items()
        for lr in lrs
    ]


def sweep() -> list[TrainConfig]:
    out = []
    for net, ss in (("mlp", STALENESS), ("deep_mlp", DEEP_STALENESS)):
        for kw in OPTIMIZERS.values():
            for s in ss:
                for seed in SEEDS:
                    out.append(
                        replace(
                            BASE,
                            tag="sweep",
                            **NETS[net],
                            **kw,
                            staleness="uniform",
                            staleness_max=s,
                            seed=seed,
                        )
                    )
    return out


def lr_rule() -> list[TrainConfig]:
    return [
        replace(
            BASE,
            tag="lr_rule",
            **OPTIMIZERS[o],
            staleness="uniform",
            staleness_max=16,
            staleness_lr="inverse",
            seed=seed,
        )
        for o in ("sgd", "momentum")
        for seed in SEEDS
    ]


def validation() -> list[TrainConfig]:
    """The real async runs' optimizer and budget, tau replayed from their measured distribution (both
    designs: `validation` replays REAL's runs, `validation_2ms` REAL_FAST's)."""
    return [
        replace(
            BASE,
            tag=tag,
            **OPTIMIZERS["momentum"],
            staleness="replay",
            staleness_replay=f"{REPLAY}#{pre}_async_k{REAL_WORKERS}",
            seed=seed,
        )
        for tag, pre in (("validation", "real"), ("validation_2ms", real_name(REAL_FAST)))
        for seed in REAL_SEEDS
    ]


# ---- third design (issue 17; appended to the grid and to real_grid, fixed before its runs; README "Third
# design") ---------------------------------------------------------------------------------------------------
# `validation` and `vi_real` are post hoc (criteria set after their runs), and the final-accuracy statistic's
# paired spread (2.3 pt at 6 seeds) leaves a 1 pt equivalence margin undecidable at any n <= 10. The third
# design repeats the 10 ms design (REAL: async, sync, backup) and its replay on fresh seeds, judged with
# lower-variance statistics chosen on the first design's runs (claims.toml validation_v3, vi_real_v3): the
# mean test accuracy over the last LATE updates (validation) and over (0.8 T_eq, T_eq] (backup vs async).
# The replay reads the committed distribution real_async_k8 (measured from the first six real async runs,
# an input fixed before this design), so these replay runs' ids do not depend on the new real runs.
V3_SEEDS = list(range(10, 20))  # disjoint from every earlier design's seeds (0-5, 100-101); by power (README)
LATE = 1000  # validation_v3: evaluations with step > BUDGET - LATE


def validation_v3() -> list[TrainConfig]:
    """`validation`'s 10 ms replay configurations on V3_SEEDS (tag validation_v3)."""
    ten_ms = next(c for c in validation() if c.tag == "validation")  # REAL's replay (real_async_k8)
    return [replace(ten_ms, tag="validation_v3", seed=seed) for seed in V3_SEEDS]


def sim() -> list[TrainConfig]:
    n = BASE.per_worker_batch
    sync = [
        replace(
            BASE,
            tag="sim_sync",
            **OPTIMIZERS["momentum"],
            global_batch=SIM_WORKERS * n,
            lr_scaling="linear",
            max_steps=SIM_SYNC_STEPS,
            eval_every_steps=EVAL // 10,
            log_every_steps=EVAL // 10,
            log_coherence_every_steps=0,
            seed=seed,
        )
        for seed in SEEDS
    ]
    asy = [
        replace(
            BASE,
            tag="sim_async",
            **OPTIMIZERS["momentum"],
            staleness="replay",
            staleness_replay=f"{REPLAY}#sim_async_n{SIM_WORKERS}",
            max_steps=SIM_ASYNC_UPDATES,
            eval_every_steps=EVAL * 2,
            seed=seed,
        )
        for seed in SEEDS
    ]
    return sync + asy


# ---- second design (issue 17; appended to the grid, fixed before its runs; README "Second design") ---
# New tags, so the first design's rows keep their runs: sweep_v2 (s = 0 and 16), lr_rule_v2 (alpha0/max(tau,
# 1)), calib_alpha (the alpha0 grid). Every v2 run evaluates often enough that steps to 80 % are resolved to
# <= 5 % of their value (interval <= 0.05 x the fewest steps to 80 % the first design measured for the arm),
# stops at a budget sized to the first design's slowest seed, and logs no coherence (no claim here).
V2_SEEDS = [0, 1, 2, 3, 4]  # seeds by power (README): adam parts at half-width 0.5, (v) at 0.15
ALPHA_GRID = (0.1, 0.2, 0.4, 0.8)  # alpha0 of alpha0/max(tau, 1): 0.1 = the first design's (the s = 0 lr);
# 0.4 ~ 0.1 / E[1/max(tau, 1)] = 0.1 / 0.258 keeps the mean step at the tuned lr; 0.2 and 0.8 bracket it
ALPHA_CALIB_SEEDS = [100, 101]  # the pick is made on these seeds only; no judged run uses them
# (model, optimizer, s): (budget in updates, evaluation interval in updates)
V2_ARMS = {
    ("mlp", "sgd", 0): (2000, 10),  # first design: 250-400 steps to 80 %
    ("mlp", "momentum", 0): (2000, 10),  # 250-350
    ("mlp", "adam", 0): (2000, 10),  # 250-300
    ("mlp", "sgd", 16): (6000, 25),  # 1200-2000
    ("mlp", "momentum", 16): (8000, 100),  # 3850-4250
    ("mlp", "adam", 16): (4000, 25),  # 1100-1250
    ("deep_mlp", "sgd", 0): (5000, 50),  # 2100-2700
    ("deep_mlp", "adam", 0): (5000, 25),  # 900-1400
    ("deep_mlp", "sgd", 16): (15000, 250),  # never by 6000; 15,000 > 5.5 x steps(deep, 0) (README)
    ("deep_mlp", "adam", 16): (8000, 100),  # 4150-5550
}
ALPHA_ARM = (2500, 10)  # alpha0/max(tau, 1), SGD, MLP, s = 16 (first design at alpha0 = 0.1: 850-1000)


def _v2(tag: str, net: str, opt: str, s: int, budget: int, every: int, seed: int, **kw) -> TrainConfig:
    return replace(
        BASE,
        tag=tag,
        **NETS[net],
        **{**OPTIMIZERS[opt], **kw},
        staleness="uniform",
        staleness_max=s,
        max_steps=budget,
        eval_every_steps=every,
        log_every_steps=every,
        log_coherence_every_steps=0,
        seed=seed,
    )


def sweep_v2() -> list[TrainConfig]:
    """The arms of (ii), (iii) and (v) (second design), seeds V2_SEEDS."""
    return [
        _v2("sweep_v2", net, opt, s, *V2_ARMS[(net, opt, s)], seed=seed)
        for (net, opt, s) in V2_ARMS
        for seed in V2_SEEDS
    ]


def alpha_v2() -> list[TrainConfig]:
    """alpha0/max(tau, 1) at s = 16 for every alpha0 of ALPHA_GRID: the calibration seeds (tag calib_alpha,
    where the pick is made) and the judged seeds (tag lr_rule_v2; only the picked alpha0's are judged)."""
    return [
        _v2(tag, "mlp", "sgd", 16, *ALPHA_ARM, seed=seed, lr_base=a, staleness_lr="inverse")
        for tag, seeds in (("calib_alpha", ALPHA_CALIB_SEEDS), ("lr_rule_v2", V2_SEEDS))
        for a in ALPHA_GRID
        for seed in seeds
    ]


# ---- fourth design (issue 31; appended to the grid, fixed before its runs; README "Fourth design") ---------
# Fresh-seed reruns of three rows the earlier designs left inconclusive, never pooled with their seeds: (i) as
# a trend test over s (claims.toml v4_i_trend), (iv) with the late-accuracy statistic of the third design
# (v4_iv_accuracy), (vi) in simulated time (v4_vi_sim). sweep_v4 is the first design's MLP sweep (every
# optimizer and s, budget, lr, evaluation every EVAL updates) without the coherence measurements: no v4 claim
# reads them, and they leave the training as it is (staleness.Staleness.after takes a separate gradient). The
# simulated-time runs are sim()'s configurations under the experiment prefix `simv4` (SIM_KINDS; the first
# design's figure selects `sim_`, so it keeps its lines).
V4_SEEDS = list(range(20, 28))  # no judged run of this study has used 20-27 (earlier: 0-5, 10-19; 100-101)
V4_SIM_SEEDS = V4_SEEDS[:6]  # 20-25: the power rule asks 4 at (vi) simulated's observed effect; 2 spare
SIM_KINDS = ("sim", "simv4")  # experiment prefixes of the simulated-time runs: <kind>_sync/_backup/_async


def sweep_v4() -> list[TrainConfig]:
    """The first design's MLP sweep (OPTIMIZERS x STALENESS) on V4_SEEDS, no coherence (tag sweep_v4)."""
    first = [c for c in sweep() if net_name(c) == "mlp" and c.seed == SEEDS[0]]
    return [
        replace(c, tag="sweep_v4", seed=seed, log_coherence_every_steps=0) for c in first for seed in V4_SEEDS
    ]


def sim_v4() -> list[TrainConfig]:
    """sim()'s sync (16, and 16 + 1 backup from the same runs) and async (16) runs on V4_SIM_SEEDS (tags
    simv4_sync, simv4_async)."""
    first = [c for c in sim() if c.seed == SEEDS[0]]
    return [replace(c, tag="simv4" + c.tag[len("sim") :], seed=seed) for c in first for seed in V4_SIM_SEEDS]


def real_grid(scale: str = "cpu") -> list[tuple[TrainConfig, ServerConfig, int]]:
    """(config, server config, workers K) of the real parameter-server runs; scale "v3": only the third
    design's (the tail of the cpu list)."""
    if scale == "smoke":
        cfg = smoke_cfg(replace(BASE, **OPTIMIZERS["momentum"]))
        return [(replace(cfg, log_coherence_every_steps=0), ServerConfig(updates=3, eval_every=2), 2)]
    base = replace(BASE, tag="real", **OPTIMIZERS["momentum"], log_coherence_every_steps=0, threads=1)
    k, n = REAL_WORKERS, BASE.per_worker_batch
    sync_cfg = lambda s: replace(base, lr_scaling="linear", global_batch=k * n, seed=s)  # noqa: E731

    def design(sc: ServerConfig, seeds: list[int]) -> list[tuple[TrainConfig, ServerConfig, int]]:
        out = []
        for s in seeds:
            out.append((replace(base, seed=s), sc, k))
            out.append((sync_cfg(s), replace(sc, mode="sync", updates=BUDGET // k, eval_every=EVAL // 4), k))
            out.append(
                (
                    sync_cfg(s),
                    replace(sc, mode="backup", backups=1, updates=BUDGET // k, eval_every=EVAL // 4),
                    k + 1,
                )
            )
        return out

    v3 = design(REAL, V3_SEEDS)  # the third design (issue 17), appended: indices stay
    if scale == "v3":  # its runs only: `param_server --sweep --scale=v3` from a clean worktree
        return v3
    return design(REAL_FAST, REAL_SEEDS) + design(REAL, REAL_SEEDS) + v3


def real_name(sc: ServerConfig) -> str:
    """Experiment prefix of a real run: `real` for REAL, `real<delay>ms` for another delay (REAL_FAST)."""
    return "real" if sc.delay_ms == REAL.delay_ms else f"real{sc.delay_ms:g}ms"


def paper() -> list[TrainConfig]:
    """Dai et al.'s design at ImageNet scale: ResNet-50, 8 workers x 32, momentum SGD, tau ~ U{0..s}."""
    base = imagenet_paper(
        BASE,
        global_batch=256,
        max_steps=0,
        log_every_steps=50,
        log_coherence_every_steps=500,
        checkpoint_every_steps=0,
        threads=0,
    )
    return [replace(base, staleness="uniform", staleness_max=s) for s in (0, 4, 16)]


def smoke_cfg(cfg: TrainConfig) -> TrainConfig:
    """A few steps of the same configuration on tiny data."""
    if cfg.dataset == "imagenet":
        return smoke_imagenet(cfg, 8, 4, 32, 8, 8, log_coherence_every_steps=2, staleness_max=1)
    return replace(
        cfg,
        train_examples=512,
        test_examples=256,
        max_steps=4,
        eval_every_steps=2,
        log_every_steps=2,
        log_coherence_every_steps=min(cfg.log_coherence_every_steps, 2),
        global_batch=min(cfg.global_batch, 64),
        checkpoint_every_steps=0,
    )


# ---- fifth design (issue 31 item 6: null results that can be decided; appended, fixed before its runs) ---
# (ii) and (iii) for Adam stayed inconclusive in the first two designs with their estimates near 0 (Adam − SGD
# slowdown −0.40 [−2.03, 1.08], deep − MLP for Adam −0.08 [−0.78, 0.55] on 5 seeds): a claim "> 0" with a true
# effect about 0 is undecidable at any n. The fifth design reruns the second design's arms those rows read
# (V2_ARMS: budgets, evaluation intervals and optimizers unchanged; plain SGD's deep arms, which only (iii)
# SGD reads, are not rerun) on fresh seeds 30-39, judged with a smallest effect of interest (claims.toml
# v5_*).
V5_SEEDS = list(range(30, 40))  # no judged run of this study has used 30-39 (earlier: 0-5, 10-27; 100-101)
V5_ARMS = [k for k in V2_ARMS if k[0] == "mlp"] + [("deep_mlp", "adam", 0), ("deep_mlp", "adam", 16)]


def sweep_v5() -> list[TrainConfig]:
    """The second design's MLP arms and the deep net's Adam arms on V5_SEEDS (tag sweep_v5)."""
    return [
        _v2("sweep_v5", net, opt, s, *V2_ARMS[(net, opt, s)], seed=seed)
        for (net, opt, s) in V5_ARMS
        for seed in V5_SEEDS
    ]


# ---- sixth design (issue 31): (vii) as a trend, fixed before its runs (claims.toml v6_vii_trend) ----------
V6_SEEDS = list(range(40, 46))  # no judged run of this study has used 40-45 (earlier: 0-5, 10-39; 100-101)


def sweep_v6() -> list[TrainConfig]:
    """The first design's MLP sweep (OPTIMIZERS x STALENESS), coherence logged as there, on V6_SEEDS (tag
    sweep_v6)."""
    first = [c for c in sweep() if net_name(c) == "mlp" and c.seed == SEEDS[0]]
    return [replace(c, tag="sweep_v6", seed=seed) for c in first for seed in V6_SEEDS]


def grid(scale: str = "cpu") -> list[TrainConfig]:
    if scale == "paper":
        return paper()
    cfgs = sweep() + lr_rule() + validation() + sim() + calib()  # calib appended: indices stay
    cfgs += alpha_v2() + sweep_v2()  # the second design, appended (issue 17): indices stay
    if scale == "smoke":
        picks = {}
        for c in cfgs:  # one per experiment, with staleness on where the experiment has it
            if c.tag not in picks or (c.staleness_max > picks[c.tag].staleness_max and c.seed == 0):
                picks[c.tag] = c
        return [smoke_cfg(c) for c in picks.values()] + [smoke_cfg(paper()[-1])]
    # the third design, appended (issue 17): indices stay; not in the smoke grid (validation's smoke run is
    # the same configuration); the fourth (issue 31) after it, likewise (the sweep's and sim's smoke runs)
    cfgs += validation_v3() + sweep_v4() + sim_v4() + sweep_v5()  # the fifth design after them, likewise
    return cfgs + sweep_v6()  # the sixth design last, likewise
