"""Collect the staleness study into paper_figures/data/async_staleness{,_curves,_staleness_hist}.csv.

    python -m experiments.async_staleness.collect            (the sweep calls collect() after the grid)
    python -m experiments.async_staleness.collect --replay   (the distributions that the validation /
                                                              sim_async runs replay, measured here, to
                                                              runs/async_staleness/replay.csv; the
                                                              committed replay.csv is never edited)

async_staleness.csv: one row per run and time model (a sim_sync run is also the sync + backup row: same
training steps, another step-time model, analysis.py; a simv4_sync run likewise), with the issue's columns
first.
_curves.csv: one row per evaluation (steps, examples, test accuracy, coherence, time).
_staleness_hist.csv: measured staleness counts: real async runs, the event simulation, and the replay
runs' realised draws.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from largebatch.config import from_dict, run_id
from largebatch.metrics import atomic_write_text, read_summary
from largebatch.paths import DATA, ROOT, RUNS
from largebatch.runs import check_config_id, check_run, check_summary
from largebatch.tables import CollectOptions, allow_partial, collect_main, merge_committed, write_csvs

from . import analysis as A
from .config import (
    REPLAY,
    SEEDS,
    SIM_ASYNC_UPDATES,
    SIM_BACKUPS,
    SIM_KINDS,
    SIM_WORKERS,
    TARGET,
    TARGET_HIGH,
    grid,
    net_name,
    opt_name,
    real_grid,
    real_name,
)
from .param_server import ServerConfig
from .param_server import run_dir as real_dir
from .param_server import run_id as real_id
from .param_server import sweep as real_sweep

COLUMNS = [
    "study",
    "experiment",
    "mechanism",
    "run_id",
    "seed",
    "model",
    "optimizer",
    "workers",
    "staleness_dist",
    "staleness_mean",
    "lr_rule",
    "status",
    "steps_to_target",
    "final_test_acc",
    "steps_to_85",
    "staleness_max",
    "lr",
    "batch",
    "steps",
    "coherence_mean",
    "coherence_mean_stale",
    "time_to_target",
    "time_end",
    "time_unit",
    "dropped",
    "wall_s",
    "meta.git_sha",  # the commit that produced the run (config.json); empty for runs before issue 17
]
CURVE_COLUMNS = [
    "run_id",
    "experiment",
    "step",
    "examples_seen",
    "test_acc",
    "train_loss",
    "coherence",
    "time",
]
HIST_COLUMNS = ["staleness_dist", "mechanism", "run_id", "seed", "staleness", "count"]
KEYS = {  # what identifies a row of each CSV: a run (a time model of it) counts once
    "async_staleness.csv": ("run_id", "experiment"),
    "async_staleness_curves.csv": ("run_id", "experiment", "step"),
    "async_staleness_staleness_hist.csv": ("staleness_dist", "mechanism", "run_id", "seed", "staleness"),
}


def _records(d: Path) -> list[dict]:
    out = []
    path = d / "metrics.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _summary(d: Path) -> dict | None:
    """A complete run's summary (metrics.read_summary); a present but unusable one is skipped loudly."""
    s = read_summary(d)
    if s is None and (d / "summary.json").exists():
        print(
            f"[collect] warning: skipping {d}: summary.json is truncated or lacks final metrics; rerun "
            "the run (it finishes from its last checkpoint)",
            file=sys.stderr,
        )
    return s


def _git_sha(d: Path) -> str | None:
    try:
        return json.loads((d / "config.json").read_text()).get("git_sha")
    except (OSError, json.JSONDecodeError):
        return None


def _dist(cfg) -> str:
    if cfg.staleness == "replay":
        return "replay:" + cfg.staleness_replay.partition("#")[2]
    if cfg.staleness in ("none",) or cfg.staleness_max == 0:
        return "none"
    return (
        f"{cfg.staleness}{{0..{cfg.staleness_max}}}"
        if cfg.staleness == "uniform"
        else f"{cfg.staleness}:{cfg.staleness_max}"
    )


