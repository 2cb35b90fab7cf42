"""Collect the B* probes into paper_figures/data/failure_batch.csv.

    python -m experiments.failure_batch.collect [--scale=cpu]

One row per complete run of the cpu grid: the proxy (`probe` = the run's tag), seed, batch, epoch budget,
steps and warmup steps, peak lr, status, final test error (Goyal's: the median of the evaluations in the
final 5/90 of the run, in percent; empty for a diverged run), wall time and the commit the run was made at.
Called by `python -m largebatch.sweep failure_batch`; at other scales the committed CSV is left as it is.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from largebatch.recipes import final_error
from largebatch.results import DATA, ROOT, collect_main, grid_run_names, load_curves, load_runs, write_csvs
from largebatch.study import skip_scale

from .config import STUDY, grid

COLUMNS = [
    "probe",
    "run_id",
    "seed",
    "global_batch",
    "epochs",
    "steps",
    "warmup_steps",
    "lr_peak",
    "status",
    "final_test_err",
    "n_final_evals",
    "last_test_err",
    "examples_seen",
    "wall_s",
    "meta.git_sha",
]
ERR_DIGITS = 4
KEYS = {f"{STUDY}.csv": ("run_id",)}  # what identifies a row: a run counts once


def table(cfgs, runs_dir: str | Path) -> pd.DataFrame:
    """One row per complete run of `cfgs` under runs_dir."""
    mine = grid_run_names(STUDY, cfgs, runs_dir)
    df = load_runs(STUDY, runs_dir)
    df = df[df["run_id"].isin(mine)] if len(df) else df
    if not len(df):
        return pd.DataFrame(columns=COLUMNS)
    cur = load_curves(STUDY, runs_dir)
    cur = cur[cur["run_id"].isin(df["run_id"])].dropna(subset=["test/acc"])
    rows = []
    for _, r in df.iterrows():
        c = cur[cur["run_id"] == r["run_id"]]
        done = r["status"] != "diverged"
        te, n = final_error(c["epoch"], 100 * (1 - c["test/acc"]), r["epochs"])
        rows.append(
            {
                "probe": r["tag"],
                "run_id": r["run_id"],
                "seed": r["seed"],
                "global_batch": r["global_batch"],
                "epochs": r["epochs"],
                "steps": r["steps"],
                "warmup_steps": r["resolved.warmup_steps"],
                "lr_peak": r["lr_peak"],
                "status": r["status"],
                "final_test_err": round(te, ERR_DIGITS) if done else float("nan"),
                "n_final_evals": n if done else 0,
                "last_test_err": round(100 * (1 - r["final_test_acc"]), ERR_DIGITS) if done else float("nan"),
                "examples_seen": r["examples_seen"],
                "wall_s": r["wall_s"],
                "meta.git_sha": r.get("meta.git_sha"),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def collect(
    scale: str = "cpu", runs_dir: str | Path = ROOT / "runs", data_dir: str | Path = DATA
) -> list[Path]:
    """Write failure_batch.csv from the complete cpu runs; returns the paths written ([] if none)."""
    if skip_scale(STUDY, scale):
        return []
    runs = table(grid("cpu"), runs_dir)
    if not len(runs):
        print(f"[collect] {STUDY}: no complete cpu runs under {runs_dir}; CSV unchanged", file=sys.stderr)
        return []
    keys = ["probe", "epochs", "global_batch", "seed"]
    return write_csvs([(runs, Path(data_dir) / f"{STUDY}.csv", keys)], KEYS)


if __name__ == "__main__":
    sys.exit(collect_main(collect))
