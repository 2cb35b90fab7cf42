"""Runs side by side: one grid slice swept with --jobs=1 (one run on both cores) and --jobs=2 (two one-thread
runs at a time), alternated in one process.

    python benchmarks/bench_jobs.py [--quick] [--pairs=3] [--slice=mlp|resmlp_bn] [--warm]

(adds `jobs_small_mlp_grid` or `jobs_resmlp_bn_grid` to results.json).

The slice is the first 8 entries of the Goyal study's cpu grid (residual BN-MLP on Fashion-MNIST, the
baseline kn = 256 on 8 seeds), every run cut to --max_steps so a pair takes about a minute; each
sweep writes fresh runs into its own temporary directory, and the worker pool's start (two spawned
interpreters importing torch) is part of the measured time. The ratio is the median of the per-pair ratios
of wall times (jobs=1 / jobs=2), the order flipping every pair, as in bench_core.py.
`largebatch.reproduce` divides the pooled studies' measured times by this ratio for its estimate.
With --warm it also measures the steady state of a long sweep: the pool is started, and each worker and this
process run one untimed warm-up run, before the clock (`pool_start_s` records that start); the timed pairs
then hold the runs alone, as in a sweep of hundreds of runs, where the start is paid once.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# name -> (results.json key, study, grid indices, steps per run): the pooled studies' two kinds of run
SLICES = {
    "mlp": ("jobs_small_mlp_grid", "async_staleness", "193,194,195,196,197,198,199,200", 5000),
    "resmlp_bn": ("jobs_resmlp_bn_grid", "goyal_linear_scaling", "0,1,2,3,4,5,6,7", 400),
}


def sweep_seconds(jobs: int, max_steps: int, study: str, slice_: str) -> float:
    """Wall seconds of one sweep of the slice at `jobs` (jobs=1: torch on every core)."""
    from largebatch.jobs import cores
    from largebatch.sweep import run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        extra = [f"--out_dir={tmp}", "--wandb=off", f"--max_steps={max_steps}", "--progress=false"]
        if jobs == 1:
            extra.append(f"--threads={cores()}")
        only = [int(i) for i in slice_.split(",")]
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            failed = run_sweep(study, "cpu", 1, only=only, extra=extra, jobs=jobs)
        dt = time.perf_counter() - t
    if failed:
        raise SystemExit(f"bench_jobs: {failed} run(s) failed at jobs={jobs}")
    return dt


def slice_tasks(study: str, slice_: str, max_steps: int, out_dir: str, threads: int) -> list:
    """The slice's runs as the sweep hands them to a worker (largebatch.jobs.Task), into `out_dir`."""
    from dataclasses import replace

    from largebatch.jobs import Task
    from largebatch.study import get

    grid = get(study).module("config").grid("cpu")
    return [
        Task(
            int(i),
            replace(
                grid[int(i)],
                out_dir=out_dir,
                wandb="off",
                max_steps=max_steps,
                progress=False,
                threads=threads,
            ),
        )
        for i in slice_.split(",")
    ]


def warm_seconds(pool, max_steps: int, study: str, slice_: str) -> float:
    """Wall seconds of the slice's runs alone, as a long sweep sees them: on `pool` (two one-thread workers,
    started and warmed before the clock) or, with pool None, in this process on every core (as --jobs=1)."""
    from largebatch.cli import run as run_one
    from largebatch.jobs import cores

    threads = cores() if pool is None else pool.threads
    with tempfile.TemporaryDirectory() as tmp:
        tasks = slice_tasks(study, slice_, max_steps, tmp, threads)
        codes = []
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            if pool is None:
                codes = [run_one(k.cfg, k.scale) for k in tasks]
            else:
                pool.run(tasks, lambda d: codes.append(d.code))
        dt = time.perf_counter() - t
    if any(codes):
        raise SystemExit(f"bench_jobs: a run failed in the warm measurement (exit codes {codes})")
    return dt


