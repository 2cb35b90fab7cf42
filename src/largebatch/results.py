"""Run directories -> tidy DataFrames -> committed CSVs, and the few statistics the figures need.

Pipeline (STYLE §7): `runs/<study>/<run_id>/{config.json, metrics.jsonl, summary.json}` -> `load_runs`
(one row per run) and `load_curves` (one row per logged record) -> a study's `collect(scale)` writes
`paper_figures/data/<study>.csv` with `write_csv_atomic` -> notebooks read only those CSVs. The analysis
helpers follow google-research batch_science (`steps_to_result`, best trial over nuisance parameters).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from pandas.api.types import is_numeric_dtype

from .config import from_dict, run_id
from .csvcheck import DataFileError, check_unique
from .csvcheck import read_csv as read_checked
from .metrics import atomic_write_text, oserror_text, read_summary
from .paths import DATA, FIGURES, ROOT  # noqa: F401  (re-exported: the repository root, figures, CSVs)


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


class ShrinkError(RuntimeError):
    """write_csv_atomic refused to replace a CSV with one holding fewer rows (a partial grid)."""


_ALLOW_SHRINK = [False]


@contextlib.contextmanager
def allow_partial(allow: bool = True):
    """Within this block write_csv_atomic may replace a CSV with fewer rows (`--partial`)."""
    old, _ALLOW_SHRINK[0] = _ALLOW_SHRINK[0], bool(allow) or _ALLOW_SHRINK[0]
    try:
        yield
    finally:
        _ALLOW_SHRINK[0] = old


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


def _sort_key(s: pd.Series) -> pd.Series:
    return s if is_numeric_dtype(s) else s.astype(str)


def _data_rows(path: Path, keys=None) -> int:
    """Data rows of an existing CSV, checked first (csvcheck.read_csv): a malformed or repeated row is an
    error naming its line, never a reason to count the file as empty and let it shrink."""
    return len(read_checked(path, keys, dtype=str, keep_default_na=False))


_SAME_RUN = "two run directories (or two records of one run) give the same row; remove the duplicate"


def write_csv_atomic(
    df: pd.DataFrame,
    path: str | Path,
    sort_by: list[str] | None = None,
    allow_shrink: bool = False,
    keys: tuple | None = None,
) -> Path:
    """Write `df` as CSV deterministically and atomically (temporary file + os.replace).

    Duplicate rows are dropped, rows are sorted by `sort_by` (default: every column, left to right;
    numbers numerically, anything else as text) and the column order is kept as given, so rewriting
    the same data gives the same bytes. A CSV is never replaced by one with fewer rows (a partial grid
    or a partial rerun would silently drop committed results) unless `allow_shrink` or inside
    `allow_partial()` (the sweep's and collectors' `--partial`).

    Args:
        df: Table to write.
        path: Destination; parent directories are created.
        sort_by: Columns to sort rows by.
        allow_shrink: Replace the file even if the new table has fewer rows.
        keys: Columns that identify a row (the study's KEYS): two rows with the same keys are refused.

    Returns:
        Path: `path`.

    Raises:
        ShrinkError: the new table has fewer rows than the file at `path` (which is left unchanged).
        DataFileError: the file at `path` is malformed or repeats a row, or the new rows repeat a key.
        OSError: the write failed (full disk, read-only directory), naming `path`; the old file is kept.
    """
    path = Path(path)
    out = df.loc[~df.astype(str).duplicated()].copy()
    if keys:
        check_unique(out.reset_index(drop=True), f"the rows collected for {path}", keys, how=_SAME_RUN)
    if path.exists() and not (allow_shrink or _ALLOW_SHRINK[0]):
        old = _data_rows(path, keys)
        if len(out) < old:
            raise ShrinkError(
                f"refusing to replace {path} ({old} rows) with {len(out)} rows: the runs found here do "
                "not cover what it holds (a partial grid or rerun?); finish the grid, or pass --partial "
                "to write it anyway"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(out) and len(out.columns):
        out = out.sort_values(sort_by or list(out.columns), key=_sort_key, kind="stable", na_position="last")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        out.to_csv(tmp, index=False, lineterminator="\n")
        os.replace(tmp, path)
    except OSError as e:
        raise OSError(e.errno, e.strerror or str(e), str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_csvs(items, keys: dict[str, tuple] | None = None) -> list[Path]:
    """Several `write_csv_atomic(df, path, sort_by)` as one: every check (a malformed or repeated row in
    an old file, a repeated key among the new rows by `keys` = {file name: key columns}, the study's KEYS;
    a shrinking file) passes before any file is written, so a study's CSVs never disagree with each other."""
    items, keys = list(items), keys or {}
    for df, path, *_ in items:
        path, k = Path(path), keys.get(Path(path).name)
        new = df.loc[~df.astype(str).duplicated()].reset_index(drop=True)
        if k:
            check_unique(new, f"the rows collected for {path}", k, how=_SAME_RUN)
        old = _data_rows(path, k) if path.exists() else 0
        if not _ALLOW_SHRINK[0] and len(new) < old:
            raise ShrinkError(
                f"refusing to replace {path} ({old} rows) with {len(new)} rows: the runs found here do not "
                "cover what it holds (a partial grid or rerun?); finish the grid, or pass --partial to "
                "write it anyway (no CSV of this study was changed)"
            )
    return [write_csv_atomic(df, path, *rest, keys=keys.get(Path(path).name)) for df, path, *rest in items]


def merge_committed(new: pd.DataFrame, path: str | Path, keys=("run_id",)) -> pd.DataFrame:
    """`new` plus the rows of the CSV at `path` whose `keys` are not in `new`: runs collected elsewhere (a
    machine or a git worktree that holds only some of a study's runs) add to the committed table instead of
    replacing it. Rows of `path` with an empty key are dropped (the collector regenerates them)."""
    path, keys = Path(path), list(keys)
    if not path.exists():
        return new
    old = read_checked(path)
    old = old[old[keys].notna().all(axis=1)]
    have = set(map(tuple, new[keys].astype(str).to_numpy()))
    keep = old[[tuple(k) not in have for k in old[keys].astype(str).to_numpy()]]
    parts = [d for d in (keep, new) if len(d)]
    if not parts:
        return new
    return pd.concat(parts, ignore_index=True).reindex(columns=list(new.columns)).infer_objects()


@dataclass
class CollectOptions:
    """`python -m experiments.<study>.collect`'s options; a study with more subclasses it (each extra field
    is passed to its collect() as a keyword)."""

    scale: Literal["smoke", "cpu", "paper"] = "cpu"  # whose runs: only the cpu scale rewrites committed CSVs
    partial: bool = False  # allow a CSV with fewer rows than the committed one (largebatch.results)


def collect_command(module: str, options: type = CollectOptions):
    """The collect command line (largebatch.cmdline's style) of the study module `module`."""
    from .cmdline import Command

    return Command(
        f"python -m {module}",
        "Rewrite the study's CSVs under paper_figures/data/ from its runs in runs/<study>/ (atomically; "
        "never with fewer rows than the committed ones unless --partial).",
        options,
    )


def collect_main(collect, argv: list[str] | None = None, options: type = CollectOptions) -> int:
    """`python -m experiments.<study>.collect [--scale=S] [--partial]`: run `collect(scale)`, print what was
    written. Exit codes: 1 a refusal to shrink a committed CSV; 2 bad input, one line naming it (an unknown
    option or scale, a malformed or repeated row in a committed CSV, a run whose files disagree, an
    unwritable file); nothing is written in those cases."""
    from .cmdline import run_main

    return run_main(_collect_main, collect, argv, options, name="collect")


def _collect_main(collect, argv: list[str] | None, options: type) -> int:
    module = collect.__module__
    if module == "__main__":
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        module = spec.name if spec is not None else "experiments.<study>.collect"
    a, _ = collect_command(module, options).parse(sys.argv[1:] if argv is None else argv)
    extra = {k: v for k, v in vars(a).items() if k not in ("scale", "partial")}
    from .study import skip_scale  # the core's scale guard, with the collect module's WRITES

    writes = getattr(sys.modules.get(collect.__module__), "WRITES", ("cpu",))
    if skip_scale(module.split(".")[-2] if module.count(".") >= 2 else module, a.scale, writes):
        return 0
    with allow_partial(a.partial):
        return guarded("collect", lambda: [print(f"[collect] wrote {p}") for p in collect(a.scale, **extra)])


def guarded(prog: str, fn) -> int:
    """fn() as a command's exit code: 0 done; 1 a refusal to shrink a committed CSV (ShrinkError); 2 a data
    file that cannot be used (DataFileError: malformed, repeated, a run whose files disagree) or a write
    that failed (OSError: full disk, read-only directory); each as one line on stderr."""
    try:
        fn()
    except ShrinkError as e:
        print(f"[{prog}] {e}", file=sys.stderr)
        return 1
    except DataFileError as e:
        print(f"{prog} error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{prog} error: {oserror_text(e, 'data directory', 'then rerun')}", file=sys.stderr)
        return 2
    return 0


def steps_to_result(
    curves: pd.DataFrame, col: str, target: float, higher_is_better: bool = True, step_col: str = "step"
) -> pd.Series:
    """First step at which each run's `col` reaches `target` (batch_science `compute_steps_to_result`).

    Args:
        curves: Rows of `load_curves` (run_id, step, metrics); rows where `col` is missing are ignored.
        col: Metric column, e.g. "test/acc".
        target: Threshold: reached when col >= target (higher_is_better) or col <= target.
        higher_is_better: Direction of the threshold.
        step_col: Column holding the step.

    Returns:
        pd.Series: steps indexed by run_id (name "steps_to_result"); NaN for runs that never reach it.
    """
    d = curves.dropna(subset=[col]).sort_values(["run_id", step_col], kind="stable")
    hit = d[col] >= target if higher_is_better else d[col] <= target
    first = d[hit].groupby("run_id")[step_col].min()
    out = first.reindex(sorted(curves["run_id"].unique())).astype(float)
    out.index.name, out.name = "run_id", "steps_to_result"
    return out


def best_over(df: pd.DataFrame, metric: str, by: list[str], higher_is_better: bool = True) -> pd.DataFrame:
    """The best row per group of `by` (e.g. the best lr_base per global_batch: nuisance optimised out)."""
    d = df.dropna(subset=[metric]).sort_values(metric, ascending=not higher_is_better, kind="stable")
    return d.groupby(by, sort=True).head(1).sort_values(by, kind="stable").reset_index(drop=True)


def mean_std_n(series) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof = 1; NaN for n < 2) and n of the finite values of `series`."""
    s = pd.Series(series, dtype=float)
    s = s[s.map(math.isfinite)]
    n = len(s)
    if n == 0:
        return float("nan"), float("nan"), 0
    return float(s.mean()), float(s.std(ddof=1)) if n > 1 else float("nan"), n


def fmt_mean_std(series, digits: int = 3) -> str:
    """'mean ± std (n=k)' with `digits` decimals; 'mean (n=1)' for one value; '–' for none."""
    m, s, n = mean_std_n(series)
    if n == 0:
        return "–"
    if n == 1:
        return f"{m:.{digits}f} (n=1)"
    return f"{m:.{digits}f} ± {s:.{digits}f} (n={n})"


def fmt_num(v, digits: int = 4) -> str:
    """A number for a table: integers with thousands separators, others to `digits` significant digits."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if not isinstance(v, (int, float)):
        return str(v)
    return f"{v:,.0f}" if float(v).is_integer() and abs(v) < 1e15 else f"{v:.{digits}g}"


def markdown_table(df: pd.DataFrame) -> str:
    """`df` as a GitHub markdown table (cells as text, '|' escaped); no dependency on tabulate."""

    def cell(v) -> str:
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def replace_block(text: str, block: str, name: str) -> str:
    """`text` with the lines between `<!-- name:start -->` and `<!-- name:end -->` replaced by `block`.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"no {start} ... {end} block")
    return text[: i + len(start)] + "\n" + block.strip("\n") + "\n" + text[j:]


def write_block(path: str | Path, block: str, name: str) -> bool:
    """Replace the `name` block of the file at `path` (atomically, only if it changed); True if it changed."""
    path = Path(path)
    old = path.read_text()
    new = replace_block(old, block, name)
    if new != old:
        atomic_write_text(path, new)
    return new != old
