"""Run a study's grid, one process (or one torchrun) per entry, skipping completed runs.

    python -m largebatch.sweep noise_scale [--scale=cpu] [--nproc=1] [--only=0,3,5] [--dry]
                                           [--subprocess] [--partial] [--no-resume] [--key=value ...]

With --nproc=1 runs execute in this process (no interpreter start per run) unless --subprocess;
with --nproc > 1 each run is its own torchrun. A run is complete when its summary.json holds its
final metrics (metrics.read_summary), so an interrupted sweep picks up where it stopped (and an
interrupted run resumes from its checkpoint; --no-resume starts the runs it launches over). A failed
run's output is kept in its run directory and its cause printed. After the grid, the study's
`collect()` (if any) rewrites its CSVs under paper_figures/data/ atomically, but never with fewer rows
than the committed ones unless --partial.
"""

from __future__ import annotations

import argparse
import inspect
import io
import re
import subprocess
import sys
import time
from pathlib import Path

from .cli import main as run_one
from .config import ConfigError, make_config, parse_overrides, run_id
from .metrics import is_complete
from .results import ShrinkError, allow_partial
from .study import SCALES, discover
from .study import find as find_study
from .study import get as get_study
from .trainer import run_dir

ROOT = Path(__file__).resolve().parents[2]


def study_module(name: str, part: str = "config"):
    """The study's part module (largebatch.study): None if the study has no such file."""
    return get_study(name).module(part)


def launch_cmd(name: str, index: int, scale: str, nproc: int, extra: list[str]) -> list[str]:
    args = ["-m", get_study(name).run_module, f"--index={index}", f"--scale={scale}", "--progress=false"]
    if nproc > 1:
        torchrun = str(Path(sys.executable).with_name("torchrun"))
        return [torchrun, "--standalone", f"--nproc_per_node={nproc}", *args, *extra]
    return [sys.executable, *args, *extra]


RUN_FLAGS = ("--no-resume",)  # passed through to every run launched (not TrainConfig overrides)
RUN_LOG = "sweep_run.log"  # a failed run's full output, kept in its run directory
_OWN_ERROR = re.compile(r"^(config|data|checkpoint|run) error")


def failure_excerpt(text: str, lines: int = 15) -> str:
    """The lines of a failed run's output that say why: its own one-line errors when there are any, else
    the last lines before torchrun's summary (which would otherwise push the real error out of view)."""
    all_lines = text.splitlines()
    own = list(dict.fromkeys(ln for ln in all_lines if _OWN_ERROR.match(ln)))
    if own:
        return "\n".join(own[:5])
    cut = next((i for i, ln in enumerate(all_lines) if "ChildFailedError" in ln), len(all_lines))
    tb = [i for i, ln in enumerate(all_lines[:cut]) if ln.startswith("Traceback (most recent call last)")]
    if cut < len(all_lines) and tb:
        cut = tb[-1]  # torchrun's own traceback starts here; the rank's error is above it
    return "\n".join(all_lines[:cut][-lines:])


class _Tee(io.TextIOBase):
    """Within `with`, sys.<name> is also copied into a buffer (an in-process run's log)."""

    def __init__(self, name: str):
        self.name, self.buf, self.orig = name, io.StringIO(), None

    def __enter__(self) -> _Tee:
        self.orig = getattr(sys, self.name)
        setattr(sys, self.name, self)
        return self

    def __exit__(self, *exc) -> None:
        setattr(sys, self.name, self.orig)

    def write(self, s: str) -> int:
        self.buf.write(s)
        return self.orig.write(s)

    def flush(self) -> None:
        self.orig.flush()

    def isatty(self) -> bool:
        return self.orig.isatty()

    def fileno(self) -> int:
        return self.orig.fileno()

    def text(self) -> str:
        return self.buf.getvalue()


def _keep_log(cfg, text: str) -> Path | None:
    d = run_dir(cfg)
    try:
        d.mkdir(parents=True, exist_ok=True)
        (d / RUN_LOG).write_text(text)
        return d / RUN_LOG
    except OSError:
        return None


