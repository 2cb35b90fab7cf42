"""Command line for one run: `python -m largebatch.train --key=value ...` and every study's run.py.

Flags besides TrainConfig overrides:
  --list            print the study's grid (index, run id, the fields that vary) and exit
  --index=i         run entry i of the study's grid (sweeps launch one torchrun per index)
  --scale=S         smoke | cpu (default) | paper: which grid
  --smoke           shorthand for --scale=smoke
  --no-resume       ignore an existing checkpoint and start over
  --force           rerun even if summary.json says the run is complete
Bad input exits 2 with one line naming the field and the fix, before any file is written.
"""

from __future__ import annotations

import os
import sys
import traceback

from .config import ConfigError, TrainConfig, make_config, parse_overrides, resolve, run_id
from .data import DataError

FLAGS = ("--list", "--smoke", "--no-resume", "--force")


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
    from .config import to_dict

    ds = [to_dict(c) for c in cfgs]
    return [k for k in ds[0] if any(d[k] != ds[0][k] for d in ds)] if ds else []


def select(argv: list[str], study=None) -> tuple[dict, TrainConfig | None]:
    """Turn argv into (flags, config); `study` is a module with grid(scale) and optionally smoke()."""
    flags, rest = _split(argv)
    over = parse_overrides(rest)
    scale = "smoke" if flags.get("smoke") else flags.get("scale", "cpu")
    if study is None:
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


def main(argv: list[str] | None = None, study=None) -> int:
    """Parse, validate, train, tear down. Returns the exit code."""
    from . import dist as D

    argv = sys.argv[1:] if argv is None else argv
    rank0 = int(os.environ.get("RANK", "0")) == 0
    try:
        flags, cfg = select(argv, study)
        if cfg is None:
            names = varying(flags["grid"])
            for i, c in enumerate(flags["grid"]):
                print(i, run_id(c), " ".join(f"{k}={getattr(c, k)}" for k in names))
            return 0
        resolve(cfg, D.env_world_size())
    except ConfigError as e:
        if rank0:
            print(f"config error: {e}", file=sys.stderr)
        return 2
    from .trainer import run_dir, train

    if (run_dir(cfg) / "summary.json").exists() and not flags.get("force"):
        if rank0:
            print(f"{run_id(cfg)}: complete (summary.json exists), skipping; --force reruns it")
        return 0
    dist, code = None, 0
    try:
        dist = D.init(cfg.device)
        summary = train(cfg, dist=dist, resume=not flags.get("no-resume"))
        if rank0:
            print(f"{summary['run_id']}: {summary['status']} after {summary['steps']} steps, "
                  f"test acc {summary['final_test_acc']}, {summary['wall_s']:.1f}s")
    except (ConfigError, DataError) as e:
        if rank0:
            print(f"{'config' if isinstance(e, ConfigError) else 'data'} error: {e}", file=sys.stderr)
        code = 2
    except Exception:
        traceback.print_exc()
        code = 1
    finally:
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
