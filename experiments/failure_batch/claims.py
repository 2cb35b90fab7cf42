"""The B* probes' README blocks, from paper_figures/data/failure_batch.csv (calibration: no verdict).

`table(probe)` gives, for each reference budget E of a probe, the target error, the fit of
S(B) = S_min (1 + B_crit / B), B* = E N / S_min - B_crit, the model-free crossing and their bootstrap
intervals over the calibration seeds (largebatch.bstar). The studies that place a ladder against B* read the
same numbers through `b_star(probe, epochs)`.
"""

from __future__ import annotations

import math
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from largebatch import bstar
from largebatch.claims import Row, claim
from largebatch.results import DATA, markdown_table

STUDY = "failure_batch"
CSV = f"paper_figures/data/{STUDY}.csv"
LARS_E = 100 / 11  # the LARS probe's budget (config.LARS_EPOCHS)
N_TRAIN = 60000
BASELINES = {"goyal": 256, "lars_nobn": 128, "lars_bn": 128}
PAPER_GOYAL = {
    256: 23.60,
    512: 23.48,
    1024: 23.53,
    2048: 23.49,
    4096: 23.56,
    8192: 23.74,
    16384: 24.79,
    32768: 27.55,
}


class Data(NamedTuple):
    """The probes' runs (failure_batch.csv) and where they were read from."""

    runs: pd.DataFrame
    data_dir: Path


def load(data_dir: Path) -> Data:
    return Data(_runs(str(data_dir)), Path(data_dir))


@claim("bstar_goyal")
def bstar_goyal(d: Data, spec: dict) -> Row | None:
    """The Goyal / 32k-recipe proxy's B* at the v3 budget (exploratory: calibration)."""
    if not (d.runs.probe == "goyal").any():
        return None
    from largebatch.proxies import E_V3

    est = estimates("goyal", E_V3, d.data_dir)
    return Row(
        f"E = {E_V3:g}: B* = {est['b_star_gap']:,.0f}{_ci(est['ci'], 'b_star_gap')}"
        f" (target {est['target']:.2f} %, seeds {est['n_seeds']})",
        None,
        runs=d.runs[d.runs.probe == "goyal"],
    )


@claim("bstar_lars")
def bstar_lars(d: Data, spec: dict) -> Row | None:
    """The LARS nets' B* for tuned SGD at the LARS budget (exploratory: calibration)."""
    parts = []
    for p in ("lars_nobn", "lars_bn"):
        r = probe_runs(p, d.data_dir)
        if r[np.isclose(r.epochs, LARS_E)].seed.nunique() >= 2:
            est = estimates(p, LARS_E, d.data_dir)
            parts.append(f"{p}: {est['b_star_gap']:,.0f}{_ci(est['ci'], 'b_star_gap')}")
    if not parts:
        return None
    return Row(
        f"E = {LARS_E:.2f}: " + "; ".join(parts), None, runs=d.runs[d.runs.probe.str.startswith("lars")]
    )


@lru_cache(maxsize=8)
def _runs(data_dir: str) -> pd.DataFrame:
    return pd.read_csv(Path(data_dir) / f"{STUDY}.csv")


def probe_runs(probe: str, data_dir: str | Path = DATA) -> pd.DataFrame:
    """A probe's runs that enter B*: all of the Goyal probe's; for a LARS probe (tuned SGD), the runs at each
    batch's stage-1 best lr (config.lars_best_lrs: the plain recipe there is SGD at its best lr)."""
    from .config import lars_best_lrs

    runs = _runs(str(data_dir))
    runs = runs[runs.probe == probe]
    if not probe.startswith("lars"):
        return runs
    best = lars_best_lrs(data_dir)
    keep = [
        bool(np.isclose(lr, best.get((probe, int(b)), np.nan)))
        for b, lr in zip(runs.global_batch, runs.lr_peak)
    ]
    return runs[keep]


