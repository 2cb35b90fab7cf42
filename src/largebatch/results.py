"""The batch_science statistics the figures use, and the one import of the notebooks and older study code.

Pipeline (STYLE §7): `runs/<study>/<run_id>/{config.json, metrics.jsonl, summary.json}` -> `load_runs`
(one row per run) and `load_curves` (one row per logged record) -> a study's `collect(scale)` writes
`paper_figures/data/<study>.csv` with `write_csvs` -> notebooks read only those CSVs. The concerns live in
their own modules: where things are (largebatch.paths), reading runs (largebatch.runs), writing the CSVs and
the collect command (largebatch.tables), formatting numbers and README blocks (largebatch.formatting); they
are re-exported here so that `from largebatch.results import ...` keeps working for the notebooks and the
studies not yet moved to the specific modules. The analysis helpers follow google-research batch_science
(`steps_to_result`, the best trial over nuisance parameters).
"""

from __future__ import annotations

import pandas as pd

from .formatting import fmt_mean_std, fmt_num, markdown_table, mean_std_n, replace_block, write_block
from .paths import DATA, FIGURES, ROOT
from .runs import (
    RunMismatch,
    check_config_id,
    check_run,
    check_summary,
    checked_summary,
    flatten_run,
    grid_run_names,
    load_curves,
    load_runs,
    run_config,
    run_dirs,
)
from .tables import (
    CollectOptions,
    ShrinkError,
    allow_partial,
    collect_command,
    collect_main,
    guarded,
    merge_committed,
    write_csv_atomic,
    write_csvs,
)


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


__all__ = [
    "DATA",
    "FIGURES",
    "ROOT",
    "RunMismatch",
    "check_config_id",
    "check_run",
    "check_summary",
    "checked_summary",
    "flatten_run",
    "grid_run_names",
    "load_curves",
    "load_runs",
    "run_config",
    "run_dirs",
    "CollectOptions",
    "ShrinkError",
    "allow_partial",
    "collect_command",
    "collect_main",
    "guarded",
    "merge_committed",
    "write_csv_atomic",
    "write_csvs",
    "fmt_mean_std",
    "fmt_num",
    "markdown_table",
    "mean_std_n",
    "replace_block",
    "write_block",
    "steps_to_result",
    "best_over",
]
