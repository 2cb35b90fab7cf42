"""Calibration runs made before a study's sweep (its `calibrate.py`): run once, and read a B_simple probe.

A study's proxy places its batches against B_simple measured on its own model and data (scalemodel).
The probe is an ordinary run with the noise module on (raw values, no EMA); `probe_main` is a study's whole
calibrate.py command (train the probe, write its CSV, print B_simple). Its B_simple over a window of
epochs is the ratio of the mean tr(Sigma) to the mean |G|^2 of the measurements in the window (McCandlish et
al., arXiv 1812.06162, App. A: numerator and denominator averaged separately, then divided).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from .cmdline import Command
from .config import TrainConfig
from .metrics import read_summary
from .runid import run_id
from .trainer import run_dir, train


@dataclass
class ProbeOptions:
    """A B_simple probe's command line (experiments/<study>/calibrate.py)."""

    collect: bool = False  # train nothing: only write the CSV from an existing (complete) probe run


def probe_command(study: str, doc: str) -> Command:
    """`python -m experiments.<study>.calibrate [--collect]`, described by the first line of `doc`."""
    return Command(f"python -m experiments.{study}.calibrate", doc.split("\n\n")[0], ProbeOptions)


def bsimple_probe(cfg: TrainConfig, seed: int, **over) -> TrainConfig:
    """`cfg` as a B_simple probe: tag calib_bsimple, the noise measured every 10 steps without an EMA, no
    evaluation during training (`over`: more fields to set)."""
    return replace(
        cfg, tag="calib_bsimple", seed=seed, noise_every_steps=10, noise_ema=0.0, eval_every_steps=0, **over
    )


def run_if_missing(cfg: TrainConfig) -> dict:
    """The run's summary: read when the run is complete, else trained (resuming from its checkpoint)."""
    s = read_summary(run_dir(cfg))
    if s is not None:
        print(f"[calibrate] {run_id(cfg)} complete; skipped", flush=True)
        return s
    return train(cfg)


def b_simple_window(metrics: Path, window: tuple[float, float]) -> dict:
    """B_simple of the measurements in metrics.jsonl with epoch in [lo, hi), with |G|^2's standard error."""
    rows = [json.loads(line) for line in Path(metrics).read_text().splitlines() if line.strip()]
    m = pd.DataFrame([r for r in rows if "noise/g2_raw" in r])
    w = m[(m["epoch"] >= window[0]) & (m["epoch"] < window[1])]
    g2, tr = float(w["noise/g2_raw"].mean()), float(w["noise/trace_sigma_raw"].mean())
    se = float(w["noise/g2_raw"].std(ddof=1) / len(w) ** 0.5)
    loss = float(w["train/loss"].mean()) if "train/loss" in w else float("nan")
    return {
        "b_simple": tr / g2,
        "g2_mean": g2,
        "g2_se": se,
        "trace_sigma_mean": tr,
        "n_measurements": len(w),
        "train_loss_window": loss,
    }


def probe_row(cfg: TrainConfig, window: tuple[float, float], part: str = "probe") -> dict | None:
    """One CSV row for the probe run of `cfg` (None while it is not complete): ids, window, B_simple and
    |G|^2 statistics, final test error, status, wall time and the git commit the run was made at."""
    d = run_dir(cfg)
    s = read_summary(d)
    if s is None:
        return None
    conf = d / "config.json"
    acc = s.get("final_test_acc")
    return {
        "part": part,
        "run_id": run_id(cfg),
        "seed": cfg.seed,
        "global_batch": cfg.global_batch,
        "epochs": cfg.epochs,
        "window_epochs": f"{window[0]:.3f}-{window[1]:.3f}",
        **b_simple_window(d / "metrics.jsonl", window),
        "final_test_err": 100 * (1 - acc) if acc is not None else None,
        "status": s.get("status"),
        "wall_s": s.get("wall_s"),
        "git_sha": json.loads(conf.read_text()).get("git_sha") if conf.exists() else None,
    }


def measured(path: Path, part: str = "probe") -> float | None:
    """The committed probe's B_simple (None before the probe has run)."""
    if not Path(path).exists():
        return None
    cal = pd.read_csv(path)
    return float(cal.loc[cal["part"] == part, "b_simple"].iloc[0])


ROUND = {"final_test_err": 4, "wall_s": 1, "b_simple": 1, "epochs": 4}  # as the committed calib CSVs


def write_probe(cfg: TrainConfig, window: tuple[float, float], csv: Path) -> Path | None:
    """The probe's row (`probe_row`) written to `csv`, rounded as the committed calibration CSVs are; None
    (and one line on stderr) while the probe run is not complete."""
    from .tables import write_csv_atomic

    row = probe_row(cfg, window)
    if row is None:
        print(f"[calibrate] no complete probe run at {run_dir(cfg)}", file=sys.stderr)
        return None
    return write_csv_atomic(pd.DataFrame([row]).round(ROUND), csv, sort_by=["part"])


def probe_main(
    study: str,
    doc: str,
    cfg: TrainConfig,
    window: tuple[float, float],
    csv: Path,
    note: Callable[[float], str] = str,
    argv: list[str] | None = None,
) -> int:
    """`python -m experiments.<study>.calibrate [--collect]`: train the probe `cfg` (unless --collect, or
    complete), write its CSV, print it and B_simple (`note(b_simple)` says what the study does with it).
    Returns 1 when there is no complete probe run to collect."""
    a, _ = probe_command(study, doc).parse(sys.argv[1:] if argv is None else argv)
    if not a.collect:
        run_if_missing(cfg)
    path = write_probe(cfg, window, csv)
    if path is None:
        return 1
    print(pd.read_csv(path).to_string(index=False))
    print(f"[calibrate] B_simple = {measured(path):.1f} {note(measured(path))}".rstrip())
    return 0


__all__ = ["run_if_missing", "b_simple_window", "probe_row", "measured", "write_probe", "probe_main"]
