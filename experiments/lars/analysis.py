"""Analysis of the LARS study from its committed CSVs (used by claims.py and notebooks/lars.ipynb).

Accuracy of a setting = mean over seeds of the final test accuracy, a diverged run scoring chance (10%,
as the paper's Table 1 writes 0.1% for its diverged 1000-class runs); "best" = the learning rate of the
grid with the highest seed mean (the tuned-lr control, batch_science `best_over`). The third design's
claims (claims.toml, ids v3_*) are judged in claims.py from these helpers: `settings` (one row per grid
point), `best`, `step1` (Table 2's per-tensor ||w||, ||g||) and `spread` (its max/min across tensors). The
first two designs' summaries are in git history (README).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from largebatch.study import CHANCE_ACC

CHANCE = CHANCE_ACC  # 10 Fashion-MNIST classes
BASE_B = 128  # the batch of the step-1 (Table 2) runs
LAYER_ORDER = [f"{m}.{p}" for i in range(1, 5) for m in (f"fc{i}", f"bn{i}") for p in ("weight", "bias")]
KEYS = ["experiment", "net", "optimizer", "global_batch", "epochs", "lr_base"]


def load(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    d = Path(data_dir)
    return (
        pd.read_csv(d / "lars.csv"),
        pd.read_csv(d / "lars_curves.csv"),
        pd.read_csv(d / "lars_trust_ratios.csv"),
    )


def scored(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs with `acc`: final test accuracy, chance for diverged runs."""
    acc = np.where(runs.status == "diverged", CHANCE, runs.final_test_acc.astype(float))
    return runs.assign(acc=acc)


def settings(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (experiment, net, optimizer, B, epochs, lr_base): peak lr, acc mean/std/n, diverged."""
    r = scored(runs[runs.experiment != "table2"])
    g = r.groupby(KEYS, sort=True)
    out = g.agg(
        lr=("lr", "first"),
        mean=("acc", "mean"),
        std=("acc", "std"),
        n=("acc", "size"),
        diverged=("status", lambda s: int((s == "diverged").sum())),
    )
    return out.reset_index()


def best(st: pd.DataFrame, experiment: str, net: str, optimizer: str, b: int) -> pd.Series | None:
    """The setting with the highest seed-mean accuracy (None if there is none)."""
    s = st[
        (st.experiment == experiment) & (st.net == net) & (st.optimizer == optimizer) & (st.global_batch == b)
    ]
    return None if not len(s) else s.sort_values(["mean", "lr_base"], ascending=[False, True]).iloc[0]


def step1(ratios: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The step-1 table: per (net, init, B, layer) mean over seeds of ||w||, ||g|| and ||w||/||g|| (table2
    runs; init is "default" where the CSV has no init column)."""
    t2 = runs[runs.experiment == "table2"]
    t2 = t2.assign(init=t2["init"].fillna("default") if "init" in t2 else "default")  # v2: two inits
    r = ratios[ratios.step == 1].merge(t2[["run_id", "net", "init", "global_batch", "seed"]], on="run_id")
    r = r.assign(w_over_g=r.w_norm / r.g_norm)
    out = (
        r.groupby(["net", "init", "global_batch", "layer"])
        .agg(
            w_norm=("w_norm", "mean"),
            g_norm=("g_norm", "mean"),
            w_over_g=("w_over_g", "mean"),
            w_over_g_std=("w_over_g", "std"),
            n=("w_over_g", "size"),
        )
        .reset_index()
    )
    order = {name: i for i, name in enumerate(LAYER_ORDER)}
    return (
        out.assign(pos=out.layer.map(order))
        .sort_values(["net", "init", "global_batch", "pos"])
        .drop(columns="pos")
    )


def spread(ratios: pd.DataFrame, runs: pd.DataFrame, weights_only: bool = False) -> pd.DataFrame:
    """Per table2 run: max / min over parameter tensors of ||w||/||g|| at step 1.

    Tensors with ||w|| = 0 at initialisation (BN beta) are left out: their ratio is 0 by construction
    (LARS's guard gives them lambda = 1), and the paper's Table 2 has no such row.
    """
    t2 = runs[runs.experiment == "table2"][["run_id", "net", "global_batch", "seed"]]
    r = ratios[(ratios.step == 1) & (ratios.w_norm > 0) & (ratios.g_norm > 0)].merge(t2, on="run_id")
    if weights_only:  # conv/fc weights: not biases, not BN
        r = r[r.layer.str.endswith(".weight") & ~r.layer.str.startswith("bn")]
    r = r.assign(w_over_g=r.w_norm / r.g_norm)
    g = r.groupby(["run_id", "net", "global_batch", "seed"]).w_over_g
    return (g.max() / g.min()).rename("spread").reset_index()