def measure_warm(pairs: int, max_steps: int, study: str, slice_: str) -> dict:
    """The steady state of a long sweep: the pool's start (two spawned interpreters importing torch, and
    each worker's first run) is paid once per sweep, so it is timed apart (`pool_start_s`: the pool's start
    plus one untimed warm-up run per worker) and left out of the pairs; this process is warmed by one run
    too. Alternated pairs, the median of the per-pair ratios, as measure()."""
    from largebatch.jobs import Pool

    ratios, one, two = [], [], []
    t = time.perf_counter()
    with Pool(2, 1) as pool:
        with tempfile.TemporaryDirectory() as tmp:
            warm = slice_tasks(study, slice_, max_steps, tmp, 1)[:2]
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                pool.run(warm, lambda d: None)
        start = time.perf_counter() - t
        warm_seconds(None, max_steps, study, ",".join(slice_.split(",")[:1]))
        for p in range(pairs):
            order = (1, 2) if p % 2 == 0 else (2, 1)
            got = {j: warm_seconds(None if j == 1 else pool, max_steps, study, slice_) for j in order}
            one.append(got[1])
            two.append(got[2])
            ratios.append(got[1] / got[2])
            print(
                f"warm pair {p}: jobs=1 {got[1]:.1f}s, jobs=2 {got[2]:.1f}s, ratio {ratios[-1]:.3f}",
                flush=True,
            )
    return {
        "pool_start_s": start,
        "warm_jobs1_s": statistics.median(one),
        "warm_jobs2_s": statistics.median(two),
        "warm_ratio": statistics.median(ratios),
        "warm_pair_ratio_min": min(ratios),
        "warm_pair_ratio_max": max(ratios),
    }


def measure(pairs: int, max_steps: int, study: str, slice_: str) -> dict:
    ratios, one, two = [], [], []
    for p in range(pairs):
        order = (1, 2) if p % 2 == 0 else (2, 1)
        t = {j: sweep_seconds(j, max_steps, study, slice_) for j in order}
        one.append(t[1])
        two.append(t[2])
        ratios.append(t[1] / t[2])
        print(f"pair {p}: jobs=1 {t[1]:.1f}s, jobs=2 {t[2]:.1f}s, ratio {t[1] / t[2]:.3f}", flush=True)
    return {
        "study": study,
        "grid_indices": slice_,
        "max_steps": max_steps,
        "pairs": pairs,
        "jobs1_threads": os.cpu_count(),
        "jobs2_threads_each": max(1, (os.cpu_count() or 1) // 2),
        "jobs1_s": statistics.median(one),
        "jobs2_s": statistics.median(two),
        "ratio": statistics.median(ratios),
        "pair_ratio_min": min(ratios),
        "pair_ratio_max": max(ratios),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one pair of 20-step runs (the test suite)")
    ap.add_argument("--pairs", type=int, default=3, help="alternated pairs (jobs=1, jobs=2)")
    ap.add_argument("--slice", choices=sorted(SLICES), default="mlp", help="which grid slice (SLICES)")
    ap.add_argument("--max_steps", type=int, default=0, help="steps of each run (0: the slice's default)")
    ap.add_argument(
        "--warm", action="store_true", help="also the steady state (pool started before the clock)"
    )
    ap.add_argument("--out", default=str(HERE / "results.json"))
    a = ap.parse_args()
    key, study, slice_, steps = SLICES[a.slice]
    res = measure(1, 20, study, slice_) if a.quick else measure(a.pairs, a.max_steps or steps, study, slice_)
    if a.warm:
        res.update(
            measure_warm(1 if a.quick else a.pairs, 20 if a.quick else a.max_steps or steps, study, slice_)
        )
    print(key, json.dumps(res), flush=True)
    if a.quick:
        return
    out = Path(a.out)
    allres = json.loads(out.read_text()) if out.exists() else {}
    allres[key] = res
    out.write_text(json.dumps(allres, indent=1))
    import bench_core

    bench_core.render(allres, HERE / "README.md")


if __name__ == "__main__":
    main()
