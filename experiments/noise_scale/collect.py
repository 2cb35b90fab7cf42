"""Collect the noise-scale runs into paper_figures/data/noise_scale.csv and noise_scale_curves.csv.

python -m experiments.noise_scale.collect        (the sweep calls collect() after the grid)
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from largebatch.config import run_id
from largebatch.metrics import read_summary
from largebatch.paths import DATA, ROOT
from largebatch.runs import check_run
from largebatch.tables import CollectOptions, collect_main, merge_committed, write_csvs

from .config import grid

KEYS = {"noise_scale.csv": ("run_id",), "noise_scale_curves.csv": ("run_id", "step")}  # a run counts once
# Tags whose curves are not kept: no claim or figure reads them (the optimal-batch claims read final
# accuracies; the fourth design's critical-batch rows read steps to the target, and its curves, 57k rows,
# would push the curves CSV past 8 MB). The first design's critical-batch curves stay as committed.
NO_CURVES = ("optimal_batch", "critical_batch_v4")
COLUMNS = [
    "study",
    "experiment",
    "run_id",
    "seed",
    "N_train",
    "global_batch",
    "lr",
    "momentum",
    "steps",
    "examples",
    "status",
    "final_train_acc",
    "final_test_acc",
    "steps_to_target",
    "examples_to_target",
    "b_simple_final",
    "target_train_loss",
    "wall_s",
    "meta.git_sha",  # the commit that produced the run (its config.json); empty for the first design's runs
]
CURVE_COLUMNS = [
    "run_id",
    "step",
    "examples_seen",
    "train_loss",
    "test_acc",
    "b_simple",
    "trace_sigma_raw",
    "g2_raw",
]


def _rows(scale: str, runs_dir: Path):
    for cfg in grid(scale):
        d = runs_dir / cfg.study / run_id(cfg)
        s = read_summary(d)
        if s is None:
            if (d / "summary.json").exists():
                print(
                    f"[collect] warning: skipping {d}: summary.json is truncated or lacks final metrics; "
                    "rerun the run (it finishes from its last checkpoint)",
                    file=sys.stderr,
                )
            continue
        if check_run(d, s) is None:  # refused if its config or summary disagrees with the run
            continue
        meta = json.loads((d / "config.json").read_text())
        recs = []
        for x in (d / "metrics.jsonl").read_text().splitlines() if (d / "metrics.jsonl").exists() else []:
            try:
                recs.append(json.loads(x))
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
        noise = [r for r in recs if "noise/b_simple" in r]
        reached = s.get("target_reached_step")
        yield (
            {
                "study": cfg.study,
                "experiment": cfg.tag,
                "run_id": run_id(cfg),
                "seed": cfg.seed,
                "N_train": meta["resolved"]["train_examples"],
                "global_batch": cfg.global_batch,
                "lr": cfg.lr_base,
                "momentum": cfg.momentum,
                "steps": s["steps"],
                "examples": s["examples_seen"],
                "status": s["status"],
                "final_train_acc": s["final_train_acc"],
                "final_test_acc": s["final_test_acc"],
                "steps_to_target": reached,
                "examples_to_target": reached * cfg.global_batch if reached else None,
                "b_simple_final": noise[-1]["noise/b_simple"] if noise else None,
                "target_train_loss": cfg.stop_at_train_loss or None,
                "wall_s": s["wall_s"],
                "meta.git_sha": meta.get("git_sha"),
            },
            []
            if cfg.tag in NO_CURVES
            else [
                {
                    "run_id": run_id(cfg),
                    "step": r["step"],
                    "examples_seen": r["examples_seen"],
                    "train_loss": r.get("train/loss"),
                    "test_acc": r.get("test/acc"),
                    "b_simple": r.get("noise/b_simple"),
                    "trace_sigma_raw": r.get("noise/trace_sigma_raw"),
                    "g2_raw": r.get("noise/g2_raw"),
                }
                for r in recs
            ],
        )


def collect(
    scale: str = "cpu", runs_dir: str | Path = ROOT / "runs", data_dir: str | Path = DATA, merge: bool = False
) -> list[Path]:
    """Write the two CSVs from the complete runs of grid(scale) (the core runs it at the cpu scale only:
    largebatch.study.skip_scale).

    merge: keep the committed rows of runs not found under `runs_dir` (`--merge`: the runs here add to the
    committed CSVs instead of replacing them).
    """
    rows, curves = [], []
    for row, cur in _rows(scale, Path(runs_dir)):
        rows.append(row)
        curves += cur
    if not rows:
        print("[collect] noise_scale: no complete runs; CSVs unchanged", file=sys.stderr)
        return []
    data_dir = Path(data_dir)
    runs = pd.DataFrame(rows, columns=COLUMNS)
    cur = pd.DataFrame(curves, columns=CURVE_COLUMNS)
    if merge:
        runs = merge_committed(runs, data_dir / "noise_scale.csv")
        cur = merge_committed(cur, data_dir / "noise_scale_curves.csv")
    dropped = {run_id(c) for c in grid(scale) if c.tag in NO_CURVES}
    cur = cur[~cur.run_id.isin(dropped)]  # committed rows of such runs too (merge keeps them otherwise)
    return write_csvs(
        [
            (runs, data_dir / "noise_scale.csv", ["experiment", "N_train", "lr", "global_batch", "seed"]),
            (cur, data_dir / "noise_scale_curves.csv", ["run_id", "step"]),
        ],
        KEYS,
    )


@dataclass
class Options(CollectOptions):
    merge: bool = False  # add the runs in runs/ to the committed CSV's rows (a new design's runs alone)


if __name__ == "__main__":
    sys.exit(collect_main(collect, options=Options))
