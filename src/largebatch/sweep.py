"""Run a study's grid, one process (or one torchrun) per entry, skipping completed runs.

    python -m largebatch.sweep noise_scale [--scale=cpu] [--nproc=1] [--only=0,3,5] [--dry]
                                           [--subprocess]

With --nproc=1 runs execute in this process (no interpreter start per run) unless --subprocess;
with --nproc > 1 each run is its own torchrun. A run is complete when
runs/<study>/<run_id>/summary.json exists, so an interrupted sweep picks up where it stopped (and an
interrupted run resumes from its checkpoint). After the grid, the study's `collect()` (if any)
rewrites its CSVs under paper_figures/data/ atomically.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

from .config import make_config, parse_overrides, run_id
from .trainer import run_dir

ROOT = Path(__file__).resolve().parents[2]


def study_module(name: str, part: str = "config"):
    return importlib.import_module(f"experiments.{name}.{part}")


def launch_cmd(name: str, index: int, scale: str, nproc: int, extra: list[str]) -> list[str]:
    args = ["-m", f"experiments.{name}.run", f"--index={index}", f"--scale={scale}", "--progress=false"]
    if nproc > 1:
        torchrun = str(Path(sys.executable).with_name("torchrun"))
        return [torchrun, "--standalone", f"--nproc_per_node={nproc}", *args, *extra]
    return [sys.executable, *args, *extra]


def run_sweep(name: str, scale: str = "cpu", nproc: int = 1, only: list[int] | None = None,
              extra: list[str] | None = None, dry: bool = False, subprocess_runs: bool = False) -> int:
    """Run every missing entry of the study's grid; returns the number of failed runs."""
    from tqdm.auto import tqdm

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    over = parse_overrides([a for a in (extra or []) if a != "--progress=false"])
    cfgs = [make_config(c, **over) for c in study_module(name).grid(scale)]
    todo = [i for i in range(len(cfgs)) if (only is None or i in only)
            and not (run_dir(cfgs[i]) / "summary.json").exists()]
    print(f"[sweep] {name} ({scale}): {len(cfgs)} runs, {len(cfgs) - len(todo)} already complete, "
          f"{len(todo)} to run", flush=True)
    failed = []
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    bar = tqdm(todo, desc=name, unit="run", dynamic_ncols=True)
    for i in bar:
        bar.set_postfix_str(run_id(cfgs[i]))
        cmd = launch_cmd(name, i, scale, nproc, extra or [])
        if dry:
            print(" ".join(cmd))
            continue
        t = time.time()
        if nproc == 1 and not subprocess_runs:
            from .cli import main as run_one

            code = run_one(cmd[cmd.index("-m") + 2:], study=study_module(name))
            r = subprocess.CompletedProcess(cmd, code, "", "(see the output above)")
        else:
            r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            failed.append(i)
            tqdm.write(f"[sweep] run {i} ({run_id(cfgs[i])}) failed rc={r.returncode} after "
                       f"{time.time() - t:.0f}s:\n{r.stderr[-2000:]}")
    try:
        collect = study_module(name, "collect")
    except ModuleNotFoundError:
        collect = None
    if collect is not None and not dry:
        for path in collect.collect(scale):
            print(f"[sweep] wrote {path}")
    if failed:
        print(f"[sweep] {len(failed)} run(s) failed: {failed}; rerun the same command to retry them")
    return len(failed)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study")
    ap.add_argument("--scale", default="cpu", choices=("smoke", "cpu", "paper"))
    ap.add_argument("--nproc", type=int, default=1, help="processes per run (torchrun when > 1)")
    ap.add_argument("--only", default="", help="comma-separated grid indices")
    ap.add_argument("--dry", action="store_true", help="print the commands only")
    ap.add_argument("--subprocess", action="store_true", help="one interpreter per run (nproc=1)")
    a, extra = ap.parse_known_args(argv)
    only = [int(i) for i in a.only.split(",") if i] or None
    return 1 if run_sweep(a.study, a.scale, a.nproc, only, extra, a.dry, a.subprocess) else 0


if __name__ == "__main__":
    sys.exit(main())
