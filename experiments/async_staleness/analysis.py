"""Simulated time for sync / sync + backups / async workers, and the study's summary statistics.

Worker time model (simulated units, 1 = the median gradient time): each gradient takes
t = LogNormal(0, SIGMA), times STRAGGLER_X with probability STRAGGLER_P (heavy-tailed stragglers,
Chen et al., arXiv 1604.00981 §2, Fig. 3: a few workers are 10x slower). With N workers:

  sync          every step waits for all N fresh gradients: step time = max of N draws
  sync+backup   N + b workers start each step, the first N gradients are averaged and the b late
                ones dropped (Chen et al. §3): step time = the N-th smallest of N + b draws
  async         each worker pulls w, computes for t, pushes; the server applies every gradient at
                once, so its staleness is the number of updates applied while it was computed

Sync and sync+backup average N gradients of n fresh examples each, so they take the same training
steps (their runs are shared) and differ only in step time; async applies single-worker gradients with
the staleness of the event simulation, replayed i.i.d. by the training core (staleness=replay).
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import pandas as pd

SIGMA, STRAGGLER_P, STRAGGLER_X = 0.5, 0.05, 10.0
SIM_SEED = 20160401  # one fixed event-simulation stream per (kind, run seed)


def worker_times(
    rng: np.random.Generator, size, sigma: float = SIGMA, p: float = STRAGGLER_P, x: float = STRAGGLER_X
) -> np.ndarray:
    """Gradient times: LogNormal(0, sigma), times x with probability p."""
    t = rng.lognormal(0.0, sigma, size)
    return np.where(rng.random(size) < p, t * x, t)


def sync_step_times(n_workers: int, backups: int, steps: int, seed: int, **kw) -> np.ndarray:
    """Per-step times of sync SGD with N workers and b backups: the N-th smallest of N + b draws."""
    rng = np.random.default_rng([SIM_SEED, 1, n_workers, backups, seed])
    t = np.sort(worker_times(rng, (steps, n_workers + backups), **kw), axis=1)
    return t[:, n_workers - 1]


def async_events(n_workers: int, updates: int, seed: int, **kw) -> tuple[np.ndarray, np.ndarray]:
    """(arrival time, staleness) of each of `updates` async updates with N workers (event simulation).

    Worker w pulls version v at time t0, pushes at t0 + its draw; the server applies pushes in time
    order (ties: lower worker first) and the worker pulls again at once. kw: worker_times' parameters.
    """
    rng = np.random.default_rng([SIM_SEED, 2, n_workers, seed])
    draws = worker_times(rng, updates + n_workers, **kw)
    heap = [(float(draws[w]), w, 0) for w in range(n_workers)]  # (finish time, worker, version used)
    heapq.heapify(heap)
    times, taus = np.empty(updates), np.empty(updates, dtype=np.int64)
    for v in range(updates):
        t, w, used = heapq.heappop(heap)
        times[v], taus[v] = t, v - used
        heapq.heappush(heap, (t + float(draws[n_workers + v]), w, v + 1))
    return times, taus


def hist(taus) -> pd.DataFrame:
    """Counts per staleness value (every value from 0 to the max, zeros included)."""
    c = np.bincount(np.asarray(taus, dtype=np.int64))
    return pd.DataFrame({"staleness": np.arange(len(c)), "count": c})


def censored_mean(values) -> float:
    """Mean with NaN (target never reached, or diverged) as +inf: one censored seed censors the mean."""
    v = pd.Series(values, dtype=float)
    if len(v) == 0:
        return float("nan")
    return math.inf if v.isna().any() or np.isinf(v).any() else float(v.mean())


def first_at_or_above(curve: pd.DataFrame, col: str, target: float, x: str = "step") -> float:
    """First `x` where `col` >= target in a run's curve (NaN if never)."""
    d = curve.dropna(subset=[col]).sort_values(x)
    hit = d[d[col] >= target]
    return float(hit[x].iloc[0]) if len(hit) else float("nan")


def value_at(curve: pd.DataFrame, col: str, x_value: float, x: str = "time") -> float:
    """`col` at the last evaluation with x <= x_value (NaN before the first); x values within 1e-6 count as
    equal (the run CSV rounds times to 6 decimals)."""
    d = curve.dropna(subset=[col]).sort_values(x)
    d = d[d[x] <= x_value + 1e-6]
    return float(d[col].iloc[-1]) if len(d) else float("nan")


def welch_within(a, b, z: float = 2.0) -> tuple[bool, float, float]:
    """|mean a - mean b| <= z * sqrt(var a / n_a + var b / n_b): (within, difference, z * SE)."""
    a, b = pd.Series(a, dtype=float).dropna(), pd.Series(b, dtype=float).dropna()
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)) if len(a) > 1 and len(b) > 1 else math.nan
    diff = float(a.mean() - b.mean())
    return bool(abs(diff) <= z * se), diff, z * se


# Wall-time model of a core run for budgets (issue 17), from the committed first-design runs: an arm's median
# seconds per update with its coherence measurements taken out, plus the evaluations a new run adds beyond one
# per 50 updates. Per-measurement costs: a full test-set evaluation (10k examples) <= 0.02 s for the MLP (the
# sim_sync runs: 187 updates and 38 evaluations in 0.99 s), a coherence measurement 0.009 s (the sweep's SGD
# s = 0 runs minus the calib runs: 2.2 s over 240); the deeper MLP (1.7x the weights) 1.7x both.
EVAL_S = {"mlp": 0.02, "deep_mlp": 0.035}
COHERENCE_S = {"mlp": 0.009, "deep_mlp": 0.015}


def estimate_wall_s(cfgs, runs: pd.DataFrame, net_of, opt_of) -> float:
    """Summed predicted wall time (s) of the core runs `cfgs` (each to its full max_steps) from the committed
    first-design runs of the same (model, optimizer, s, lr rule)."""
    total = 0.0
    for c in cfgs:
        net, s = net_of(c), c.staleness_max
        exp = "lr_rule" if c.staleness_lr == "inverse" else "sweep"
        dist = "none" if s == 0 else f"uniform{{0..{s}}}"
        g = runs[
            (runs.experiment == exp)
            & (runs.model == net)
            & (runs.optimizer == opt_of(c))
            & (runs.staleness_dist == dist)
        ]
        per = ((g.wall_s - g.steps / 25 * COHERENCE_S[net]) / g.steps).median()
        extra = c.max_steps / c.eval_every_steps - c.max_steps / 50
        every = c.log_coherence_every_steps
        coh = c.max_steps / every * COHERENCE_S[net] if every else 0.0
        total += per * c.max_steps + extra * EVAL_S[net] + coh
    return float(total)