def _hist_rows(dist: str, mechanism: str, rid: str, seed: int, counts: list[int]) -> list[dict]:
    """Rows of the staleness histogram CSV: one per staleness value that occurred."""
    return [
        {
            "staleness_dist": dist,
            "mechanism": mechanism,
            "run_id": rid,
            "seed": seed,
            "staleness": t,
            "count": c,
        }
        for t, c in enumerate(counts)
        if c
    ]


def _curve(recs: list[dict], rid: str, exp: str, times=None) -> pd.DataFrame:
    ev = [r for r in recs if "test/acc" in r]
    c = pd.DataFrame(
        {
            "run_id": rid,
            "experiment": exp,
            "step": [r["step"] for r in ev],
            "examples_seen": [r["examples_seen"] for r in ev],
            "test_acc": [r["test/acc"] for r in ev],
            "train_loss": [r.get("train/loss") for r in ev],
            "coherence": [r.get("stale/coherence") for r in ev],
            "time": [r.get("time/s") for r in ev]
            if times is None
            else [float(times[min(r["step"], len(times)) - 1]) for r in ev],
        },
        columns=CURVE_COLUMNS,
    )
    return c


def core_rows(runs_dir: Path):
    """(row(s), curve frames, hist rows) of every complete core run of the cpu grid."""
    for cfg in grid("cpu"):
        d = runs_dir / cfg.study / run_id(cfg)
        s = _summary(d)
        if s is None:
            continue
        if check_run(d, s) is None:  # refused if its config or summary disagrees with the run
            continue
        recs = _records(d)
        rid, ok = run_id(cfg), s["status"] == "complete"
        row = {
            "study": cfg.study,
            "experiment": cfg.tag,
            "mechanism": "simulated",
            "run_id": rid,
            "seed": cfg.seed,
            "model": net_name(cfg),
            "optimizer": opt_name(cfg),
            "workers": np.nan,
            "staleness_dist": _dist(cfg),
            "staleness_mean": s.get("staleness_mean"),
            "lr_rule": "alpha/tau" if cfg.staleness_lr == "inverse" else "constant",
            "status": s["status"],
            "final_test_acc": s["final_test_acc"] if ok else np.nan,
            "staleness_max": s.get("staleness_max_seen"),
            "lr": s["lr_peak"],
            "batch": cfg.global_batch,
            "steps": s["steps"],
            "coherence_mean": s.get("coherence_mean"),
            "coherence_mean_stale": s.get("coherence_mean_stale"),
            "time_unit": "steps",
            "wall_s": s["wall_s"],
            "meta.git_sha": _git_sha(d),
        }
        hist = []
        if cfg.staleness == "replay":
            hist = _hist_rows(row["staleness_dist"], "simulated", rid, cfg.seed, s["staleness_counts"])
        kind, _, mode = cfg.tag.rpartition("_")  # simulated time: <kind>_sync and <kind>_async, SIM_KINDS
        if kind in SIM_KINDS and mode == "sync":
            out, curves = [], []
            for exp, b in ((f"{kind}_sync", 0), (f"{kind}_backup", SIM_BACKUPS)):
                times = np.cumsum(A.sync_step_times(SIM_WORKERS, b, cfg.max_steps, cfg.seed))
                cur = _curve(recs, rid, exp, times)
                stt = A.first_at_or_above(cur, "test_acc", TARGET)
                out.append(
                    {
                        **row,
                        "experiment": exp,
                        "workers": SIM_WORKERS + b,
                        "staleness_dist": "none",
                        "steps_to_target": stt if ok else np.nan,
                        "steps_to_85": A.first_at_or_above(cur, "test_acc", TARGET_HIGH) if ok else np.nan,
                        "time_to_target": A.first_at_or_above(cur, "test_acc", TARGET, "time")
                        if ok
                        else np.nan,
                        "time_end": float(times[s["steps"] - 1]),
                        "time_unit": "simulated",
                    }
                )
                curves.append(cur)
            yield out, curves, hist
            continue
        is_async = kind in SIM_KINDS and mode == "async"
        times = A.async_events(SIM_WORKERS, cfg.max_steps, cfg.seed)[0] if is_async else None
        cur = _curve(recs, rid, cfg.tag, times)
        row["steps_to_target"] = A.first_at_or_above(cur, "test_acc", TARGET) if ok else np.nan
        row["steps_to_85"] = A.first_at_or_above(cur, "test_acc", TARGET_HIGH) if ok else np.nan
        if times is not None:
            row.update(
                workers=SIM_WORKERS,
                time_unit="simulated",
                time_end=float(times[s["steps"] - 1]),
                time_to_target=A.first_at_or_above(cur, "test_acc", TARGET, "time") if ok else np.nan,
            )
        yield [row], [cur], hist


