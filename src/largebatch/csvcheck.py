"""Checks of the CSV files that results are committed in, before anything reads or replaces them.

A committed CSV (paper_figures/data/*.csv) is an input of the report, the figures and the collectors' "never
shrink" guard. Read through `read_csv`, it must exist, every row must have the header's number of fields (a
malformed row names its line), the columns asked for must be there, and no row may repeat another row or
another row's key (a study's collect.py declares each CSV's key in KEYS: a run counts once). Anything else
is a DataFileError: one line naming the file (and line) and the fix, never a reason to relax a guard.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd


def fix(path) -> str:
    """The advice for a committed CSV that cannot be used."""
    return f"restore it (`git checkout -- {path}`) or regenerate it with its study's collect"


class DataFileError(ValueError):
    """A data file (CSV, run file, claims spec) that cannot be used as it is; the message names it."""


def record_lines(path: str | Path) -> tuple[list[str], list[int]]:
    """(header, the line number of each data row) of the CSV at `path`, checked for shape.

    Raises:
        DataFileError: the file is missing, unreadable or empty, or a row has another number of fields than
            the header (a malformed row: pandas would stop reading there, or shift its values).
    """
    path = Path(path)
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise DataFileError(f"{path}: empty, no header row; {fix(path)}")
            lines = []
            for rec in reader:
                if len(rec) != len(header):
                    raise DataFileError(
                        f"{path} line {reader.line_num}: {len(rec)} field(s) where the header has "
                        f"{len(header)} (a malformed row); {fix(path)}"
                    )
                lines.append(reader.line_num)
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataFileError(f"{path}: cannot be read ({type(e).__name__}: {e}); {fix(path)}") from None
    return header, lines


def check_unique(
    df: pd.DataFrame, path: str | Path, keys=None, lines: list[int] | None = None, how: str | None = None
) -> None:
    """No row of `df` (read from `path`) repeats another, nor another's `keys`; `how`: the fix (default:
    delete one, or restore the file).

    Raises:
        DataFileError: '<path> line i repeats line j (<key>)'.
    """
    for subset in (None, list(keys)) if keys else (None,):
        dup = df.duplicated(subset=subset, keep="first")
        if not dup.any():
            continue
        i = int(dup.to_numpy().nonzero()[0][0])
        cols = subset or list(df.columns)
        same = (df[cols].iloc[:i] == df[cols].iloc[i]) | (df[cols].iloc[:i].isna() & df[cols].iloc[i].isna())
        j = int(same.all(axis=1).to_numpy().nonzero()[0][0])
        at = (lambda k: f"line {lines[k]}") if lines else (lambda k: f"row {k + 1}")
        what = ", ".join(f"{c}={df[c].iloc[i]}" for c in cols) if subset else "the same values"
        raise DataFileError(
            f"{path} {at(i)} repeats {at(j)} ({what}): a run counts once; "
            + (how or f"delete one of them, or {fix(path)}")
        )


def read_csv(path: str | Path, keys=None, columns=(), **kw) -> pd.DataFrame:
    """The CSV at `path` (pd.read_csv with `kw`) after `record_lines` and `check_unique` (by `keys`), with
    every column of `columns` present.

    Raises:
        DataFileError: one line naming the file (and line) and the fix.
    """
    header, lines = record_lines(path)
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataFileError(f"{path}: no column {missing[0]!r} (it has {', '.join(header)}); {fix(path)}")
    try:
        df = pd.read_csv(path, **kw)
    except (ValueError, pd.errors.ParserError) as e:
        raise DataFileError(f"{path}: cannot be read ({type(e).__name__}: {e}); {fix(path)}") from None
    if len(df) != len(lines):  # blank lines: pandas skips them, so line numbers would be off
        lines = None
    check_unique(df, path, [k for k in keys or () if k in df.columns] or None, lines)
    return df


def check_dir(
    data_dir: str | Path, keys: dict[str, tuple] | None = None, option: str = "--data_dir"
) -> list[Path]:
    """Every CSV in `data_dir` through `read_csv` (its key from `keys`, by file name); returns their paths.

    Raises:
        DataFileError: `data_dir` is no directory or holds no CSV, or one of its CSVs fails a check.
    """
    d = Path(data_dir)
    if not d.is_dir():
        raise DataFileError(f"{option}={d}: no such directory (the committed CSVs are in paper_figures/data)")
    paths = sorted(d.glob("*.csv"))
    if not paths:
        raise DataFileError(f"{option}={d}: holds no CSV file (the committed CSVs are in paper_figures/data)")
    for p in paths:
        read_csv(p, (keys or {}).get(p.name))
    return paths


__all__ = ["DataFileError", "record_lines", "check_unique", "read_csv", "check_dir"]
