"""The one figure style of the repo and plot helpers that draw on a given `ax`.

Notebooks call `use_style()` once, compose the helpers below (each takes `ax` and returns nothing) and
end with `save(fig, stem, note=...)`, which writes paper_figures/<stem>.png and .pdf. Honesty rules, kept
here so that no notebook can forget them:

- every figure says what its bars or lines are: `errorbar_by` records whether its bars are the standard
  deviation or the standard error (`err=`), with n per point in the legend; `save` prints that under the
  figure, after the notebook's own `note` (what the lines are, what n is), and refuses a figure with neither;
- a run that diverged or never reached its target is drawn and labelled, not dropped: `errorbar_by` keeps
  values that are NaN/inf out of the mean, counts them and writes "k/n <what>" at their point (an open
  marker on the top edge where no run has a value), and counts a `flag` column (e.g. diverged runs scored
  at chance) the same way;
- a point or line beyond the axes' limits is marked at the edge with its value (`save` does it for every
  axes), so zooming never hides a run;
- legends read "B=256", "momentum", "N=1000, ε=0.1", never raw `column=value` prefixes.
"""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .formatting import mean_std_n
from .paths import FIGURES

# Sized for a one-column figure (~3.5 in) in print: 9-10 pt text, 1.5 pt lines, fonts embedded as TrueType.
_RC = {
    "figure.figsize": (4.8, 3.4),
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "lines.linewidth": 1.5,
    "lines.markersize": 5,
    "errorbar.capsize": 3,
    "legend.frameon": False,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "grid.linewidth": 0.5,
    "svg.hashsalt": "largebatch",
}


_MARKERS = "DosP^vX*<>" * 3
BARS = {"std": "±1 standard deviation over seeds", "se": "±1 standard error of the mean over seeds"}
# readable legend names of hue columns: "B=256" rather than "global_batch=256"; "" = the value alone
_HUE_NAMES = {
    "global_batch": "B",
    "per_worker_batch": "n",
    "lr": "lr",
    "s": "s",
    "seed": "seed",
    "setting": "",
    "optimizer": "",
    "arm": "",
    "layer": "",
    "series": "",
    "label": "",
    "model": "",
    "experiment": "",
    "net": "",
}


def hue_label(hue: str | None, value) -> str:
    """The legend text of one hue value: the value alone for names and strings, `short=value` for numbers."""
    if hue is None:
        return ""
    short = _HUE_NAMES.get(hue, hue)
    if isinstance(value, str) or not short:
        return str(value)
    return f"{short}={value:g}" if isinstance(value, float) else f"{short}={value}"


def use_style() -> None:
    """Set the shared seaborn theme (paper context, white grid, colour-blind palette), with matplotlib's own
    font files preferred over system copies of the same family."""
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", rc=_RC)
    _own_fonts_first()


def _own_fonts_first() -> None:
    """Byte-identical PDFs on every machine: a system DejaVu Sans (Debian's fonts-dejavu) scores the same as
    matplotlib's bundled copy, and which one is embedded then depends on the font cache's order."""
    from matplotlib import font_manager

    own = str(Path(mpl.get_data_path()))
    font_manager.fontManager.ttflist.sort(key=lambda f: not f.fname.startswith(own))  # stable
    font_manager.fontManager._findfont_cached.cache_clear()


def caption(fig: mpl.figure.Figure, note: str | None = None) -> str:
    """The text `save` prints under a figure: the notebook's note, then what the error bars are."""
    bars = sorted(getattr(fig, "_largebatch_bars", set()))
    parts = [note.strip()] if note else []
    if bars:
        parts.append(
            "Error bars: " + " / ".join(BARS[b] for b in bars) + "; n = runs per point (legend); "
            "runs without a value (diverged, never reached) are labelled at their point, "
            "not averaged."
        )
    if not parts:
        raise ValueError(
            "say what the figure's lines or bars are and over how many runs: save(..., note=...)"
        )
    return " ".join(parts)


