"""Command line for one run: `python -m largebatch.train --key=value ...` and every study's run.py.

Flags besides TrainConfig overrides:
  --list            print the study's grid (index, run id, the fields that vary) and exit
  --index=i         run entry i of the study's grid (sweeps launch one torchrun per index)
  --scale=S         smoke | cpu (default) | paper: which grid
  --smoke           shorthand for --scale=smoke
  --no-resume       ignore (and replace) an existing checkpoint: start over
  --force           train again from scratch even if the run is complete (implies --no-resume)
Bad input exits 2 with one line naming the field and the fix, before any file is written; see main()
for the exit codes. A run directory is locked while its run writes it.
"""

from __future__ import annotations

import os
import sys
import traceback

from . import dist as D
from .config import ConfigError, TrainConfig, make_config, parse_overrides, run_id, to_dict, validate
from .data import DataError, load
from .metrics import LOCK, RunBusy, RunLock, read_summary
from .trainer import CheckpointError, run_dir, train

FLAGS = ("--list", "--smoke", "--no-resume", "--force")
ERROR_LOG = "error.log"  # an unexpected error's traceback, kept in the run directory


def _split(argv: list[str]) -> tuple[dict, list[str]]:
    flags, rest = {}, []
    for a in argv:
        key = a.split("=", 1)[0]
        if a in FLAGS:
            flags[a[2:]] = True
        elif key in ("--index", "--scale"):
            if "=" not in a:
                raise ConfigError(f"{key}: give a value, e.g. {key}=0")
            flags[key[2:]] = a.split("=", 1)[1]
        else:
            rest.append(a)
    return flags, rest


def varying(cfgs: list[TrainConfig]) -> list[str]:
    """Names of the fields that differ across a grid."""
    ds = [to_dict(c) for c in cfgs]
    return [k for k in ds[0] if any(d[k] != ds[0][k] for d in ds)] if ds else []


def select(argv: list[str], study=None) -> tuple[dict, TrainConfig | None]:
    """Turn argv into (flags, config); `study` is a module with grid(scale) and optionally smoke()."""
    flags, rest = _split(argv)
    over = parse_overrides(rest)
    scale = "smoke" if flags.get("smoke") else flags.get("scale", "cpu")
    if study is None:
        grid_flags = [f"--{k}" for k in ("list", "index", "scale", "smoke") if k in flags]
        if grid_flags:
            raise ConfigError(f"{grid_flags[0]} selects from a study's grid; use "
                              f"`python -m experiments.<study>.run {grid_flags[0]}...` (largebatch.train "
                              "runs the one config its --key=value overrides give)")
        cfg = make_config(TrainConfig(), **over)
        return flags, cfg
    if scale not in ("smoke", "cpu", "paper"):
        raise ConfigError(f"--scale={scale!r}: choose smoke, cpu or paper")
    cfgs = study.grid(scale)
    if flags.get("list"):
        return {**flags, "grid": cfgs}, None
    try:
        i = int(flags.get("index", 0))
    except ValueError:
        raise ConfigError(f"--index={flags['index']!r}: expected an integer") from None
    if not 0 <= i < len(cfgs):
        raise ConfigError(f"--index={i}: the {scale} grid has {len(cfgs)} entries (0..{len(cfgs) - 1})")
    return flags, make_config(cfgs[i], **over)


def _fail(rank0: bool, kind: str, msg: str, code: int) -> int:
    if rank0:
        print(f"{kind} error: {msg}", file=sys.stderr)
    return code


def _oserror(e: OSError) -> str:
    where = f" {e.filename}" if getattr(e, "filename", None) else " a run file"
    fix = {28: "free disk space", 30: "use a writable --out_dir", 13: "use a writable --out_dir",
           1: "use a writable --out_dir", 20: "use a directory for --out_dir"}.get(e.errno or 0,
                                                                                    "check the path")
    return f"cannot write{where}: {e.strerror or e}; {fix}, then rerun the same command (it resumes)"


