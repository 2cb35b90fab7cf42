"""The committed CSV tables: written atomically and deterministically, never shrunk by a partial grid, and
the `python -m experiments.<study>.collect` command line that writes them.

`write_csvs` checks every table of a study (a malformed or repeated committed row, a repeated key, a table
with fewer rows than the committed one) before writing any; `merge_committed` adds runs collected elsewhere
to the committed rows; `collect_main` runs a study's collect() behind the core's scale guard.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from pandas.api.types import is_numeric_dtype

from .csvcheck import DataFileError, check_unique
from .csvcheck import read_csv as read_checked
from .metrics import oserror_text


class ShrinkError(RuntimeError):
    """write_csv_atomic refused to replace a CSV with one holding fewer rows (a partial grid)."""


# What names a run in a study CSV with designs (the first of its COLUMNS)
RUN_COLUMNS = ["study", "design", "experiment", "run_id", "seed"]
_ALLOW_SHRINK = [False]


@contextlib.contextmanager
def allow_partial(allow: bool = True):
    """Within this block write_csv_atomic may replace a CSV with fewer rows (`--partial`)."""
    old, _ALLOW_SHRINK[0] = _ALLOW_SHRINK[0], bool(allow) or _ALLOW_SHRINK[0]
    try:
        yield
    finally:
        _ALLOW_SHRINK[0] = old


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
