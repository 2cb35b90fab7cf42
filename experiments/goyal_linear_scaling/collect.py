"""Collect the Goyal study's runs into paper_figures/data/goyal_linear_scaling{,_curves}.csv.

    python -m experiments.goyal_linear_scaling.collect [--scale=cpu]

goyal_linear_scaling.csv: one row per run of the cpu grid (experiment = batch | warmup | rule | gamma;
design = "v3" for the design placed against B* (config.DESIGN; the v2 CSV said "v2", the first none);
final_test_err / final_train_err are Goyal's model error, the median of the evaluations in the final
5/90 of training (analysis.final_error), in percent. goyal_linear_scaling_curves.csv: one row per
evaluation (run_id, epoch, step, train_err, test_err), train_err on a fixed 10k training subset in eval
mode. Called by `python -m largebatch.sweep goyal_linear_scaling`; at other scales, and without runs, the
committed CSVs are left as they are.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from largebatch.results import DATA, ROOT, collect_main, grid_run_names, load_curves, load_runs, write_csvs
from largebatch.tables import RUN_COLUMNS

from .analysis import final_error
from .config import DESIGN, STUDY, grid

COLUMNS = [
    *RUN_COLUMNS,
    "global_batch",
    "per_worker_batch",
    "lr_peak",
    "lr_rule",
    "warmup",
    "zero_gamma",
    "epochs",
    "status",
    "final_test_err",
    "final_train_err",
    "n_final_evals",
    "last_test_err",
    "steps",
    "steps_per_epoch",
    "warmup_steps",
    "workers",
    "lr_base",
    "lr_base_batch",
    "model",
    "width",
    "depth",
    "weight_decay",
    "nesterov",
    "train_s",
    "wall_s",
    "samples_per_s",
    "meta.device",
    "meta.torch",
    "meta.git_sha",
]
CURVE_COLUMNS = ["run_id", "epoch", "step", "train_err", "test_err"]
KEYS = {f"{STUDY}.csv": ("run_id",), f"{STUDY}_curves.csv": ("run_id", "step")}  # a run counts once
ERR_DIGITS = 4  # errors in percent: accuracies are multiples of 1e-4 (10k examples), so this is exact


def tables(cfgs, runs_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, curves) tables of the complete runs among `cfgs` under runs_dir (both empty if none)."""
    mine = grid_run_names(STUDY, cfgs, runs_dir)
    df = load_runs(STUDY, runs_dir)
    df = df[df["run_id"].isin(mine)] if len(df) else df
    if not len(df):
        return pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=CURVE_COLUMNS)
    cur = load_curves(STUDY, runs_dir)
    cur = cur[cur["run_id"].isin(df["run_id"])]
    ev = cur.dropna(subset=["test/acc"]) if "test/acc" in cur else cur.iloc[0:0]
    curves = pd.DataFrame(
        {
            "run_id": ev["run_id"],
            "epoch": ev["epoch"].round(6),
            "step": ev["step"],
            "train_err": (100 * (1 - ev["train_eval/acc"])).round(ERR_DIGITS),
            "test_err": (100 * (1 - ev["test/acc"])).round(ERR_DIGITS),
        }
    )
    rows = []
    for _, r in df.iterrows():
        c = curves[curves["run_id"] == r["run_id"]]
        te, n = final_error(c["epoch"], c["test_err"], r["epochs"])
        tr, _ = final_error(c["epoch"], c["train_err"], r["epochs"])
        done = r["status"] != "diverged"
        rows.append(
            {
                "study": STUDY,
                "design": DESIGN,
                "experiment": r["tag"],
                "run_id": r["run_id"],
                "seed": r["seed"],
                "global_batch": r["global_batch"],
                "per_worker_batch": r["per_worker_batch"],
                "lr_peak": r["lr_peak"],
                "lr_rule": r["lr_scaling"],
                "warmup": r["warmup"],
                "zero_gamma": r["zero_gamma"],
                "epochs": r["epochs"],
                "status": r["status"],
                "final_test_err": round(te, ERR_DIGITS) if done else float("nan"),
                "final_train_err": round(tr, ERR_DIGITS) if done else float("nan"),
                "n_final_evals": n if done else 0,
                "last_test_err": round(100 * (1 - r["final_test_acc"]), ERR_DIGITS) if done else float("nan"),
                "steps": r["steps"],
                "steps_per_epoch": r["resolved.steps_per_epoch"],
                "warmup_steps": r["resolved.warmup_steps"],
                "workers": r["resolved.workers"],
                "lr_base": r["lr_base"],
                "lr_base_batch": r["lr_base_batch"],
                "model": r["model"],
                "width": r["width"],
                "depth": r["depth"],
                "weight_decay": r["weight_decay"],
                "nesterov": r["nesterov"],
                "train_s": r["train_s"],
                "wall_s": r["wall_s"],
                "samples_per_s": round(r["examples_seen"] / max(r["train_s"], 1e-9), 1),
                "meta.device": r.get("meta.device"),
                "meta.torch": r.get("meta.torch"),
                "meta.git_sha": r.get("meta.git_sha"),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS), curves[CURVE_COLUMNS]


def collect(
    scale: str = "cpu", runs_dir: str | Path = ROOT / "runs", data_dir: str | Path = DATA
) -> list[Path]:
    """Write the two CSVs from the complete runs of the cpu grid; returns the paths written ([] if none)."""
    if scale != "cpu":  # smoke runs check the code path; paper runs are collected where they ran
        print(f"[collect] {STUDY}: {scale} scale, CSVs unchanged", file=sys.stderr)
        return []
    runs, curves = tables(grid("cpu"), runs_dir)
    if not len(runs):
        print(f"[collect] {STUDY}: no complete cpu runs under {runs_dir}; CSVs unchanged", file=sys.stderr)
        return []
    data_dir = Path(data_dir)
    return write_csvs(
        [
            (runs, data_dir / f"{STUDY}.csv", ["experiment", "global_batch", "run_id"]),
            (curves, data_dir / f"{STUDY}_curves.csv", ["run_id", "step"]),
        ],
        KEYS,
    )


if __name__ == "__main__":
    sys.exit(collect_main(collect))