def _next_slot(ax, edge: str) -> int:
    """0, 1, 2, ... for successive labels on one edge of `ax`: each gets its own row, none overlaps."""
    slots = ax.__dict__.setdefault("_largebatch_slots", {})
    slots[edge] = slots.get(edge, -1) + 1
    return slots[edge]


def _side(ax, x: float) -> tuple[str, int]:
    """Labels near the right edge of the axes go to the left of their point (no spill into a neighbour)."""
    px = ax.transData.transform((x, ax.get_ylim()[0]))[0]
    right = (px - ax.bbox.x0) > 0.7 * ax.bbox.width
    return ("right", -3) if right else ("left", 3)


def mark_off_scale(ax) -> int:
    """Mark every data point beyond the y-limits at the axes' edge with its value, and the first point where
    a long line (a curve) leaves them with the line's label; returns how many marks were drawn."""
    lo, hi = sorted(ax.get_ylim())
    x0, x1 = sorted(ax.get_xlim())
    marks = 0
    for line in list(ax.get_lines()):
        if line.get_transform() != ax.transData or not line.get_visible() or line.get_marker() in ("_", "|"):
            continue
        if line.get_gid() == "off-scale":
            continue
        xs, ys = (pd.to_numeric(pd.Series(v), errors="coerce").to_numpy(float) for v in line.get_data())
        out = [
            (x, y)
            for x, y in zip(xs, ys)
            if math.isfinite(x) and math.isfinite(y) and x0 <= x <= x1 and not lo <= y <= hi
        ]
        if not out:
            continue
        if len(xs) > 40:  # a curve: say where it leaves the axes
            out = out[:1]
        notes = getattr(line, "_largebatch_notes", {})
        for x, y in out:
            top = y > hi
            k = _next_slot(ax, "top" if top else "bottom")
            ha, dx = _side(ax, x)
            ax.plot(
                [x],
                [hi if top else lo],
                marker="^" if top else "v",
                color=line.get_color(),
                markerfacecolor="none",
                clip_on=False,
                zorder=6,
                gid="off-scale",
                linestyle="none",
            )
            name = line.get_label() if len(xs) > 40 and not line.get_label().startswith("_") else ""
            text = f"{name}: off scale" if name else f"{y:.3g}"
            if x in notes:
                text += f", {notes[x]}"
            ax.annotate(
                text,
                (x, hi if top else lo),
                textcoords="offset points",
                ha=ha,
                xytext=(dx, -9 - 8 * k if top else 4 + 8 * k),
                fontsize=6,
                color=line.get_color(),
                annotation_clip=False,
            )
            marks += 1
    return marks


def save(
    fig: mpl.figure.Figure, stem: str, out_dir: str | Path | None = None, note: str | None = None
) -> list[Path]:
    """Write `fig` as <out_dir>/<stem>.png and .pdf (no timestamps in the metadata, so reruns are stable),
    with points beyond the axes marked at the edge and a caption under it (`caption`).

    Args:
        fig: The figure.
        stem: File name without extension, e.g. "seed_article_fig1".
        out_dir: Destination directory (default: $LARGEBATCH_FIGURES, else paper_figures/; the tests
            point the variable at a temporary directory so that they never rewrite committed figures).
        note: What the lines and points are and over how many runs (seeds); needed unless the figure only
            has `errorbar_by` panels, whose bars and n are stated automatically.

    Returns:
        list[Path]: the PNG and PDF paths.

    Raises:
        ValueError: the figure would say nothing about its bars or n.
    """
    text = caption(fig, note)
    for ax in fig.axes:
        if ax.has_data():
            mark_off_scale(ax)
    width_in = fig.get_size_inches()[0]
    fig.text(
        0.01,
        0.0,
        textwrap.fill(text, max(40, int(width_in * 16))),
        ha="left",
        va="top",
        fontsize=7,
        color="#333333",
    )
    out_dir = Path(out_dir or os.environ.get("LARGEBATCH_FIGURES") or FIGURES)
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


