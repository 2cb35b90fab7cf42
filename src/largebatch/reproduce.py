"""`make reproduce`: the cpu scale of every study, in order, resumable (completed runs are skipped).

    python -m largebatch.reproduce [--dry] [--list] [--only=goyal_linear_scaling,lars] [--jobs=0]

Every study with a grid (experiments/<study>/config.py and run.py; largebatch.study finds them, sorted by
name) runs as `python -m largebatch.sweep <study> --scale=cpu` with its config.NPROC processes per run
(the seed MLP and the 32k recipe use a 2-process torchrun, one run at a time); single-process studies run
--jobs runs side by side (largebatch.jobs). A study's runs outside the core grid go first
(`experiments/<study>/collect.py: before_reproduce`, e.g. the staleness study's real parameter-server
runs, which measure wall-clock time and so run alone). Then every figure and the README results table are
rebuilt from the CSVs the sweeps wrote. Calibration studies (config.CALIBRATION, e.g. the B* probes of
experiments/failure_batch, whose values the other studies' designs fixed before their runs) run only when
--only names them.

Before it starts it prints the plan: each study's runs and an estimate of its time, from the wall time
its committed runs took (`wall_s` in paper_figures/data/<study>.csv, one row per run), divided for pooled
studies by the measured gain of running `jobs` runs side by side (benchmarks/results.json, key
`jobs_small_mlp_grid`; 1 when it was not measured). Runs already complete are not counted.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import figures, report
from .cmdline import Command, UsageError, exit_with, usage_error
from .jobs import default_jobs
from .metrics import is_complete
from .paths import DATA, ROOT
from .registry import did_you_mean
from .study import Study, discover
from .sweep import run_sweep
from .trainer import run_dir

BENCH = ROOT / "benchmarks" / "results.json"
JOBS_KEY = "jobs_small_mlp_grid"  # benchmarks/bench_jobs.py: the same grid slice at jobs=2 vs jobs=1


@dataclass(frozen=True)
class Step:
    """One study's part of the reproduction: runs in its grid, still to run, estimated seconds."""

    study: Study
    runs: int
    todo: int
    seconds: float
    pooled: bool


def jobs_gain(jobs: int, bench: Path = BENCH) -> float:
    """The measured speed-up of `jobs` runs side by side over one at a time (1.0 if unmeasured)."""
    if jobs <= 1:
        return 1.0
    try:
        return float(json.loads(bench.read_text())[JOBS_KEY]["ratio"])
    except (OSError, ValueError, KeyError, TypeError):
        return 1.0


def measured_seconds(name: str, data_dir: Path = DATA) -> tuple[float, int, float]:
    """(summed wall_s, runs) of a study's committed grid runs, and the summed wall_s of its runs outside
    the grid (ids with more than `<study>-<hash8>-s<seed>`, e.g. the real parameter-server runs), from
    paper_figures/data/<name>.csv (one row a run)."""
    import pandas as pd

    path = Path(data_dir) / f"{name}.csv"
    if not path.is_file():
        return 0.0, 0, 0.0
    df = pd.read_csv(path)
    if "wall_s" not in df.columns:
        return 0.0, 0, 0.0
    if "run_id" not in df.columns:
        return float(df.wall_s.fillna(0).sum()), len(df), 0.0
    df = df.drop_duplicates("run_id")
    grid = df.run_id.astype(str).str.fullmatch(rf"{re.escape(name)}-[0-9a-f]{{8}}-s\d+")
    return float(df.wall_s[grid].fillna(0).sum()), int(grid.sum()), float(df.wall_s[~grid].fillna(0).sum())


def plan(studies: list[Study], jobs: int) -> list[Step]:
    """Each study's step: its cpu grid, what is left of it, and the time its committed runs took."""
    out = []
    gain = jobs_gain(jobs)
    for s in studies:
        grid = s.grid("cpu")
        todo = sum(1 for c in grid if not is_complete(run_dir(c)))
        total, n, outside = measured_seconds(s.name)
        per_run = total / n if n else 0.0
        left = total * (todo / len(grid)) if grid and n >= len(grid) else per_run * todo
        pooled = s.nproc == 1 and jobs > 1
        out.append(Step(s, len(grid), todo, (left / gain if pooled else left) + outside, pooled))
    return out


