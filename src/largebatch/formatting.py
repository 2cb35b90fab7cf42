"""Numbers and markdown for the generated README blocks: mean ± std (n), table cells, block markers."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .metrics import atomic_write_text


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
