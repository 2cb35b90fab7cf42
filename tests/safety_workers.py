"""Functions run in spawned gloo ranks by tests/test_safety.py (module level, so spawn can pickle them)."""

import json

from interrupt import train_until

from largebatch.config import make_config
from largebatch.trainer import run_dir, train


def _train_loss(cfg) -> list:
    recs = [json.loads(x) for x in (run_dir(cfg) / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["train/loss"]) for r in recs if "train/loss" in r]


def restart_series(d, kw: dict, data, stop_after: int):
    """An uninterrupted run, and the same run stopped after `stop_after` steps then resumed (a restart in
    the same processes): rank 0 returns both logged train-loss series."""
    clean = make_config(**{**kw, "out_dir": kw["out_dir"] + "/clean"})
    train(clean, data=data, dist=d)
    cut = make_config(**{**kw, "out_dir": kw["out_dir"] + "/cut"})
    train_until(cut, stop_after, data=data, dist=d)
    train(cut, data=data, dist=d)
    if d.rank != 0:
        return None
    return _train_loss(clean), _train_loss(cut)
