"""Analysis of the LARS study from its committed CSVs (used by claims.py and notebooks/lars.ipynb).

Accuracy of a setting = mean over seeds of the final test accuracy, a diverged run scoring chance (10%,
as the paper's Table 1 writes 0.1% for its diverged 1000-class runs); "best" = the learning rate of the
grid with the highest seed mean (the tuned-lr control, batch_science `best_over`). Criteria (issue 10,
verbatim): (a) no-BN net: linear-scaled SGD (eta0 * B/128, eta0 the tuned B = 128 lr) diverges or loses
>= 3 pt at B = 4096 even with warmup; (b) LARS at B = 4096 within 1.5 pt of the B = 128 baseline and
>= 0.3 pt better than the best-tuned SGD at the same B and epochs; (c) LARS at B = 128 within 0.3 pt of SGD;
(d) at the largest B, doubling epochs recovers >= 50% of LARS's gap; (e) per-layer ||w||/||g|| spreads
>= 10x across layers at step 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from largebatch.study import CHANCE_ACC

CHANCE = CHANCE_ACC  # 10 Fashion-MNIST classes
BASE_B, CLAIM_B = 128, 4096
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


def seeds_of(runs: pd.DataFrame, row: pd.Series) -> pd.Series:
    """Per-seed scored accuracies of one setting."""
    r = scored(runs)
    m = np.ones(len(r), bool)
    for k in KEYS:
        m &= (r[k] == row[k]).to_numpy() if k != "lr_base" else np.isclose(r[k], row[k])
    return r[m].sort_values("seed").acc


def batch_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per net and B (main experiment): best-tuned SGD, linear-rule SGD, best LARS (Tables 1 and 3)."""
    st = settings(runs)
    eta0 = {net: best(st, "main", net, "sgd", BASE_B) for net in st.net.unique()}
    rows = []
    for (net, b), _ in st[st.experiment == "main"].groupby(["net", "global_batch"]):
        sg, la = best(st, "main", net, "sgd", b), best(st, "main", net, "lars", b)
        lin = (
            st[
                (st.experiment == "main")
                & (st.net == net)
                & (st.optimizer == "sgd")
                & (st.global_batch == b)
                & np.isclose(st.lr_base, eta0[net].lr_base)
            ]
            if eta0[net] is not None
            else st.iloc[:0]
        )
        row = {"net": net, "B": int(b)}
        for name, x in (("sgd", sg), ("lars", la), ("sgd_linear", lin.iloc[0] if len(lin) else None)):
            row.update(
                {
                    f"{name}_lr": None if x is None else x.lr,
                    f"{name}_mean": None if x is None else x["mean"],
                    f"{name}_std": None if x is None else x["std"],
                    f"{name}_n": None if x is None else x.n,
                    f"{name}_diverged": None if x is None else x.diverged,
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)


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


def pt(x: float) -> float:
    return 100.0 * float(x)


def summary(data_dir: Path) -> dict:
    """Every number the claims need, per net: baseline, the (a)-(d) comparisons, the step-1 spread."""
    runs, curves, ratios = load(data_dir)
    st = settings(runs)
    out = {
        "runs": runs,
        "settings": st,
        "batch": batch_table(runs),
        "step1": step1(ratios, runs),
        "spread": spread(ratios, runs),
        "spread_w": spread(ratios, runs, weights_only=True),
        "nets": {},
    }
    big = (
        int(runs[runs.experiment == "longer"].global_batch.max())
        if (runs.experiment == "longer").any()
        else int(st.global_batch.max())
    )
    out["largest_B"] = big
    for net in sorted(st.net.unique()):
        base = best(st, "main", net, "sgd", BASE_B)
        d = {"base": base, "base_seeds": seeds_of(runs, base)}
        lin = st[
            (st.experiment == "main")
            & (st.net == net)
            & (st.optimizer == "sgd")
            & (st.global_batch == CLAIM_B)
            & np.isclose(st.lr_base, base.lr_base)
        ]
        d["linear"] = lin.iloc[0] if len(lin) else None
        d["linear_seeds"] = seeds_of(runs, d["linear"]) if d["linear"] is not None else pd.Series(dtype=float)
        for key, exp, opt, b in (
            ("sgd_claim", "main", "sgd", CLAIM_B),
            ("lars_claim", "main", "lars", CLAIM_B),
            ("lars_base", "main", "lars", BASE_B),
            ("lars_big", "main", "lars", big),
            ("lars_big_2x", "longer", "lars", big),
            ("sgd_big", "main", "sgd", big),
            ("sgd_big_2x", "longer", "sgd", big),
        ):
            row = best(st, exp, net, opt, b)
            d[key], d[key + "_seeds"] = (
                row,
                (seeds_of(runs, row) if row is not None else pd.Series(dtype=float)),
            )
        out["nets"][net] = d
    return out