def _save_traceback(rdir, text: str, rank: int = 0) -> str:
    """Keep an unexpected error's traceback in the run directory (error.log, error.rank<r>.log on the
    other ranks); returns where (or '' if it cannot be written)."""
    name = ERROR_LOG if rank == 0 else ERROR_LOG.replace(".log", f".rank{rank}.log")
    try:
        rdir.mkdir(parents=True, exist_ok=True)
        (rdir / name).write_text(text)
        return str(rdir / name)
    except OSError:
        return ""


def _remove_if_only_lock(rdir, created) -> None:
    """A run that failed before writing anything leaves no directory behind (only the lock was made)."""
    try:
        if [p.name for p in rdir.iterdir()] == [LOCK]:
            (rdir / LOCK).unlink()
        for p in created:  # deepest first
            p.rmdir()
    except OSError:
        pass


def main(argv: list[str] | None = None, study=None) -> int:
    """Parse, validate, lock the run directory, train, tear down. Returns the exit code:
    0 done (or already complete), 1 unexpected error (traceback kept in the run directory's error.log),
    2 bad input (config, data, checkpoint, unwritable directory: one line naming the cause), 3 the run
    directory is in use by another run, 130 interrupted (Ctrl-C; rerun to resume)."""
    argv = sys.argv[1:] if argv is None else argv
    rank0 = int(os.environ.get("RANK", "0")) == 0
    try:
        flags, cfg = select(argv, study)
        if cfg is None:
            names = varying(flags["grid"])
            for i, c in enumerate(flags["grid"]):
                print(i, run_id(c), " ".join(f"{k}={getattr(c, k)}" for k in names))
            return 0
        validate(cfg, D.env_world_size())
    except ConfigError as e:
        return _fail(rank0, "config", str(e), 2)
    rdir = run_dir(cfg)
    if read_summary(rdir) is not None and not flags.get("force"):
        if rank0:
            print(f"{run_id(cfg)}: complete (summary.json holds its final metrics), skipping; "
                  "--force trains it again from scratch")
        return 0
    dist, code, lock = None, 0, None
    created = [p for p in (rdir, rdir.parent, rdir.parent.parent) if not p.exists()]
    try:
        data = load(cfg)  # a missing or corrupt dataset is reported before anything is written
        if rank0:
            lock = RunLock(rdir).acquire()
        dist = D.init(cfg.device)
        fresh = bool(flags.get("no-resume") or flags.get("force"))
        summary = train(cfg, data=data, dist=dist, resume=not fresh)
        if rank0:
            print(f"{summary['run_id']}: {summary['status']} after {summary['steps']} steps, "
                  f"test acc {summary['final_test_acc']}, {summary['wall_s']:.1f}s")
    except RunBusy as e:
        code = _fail(rank0, "run", str(e), 3)
    except (ConfigError, DataError, CheckpointError) as e:
        kind = ("config" if isinstance(e, ConfigError) else "data" if isinstance(e, DataError)
                else "checkpoint")
        code = _fail(rank0, kind, str(e), 2)
    except KeyboardInterrupt:
        code = _fail(rank0, "run", f"{run_id(cfg)} interrupted; rerun the same command to resume from "
                     "its last checkpoint", 130)
    except OSError as e:
        code = _fail(rank0, "run", _oserror(e), 2)
    except Exception as e:  # a bug, not bad input: keep the traceback, print one line pointing at it
        rank = int(os.environ.get("RANK", "0"))
        where = _save_traceback(rdir, traceback.format_exc(), rank)
        first = (str(e).strip().splitlines() or [""])[0][:200]
        who = f" (rank {rank})" if rank else ""
        code = _fail(True, "run", f"{type(e).__name__}{who}: {first}" + (f" (traceback in {where})" if where
                                                                         else ""), 1)
    finally:
        if lock is not None:
            lock.release()
            if code != 0:
                _remove_if_only_lock(rdir, created)
        try:
            if code == 0:
                D.cleanup()
        except Exception:
            pass
    return code


def exit_main(argv=None, study=None) -> None:
    """Run main() and leave the process without running interpreter teardown.

    gloo's background threads can abort a cleanly finished process during interpreter shutdown
    ("terminate called without an active exception", ~1 run in 5 here); every file is closed and
    the group destroyed by now, so os._exit makes the exit code the run's own, every time.
    """
    code = main(argv, study)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