def _real_rows(runs_dir: Path):
    for cfg, sc, k in real_grid("cpu"):
        d = real_dir(cfg, sc, k)
        d = runs_dir / d.relative_to(cfg.out_dir)
        s = _summary(d)
        if s is None:
            continue
        rid = _real_id(d)
        if rid is None:
            print(f"[collect] warning: skipping {d}: config.json is unreadable", file=sys.stderr)
            continue
        check_config_id(d, rid)  # a config.json edited or copied from another run is refused
        check_summary(d, s)
        rid = s["run_id"]
        pre = real_name(sc)
        cur = _curve(_records(d), rid, f"{pre}_{sc.mode}")
        name = f"{pre}_{sc.mode}_k{k}"
        row = {
            "study": cfg.study,
            "experiment": f"{pre}_{sc.mode}",
            "mechanism": "real",
            "run_id": rid,
            "seed": cfg.seed,
            "model": net_name(cfg),
            "optimizer": opt_name(cfg),
            "workers": k,
            "staleness_dist": name,
            "staleness_mean": s["staleness_mean"],
            "lr_rule": "constant",
            "status": s["status"],
            "steps_to_target": A.first_at_or_above(cur, "test_acc", TARGET),
            "steps_to_85": A.first_at_or_above(cur, "test_acc", TARGET_HIGH),
            "final_test_acc": s["final_test_acc"],
            "staleness_max": len(s["staleness_counts"]) - 1,
            "lr": cfg.lr_base * (cfg.global_batch / cfg.lr_base_batch if cfg.lr_scaling == "linear" else 1),
            "batch": cfg.per_worker_batch * (1 if sc.mode == "async" else k - sc.backups),
            "steps": s["steps"],
            "time_to_target": A.first_at_or_above(cur, "test_acc", TARGET, "time"),
            "time_end": s["train_s"],
            "time_unit": "s",
            "dropped": s["dropped"],
            "wall_s": s["wall_s"],
            "meta.git_sha": _git_sha(d),  # param_server writes it into config.json, as the core does
        }
        hist = _hist_rows(name, "real", rid, cfg.seed, s["staleness_counts"])
        yield [row], [cur], hist


