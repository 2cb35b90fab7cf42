"""Collect the LARS study's runs into paper_figures/data/lars{,_curves,_trust_ratios}.csv.

    python -m experiments.lars.collect [--scale=cpu]

lars.csv: one row per run of the cpu grid (diverged runs kept, status "diverged", no accuracy); design = "v3"
(config.DESIGN) or "v4" (config.DESIGN_V4: the fourth design's seeds, config.SEEDS_V4; the second design's
CSV says "v2", the first's has no such column), init = default | caffe.
lars_curves.csv: one row per evaluation of every run (test/train accuracy, train loss, lr, mean trust ratio).
lars_trust_ratios.csv: one row per (LARS run, evaluation, parameter tensor): ||w||, ||g|| and the trust
ratio lambda = eta ||w|| / (||g|| + beta ||w||) of the optimizer step just before that evaluation, as the
trainer logs them from LARS.last_stats() (`lars_layer/<name>/{w_norm,g_norm,ratio}`); the `table2` runs'
rows at step 1 are the step-1 table (w_norm, g_norm of the freshly initialised net on the first batch).
Called by `python -m largebatch.sweep lars` after the grid; does nothing at other scales or without runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from largebatch.results import DATA, ROOT, collect_main, grid_run_names, load_curves, load_runs, write_csvs
from largebatch.tables import RUN_COLUMNS

from .config import DESIGN, DESIGN_V4, INITS, SEEDS_V4, grid

COLUMNS = [
    *RUN_COLUMNS,
    "model",
    "net",
    "init",
    "bn",
    "optimizer",
    "global_batch",
    "lr",
    "lr_base",
    "trust_coef",
    "epochs",
    "warmup_epochs",
    "weight_decay",
    "momentum",
    "lars_denom",
    "lars_exclude_bn_bias",
    "lars_trust_clip",
    "status",
    "steps",
    "diverged_step",
    "final_test_acc",
    "final_test_loss",
    "final_train_acc",
    "final_train_loss",
    "wall_s",
    "train_s",
    "meta.device",
    "meta.torch",
    "meta.git_sha",
]
CURVE_KEYS = {
    "epoch": "epoch",
    "examples_seen": "examples_seen",
    "opt/lr": "lr",
    "train/loss": "train_loss",
    "test/acc": "test_acc",
    "test/loss": "test_loss",
    "train_eval/acc": "train_acc",
    "train_eval/loss": "train_eval_loss",
    "lars/trust_ratio_mean": "trust_ratio_mean",
}
LAYER_PREFIX = "lars_layer/"
KEYS = {  # what identifies a row of each CSV: a run counts once
    "lars.csv": ("run_id",),
    "lars_curves.csv": ("run_id", "step"),
    "lars_trust_ratios.csv": ("run_id", "step", "layer"),
}
SIG = 6  # significant digits kept in lars_trust_ratios.csv (it is the largest file)


def _mine(scale: str, runs_dir: Path) -> list[str]:
    """Run directories whose config (re-hashed now) is in grid(scale)."""
    return grid_run_names("lars", grid(scale), runs_dir)


def run_table(runs: pd.DataFrame) -> pd.DataFrame:
    """lars.csv rows: the issue's columns plus the switches that define each run."""
    nets = {m: net for names in INITS.values() for net, m in names.items()}
    inits = {m: init for init, names in INITS.items() for m in names.values()}
    df = runs.assign(
        design=runs["seed"].isin(SEEDS_V4).map({True: DESIGN_V4, False: DESIGN}),
        experiment=runs["tag"],
        net=runs["model"].map(nets),
        init=runs["model"].map(inits),
        bn=runs["has_bn"].astype(bool),
        lr=runs["resolved.lr_peak"],
    )
    df.loc[df["optimizer"] != "lars", "trust_coef"] = float("nan")  # eta means nothing for SGD rows
    return df[[c for c in COLUMNS if c in df.columns]]


def curve_table(curves: pd.DataFrame) -> pd.DataFrame:
    """lars_curves.csv rows: evaluations only (records with test accuracy). `lr` and `train_loss` are the
    last values logged at or before the evaluation (the trainer logs them every log_every_steps steps)."""
    if "test/acc" not in curves:
        return curves.iloc[:0]
    c = curves.copy()
    for k in ("opt/lr", "train/loss"):
        if k in c:
            c[k] = c.groupby("run_id")[k].ffill()
    c = c[c["test/acc"].notna()]
    keep = ["run_id", "step"] + [k for k in CURVE_KEYS if k in c.columns]
    return c[keep].rename(columns=CURVE_KEYS)


def ratio_table(curves: pd.DataFrame) -> pd.DataFrame:
    """lars_trust_ratios.csv rows: (run_id, step, layer, w_norm, g_norm, ratio) from lars_layer/* keys."""
    cols = [c for c in curves.columns if c.startswith(LAYER_PREFIX)]
    if not cols:
        return pd.DataFrame(columns=["run_id", "step", "layer", "w_norm", "g_norm", "ratio"])
    long = curves[["run_id", "step", *cols]].melt(id_vars=["run_id", "step"], var_name="key").dropna()
    parts = long["key"].str[len(LAYER_PREFIX) :].str.rsplit("/", n=1, expand=True)
    long = long.assign(layer=parts[0], stat=parts[1])
    wide = long.pivot_table(
        index=["run_id", "step", "layer"], columns="stat", values="value", aggfunc="first"
    )
    wide = wide.reset_index()[["run_id", "step", "layer", "w_norm", "g_norm", "ratio"]]
    for c in ("w_norm", "g_norm", "ratio"):
        wide[c] = wide[c].map(lambda v: float(f"{v:.{SIG}g}"))
    return wide


def collect(
    scale: str = "cpu", runs_dir: str | Path = ROOT / "runs", data_dir: str | Path = DATA
) -> list[Path]:
    """Write the three CSVs from the finished runs of grid(scale); returns the paths written ([] if none)."""
    if scale != "cpu":  # smoke and paper runs must not replace the committed cpu results
        print(f"[collect] lars: scale {scale!r}, CSVs unchanged", file=sys.stderr)
        return []
    runs_dir, data_dir = Path(runs_dir), Path(data_dir)
    mine = set(_mine(scale, runs_dir))
    runs = load_runs("lars", runs_dir)
    runs = runs[runs["run_id"].isin(mine)] if len(runs) else runs
    if not len(runs):
        print(f"[collect] lars: no finished cpu runs under {runs_dir}; CSVs unchanged", file=sys.stderr)
        return []
    curves = load_curves("lars", runs_dir)
    curves = curves[curves["run_id"].isin(set(runs["run_id"]))]
    return write_csvs(
        [
            (run_table(runs), data_dir / "lars.csv", ["run_id"]),
            (curve_table(curves), data_dir / "lars_curves.csv", ["run_id", "step"]),
            (ratio_table(curves), data_dir / "lars_trust_ratios.csv", ["run_id", "step", "layer"]),
        ],
        KEYS,
    )


if __name__ == "__main__":
    sys.exit(collect_main(collect))
