"""Figures are honest: each states std or SE and n, draws and labels runs that diverged or never reached
their target, marks what lies beyond the axes, and has readable legends (largebatch.plots).

Run: `pytest tests/test_plots.py` (~5 s).
"""

import math

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")
from largebatch import plots  # noqa: E402


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


def test_caption_states_bars_and_n(tmp_path):
    df = pd.DataFrame({"B": [256, 256, 1024, 1024], "acc": [0.8, 0.9, 0.6, 0.7]})
    fig, ax = plots.new_figure()
    plots.errorbar_by(ax, df, "B", "acc", err="se", label="SGD")
    plots.save(fig, "t", tmp_path, note="Final test accuracy.")
    cap = fig.texts[-1].get_text().replace("\n", " ")
    assert cap.startswith("Final test accuracy.") and "standard error of the mean" in cap
    assert "n = runs" in cap
    se = ax.containers[0].lines[2][0].get_segments()[0]
    assert abs(se[1][1] - se[0][1]) == pytest.approx(2 * 0.05)  # ± std/sqrt(n) = 0.0707/1.414 = 0.05
    assert ax.get_legend_handles_labels()[1] == ["SGD (n=2)"]


def test_a_figure_must_say_what_it_shows(tmp_path):
    fig, ax = plots.new_figure()
    ax.plot([1, 2], [3, 4])
    with pytest.raises(ValueError, match="note"):
        plots.save(fig, "t", tmp_path)


def test_runs_without_a_value_are_drawn_and_labelled(tmp_path):
    inf = float("inf")
    df = pd.DataFrame(
        {
            "s": [0, 0, 0, 16, 16, 16, 32, 32],
            "steps": [10, 12, 11, 30, inf, 40, inf, math.nan],
            "div": [False, False, False, True, False, False, False, False],
        }
    )
    fig, ax = plots.new_figure()
    plots.errorbar_by(ax, df, "s", "steps", missing_text="never reached", flag="div", flag_text="diverged")
    texts = _texts(fig)
    assert "1/3 never reached, 1/3 diverged" in texts  # s = 16: mean of the two that reached it
    assert "2/2 never reached" in texts  # s = 32: no value at all, an open marker on the top edge
    assert list(ax.containers[0].lines[0].get_xdata()) == [0, 16]
    plots.save(fig, "t", tmp_path)


def test_points_beyond_the_axes_are_marked(tmp_path):
    df = pd.DataFrame({"B": [128, 128, 8192, 8192], "acc": [90.0, 91.0, 10.0, 10.0]})
    fig, ax = plots.new_figure()
    plots.errorbar_by(ax, df, "B", "acc", logx=True, label="SGD")
    ax.set_ylim(70, 100)
    ax.plot(range(100), [80 + i for i in range(100)], label="a diverging curve")
    plots.save(fig, "t", tmp_path)
    texts = _texts(fig)
    assert "10" in texts and "a diverging curve: off scale" in texts


def test_legends_are_readable():
    assert plots.hue_label("global_batch", 256) == "B=256"
    assert plots.hue_label("setting", "N=1000, ε=0.1") == "N=1000, ε=0.1"
    assert plots.hue_label("optimizer", "momentum") == "momentum"
    assert plots.hue_label("lr", 0.1) == "lr=0.1"