def estimates(probe: str, epochs: float, data_dir: str | Path = DATA, n_boot: int = 1000) -> dict:
    """Point estimates and intervals of one probe at reference budget `epochs` (computed once per process:
    the claims rows and the README tables ask for the same ones)."""
    return _estimates(probe, float(epochs), str(data_dir), n_boot)


@cache
def _estimates(probe: str, epochs: float, data_dir: str, n_boot: int) -> dict:
    runs = probe_runs(probe, data_dir)
    base = BASELINES[probe]
    a = bstar.analyse(runs, base, epochs, N_TRAIN)
    ci = bstar.bootstrap(runs, base, epochs, N_TRAIN, n_boot=n_boot)
    return {**a, "ci": ci, "n_seeds": runs.seed.nunique()}


def b_star(probe: str, epochs: float, data_dir: str | Path = DATA) -> float:
    """The model-free B* (the batch where the fixed-budget error is DELTA_PT above the baseline's)."""
    runs = probe_runs(probe, data_dir)
    return float(bstar.analyse(runs, BASELINES[probe], epochs, N_TRAIN)["b_star_gap"])


def _ci(ci: dict, k: str, fmt: str = "{:,.0f}") -> str:
    lo, hi = ci.get(k, (math.nan, math.nan))
    if not (math.isfinite(lo) or math.isfinite(hi)):
        return ""
    f = lambda v: "∞" if v == math.inf else fmt.format(v)  # noqa: E731
    return f" [{f(lo)}, {f(hi)}]"


def table(probe: str, data_dir: str | Path = DATA) -> str:
    """One row per reference budget: target, S_min, B_crit, B* (model and model-free), with intervals."""
    runs = probe_runs(probe, data_dir)
    rows = []
    for e in sorted(runs["epochs"].unique()):
        if runs[np.isclose(runs.epochs, e)].seed.nunique() < 2:
            continue
        est = estimates(probe, float(e), data_dir)
        f, ci = est["fit"], est["ci"]
        need = est["need"]
        rows.append(
            {
                "budget E (epochs)": f"{e:g}",
                "target: baseline + 1 pt (%)": f"{est['target']:.2f}",
                "batches in the fit (censored)": f"{f.n_batches if f else 0} ({(need.censored != '').sum()})",
                "S_min (steps)": f"{f.s_min:,.0f}{_ci(ci, 's_min')}" if f else "no fit",
                "B_crit": f"{f.b_crit:,.0f}{_ci(ci, 'b_crit')}" if f else "",
                "B* = E N / S_min − B_crit": f"{f.b_star:,.0f}{_ci(ci, 'b_star')}" if f else "",
                "B* (error + 1 pt, model-free)": f"{est['b_star_gap']:,.0f}{_ci(ci, 'b_star_gap')}",
                "seeds": est["n_seeds"],
            }
        )
    return markdown_table(pd.DataFrame(rows))


def readme_blocks(data_dir: Path) -> dict[str, str | None]:
    """The study README's generated blocks (written by `python -m largebatch.report`)."""
    runs = _runs(str(data_dir))
    out = {"goyal": table("goyal", data_dir), "paper": paper_table()}
    for p in ("lars_nobn", "lars_bn"):
        out[p] = table(p, data_dir) if (runs.probe == p).any() else "(not run yet)"
    return out


def paper_table() -> str:
    b = bstar.paper_b_star(PAPER_GOYAL)
    rows = [
        {
            "paper": "Goyal et al. (ResNet-50, ImageNet, 90 epochs)",
            "ladder (Table 3a): Δ vs 256": "8k +0.14, 16k +1.19, 32k +3.95 pt",
            "B* (error + 1 pt, log-linear between 8k and 16k)": f"{b:,.0f}",
            "8k / B*, 16k / B*, 32k / B*": f"{8192 / b:.2f}, {16384 / b:.2f}, {32768 / b:.2f}",
        }
    ]
    return markdown_table(pd.DataFrame(rows))
