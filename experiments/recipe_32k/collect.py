"""Collect the 32k-recipe runs into paper_figures/data/recipe_32k*.csv (called by the sweep after the grid).

    python -m experiments.recipe_32k.collect [--scale=cpu]

recipe_32k.csv            one row per complete run of the cpu grid: arm, batch_role (main; the second
                          design also had alt, an arm repeated at a second batch), configuration, status,
                          final test error (%, Goyal's: the median of the evaluations in the final 5/90,
                          as the Goyal study's CSV, whose baseline and A runs the third design shares) and
                          train error (%, 100 * (1 - final accuracy)), wall time
recipe_32k_curves.csv     one row per run x evaluation: epoch, test / train error (%), the mean training
                          loss over the steps since the previous evaluation, lr
recipe_32k_schedules.csv  the lr schedule and the RMSprop warm-up weights over epochs of every arm's config,
                          at cpu and paper scale, computed from the configs (largebatch.schedules.lr_curve,
                          largebatch.rmsprop_warmup.alpha_sgd), not from runs
Only the cpu scale writes; smoke runs check the code path and never replace committed results, and the paper
scale has no runs on this machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from largebatch.config import resolve
from largebatch.recipes import final_error
from largebatch.results import DATA, ROOT, collect_main, grid_run_names, load_curves, load_runs, write_csvs
from largebatch.rmsprop_warmup import alpha_sgd
from largebatch.schedules import lr_curve

from .config import ARMS, STUDY, arm_v3, grid
from .config import DESIGN_V3 as DESIGN

RUN_COLUMNS = [
    "study",
    "design",
    "arm",
    "batch_role",
    "run_id",
    "seed",
    "global_batch",
    "optimizer",
    "schedule",
    "bn_eval",
    "comm_dtype",
    "epochs",
    "status",
    "final_test_err",
    "final_train_err",
    "world_size",
    "workers",
    "lr_peak",
    "steps",
    "final_test_loss",
    "final_train_loss",
    "diverged_step",
    "wall_s",
    "train_s",
    "meta.device",
    "meta.torch",
    "meta.git_sha",
]
CURVE_COLUMNS = [
    "run_id",
    "arm",
    "batch_role",
    "seed",
    "global_batch",
    "bn_eval",
    "comm_dtype",
    "step",
    "epoch",
    "test_err",
    "train_err",
    "train_loss",
    "lr",
]
KEYS = {  # what identifies a row of each CSV: a run (an arm of it: D and D_running) counts once
    f"{STUDY}.csv": ("run_id", "arm"),
    f"{STUDY}_curves.csv": ("run_id", "arm", "step"),
    f"{STUDY}_schedules.csv": ("scale", "arm", "step"),
}
SCHEDULE_COLUMNS = [
    "scale",
    "arm",
    "global_batch",
    "step",
    "epoch",
    "lr",
    "lr_over_goyal",
    "alpha_sgd",
    "sgd_lr",
    "rms_lr_eff",
]


def _sig(df: pd.DataFrame, cols: list[str], digits: int = 6) -> pd.DataFrame:
    """Round float columns to `digits` significant digits (stable, small CSVs; errors are k/100 % anyway)."""
    return df.assign(**{c: df[c].map(lambda v: float(f"{v:.{digits}g}") if pd.notna(v) else v) for c in cols})


def schedule_name(decay: str) -> str:
    return {"step": "goyal_step", "piecewise": "slow_start"}.get(decay, decay)


def tidy_runs(df: pd.DataFrame) -> pd.DataFrame:
    """load_runs rows -> the recipe_32k.csv columns (errors in percent); batch_role is "main" for every run
    of the third design (the second repeated arm A at a second batch, "alt")."""
    out = df.assign(
        study=STUDY,
        design=DESIGN,
        arm=df["tag"],
        batch_role="main",
        schedule=df["decay"].map(schedule_name),
        final_test_err=100 * (1 - df["final_test_acc"].astype(float)),
        final_train_err=100 * (1 - df["final_train_acc"].astype(float)),
        workers=df["resolved.workers"],
    )
    out = _sig(out, ["final_test_err", "final_train_err"])
    if "final_test_running_acc" in df.columns:  # D's runs also scored the running averages: D_running
        d = df["final_test_running_acc"].notna().to_numpy() & (out["arm"] == "D").to_numpy()
        run = out[d].assign(
            arm="D_running",
            bn_eval="running",
            final_train_err=float("nan"),
            final_test_err=100 * (1 - df.loc[d, "final_test_running_acc"].astype(float)),
        )
        out = pd.concat([out, _sig(run, ["final_test_err"])], ignore_index=True)
    return out[[c for c in RUN_COLUMNS if c in out.columns]]


def goyal_final_errors(runs: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """final_test_err as the Goyal study's CSV has it (the third design compares these arms with its runs):
    Goyal's model error, the median of the evaluations in the final 5/90 of the run (D_running: of its
    running-average scores); a diverged run keeps no final error."""
    out = runs.copy()
    for i, r in out.iterrows():
        c = curves[(curves["run_id"] == r["run_id"]) & (curves["arm"] == r["arm"])]
        if r["status"] == "diverged" or not len(c):
            continue
        err, _ = final_error(c["epoch"], c["test_err"], float(r["epochs"]))
        out.loc[i, "final_test_err"] = round(err, 4)
    return out


def tidy_curves(curves: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """metrics.jsonl records -> one row per evaluation, with the mean train loss since the previous one."""
    c = curves.sort_values(["run_id", "step"], kind="stable").copy()
    if "test/acc" not in c.columns:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    is_eval = c["test/acc"].notna()
    # records after an evaluation belong to the next one: number the evaluations backwards from each record
    c["block"] = is_eval[::-1].groupby(c["run_id"][::-1]).cumsum()[::-1]
    loss = c.groupby(["run_id", "block"])["train/loss"].mean().rename("train_loss")
    ev = c[is_eval].join(loss, on=["run_id", "block"])
    ev = ev.assign(
        test_err=100 * (1 - ev["test/acc"]), train_err=100 * (1 - ev["train_eval/acc"]), lr=ev["opt/lr"]
    )
    meta = runs[["run_id", "arm", "batch_role", "seed", "global_batch", "bn_eval", "comm_dtype"]]
    if "test_running/acc" in ev.columns:  # D's runs: the running-average scores are D_running's curve
        run = ev[ev["test_running/acc"].notna()]
        run = run.assign(test_err=100 * (1 - run["test_running/acc"]), train_err=float("nan"))
        ev = pd.concat(
            [
                ev.merge(meta[meta["arm"] != "D_running"], on="run_id", how="inner"),
                run.merge(meta[meta["arm"] == "D_running"], on="run_id", how="inner"),
            ]
        )
    else:
        ev = ev.merge(meta, on="run_id", how="inner")
    return _sig(ev[CURVE_COLUMNS], ["epoch", "test_err", "train_err", "train_loss", "lr"])


def schedule_rows(cfg, scale: str, points: int = 250) -> list[dict]:
    """lr and RMSprop warm-up weights of `cfg` on its own step grid: every `total_steps // points`-th step,
    the last step, the ends of warmup and every step where the lr jumps after warmup (milestones), so a
    step plot (where="post") of the rows shows each jump at its exact step."""
    res = resolve(cfg, 1)
    lrs = lr_curve(cfg, res)
    stride = max(1, res.total_steps // points)
    W = res.warmup_steps
    keep = [
        t
        for t in range(res.total_steps)
        if t % stride == 0 or t in (W - 1, W, res.total_steps - 1) or (t > W and lrs[t] != lrs[t - 1])
    ]
    goyal = 0.1 * cfg.global_batch / 256  # eta_Goyal = 0.1 B / 256
    rows = []
    for t in keep:
        e = t / res.steps_per_epoch
        rms = cfg.optimizer == "rmsprop_warmup"
        a = alpha_sgd(e, cfg.rms_beta_center_epochs, cfg.rms_beta_period_epochs) if rms else 1.0
        rows.append(
            {
                "scale": scale,
                "arm": cfg.tag,
                "global_batch": cfg.global_batch,
                "step": t,
                "epoch": e,
                "lr": lrs[t],
                "lr_over_goyal": lrs[t] / goyal,
                "alpha_sgd": a,
                "sgd_lr": a * lrs[t],
                "rms_lr_eff": (1 - a) * cfg.rms_lr if rms else 0.0,
            }
        )
    return rows


def schedules() -> pd.DataFrame:
    """Every arm with its own schedule (D_running and D_fp16 share D's), at cpu and paper scale."""
    rows = []
    for scale in ("cpu", "paper"):
        seen = set()
        cfgs = [arm_v3(a, 20) for a in ARMS[:5]] if scale == "cpu" else grid(scale)  # A, baseline: Goyal's
        for cfg in cfgs:
            if cfg.tag in ARMS[:5] and cfg.tag not in seen:
                seen.add(cfg.tag)
                rows += schedule_rows(cfg, scale)
    return _sig(
        pd.DataFrame(rows, columns=SCHEDULE_COLUMNS),
        ["epoch", "lr", "lr_over_goyal", "alpha_sgd", "sgd_lr", "rms_lr_eff"],
    )


def collect(
    scale: str = "cpu", runs_dir: str | Path = ROOT / "runs", data_dir: str | Path = DATA
) -> list[Path]:
    """Write the three CSVs from the complete runs of grid(scale); returns the paths written ([] if none)."""
    if scale != "cpu":
        print(f"[collect] {STUDY}: {scale} scale, CSVs unchanged", file=sys.stderr)
        return []
    # match on the id each run's own config gets now, not on its directory name
    mine = grid_run_names(STUDY, grid(scale), runs_dir)
    df = load_runs(STUDY, runs_dir)
    df = df[df["run_id"].isin(mine)] if len(df) else df
    if not len(df):
        print(
            f"[collect] {STUDY}: no complete {scale} runs under {runs_dir}; CSVs unchanged", file=sys.stderr
        )
        return []
    runs = tidy_runs(df)
    curves = load_curves(STUDY, runs_dir)
    curves = tidy_curves(curves[curves["run_id"].isin(runs["run_id"])], runs)
    runs = goyal_final_errors(runs, curves)
    data_dir = Path(data_dir)
    return write_csvs(
        [
            (runs, data_dir / f"{STUDY}.csv", ["batch_role", "arm", "seed", "run_id"]),
            (curves, data_dir / f"{STUDY}_curves.csv", ["batch_role", "arm", "seed", "run_id", "step"]),
            (schedules(), data_dir / f"{STUDY}_schedules.csv", ["scale", "arm", "step"]),
        ],
        KEYS,
    )


if __name__ == "__main__":
    sys.exit(collect_main(collect))
