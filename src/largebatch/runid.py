"""Run ids: `<study>-<hash8>-s<seed>`, a deterministic function of a run's configuration.

A relaunched sweep finds its finished runs by id (`runs/<study>/<run_id>/summary.json`). Only fields that
differ from their defaults are hashed, so adding a field (with a default) keeps every existing id; fields
that do not change a run's trajectory (NOT_HASHED) never enter it. A replayed staleness distribution is
hashed by its content (largebatch.replay), so a run that replayed another histogram is never mistaken for
this one. Study code with its own configuration next to TrainConfig (e.g. the parameter server's) builds
its id from the same pieces: `nondefault` of each config, then `hash8`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields

from .replay import replay_digest

# TrainConfig fields that do not change the trajectory of a run, so they do not enter its id.
# `threads` and `exclusive` say how a run shares the machine, not what it computes: the same run is the
# same run (one id) whether it ran alone on every core or beside others (largebatch.jobs).
NOT_HASHED = (
    "out_dir",
    "data_dir",
    "device",
    "wandb",
    "progress",
    "checkpoint_every_steps",
    "threads",
    "exclusive",
)


def nondefault(obj, skip: tuple[str, ...] = ()) -> dict:
    """{field: value} of the dataclass `obj`'s fields that differ from their defaults, less `skip`."""
    out = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if f.name not in skip and v != f.default:
            out[f.name] = v
    return out


def hash8(d: dict) -> str:
    """8 hex digits of sha1 over `d` as sorted-key JSON (tuples as lists, anything else as str)."""
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:8]


def train_fields(cfg) -> dict:
    """The hashed part of a TrainConfig: its non-default fields less NOT_HASHED, plus the replay digest."""
    d = nondefault(cfg, NOT_HASHED)
    if cfg.staleness == "replay" and cfg.staleness_replay:
        d["staleness_replay_digest"] = replay_digest(cfg.staleness_replay)
    return d


def run_id(cfg) -> str:
    """Deterministic id `<study>-<hash8>-s<seed>` of a TrainConfig: a relaunched sweep finds finished runs."""
    return f"{cfg.study}-{hash8(train_fields(cfg))}-s{cfg.seed}"


__all__ = ["NOT_HASHED", "nondefault", "hash8", "train_fields", "run_id"]