def _fmt(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min"


def print_plan(steps: list[Step], jobs: int) -> None:
    total = sum(s.seconds for s in steps)
    gain = jobs_gain(jobs)
    print(f"[reproduce] plan (cpu scale, {jobs} run(s) at a time for single-process studies):")
    for s in steps:
        how = f"{jobs} at a time" if s.pooled else f"one at a time, {s.study.nproc} process(es) each"
        print(f"  {s.study.name:24s} {s.todo:4d} of {s.runs:4d} runs to go, ~{_fmt(s.seconds):>7s} ({how})")
    print(
        f"[reproduce] estimated {_fmt(total)} in all, from the committed runs' wall times"
        + (f" / {gain:.2f} (measured gain of {jobs} jobs)" if gain != 1.0 else ""),
        flush=True,
    )


@dataclass
class Options:
    only: str = ""  # comma-separated studies to run ("" = every study with a grid)
    jobs: int = 0  # runs at a time for single-process studies (0 = auto: one per core, at most 8)
    dry: bool = False  # print the plan and the estimated time; run nothing
    list: bool = False  # print the studies it would run, one a line


def command() -> Command:
    names = [s.name for s in discover() if s.runnable and not s.calibration]
    calib = [s.name for s in discover() if s.runnable and s.calibration]
    return Command(
        "python -m largebatch.reproduce",
        "The cpu scale of every study, in order, resumable (completed runs are skipped), then every figure "
        f"and README block. Studies: {', '.join(names)}; calibration (only with --only): {', '.join(calib)}. "
        "It prints its plan with an overall time estimate first.",
        Options,
        sections={"what to run": ("only", "jobs"), "instead of running": ("dry", "list")},
    )


def main(argv: list[str] | None = None) -> int:
    names = [s.name for s in discover() if s.runnable]
    try:
        a, _ = command().parse(sys.argv[1:] if argv is None else argv)
    except UsageError as e:
        return usage_error("reproduce", str(e))
    only = [x for x in a.only.split(",") if x]
    bad = [x for x in only if x not in names]
    if bad:
        why = f"unknown study {bad[0]!r}{did_you_mean(bad[0], names)} (studies: {', '.join(names)})"
        return usage_error("reproduce", f"--only={a.only}: {why}")
    if a.jobs < 0:
        return usage_error("reproduce", f"--jobs={a.jobs}: give 0 (auto) or a number")
    studies = [s for s in discover() if s.runnable and (s.name in only if only else not s.calibration)]
    if a.list:
        for s in studies:
            print(s.name)
        return 0
    jobs = a.jobs or default_jobs()
    steps = plan(studies, jobs)
    print_plan(steps, jobs)
    if a.dry:
        return 0
    try:
        return _run(steps, jobs, all_studies=not only)
    except KeyboardInterrupt:
        print(
            "[reproduce] interrupted; rerun the same command to continue (finished runs are skipped, "
            "interrupted ones resume from their checkpoints)",
            file=sys.stderr,
        )
        return 130


def _run(steps: list[Step], jobs: int, all_studies: bool) -> int:
    failed, t0 = 0, time.time()
    left = sum(s.seconds for s in steps)
    for k, s in enumerate(steps):
        print(
            f"[reproduce] {k + 1}/{len(steps)} {s.study.name}: ~{_fmt(s.seconds)} "
            f"(~{_fmt(left)} left in all, {_fmt(time.time() - t0)} so far)",
            flush=True,
        )
        failed += s.study.before_reproduce("cpu")
        failed += run_sweep(s.study.name, "cpu", s.study.nproc, jobs=jobs)
        left -= s.seconds
    if all_studies:
        figures.main([])  # every figure from the CSVs the sweeps just wrote
        report.main([])  # the README results table from the same CSVs
    print(f"[reproduce] done in {_fmt(time.time() - t0)}" + (f", {failed} failed run(s)" if failed else ""))
    return 1 if failed else 0


def cli() -> None:
    """The console script `largebatch-reproduce`."""
    exit_with(main, name="reproduce")


if __name__ == "__main__":
    cli()