def run_sweep(name: str, scale: str = "cpu", nproc: int = 1, only: list[int] | None = None,
              extra: list[str] | None = None, dry: bool = False, subprocess_runs: bool = False,
              partial: bool = False) -> int:
    """Run every missing entry of the study's grid; returns the number of failed runs.

    A run is complete when `metrics.read_summary` finds its final metrics. A failed run's full output is
    kept in its run directory (sweep_run.log; an in-process run's traceback in error.log) and its cause is
    printed. The study's collect() then refuses to shrink a committed CSV unless `partial`.
    """
    from tqdm.auto import tqdm

    extra = list(extra or [])
    over = parse_overrides([a for a in extra if a != "--progress=false" and a not in RUN_FLAGS])
    cfgs = [make_config(c, **over) for c in study_module(name).grid(scale)]
    todo = [i for i in range(len(cfgs)) if (only is None or i in only) and not is_complete(run_dir(cfgs[i]))]
    print(f"[sweep] {name} ({scale}): {len(cfgs)} runs, {len(cfgs) - len(todo)} already complete, "
          f"{len(todo)} to run", flush=True)
    failed = []
    bar = tqdm(todo, desc=name, unit="run", dynamic_ncols=True)
    for i in bar:
        bar.set_postfix_str(run_id(cfgs[i]))
        cmd = launch_cmd(name, i, scale, nproc, extra)
        if dry:
            print(" ".join(cmd))
            continue
        t = time.time()
        if nproc == 1 and not subprocess_runs:
            with _Tee("stdout") as out, _Tee("stderr") as err:
                code = run_one(cmd[cmd.index("-m") + 2:], study=study_module(name))
            r = subprocess.CompletedProcess(cmd, code, out.text(), err.text())
        else:
            r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if r.returncode == 130:
            raise KeyboardInterrupt
        if r.returncode != 0:
            failed.append(i)
            out = (r.stdout or "") + (r.stderr or "")
            log = _keep_log(cfgs[i], out) if out else None
            tb = run_dir(cfgs[i]) / "error.log"
            where = log or (tb if tb.exists() else None)
            why = failure_excerpt(out) if out else "(no output)"
            tqdm.write(f"[sweep] run {i} ({run_id(cfgs[i])}) failed rc={r.returncode} after "
                       f"{time.time() - t:.0f}s:\n{why}" + (f"\n[sweep] full log: {where}" if where else ""))
    if not dry:
        collect_study(name, scale, Path(cfgs[0].out_dir) if cfgs else ROOT / "runs", partial)
    if failed:
        print(f"[sweep] {len(failed)} run(s) failed: {failed}; rerun the same command to retry them")
    return len(failed)


def collect_study(name: str, scale: str, runs_dir: Path, partial: bool = False) -> list[Path]:
    """The study's collect() (if any); a refusal to shrink a committed CSV is printed, not raised."""
    collect = study_module(name, "collect")
    if collect is None:
        return []
    kw = {"runs_dir": runs_dir} if "runs_dir" in inspect.signature(collect.collect).parameters else {}
    try:
        with allow_partial(partial):
            paths = collect.collect(scale, **kw)
    except ShrinkError as e:
        print(f"[sweep] collect: {e}")
        return []
    for path in paths:
        print(f"[sweep] wrote {path}")
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study")
    ap.add_argument("--scale", default="cpu", choices=SCALES)
    ap.add_argument("--nproc", type=int, default=1, help="processes per run (torchrun when > 1)")
    ap.add_argument("--only", default="", help="comma-separated grid indices")
    ap.add_argument("--dry", action="store_true", help="print the commands only")
    ap.add_argument("--subprocess", action="store_true", help="one interpreter per run (nproc=1)")
    ap.add_argument("--partial", action="store_true",
                    help="let collect() write CSVs with fewer rows than the committed ones")
    a, extra = ap.parse_known_args(argv)
    try:
        only = [int(i) for i in a.only.split(",") if i] or None
    except ValueError:
        print(f"sweep error: --only={a.only!r}: give comma-separated grid indices, e.g. --only=0,3",
              file=sys.stderr)
        return 2
    if a.nproc < 1:
        print(f"sweep error: --nproc={a.nproc}: must be >= 1", file=sys.stderr)
        return 2
    if find_study(a.study) is None or not find_study(a.study).has("config"):
        known = [s.name for s in discover() if s.has("config")]
        print(f"sweep error: unknown study {a.study!r}; choose one of {', '.join(known)}", file=sys.stderr)
        return 2
    try:
        return 1 if run_sweep(a.study, a.scale, a.nproc, only, extra, a.dry, a.subprocess, a.partial) else 0
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("[sweep] interrupted; rerun the same command to continue (finished runs are skipped, the "
              "interrupted one resumes from its checkpoint)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