def _real_id(d: Path) -> str | None:
    """param_server.run_id of the config in `d`/config.json; None if it is unreadable."""
    try:
        c = json.loads((d / "config.json").read_text())
        return real_id(from_dict(c["config"]), ServerConfig(**c["server"]), int(c["workers"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sim_hist() -> pd.DataFrame:
    """The event simulation's staleness counts per run seed (the sim_async runs' time axes)."""
    rows = []
    for seed in SEEDS:
        h = A.hist(A.async_events(SIM_WORKERS, SIM_ASYNC_UPDATES, seed)[1])
        rows.append(
            h.assign(
                staleness_dist=f"sim_async_n{SIM_WORKERS}", mechanism="event_simulation", run_id="", seed=seed
            )
        )
    df = pd.concat(rows)
    return df[df["count"] > 0][HIST_COLUMNS]


def write_replay(
    runs_dir: str | Path = ROOT / "runs", path: str | Path = ROOT / REPLAY, out: str | Path | None = None
) -> Path:
    """The replay distributions measured here, written to `out` (default runs/async_staleness/replay.csv).

    The committed replay.csv (`path`) is an input of the replay runs (their ids hash its content), so this
    never edits it: each distribution measured here (the real async runs' pooled counts, the event
    simulation's) replaces its namesake, every other distribution of `path` is kept as it is, and adopting
    the result is a deliberate `cp` (the printed hint). The `#name` of a staleness_replay path selects one.
    """
    real = pd.DataFrame([h for _, _, hs in _real_rows(Path(runs_dir)) for h in hs], columns=HIST_COLUMNS)
    real = real[real.staleness_dist.str.contains("_async_")]
    new = pd.concat([sim_hist(), real]).groupby(["staleness_dist", "staleness"], as_index=False)["count"]
    new = new.sum()
    path = Path(path)
    if path.exists():
        old = pd.read_csv(path, comment="#")
        new = pd.concat([old[~old.staleness_dist.isin(set(new.staleness_dist))], new])
    df = new.sort_values(["staleness_dist", "staleness"], kind="stable")
    out = Path(out) if out is not None else Path(runs_dir) / "async_staleness" / "replay.csv"
    if out.resolve() == path.resolve():
        raise ValueError(f"write_replay: out={out} is the committed input {path}; write elsewhere and copy")
    out.parent.mkdir(parents=True, exist_ok=True)
    body = df[["staleness_dist", "staleness", "count"]].to_csv(index=False, lineterminator="\n")
    head = (
        "# written by `python -m experiments.async_staleness.collect --replay`: pooled staleness\n"
        "# counts of the real async runs (param_server.py) and of the event simulation (analysis.py)\n"
    )
    atomic_write_text(out, head + body)
    return out


def before_reproduce(scale: str = "cpu") -> int:
    """`make reproduce`: the real parameter-server runs (resumable) before the controlled grid.

    The controlled runs replay the committed replay.csv; `python -m experiments.async_staleness.collect
    --replay` rewrites it from the real runs here, and the replay runs' ids (content-hashed) change with it.
    """
    return real_sweep(scale)


def collect(
    scale: str = "cpu", runs_dir: str | Path = RUNS, data_dir: str | Path = DATA, merge: bool = False
) -> list[Path]:
    """The three CSVs (runs, curves, staleness histograms) from the complete runs, the core's and the real
    parameter server's, with `merge` (`--merge`) keeping the committed rows of runs not under `runs_dir`.
    The core calls it at the cpu scale only (largebatch.study.skip_scale)."""
    rows, curves, hist = [], [], []
    for r, c, h in list(core_rows(Path(runs_dir))) + list(_real_rows(Path(runs_dir))):
        rows += r
        curves += c
        hist += h
    if not rows:
        print("[collect] async_staleness: no complete runs; CSVs unchanged", file=sys.stderr)
        return []
    data_dir = Path(data_dir)
    df = pd.DataFrame(rows, columns=COLUMNS).round(6)
    cur = pd.concat(curves, ignore_index=True).round(6)
    hs = pd.concat([pd.DataFrame(hist, columns=HIST_COLUMNS), sim_hist()], ignore_index=True)
    if merge:
        df = merge_committed(df, data_dir / "async_staleness.csv", ("run_id", "experiment"))
        cur = merge_committed(cur, data_dir / "async_staleness_curves.csv", ("run_id", "experiment"))
        hs = merge_committed(hs, data_dir / "async_staleness_staleness_hist.csv", ("run_id",))
    return write_csvs(
        [
            (
                df,
                data_dir / "async_staleness.csv",
                ["experiment", "model", "optimizer", "staleness_dist", "seed", "run_id"],
            ),
            (cur, data_dir / "async_staleness_curves.csv", ["run_id", "experiment", "step"]),
            (
                hs,
                data_dir / "async_staleness_staleness_hist.csv",
                ["staleness_dist", "mechanism", "seed", "run_id", "staleness"],
            ),
        ],
        KEYS,
    )


@dataclass
class Options(CollectOptions):
    merge: bool = False  # add the runs in runs/ to the committed CSVs' rows (a new design's runs alone)
    replay: bool = False  # instead: write the real runs' staleness histograms next to replay.csv (a copy)


def _collect_or_replay(scale: str = "cpu", merge: bool = False, replay: bool = False) -> list[Path]:
    if not replay:
        return collect(scale, merge=merge)
    with allow_partial(False):
        out = write_replay()
    print(
        f"[collect] the committed {REPLAY} is unchanged. To adopt the new one: cp {out} {REPLAY} "
        "(the replay runs' ids hash it, so they become new runs)"
    )
    return [out]


if __name__ == "__main__":
    sys.exit(collect_main(_collect_or_replay, options=Options))