def errorbar_by(
    ax,
    df: pd.DataFrame,
    x: str,
    y: str,
    hue: str | None = None,
    logx: bool = False,
    logy: bool = False,
    marker: str = "o",
    label: str | None = None,
    err: str = "std",
    flag: str | None = None,
    flag_text: str = "diverged",
    missing_text: str = "no value",
) -> None:
    """Mean of `y` per `x` (per `hue` group) with error bars over the rows (seeds); n in the legend.

    Runs whose `y` is NaN or infinite (diverged, never reached the target) are not averaged: each point
    with some is labelled "k/n <missing_text>", and an `x` where no run has a value gets an open marker on
    the top edge with that label. Rows where the boolean column `flag` is true (e.g. diverged runs scored
    at chance) are averaged and labelled "k/n <flag_text>"; a point where every run is flagged gets a cross
    instead, explained once in the legend.

    Args:
        ax: Matplotlib axes.
        df: One row per run (e.g. a study CSV).
        x, y: Columns for the axes.
        hue: Column separating curves; its value (`hue_label`) and n label each curve.
        logx, logy: Log axes (base 2 on x when logx, as batch sizes and GPU counts double).
        marker: Point marker.
        label: Legend label when `hue` is None.
        err: "std" (standard deviation over the runs) or "se" (standard error of the mean); `save` states it.
        flag, flag_text: see above.
        missing_text: what a run without a value is, e.g. "never reached 80 %" or "diverged".
    """
    if err not in BARS:
        raise ValueError(f"err={err!r}: choose one of {tuple(BARS)}")
    ax.figure._largebatch_bars = getattr(ax.figure, "_largebatch_bars", set()) | {err}
    for h, g in _groups(df, hue):
        pts = _points(g, x, y, err, flag)
        drawn = [p for p in pts if p[3] > 0]
        ns = [p[3] for p in drawn] or [0]
        ns_txt = f"n={min(ns)}" if min(ns) == max(ns) else f"n={min(ns)}–{max(ns)}"
        name = label if hue is None else hue_label(hue, h)
        cont = ax.errorbar(
            [p[0] for p in drawn],
            [p[1] for p in drawn],
            yerr=[0.0 if math.isnan(p[2]) else p[2] for p in drawn],
            marker=marker,
            label=f"{name} ({ns_txt})" if name else ns_txt,
        )
        cont[0]._largebatch_notes = {}  # x -> "k/n diverged": mark_off_scale repeats it at the edge
        dy = 4 + 9 * ((len(ax.containers) - 1) % 3)  # labels of several lines at one x do not overlap
        for pt in pts:
            _note_point(ax, cont[0], pt, dy, flag_text, missing_text)
    set_log(ax, logx, False, base=2)
    set_log(ax, False, logy)


def _points(g: pd.DataFrame, x: str, y: str, err: str, flag: str | None) -> list[tuple]:
    """(x, mean, error bar, n with a value, n without, n flagged, n) per `x` of one curve's rows."""
    pts = []
    for xv, gg in g.groupby(x, sort=True):
        vals = pd.to_numeric(gg[y], errors="coerce").astype(float)
        m, s, n = mean_std_n(vals)
        e = s / math.sqrt(n) if err == "se" and n > 0 else s
        k_flag = int(gg[flag].astype(bool).sum()) if flag else 0
        pts.append((xv, m, e, n, len(vals) - n, k_flag, len(vals)))
    return pts


