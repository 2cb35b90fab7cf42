"""Collect the seed MLP's runs into paper_figures/data/seed_mlp.csv (one row per run of the scale's grid).

    python -m experiments.seed_mlp.collect [--scale=cpu]

Called by `python -m largebatch.sweep seed_mlp` after the grid. Without runs on this machine, and at the
smoke scale, the committed CSV is left as it is.
"""

from __future__ import annotations

import sys
from pathlib import Path

from largebatch.paths import DATA, ROOT
from largebatch.runs import grid_run_names, load_runs
from largebatch.tables import collect_main, write_csvs

from .config import grid

WRITES = ("cpu", "paper")  # smoke runs check the code path; they never replace the committed results
KEYS = {"seed_mlp.csv": ("run_id",)}  # what identifies a row of each CSV: a run counts once
COLUMNS = [
    "run_id",
    "seed",
    "dataset",
    "model",
    "width",
    "depth",
    "optimizer",
    "lr_base",
    "global_batch",
    "per_worker_batch",
    "epochs",
    "world_size",
    "status",
    "steps",
    "examples_seen",
    "wall_s",
    "train_s",
    "final_test_acc",
    "final_test_loss",
    "final_train_acc",
    "final_train_loss",
    "meta.device",
    "meta.torch",
    "meta.git_sha",
]


def collect(
    scale: str = "cpu", runs_dir: str | Path = ROOT / "runs", data_dir: str | Path = DATA
) -> list[Path]:
    """Write seed_mlp.csv from the complete runs of `grid(scale)`; returns the paths written ([] if none)."""
    # Match on the id the run's own config gets now, not its directory name: an older run_id hash (or a
    # renamed directory) must not hide a run whose configuration is in the grid.
    mine = grid_run_names("seed_mlp", grid(scale), runs_dir)
    df = load_runs("seed_mlp", runs_dir)
    df = df[df["run_id"].isin(mine)] if len(df) else df
    if not len(df):
        print(
            f"[collect] seed_mlp: no complete {scale} runs under {runs_dir}; CSV unchanged", file=sys.stderr
        )
        return []
    cols = [c for c in COLUMNS if c in df.columns]
    return write_csvs([(df[cols], Path(data_dir) / "seed_mlp.csv", ["run_id"])], KEYS)


if __name__ == "__main__":
    sys.exit(collect_main(collect))
