"""Run directories -> tidy DataFrames: what a finished run left in runs/<study>/<run_id>/, read and checked.

`load_runs` gives one row per run (config fields, `resolved.*`, `meta.*`, summary fields) and `load_curves`
one row per logged record; `grid_run_names` picks the runs of a grid, refusing a run whose config.json does
not hash to its id or whose summary.json disagrees with its metrics.jsonl (`check_run`, RunMismatch).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd

from .config import from_dict, run_id
from .csvcheck import DataFileError
from .metrics import read_summary


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _warn(msg: str) -> None:
    print(f"[collect] warning: {msg}", file=sys.stderr)


def run_config(d: str | Path):
    """The TrainConfig in run directory `d`'s config.json, or None (with a warning) if it is unreadable."""
    path = Path(d) / "config.json"
    try:
        return from_dict(json.loads(path.read_text())["config"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        _warn(
            f"skipping {Path(d)}: {path.name} is unreadable ({type(e).__name__}); rerun that run with "
            "--force, or delete its directory"
        )
        return None


class RunMismatch(DataFileError):
    """A run directory whose files disagree: config.json with its id, or summary.json with metrics.jsonl."""


def _records(d: Path) -> list[dict]:
    """metrics.jsonl's records (a line cut short by a kill is skipped)."""
    path, out = Path(d) / "metrics.jsonl", []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


_REDO = "restore the file, or rerun that run with --force (or delete its directory)"


def check_config_id(d: str | Path, rid: str) -> None:
    """The run in directory `d` is the run `rid` (its config.json's config re-hashed by the caller's scheme,
    e.g. run_id): the directory's name and config.json's own run_id must be `rid`, or the file was edited.

    Raises:
        RunMismatch: naming config.json, both ids and the fix.
    """
    d = Path(d)
    own = (_read_json(d / "config.json") or {}).get("run_id")
    if d.name != rid or own not in (None, rid):
        raise RunMismatch(
            f"{d / 'config.json'}: its config is run {rid}, but the run was written as "
            f"{own or d.name} (the directory's name{' and its run_id' if own else ''}): the config was "
            "edited, belongs to another run, or predates a change of the run-id scheme; restore the file, or "
            "move that directory out of the runs directory and rerun the grid (the run gets its own id)"
        )


def check_summary(d: str | Path, s: dict) -> None:
    """The complete summary `s` of run directory `d` agrees with its metrics.jsonl: the same number of
    steps as the last record's, and (a finished run) the final test accuracy of the last evaluation.

    Raises:
        RunMismatch: naming summary.json, the two values and the fix.
    """
    d, recs = Path(d), _records(d)
    steps = [r["step"] for r in recs if isinstance(r.get("step"), int)]
    where = d / "summary.json"
    if not steps:
        raise RunMismatch(f"{where}: the run is complete but metrics.jsonl holds no records; {_REDO}")
    if s.get("steps") != steps[-1]:
        raise RunMismatch(
            f"{where}: steps={s.get('steps')}, but metrics.jsonl ends at step {steps[-1]}; {_REDO}"
        )
    if s.get("run_id") not in (None, d.name):
        raise RunMismatch(f"{where}: run_id={s.get('run_id')!r} in the directory of {d.name}; {_REDO}")
    if s.get("status") == "complete":
        ev = [r for r in recs if "test/acc" in r]
        acc, last = s.get("final_test_acc"), ev[-1]["test/acc"] if ev else None
        if not isinstance(last, (int, float)) or not math.isclose(acc, last, rel_tol=1e-12, abs_tol=1e-15):
            raise RunMismatch(
                f"{where}: final_test_acc={acc}, but the last evaluation in metrics.jsonl gives "
                f"{last} (step {ev[-1]['step'] if ev else '-'}); {_REDO}"
            )


def check_run(d: str | Path, s: dict):
    """The TrainConfig of run directory `d` (complete, summary `s`) after check_config_id and check_summary;
    None (with a warning) when its config.json is unreadable.

    Raises:
        RunMismatch: the run's files disagree.
    """
    c = run_config(d)
    if c is not None:
        check_config_id(d, run_id(c))  # a config.json edited or copied from another run is refused
        check_summary(d, s)  # and a summary.json that disagrees with metrics.jsonl
    return c


def checked_summary(d: str | Path, rid: str | None = None) -> dict | None:
    """read_summary(d) after check_config_id (when `rid` is given) and check_summary; None if incomplete."""
    s = read_summary(d)
    if s is not None:
        if rid is not None:
            check_config_id(d, rid)
        check_summary(d, s)
    return s


def grid_run_names(study: str, cfgs, runs_dir: str | Path = "runs") -> list[str]:
    """Names of the run directories of `study` whose config is one of `cfgs`. A run whose config.json is
    unreadable is skipped with a warning; one whose config or summary disagrees with its run id or metrics
    (check_config_id, check_summary) is refused: RunMismatch, and nothing is collected."""
    ids = {run_id(c) for c in cfgs}
    out = []
    for d in run_dirs(study, runs_dir):
        c = run_config(d)
        if c is None:
            continue
        rid = run_id(c)
        if rid in ids or d.name in ids:
            checked_summary(d, rid)
            out.append(d.name)
    return out


def _scalar(v):
    # Lists (tuples in TrainConfig, e.g. adam_betas) become JSON text so rows stay hashable and CSV-stable.
    return json.dumps(v) if isinstance(v, (list, tuple, dict)) else v


def flatten_run(config: dict, summary: dict | None) -> dict:
    """One run's row: run_id, config fields, `resolved.<k>`, `meta.<k>` (device, torch, git), summary fields.

    A summary field whose name is already a column keeps that column when the values agree and becomes
    `summary.<k>` when they differ.
    """
    row = {"run_id": config.get("run_id") or (summary or {}).get("run_id")}
    row.update({k: _scalar(v) for k, v in config.get("config", {}).items()})
    row.update({f"resolved.{k}": _scalar(v) for k, v in config.get("resolved", {}).items()})
    row.update(
        {f"meta.{k}": _scalar(v) for k, v in config.items() if k not in ("config", "resolved", "run_id")}
    )
    for k, v in (summary or {}).items():
        v = _scalar(v)
        if k not in row:
            row[k] = v
        elif row[k] != v:
            row[f"summary.{k}"] = v
    return row


def run_dirs(study: str, runs_dir: str | Path = "runs") -> list[Path]:
    """Run directories of `study` that hold a config.json, sorted by name."""
    base = Path(runs_dir) / study
    return sorted(p for p in base.glob("*") if (p / "config.json").is_file()) if base.is_dir() else []


def load_runs(study: str, runs_dir: str | Path = "runs", complete_only: bool = True) -> pd.DataFrame:
    """One row per run of `study`: flattened config fields + summary fields + run_id.

    Args:
        study: Directory under `runs_dir`.
        runs_dir: Root of the run directories.
        complete_only: Keep only complete runs (`metrics.read_summary`: a summary.json that parses and
            holds the final metrics; a run without one is still running or was killed, and is skipped
            with a warning when its summary is there but unusable; diverged runs are kept).

    Returns:
        pd.DataFrame: sorted by run_id; empty (with a run_id column) if there are no runs.
    """
    rows = []
    for d in run_dirs(study, runs_dir):
        config = _read_json(d / "config.json")
        summary = read_summary(d) if complete_only else _read_json(d / "summary.json")
        if not isinstance(config, dict):
            _warn(f"skipping {d}: config.json is unreadable; rerun that run with --force, or delete it")
            continue
        if complete_only and summary is None:
            if (d / "summary.json").exists():
                _warn(
                    f"skipping {d}: summary.json is truncated or lacks final metrics; rerun the run (it "
                    "finishes from its last checkpoint)"
                )
            continue
        config.setdefault("run_id", d.name)
        rows.append(flatten_run(config, summary))
    if not rows:
        return pd.DataFrame(columns=["run_id"])
    return pd.DataFrame(rows).sort_values("run_id", kind="stable").reset_index(drop=True)


def load_curves(study: str, runs_dir: str | Path = "runs", config_cols: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per metrics.jsonl record of every run of `study`, with its run_id (and chosen config fields).

    Args:
        study: Directory under `runs_dir`.
        runs_dir: Root of the run directories.
        config_cols: Columns of `load_runs` (e.g. "global_batch", "seed") merged onto every record.

    Returns:
        pd.DataFrame: columns run_id, step, then the logged keys; sorted by (run_id, step).
    """
    frames = []
    for d in run_dirs(study, runs_dir):
        path = d / "metrics.jsonl"
        if not path.is_file():
            continue
        recs = []
        for line in path.read_text().splitlines():
            try:
                recs.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
        if recs:
            frames.append(pd.DataFrame(recs).assign(run_id=d.name))
    if not frames:
        return pd.DataFrame(columns=["run_id", "step", *config_cols])
    df = pd.concat(frames, ignore_index=True)
    df = df[["run_id", *[c for c in df.columns if c != "run_id"]]]
    if config_cols:
        df = df.merge(
            load_runs(study, runs_dir, complete_only=False)[["run_id", *config_cols]], on="run_id", how="left"
        )
    keys = ["run_id", "step"] if "step" in df.columns else ["run_id"]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)