def _note_point(ax, line, pt: tuple, dy: float, flag_text: str, missing_text: str) -> None:
    """Label a point with its runs that have no value or are flagged: "k/n <text>" beside it, a cross when
    every run is flagged, an open marker on the top edge when no run has a value."""
    xv, m, _, n, miss, k_flag, total = pt
    notes = ([f"{miss}/{total} {missing_text}"] if miss else []) + (
        [f"{k_flag}/{total} {flag_text}"] if k_flag else []
    )
    if not notes:
        return
    color = line.get_color()
    if n and k_flag == total and not miss:  # every run flagged: a cross, explained once in the legend
        first = not ax.__dict__.get("_largebatch_cross")
        ax._largebatch_cross = True
        ax.plot(
            [xv],
            [m],
            marker="x",
            markersize=7,
            color=color,
            linestyle="none",
            zorder=6,
            label=f"× all runs {flag_text}" if first else "_nolegend_",
        )
        line._largebatch_notes[xv] = f"all {flag_text}"
        return
    if n:
        ha, dx = _side(ax, xv)
        line._largebatch_notes[xv] = ", ".join(notes)
        ax.annotate(
            ", ".join(notes),
            (xv, m),
            textcoords="offset points",
            xytext=(dx, dy),
            ha=ha,
            fontsize=6,
            color=color,
        )
        return
    # nothing to average: an open marker on the top edge says the runs exist
    ax.plot(
        [xv],
        [1.0],
        transform=ax.get_xaxis_transform(),
        marker="^",
        markerfacecolor="none",
        color=color,
        clip_on=False,
        linestyle="none",
        zorder=6,
    )
    ha, dx = _side(ax, xv)
    ax.annotate(
        ", ".join(notes),
        (xv, 1.0),
        xycoords=ax.get_xaxis_transform(),
        ha=ha,
        textcoords="offset points",
        xytext=(dx, -10 - 8 * _next_slot(ax, "top")),
        fontsize=6,
        color=color,
        annotation_clip=False,
    )


def ring_single_seed(ax, df: pd.DataFrame, x: str, y: str, label: str = "one seed (no error bar)") -> int:
    """Circle the points of `df` (mean of `y` per `x`) that rest on one run, so that a legend's "n=1-3" is
    not read as three seeds everywhere; the first ring of an axis carries `label`. Returns the rings drawn."""
    d = df.dropna(subset=[y]).groupby(x)[y].agg(["mean", "count"])
    one = d[d["count"] == 1]
    if one.empty:
        return 0
    labelled = any(h.get_label() == label for h in ax.collections)
    ax.scatter(
        one.index,
        one["mean"],
        s=150,
        facecolors="none",
        edgecolors="#222222",
        linewidths=0.9,
        zorder=6,
        label=None if labelled else label,
    )
    return len(one)


def lines_by(
    ax,
    df: pd.DataFrame,
    x: str,
    y: str,
    hue: str | None = None,
    linestyle: str = "-",
    logx: bool = False,
    logy: bool = False,
    color: str | None = None,
) -> None:
    """One line of `y` against `x` per `hue` value (model curves); the hue value is the legend label."""
    for h, g in _groups(df, hue):
        g = g.sort_values(x)
        ax.plot(g[x], g[y], linestyle=linestyle, color=color, label=None if h is None else hue_label(hue, h))
    set_log(ax, logx, False, base=2)
    set_log(ax, False, logy)


def points(
    ax,
    df: pd.DataFrame,
    x: str,
    y: str,
    hue: str | None = None,
    annotate: str | None = None,
    color: str = "black",
    label: str | None = None,
) -> None:
    """Published points as black markers: one marker shape per `hue` value (its legend label), optionally
    annotated with the text of column `annotate`."""
    for (h, g), marker in zip(_groups(df, hue), _MARKERS):
        ax.scatter(g[x], g[y], marker=marker, color=color, zorder=5, s=30, label=label if h is None else h)
        for _, r in g.iterrows() if annotate else ():
            ax.annotate(
                str(r[annotate]), (r[x], r[y]), textcoords="offset points", xytext=(4, -10), fontsize=7
            )


def perfect_scaling(ax, x0: float, x1: float, y0: float = 1.0, label: str = "ideal (linear)") -> None:
    """The line y = y0 * x / x0 from x0 to x1 (perfect scaling)."""
    ax.plot([x0, x1], [y0, y0 * x1 / x0], color="grey", linestyle=":", linewidth=1.2, label=label)


def new_figure(**kw):
    """`plt.subplots` under the shared style."""
    use_style()
    return plt.subplots(**kw)
