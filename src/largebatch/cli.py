"""Command line for one run: `python -m largebatch.train --key=value ...` and every study's run.py.

Every TrainConfig field is an option, `--key=value` or `--key value` (a bool alone means true; a tuple
takes comma-separated or space-separated numbers); `--help` is generated from the dataclass in
largebatch.cmdline's style (each field's comment, with its unit, is its help; fields grouped by SECTIONS;
`--model`/`--dataset` choices from the registries, studies' own included). Besides the fields:
  --config=FILE     start from a JSON or TOML file of TrainConfig fields (overrides apply on top)
  --from_run=DIR    rerun exactly from a run directory's config.json
  --list            print the study's grid (index, run id, the fields that vary) and exit
  --index=i         run entry i of the study's grid (sweeps launch one torchrun per index)
  --scale=S         smoke | cpu (default) | paper: which grid
  --smoke           shorthand for --scale=smoke
  --dry             print the run id, the resolved batch accounting, peak lr and step count; run nothing
  --no-resume       ignore (and replace) an existing checkpoint: start over
  --force           train again from scratch even if the run is complete (implies --no-resume)
  -h, --help        every option with its unit and default
Values are converted and checked by largebatch.config (parse_overrides, validate), not by the parser:
bad input exits 2 with one line naming the field and the fix ("did you mean" for a misspelt key), before
any file is written; see main() for the exit codes. A run directory is locked while its run writes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import traceback
from dataclasses import fields
from pathlib import Path

from . import dist as D
from . import study as _study  # noqa: F401  (lets --model/--dataset find the studies' own names)
from .config import CHOICES, ConfigError, TrainConfig, make_config, parse_overrides, run_id, to_dict, validate
from .data import DataError, load
from .metrics import LOCK, RunBusy, RunLock, oserror_text, read_summary
from .registry import did_you_mean
from .trainer import CheckpointError, run_dir, train
from .validate import RANGES

FLAGS = ("--list", "--smoke", "--no-resume", "--force", "--dry")
VALUED = ("--index", "--scale", "--config", "--from_run")  # run-selection flags that take a value
HELP = ("-h", "--help")
STUDY_MODULE_HINT = "experiments.<study>"  # how a study's run module is named from a checkout
ERROR_LOG = "error.log"  # an unexpected error's traceback, kept in the run directory
_FIELDS = {f.name: f for f in fields(TrainConfig)}
_BOOL_WORDS = ("1", "0", "true", "false", "yes", "no")
RUN_FLAG_HELP = {
    "--config": "start from a .json or .toml file of TrainConfig fields (--key=value overrides apply on top)",
    "--from_run": "rerun exactly from a run directory's config.json (runs/<study>/<run_id>)",
    "--list": "print the study's grid (index, run id, the fields that vary) and exit",
    "--index": "run entry i of the study's grid",
    "--scale": "which grid: smoke (seconds), cpu, paper (the papers' settings)",
    "--smoke": "shorthand for --scale=smoke",
    "--dry": "print the run id, batch accounting (B = P x v x n), peak lr and step count; run nothing",
    "--no-resume": "ignore (and replace) an existing checkpoint: start over",
    "--force": "train again from scratch even if the run is complete (implies --no-resume)",
}


def unknown_key(key: str) -> ConfigError:
    return ConfigError(f"unknown config key {key!r}{did_you_mean(key, _FIELDS)} (`--help` lists every field)")


def _is_option(tok: str) -> bool:
    return tok.startswith("--")


def normalize(argv: list[str], extra_flags: tuple[str, ...] = ()) -> list[str]:
    """Rewrite `--key value` (and a bare bool `--key`, a space-separated tuple) as `--key=value`.

    Unknown keys raise ConfigError with the closest field names; values are left as text for
    config.parse_overrides, the one typed conversion.
    """
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if not _is_option(a) or a in FLAGS or a in extra_flags or a in HELP:
            out.append(a)
            continue
        name, eq, _ = a.partition("=")
        if name in VALUED:
            if not eq:
                if i >= len(argv) or _is_option(argv[i]):
                    raise ConfigError(f"{name}: give a value, e.g. {name}=0")
                a, i = f"{name}={argv[i]}", i + 1
            out.append(a)
            continue
        key = name[2:].replace("-", "_")
        neg = key[2:].lstrip("_") if key.startswith("no") else ""
        if key not in _FIELDS and isinstance(getattr(_FIELDS.get(neg), "default", None), bool):
            if eq:
                raise ConfigError(f"{name} takes no value; use --{neg}=false")
            out.append(f"--{neg}=false")  # --noprogress, --no_progress, --no-progress
            continue
        if key not in _FIELDS:
            raise unknown_key(key)
        if eq:
            out.append(a)
            continue
        default = _FIELDS[key].default
        if isinstance(default, bool):
            if i < len(argv) and argv[i].lower() in _BOOL_WORDS:
                a, i = f"{name}={argv[i]}", i + 1
            else:
                a = f"{name}=true"
        elif isinstance(default, tuple):
            vals = []
            while i < len(argv) and not _is_option(argv[i]):
                vals.append(argv[i].strip(","))
                i += 1
            a = f"{name}={','.join(vals)}"
        else:
            if i >= len(argv) or _is_option(argv[i]):
                example = default if default != "" else "VALUE"
                raise ConfigError(f"{name}: give a value, e.g. {name}={example}")
            a, i = f"{name}={argv[i]}", i + 1
        out.append(a)
    return out


def _split(argv: list[str]) -> tuple[dict, list[str]]:
    flags, rest = {}, []
    for a in normalize(argv):
        key = a.split("=", 1)[0]
        if a in FLAGS:
            flags[a[2:]] = True
        elif a in HELP:
            flags["help"] = True
        elif key in VALUED:
            flags[key[2:]] = a.split("=", 1)[1]
        else:
            rest.append(a)
    return flags, rest


# The train help's sections (torchtitan groups its options by config section); a field in none of them is
# listed under "other" (a test keeps this table complete).
SECTIONS = {
    "data": (
        "dataset",
        "data_dir",
        "train_examples",
        "test_examples",
        "mnist1d_examples",
        "synthetic_examples",
        "image_size",
        "num_classes",
    ),
    "model": ("model", "width", "depth", "zero_gamma"),
    "batch (B = P processes x v virtual workers x n)": ("global_batch", "per_worker_batch", "micro_batch"),
    "length": ("epochs", "equal_examples", "max_steps", "stop_at_train_loss"),
    "learning rate and schedule": (
        "lr_base",
        "lr_base_batch",
        "lr_scaling",
        "warmup",
        "warmup_epochs",
        "warmup_lr_init",
        "decay",
        "decay_milestones_epochs",
        "decay_factor",
        "decay_factors",
        "decay_power",
    ),
    "optimizer": (
        "optimizer",
        "momentum",
        "nesterov",
        "weight_decay",
        "wd_exclude_bn_bias",
        "adam_betas",
        "trust_coef",
        "lars_denom",
        "lars_trust_clip",
        "lars_exclude_bn_bias",
        "rms_lr",
        "rms_decay",
        "rms_eps",
        "rms_beta_center_epochs",
        "rms_beta_period_epochs",
    ),
    "batch norm and communication": ("bn_eval", "bn_recompute_batches", "comm_dtype", "amp", "channels_last"),
    "evaluation, logging and checkpoints": (
        "eval_every_steps",
        "eval_train_examples",
        "eval_batch",
        "log_every_steps",
        "checkpoint_every_steps",
        "divergence_loss",
    ),
    "gradient noise (McCandlish et al., arXiv 1812.06162)": (
        "noise_every_steps",
        "noise_estimator",
        "noise_ema",
    ),
    "staleness (asynchronous SGD)": (
        "staleness",
        "staleness_max",
        "staleness_replay",
        "staleness_lr",
        "log_coherence_every_steps",
    ),
    "run": (
        "study",
        "tag",
        "seed",
        "out_dir",
        "device",
        "nproc",
        "threads",
        "exclusive",
        "wandb",
        "progress",
    ),
}


def train_choices() -> dict:
    """Choices of the TrainConfig fields: the fixed ones and the registries' names (studies' included)."""
    from .data import DATASETS
    from .models import MODELS
    from .optim import OPTIMIZERS

    return {
        **CHOICES,
        "model": MODELS.names,
        "dataset": DATASETS.names,
        "optimizer": lambda: tuple(OPTIMIZERS),
    }


def _run_flag_opt(flag: str, text: str):
    from .cmdline import Opt

    if flag == "--index":
        return Opt("index", 0, text)
    if flag == "--scale":
        return Opt("scale", "cpu", text, ("smoke", "cpu", "paper"))
    if flag in ("--config", "--from_run"):
        return Opt(flag[2:], "", text, meta="FILE" if flag == "--config" else "RUN_DIR", show_default=False)
    return Opt(flag[2:], False, text, switch=True)  # --dry, --no-resume, --force ...


def help_text(
    prog: str,
    description: str = "",
    groups=(("TrainConfig", TrainConfig),),
    run_flags: dict | None = None,
    ranges: dict | None = None,
) -> str:
    """The help page of a run's command line (largebatch.cmdline's style): the run flags, then each
    dataclass's fields, TrainConfig's grouped by SECTIONS, each with its comment, choices, range (`ranges`,
    default largebatch.validate.RANGES) and default."""
    import dataclasses

    from .cmdline import options_of, render_help

    ranges = RANGES if ranges is None else ranges  # the table the check uses: help and check cannot disagree

    sections = []
    if run_flags:
        sections.append(
            (
                "run selection and control",
                [_run_flag_opt(flag, text) for flag, text in run_flags.items()],
            )
        )
    for title, cls in groups:
        opts = options_of(cls, train_choices() if cls is TrainConfig else {})
        opts = [
            dataclasses.replace(o, help=f"{o.help}; range {ranges[o.name].text()}") if o.name in ranges else o
            for o in opts
        ]
        if cls is not TrainConfig:
            sections.append((title, opts))
            continue
        by_name = {o.name: o for o in opts}
        for sec, names in SECTIONS.items():
            sections.append((sec, [by_name[n] for n in names if n in by_name]))
        placed = {n for names in SECTIONS.values() for n in names}
        sections.append(("other", [o for o in opts if o.name not in placed]))
    epilog = (
        "Options are --key=value or --key value; a bool alone means true (--no-KEY false), a list takes "
        "comma-separated numbers. Bad values exit 2 with one line naming the field, before anything is "
        "written."
    )
    usage = f"{prog} [--key=value | --key value ...] [--dry] [-h]"
    return render_help(usage, description, sections, epilog, valued_bools=True)


def _help(study=None) -> str:
    if study is None:
        prog = "python -m largebatch.train"
        desc = (
            "One training run from TrainConfig overrides (under torchrun too). Study grids: "
            f"`python -m {STUDY_MODULE_HINT}.run --list`."
        )
        flags = {
            k: v
            for k, v in RUN_FLAG_HELP.items()
            if k in ("--config", "--from_run", "--dry", "--no-resume", "--force")
        }
    else:
        name = study.__name__.rsplit(".", 1)[0]
        prog = f"python -m {name}.run"
        desc = (
            f"One run of the {name.split('.')[-1]} grid: --index=i picks the entry, --key=value "
            "overrides its fields."
        )
        flags = RUN_FLAG_HELP
    return help_text(prog, desc, run_flags=flags)


def varying(cfgs: list[TrainConfig]) -> list[str]:
    """Names of the fields that differ across a grid."""
    ds = [to_dict(c) for c in cfgs]
    return [k for k in ds[0] if any(d[k] != ds[0][k] for d in ds)] if ds else []


def _typed(name: str, value, where: str):
    """A config file's value for field `name`, as the field's type (JSON/TOML numbers, lists as tuples)."""
    default = _FIELDS[name].default
    ok = (
        isinstance(value, bool)
        if isinstance(default, bool)
        else isinstance(value, int) and not isinstance(value, bool)
        if isinstance(default, int)
        else isinstance(value, (int, float)) and not isinstance(value, bool)
        if isinstance(default, float)
        else isinstance(value, (list, tuple))
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        if isinstance(default, tuple)
        else isinstance(value, str)
    )
    if not ok:
        kinds = {bool: "true or false", int: "an integer", float: "a number", tuple: "a list of numbers"}
        raise ConfigError(f"{where}: {name}={value!r}: expected {kinds.get(type(default), 'a string')}")
    if isinstance(default, tuple):
        return tuple(float(v) for v in value)
    return float(value) if isinstance(default, float) else value


def load_config_file(path: str, run: bool = False) -> TrainConfig:
    """A TrainConfig from a JSON or TOML file of TrainConfig fields (`--config`), or from a run directory's
    config.json (`--from_run`: the exact configuration that run trained with). Fields left out keep their
    defaults; an unknown field or a value of the wrong type is a ConfigError naming it."""
    import tomllib

    flag = "--from_run" if run else "--config"
    p = Path(path).expanduser()
    if run:
        p = p / "config.json"
        if not p.is_file():
            raise ConfigError(
                f"--from_run={path}: no config.json there; give a run directory, e.g. runs/<study>/<run_id>"
            )
    elif not p.is_file():
        raise ConfigError(f"--config={path}: no such file; give a .json or .toml file of TrainConfig fields")
    try:
        text = p.read_text()
        d = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as e:  # tomllib.TOMLDecodeError and json's errors are ValueErrors
        why = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise ConfigError(f"{flag}={path}: cannot read {p.name} ({why})") from None
    if isinstance(d, dict) and isinstance(d.get("config"), dict):  # a run's config.json (RunSink.start)
        d = d["config"]
    elif run or not isinstance(d, dict):
        raise ConfigError(f"{flag}={path}: {p.name} holds no TrainConfig fields")
    for key in d:
        if key not in _FIELDS:
            raise ConfigError(
                f"{flag}={path}: unknown config key {key!r}{did_you_mean(key, _FIELDS)} "
                "(`--help` lists every field)"
            )
    return TrainConfig(**{k: _typed(k, v, f"{flag}={path}") for k, v in d.items()})


def select(argv: list[str], study=None) -> tuple[dict, TrainConfig | None]:
    """Turn argv into (flags, config); `study` is a module with grid(scale) and optionally smoke()."""
    flags, rest = _split(argv)
    over = parse_overrides(rest)
    scale = "smoke" if flags.get("smoke") else flags.get("scale", "cpu")
    if "config" in flags or "from_run" in flags:
        if "config" in flags and "from_run" in flags:
            raise ConfigError("--config and --from_run both give the whole configuration; use one of them")
        flag = "config" if "config" in flags else "from_run"
        grid_flags = [f"--{k}" for k in ("list", "index", "scale", "smoke") if k in flags]
        if grid_flags:
            raise ConfigError(f"--{flag} gives the whole configuration; drop {grid_flags[0]} (a grid entry)")
        base = load_config_file(flags[flag], run=flag == "from_run")
        return {**flags, "scale_used": "adhoc"}, make_config(base, **over)
    if study is None:
        grid_flags = [f"--{k}" for k in ("list", "index", "scale", "smoke") if k in flags]
        if grid_flags:
            raise ConfigError(
                f"{grid_flags[0]} selects from a study's grid; use "
                f"`python -m experiments.<study>.run {grid_flags[0]}...` (largebatch.train "
                "runs the one config its --key=value overrides give)"
            )
        cfg = make_config(TrainConfig(), **over)
        return {**flags, "scale_used": "adhoc"}, cfg
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
    return {**flags, "scale_used": scale}, make_config(cfgs[i], **over)


def _checkpoint_step(rdir) -> int | None:
    try:
        return int(json.loads((rdir / "checkpoint.json").read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def dry_report(cfg: TrainConfig, res) -> str:
    """What `--dry` prints: the run id and directory state, B = P x v x n, peak lr, steps."""
    rdir = run_dir(cfg)
    state = (
        "complete (skipped unless --force)"
        if read_summary(rdir) is not None
        else f"resumes at step {_checkpoint_step(rdir)}"
        if _checkpoint_step(rdir) is not None
        else "new"
    )
    rule = {"linear": "1", "sqrt": "1/2", "none": "0"}[cfg.lr_scaling]
    warm = (
        f"{cfg.warmup} warmup over {res.warmup_steps} steps ({cfg.warmup_epochs:g} epochs)"
        if res.warmup_steps
        else "no warmup"
    )
    lines = [
        f"run        {run_id(cfg)} -> {rdir} ({state})",
        f"batch      B = {cfg.global_batch} examples/step = {res.world_size} process(es) x "
        f"{res.workers_per_process} virtual worker(s) x n = {cfg.per_worker_batch} "
        f"(k = {res.workers} workers; micro-batch {res.micro_batch}, {res.accum_steps} accumulation "
        f"step(s) per process)",
        f"lr         lr_peak = {cfg.lr_base:g} x ({cfg.global_batch}/{cfg.lr_base_batch})^{rule} = "
        f"{res.lr_peak:.6g} ({cfg.lr_scaling} scaling), {warm}, decay {cfg.decay}",
        f"steps      N = {res.train_examples} examples / B = {res.steps_per_epoch} steps/epoch x "
        f"{cfg.epochs:g} epochs -> {res.total_steps} steps"
        + (f" (capped by max_steps={cfg.max_steps})" if cfg.max_steps else "")
        + f" = {res.total_steps * cfg.global_batch} examples seen; eval every {res.eval_every_steps} steps",
        f"model      {cfg.model} on {cfg.dataset}, {cfg.optimizer}, seed {cfg.seed}",
    ]
    if res.world_size == 1:
        lines.append(
            "           (1 process; under torchrun --nproc_per_node=P, or WORLD_SIZE=P with --dry, "
            "B is split over P processes)"
        )
    return "\n".join(lines)


def _fail(show: bool, kind: str, msg: str, code: int) -> int:
    if show:
        print(f"{kind} error: {msg}", file=sys.stderr, flush=True)
    return code


class Terminated(KeyboardInterrupt):
    """SIGTERM (a `kill`, a scheduler's preemption) during a run: handled as Ctrl-C is."""


@contextlib.contextmanager
def _sigterm_interrupts():
    """Within the block SIGTERM raises Terminated in the main thread, so an interrupted run finishes its
    W&B run and says how to resume, as after Ctrl-C (not possible outside the main thread: left as is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


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
    directory is in use by another run, 130 interrupted (Ctrl-C or SIGTERM; rerun to resume)."""
    argv = sys.argv[1:] if argv is None else argv
    rank0 = int(os.environ.get("RANK", "0")) == 0
    if any(a in HELP for a in argv):
        if rank0:
            print(_help(study))
        return 0
    try:
        flags, cfg = select(argv, study)
        if cfg is None:
            names = varying(flags["grid"])
            for i, c in enumerate(flags["grid"]):
                print(i, run_id(c), " ".join(f"{k}={getattr(c, k)}" for k in names))
            return 0
        res = validate(cfg, D.env_world_size())
    except ConfigError as e:
        # every rank prints its line: under torchrun the first rank to exit gets the others stopped, and
        # rank 0 may be stopped before it prints
        return _fail(True, "config", str(e), 2)
    if flags.get("dry"):
        if rank0:
            print(dry_report(cfg, res))
        return 0
    force = bool(flags.get("force"))
    return run(
        cfg, flags.get("scale_used", "adhoc"), fresh=bool(flags.get("no-resume")) or force, force=force
    )


def run(cfg: TrainConfig, scale: str = "adhoc", fresh: bool = False, force: bool = False) -> int:
    """Train `cfg` in this process (the sweep's in-process and pooled runs call this with a TrainConfig; a
    command line goes through `main`). Returns the exit code, as `main` does.

    Args:
        cfg: The run's configuration.
        scale: The grid scale it belongs to (smoke | cpu | paper | adhoc): its W&B group and tag.
        fresh: Start over instead of resuming from the run's checkpoint (--no-resume, --force).
        force: Train it again even when it is complete.
    """
    rank0 = int(os.environ.get("RANK", "0")) == 0
    try:
        validate(cfg, D.env_world_size())
    except ConfigError as e:
        return _fail(True, "config", str(e), 2)
    rdir = run_dir(cfg)
    if read_summary(rdir) is not None and not force:
        if rank0:
            print(
                f"{run_id(cfg)}: complete (summary.json holds its final metrics), skipping; "
                "--force trains it again from scratch"
            )
        return 0
    dist, code, lock = None, 0, None
    created = [p for p in (rdir, rdir.parent, rdir.parent.parent) if not p.exists()]
    try:
        with _sigterm_interrupts():
            data = load(cfg)  # a missing or corrupt dataset is reported before anything is written
            if rank0:
                lock = RunLock(rdir).acquire()
            dist = D.init(cfg.device)
            summary = train(cfg, data=data, dist=dist, resume=not fresh, scale=scale)
        if rank0:
            print(
                f"{summary['run_id']}: {summary['status']} after {summary['steps']} steps, "
                f"test acc {summary['final_test_acc']}, {summary['wall_s']:.1f}s"
            )
    except BaseException as e:  # noqa: BLE001 - every failure becomes an exit code (_exit_code)
        code = _exit_code(e, cfg, rdir, rank0)
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


def _exit_code(e: BaseException, cfg: TrainConfig, rdir: Path, rank0: bool) -> int:
    """A failed run's exit code and its one line (a bug's traceback kept in the run directory)."""
    if isinstance(e, RunBusy):
        return _fail(rank0, "run", str(e), 3)
    if isinstance(e, (ConfigError, DataError, CheckpointError)):
        kind = (
            "config" if isinstance(e, ConfigError) else "data" if isinstance(e, DataError) else "checkpoint"
        )
        return _fail(True, kind, str(e), 2)  # every rank finds it: each prints (see main)
    if isinstance(e, KeyboardInterrupt):
        how = " by SIGTERM" if isinstance(e, Terminated) else ""
        msg = f"{run_id(cfg)} interrupted{how}; rerun the same command to resume from its last checkpoint"
        return _fail(rank0, "run", msg, 130)
    if isinstance(e, OSError):
        return _fail(True, "run", oserror_text(e), 2)
    if not isinstance(e, Exception):  # SystemExit and the like: not ours to turn into a code
        raise e
    rank = int(
        os.environ.get("RANK", "0")
    )  # a bug, not bad input: keep the traceback, one line pointing at it
    where = _save_traceback(rdir, traceback.format_exc(), rank)
    first = (str(e).strip().splitlines() or [""])[0][:200]
    who = f" (rank {rank})" if rank else ""
    return _fail(
        True, "run", f"{type(e).__name__}{who}: {first}" + (f" (traceback in {where})" if where else ""), 1
    )


def exit_main(argv=None, study=None) -> None:
    """Run main() and leave the process without running interpreter teardown.

    gloo's background threads can abort a cleanly finished process during interpreter shutdown
    ("terminate called without an active exception", ~1 run in 5 here); every file is closed and
    the group destroyed by now, so os._exit makes the exit code the run's own, every time.
    """
    from .cmdline import quiet_stdout, run_main

    code = run_main(main, argv, study, name="run")  # `--help | head`, Ctrl-C before training: one line
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            quiet_stdout()
    os._exit(code)
