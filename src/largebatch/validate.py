"""The documented range of every numeric configuration field, and the checks of a config against its data.

`RANGES` is the one table of ranges: `check_ranges` refuses a value outside it and `--help` prints it next
to each field (largebatch.cli.help_text), so the help and the check cannot disagree. `check_data` checks a
config against the data set it trains on (labels against num_classes, the input shape against the model)
before anything is written. Both raise ConfigError with one line naming the field and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .errors import ConfigError


@dataclass(frozen=True)
class Range:
    """lo <= v <= hi (either end open or absent), or one of the special values `also`."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    also: tuple = ()  # values allowed outside the interval, with their meaning in the field's comment

    def __contains__(self, v) -> bool:
        if v in self.also:
            return True
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        return not (self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi))

    def text(self) -> str:
        """'[0, 1)', '> 0', '>= 0', '>= 0, or -1' ... (what --help prints)."""
        if self.lo is not None and self.hi is not None:
            left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            t = f"{left}{_num(self.lo)}, {_num(self.hi)}{right}"
        elif self.lo is not None:
            t = f"{'>' if self.lo_open else '>='} {_num(self.lo)}"
        else:
            t = f"{'<' if self.hi_open else '<='} {_num(self.hi)}"
        return t + "".join(f", or {_num(a)}" for a in self.also)

    def must(self) -> str:
        """'in [0, 1)', '>= 0' ... (what an error says)."""
        return f"in {self.text()}" if self.lo is not None and self.hi is not None else self.text()


def _num(v: float) -> str:
    if isinstance(v, int) and v >= 2**16 and v & (v - 1) == 0:
        return f"2**{v.bit_length() - 1}"
    return f"{v:g}" if isinstance(v, float) else str(v)


GE0, GT0 = Range(0), Range(0, lo_open=True)
UNIT = Range(0, 1, hi_open=True)  # decay rates and momenta: [0, 1)
SEED_MAX = 2**32  # torch generators are seeded with seed * 1_000_003 + epoch: far below 2**63

# Every numeric TrainConfig field (a test checks that none is missing); tuples: every entry.
RANGES: dict[str, Range] = {
    "train_examples": GE0,
    "test_examples": GE0,
    "mnist1d_examples": GT0,
    "width": GE0,
    "depth": GE0,
    "per_worker_batch": GT0,
    "global_batch": GT0,
    "micro_batch": GE0,
    "epochs": GT0,
    "max_steps": GE0,
    "lr_base": GE0,
    "lr_base_batch": GT0,
    "warmup_epochs": GE0,
    "warmup_lr_init": Range(0, also=(-1.0,)),
    "decay_milestones_epochs": GE0,
    "decay_factor": GE0,
    "decay_factors": GE0,
    "decay_power": GE0,
    "momentum": UNIT,
    "weight_decay": GE0,
    "adam_betas": UNIT,
    "trust_coef": GE0,
    "rms_lr": GE0,
    "rms_decay": UNIT,
    "rms_eps": GT0,
    "rms_beta_center_epochs": GE0,
    "rms_beta_period_epochs": GT0,
    "stop_at_train_loss": GE0,
    "bn_recompute_batches": GE0,
    "divergence_loss": GT0,
    "eval_every_steps": GE0,
    "eval_train_examples": GE0,
    "eval_batch": GT0,
    "log_every_steps": GT0,
    "checkpoint_every_steps": GE0,
    "noise_every_steps": GE0,
    "noise_ema": UNIT,
    "staleness_max": GE0,
    "log_coherence_every_steps": GE0,
    "seed": Range(0, SEED_MAX, hi_open=True),
    "threads": GE0,
    "nproc": GE0,
    "synthetic_examples": GT0,
    "image_size": GT0,
    "num_classes": GE0,
}


def is_numeric(default) -> bool:
    """A field whose default is a number (not a bool) or a tuple of numbers."""
    return not isinstance(default, (bool, str))


def check_ranges(obj, table: dict[str, Range] = RANGES) -> None:
    """Every numeric field of the dataclass `obj`: of its type, finite, inside `table`'s range.

    Raises:
        ConfigError: '<field>=<value>: must be <range>' (or the type it must have).
    """
    for f in fields(obj):
        if not is_numeric(f.default):
            continue
        v, name = getattr(obj, f.name), f.name
        values = v if isinstance(f.default, tuple) else (v,)
        if isinstance(f.default, tuple) and not isinstance(v, tuple):
            raise ConfigError(f"{name}={v!r}: give comma-separated numbers, e.g. --{name}=1,2")
        for x in values:
            if isinstance(f.default, int) and (isinstance(x, bool) or not isinstance(x, int)):
                raise ConfigError(f"{name}={v!r}: must be an integer")
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
                what = "every entry must be a finite number" if isinstance(f.default, tuple) else ""
                raise ConfigError(f"{name}={v}: {what or 'must be a finite number'}")
            rng = table.get(name)
            if rng is not None and x not in rng:
                entry = "every entry " if isinstance(f.default, tuple) else ""
                raise ConfigError(f"{name}={v}: {entry}must be {rng.must()}")


def check_data(cfg, data, model) -> None:
    """`cfg` against the data set it trains on, before anything is written: every label below the model's
    number of classes, and the model takes the data's input shape (one example through it, in eval mode:
    no parameter, buffer or random state changes).

    Raises:
        ConfigError: num_classes too small for the labels, or a model that does not fit the inputs.
    """
    import torch

    classes = cfg.num_classes or data.num_classes
    labels = [t for t in (data.y_train, data.y_test) if len(t)]
    top = max(int(t.max()) for t in labels) if labels else -1
    if top >= classes:
        raise ConfigError(
            f"num_classes={cfg.num_classes}: the {cfg.dataset} labels go up to {top} ({top + 1} classes); "
            f"use --num_classes=0 (the data set's own) or at least {top + 1}"
        )
    shape = tuple(data.in_shape)
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            dev = next((p.device for p in model.parameters()), torch.device("cpu"))
            out = model(torch.zeros((1, *shape), device=dev))
    except (RuntimeError, ValueError, IndexError, TypeError) as e:
        why = (str(e).strip().splitlines() or [""])[0][:160]
        raise ConfigError(
            f"model={cfg.model!r} does not take the {cfg.dataset} inputs of shape {shape} ({why}); "
            "choose a model for this data set (e.g. --model=mlp takes any shape)"
        ) from None
    finally:
        model.train(was)
    if out.ndim != 2 or out.shape[1] != classes:
        raise ConfigError(
            f"model={cfg.model!r} gives outputs of shape {tuple(out.shape[1:])} for {classes} classes; "
            "check --num_classes"
        )


__all__ = ["Range", "RANGES", "SEED_MAX", "check_ranges", "check_data", "is_numeric"]
