"""The one figure style of the repo and plot helpers that draw on a given `ax`.

Notebooks call `use_style()` once, compose the helpers below (each takes `ax` and returns nothing) and
end with `save(fig, stem)`, which writes paper_figures/<stem>.png and .pdf. Error bars are the standard
deviation over seeds; the legend entry carries n so the caption can state it.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .results import FIGURES, mean_std_n

# Sized for a one-column figure (~3.5 in) in print: 9-10 pt text, 1.5 pt lines, fonts embedded as TrueType.
_RC = {"figure.figsize": (4.8, 3.4), "savefig.dpi": 300, "savefig.bbox": "tight", "pdf.fonttype": 42,
       "ps.fonttype": 42, "lines.linewidth": 1.5, "lines.markersize": 5, "errorbar.capsize": 3,
       "legend.frameon": False, "axes.titlesize": 10, "axes.labelsize": 10, "legend.fontsize": 8,
       "xtick.labelsize": 9, "ytick.labelsize": 9, "grid.linewidth": 0.5, "svg.hashsalt": "largebatch"}


_MARKERS = "DosP^vX*<>" * 3


def use_style() -> None:
    """Set the shared seaborn theme (paper context, white grid, colour-blind palette)."""
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", rc=_RC)


def save(fig: mpl.figure.Figure, stem: str, out_dir: str | Path = FIGURES) -> list[Path]:
    """Write `fig` as <out_dir>/<stem>.png and .pdf (no timestamps in the metadata, so reruns are stable).

    Args:
        fig: The figure.
        stem: File name without extension, e.g. "seed_article_fig1".
        out_dir: Destination directory (default paper_figures/).

    Returns:
        list[Path]: the PNG and PDF paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    fig.savefig(paths[0], metadata={"Software": None})
    fig.savefig(paths[1], metadata={"CreationDate": None, "ModDate": None, "Producer": None})
    return paths


def set_log(ax, logx: bool = False, logy: bool = False, base: int = 10) -> None:
    """Log axes with plain-number tick labels (8, 64, 512 rather than 2^3)."""
    for on, axis, setter in ((logx, ax.xaxis, ax.set_xscale), (logy, ax.yaxis, ax.set_yscale)):
        if on:
            setter("log", base=base)
            axis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))


def _groups(df: pd.DataFrame, hue: str | None):
    return [(None, df)] if hue is None else list(df.groupby(hue, sort=True))


def errorbar_by(ax, df: pd.DataFrame, x: str, y: str, hue: str | None = None, logx: bool = False,
                logy: bool = False, marker: str = "o", label: str | None = None) -> None:
    """Mean of `y` per `x` (per `hue` group) with error bars = std over the rows (seeds); n in the legend.

    Args:
        ax: Matplotlib axes.
        df: One row per run (e.g. a study CSV).
        x, y: Columns for the axes.
        hue: Column separating curves; its value and n label each curve.
        logx, logy: Log axes (base 2 on x when logx, as batch sizes and GPU counts double).
        marker: Point marker.
        label: Legend label when `hue` is None.
    """
    for h, g in _groups(df, hue):
        stats = [(xv, *mean_std_n(gg[y])) for xv, gg in g.groupby(x, sort=True)]
        xs, ms, ss, ns = zip(*stats) if stats else ((), (), (), ())
        lo, hi = min(ns, default=0), max(ns, default=0)
        ns_txt = f"n={lo}" if lo == hi else f"n={lo}–{hi}"
        name = label if hue is None else f"{hue}={h}"
        ax.errorbar(xs, ms, yerr=[0.0 if math.isnan(s) else s for s in ss], marker=marker,
                    label=f"{name} ({ns_txt})" if name else ns_txt)
    set_log(ax, logx, False, base=2)
    set_log(ax, False, logy)


def lines_by(ax, df: pd.DataFrame, x: str, y: str, hue: str | None = None, linestyle: str = "-",
             logx: bool = False, logy: bool = False, color: str | None = None) -> None:
    """One line of `y` against `x` per `hue` value (model curves); the hue value is the legend label."""
    for h, g in _groups(df, hue):
        g = g.sort_values(x)
        ax.plot(g[x], g[y], linestyle=linestyle, color=color, label=None if h is None else str(h))
    set_log(ax, logx, False, base=2)
    set_log(ax, False, logy)


def points(ax, df: pd.DataFrame, x: str, y: str, hue: str | None = None, annotate: str | None = None,
           color: str = "black", label: str | None = None) -> None:
    """Published points as black markers: one marker shape per `hue` value (its legend label), optionally
    annotated with the text of column `annotate`."""
    for (h, g), marker in zip(_groups(df, hue), _MARKERS):
        ax.scatter(g[x], g[y], marker=marker, color=color, zorder=5, s=30, label=label if h is None else h)
        for _, r in g.iterrows() if annotate else ():
            ax.annotate(str(r[annotate]), (r[x], r[y]), textcoords="offset points", xytext=(4, -10),
                        fontsize=7)


def perfect_scaling(ax, x0: float, x1: float, y0: float = 1.0, label: str = "ideal (linear)") -> None:
    """The line y = y0 * x / x0 from x0 to x1 (perfect scaling)."""
    ax.plot([x0, x1], [y0, y0 * x1 / x0], color="grey", linestyle=":", linewidth=1.2, label=label)


def new_figure(**kw):
    """`plt.subplots` under the shared style."""
    use_style()
    return plt.subplots(**kw)
