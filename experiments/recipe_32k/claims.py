"""The 32k recipe's claims (third design, issue 28), one registered function per id of claims.toml.

Each function takes the study's data (`load`) and its [[claim]] table and returns a `Row` for
largebatch.report (largebatch.claims). The baseline (B = 256) and arm A (Goyal's recipe at the image of 32k)
are the Goyal study's runs (goyal_linear_scaling.csv, experiment `batch`, design v3, the same seeds;
config.SHARED_ARMS_V3), read here as data; B, C, D, D_running and the fp16 pair D2_fp32 / D2_fp16 come from
recipe_32k.csv. Every error is Goyal's model error (the median of the evaluations in the final 5/90 of the
run), in percent; a diverged run counts as 90 %. Arms are compared paired by seed. A claim whose arms have no
runs on its seeds has no row. The first and second designs' claims are in the history of claims.toml and of
this file. Paper numbers: Akiba et al. 74.9 % top-1 at 32k (abstract); Goyal et al. 32k 27.55 ± 0.28 % and 256
23.60 ± 0.12 % top-1 error (Fig. 3 / Table 1), so across the two papers D - A = -2.45 pt and recovery = 62 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from largebatch import verdict as V
from largebatch.claims import Row, claim
from largebatch.formatting import fmt_mean_std, markdown_table

from . import proxy
from .config import SHARED_ARMS_V3

CSV = "paper_figures/data/recipe_32k.csv"
GOYAL_CSV = "paper_figures/data/goyal_linear_scaling.csv"
CHANCE_ERR = 90.0
COLUMNS = ["arm", "run_id", "seed", "global_batch", "status", "final_test_err", "wall_s", "meta.git_sha"]


@dataclass(frozen=True, eq=False)
class Data:
    """The v3 runs of both CSVs, one row per (run, arm); `arm` is baseline, A, B, C, D, D_running, D2_*, and
    `csv` the repository-relative CSV each row comes from."""

    runs: pd.DataFrame

    def err(self, arm: str, seeds) -> pd.Series:
        """Final test error (%) of `arm` on `seeds`, indexed by seed; a diverged run at chance (90 %)."""
        d = self.sel(arm, seeds)
        e = d["final_test_err"].astype(float).where(d["status"] != "diverged", CHANCE_ERR)
        return e.set_axis(d["seed"]).rename_axis("seed").sort_index()

    def sel(self, arm: str, seeds=None) -> pd.DataFrame:
        d = self.runs[self.runs["arm"] == arm]
        return d if seeds is None else d[d["seed"].isin(seeds)]


def load(data_dir: Path) -> Data:
    """The recipe's v3 arms and the Goyal study's v3 baseline and A (config.SHARED_ARMS_V3)."""
    return Data(v3_runs(data_dir, COLUMNS))


def v3_runs(data_dir: Path, columns: list[str]) -> pd.DataFrame:
    """The v3 rows of recipe_32k.csv and the Goyal study's shared runs (experiment `batch` at the batches of
    config.SHARED_ARMS_V3, named by arm), with `columns` and `csv` (the CSV each row comes from)."""
    r = pd.read_csv(Path(data_dir) / "recipe_32k.csv")
    r = r[r["design"] == "v3"].assign(csv=CSV)
    g = pd.read_csv(Path(data_dir) / "goyal_linear_scaling.csv")
    by_batch = {b: a for a, b in SHARED_ARMS_V3.items()}
    g = g[(g["design"] == "v3") & (g["experiment"] == "batch") & g["global_batch"].isin(by_batch)]
    g = g.assign(arm=g["global_batch"].map(by_batch), csv=GOYAL_CSV)
    return pd.concat([r[[*columns, "csv"]], g[[*columns, "csv"]]], ignore_index=True)


def _ready(data: Data, s: dict) -> bool:
    """Do all the claim's arms have runs on its seeds?"""
    return all(len(data.sel(a, s["seeds"])) for a in s["arms"])


def _row(data: Data, s: dict, ours: str, result, arms, control=None) -> Row:
    """A row judging `arms` on the claim's seeds; its cost per seed is the summed mean wall time of the arms.
    Dated against each run's recorded commit (the rows of both CSVs carry meta.git_sha)."""
    frames = [f for f in (data.sel(a, s["seeds"]) for a in arms) if len(f)]
    runs = pd.concat(frames) if frames else data.runs.iloc[:0]
    wall = float(sum(f["wall_s"].mean() for f in frames)) if frames else None
    return Row(ours, result, runs=runs, csv=CSV, wall_per_seed=wall, control_result=control)


def _ms(x: pd.Series) -> str:
    return fmt_mean_std(x, 2) + " %"


@claim("v3_A_fails")
def a_fails(data: Data, s: dict) -> Row | None:
    """The precondition: A more than 1 pt worse than the baseline (paired t)."""
    if not _ready(data, s):
        return None
    a, b0 = data.err("A", s["seeds"]), data.err("baseline", s["seeds"])
    res = V.difference(a, b0, s["threshold"], s["direction"])
    ours = f"A (Goyal, B = {s['batch']}) {_ms(a)} vs baseline {_ms(b0)} (Δ {a.mean() - b0.mean():+.2f} pt)"
    return _row(data, s, ours, res, ["A", "baseline"])


@claim("v3_D_beats_A")
def d_beats_a(data: Data, s: dict) -> Row | None:
    if not _ready(data, s):
        return None
    a, d = data.err("A", s["seeds"]), data.err("D", s["seeds"])
    ours = f"A {_ms(a)}, D {_ms(d)} (A − D {a.mean() - d.mean():+.2f} pt)"
    return _row(data, s, ours, V.difference(a, d, s["threshold"], s["direction"]), ["A", "D"])


@claim("v3_D_recovers")
def d_recovers(data: Data, s: dict) -> Row | None:
    """(A − D) / (A − baseline) of the seed means, seeds resampled together (paired bootstrap)."""
    if not _ready(data, s):
        return None
    a, d, b0 = (data.err(x, s["seeds"]) for x in ("A", "D", "baseline"))
    common = a.index.intersection(d.index).intersection(b0.index)
    a, d, b0 = a[common], d[common], b0[common]

    def ratio(x, y, z):
        gap = x.mean() - z.mean()
        return (x.mean() - y.mean()) / gap if gap != 0 else float("nan")

    res = V.bootstrap(
        [a.to_numpy(), d.to_numpy(), b0.to_numpy()],
        ratio,
        s["threshold"],
        s["direction"],
        paired=True,
        what="recovered fraction",
    )
    ours = f"gap A − baseline {a.mean() - b0.mean():+.2f} pt, D closes {100 * ratio(a, d, b0):.0f} % of it"
    return _row(data, s, ours, res, ["A", "D", "baseline"])


@claim("v3_D_near_baseline")
def d_near_baseline(data: Data, s: dict) -> Row | None:
    """D within the margin of the baseline (TOST), and the control (A) by the same test."""
    if not _ready(data, s):
        return None
    d, b0 = data.err("D", s["seeds"]), data.err("baseline", s["seeds"])
    ctl = data.err(s["control"], s["seeds"])
    res = V.equivalence(d, b0, s["margin"])
    control = V.equivalence(ctl, b0, s["margin"], label=s["control"])
    ours = (
        f"D − baseline {d.mean() - b0.mean():+.2f} pt; control {s['control']} − baseline "
        f"{ctl.mean() - b0.mean():+.2f} pt"
    )
    return _row(data, s, ours, res, ["D", "baseline", s["control"]], control)


@claim("v3_ablation")
def ablation(data: Data, s: dict) -> Row | None:
    if not _ready(data, s):
        return None
    ours = "; ".join(f"{a} {_ms(data.err(a, s['seeds']))}" for a in s["arms"])
    return _row(data, s, ours, None, s["arms"])


@claim("v3_bn_recomputed")
def bn_recomputed(data: Data, s: dict) -> Row | None:
    if not _ready(data, s):
        return None
    d, run = data.err("D", s["seeds"]), data.err("D_running", s["seeds"])
    ours = f"D (recomputed BN) {_ms(d)}, D_running {_ms(run)} (Δ {d.mean() - run.mean():+.2f} pt)"
    return _row(data, s, ours, V.noninferior(d, run, s["margin"]), ["D", "D_running"])


@claim("v3_fp16")
def fp16(data: Data, s: dict) -> Row | None:
    if not _ready(data, s):
        return None
    h, f = data.err("D2_fp16", s["seeds"]), data.err("D2_fp32", s["seeds"])
    ours = f"D2_fp16 {_ms(h)}, D2_fp32 {_ms(f)} (Δ {h.mean() - f.mean():+.2f} pt)"
    return _row(data, s, ours, V.equivalence(h, f, s["margin"]), ["D2_fp16", "D2_fp32"])


# The arms as the README's results table names them (config.py's docstring has their full definitions).
ARMS = {
    "baseline": "Goyal's recipe at B = 256 (no warmup)",
    "A": "Goyal's recipe: linear scaling, gradual warmup over 5/90, ÷10 at 30/60/80 of 90",
    "B": "A + slow start: warmup to 0.5η, then 0.5 / 0.075 / 0.01 / 0.001·η from 0/40/70/85 of 90",
    "C": "A with RMSprop warm-up in place of the lr warmup (η from step 0)",
    "D": "RMSprop warm-up + slow start (0.5η from step 0) + BN recomputed from the last 2 minibatches",
    "D_running": "D's runs, evaluated with the BN running averages",
    "D2_fp32": "D on 2 gloo processes, fp32 gradient allreduce",
    "D2_fp16": "D on 2 gloo processes, fp16 gradient allreduce (fp16_compress_hook)",
}
SHARED = "(Goyal study's runs)"
# The sweep's wall clock, from start to the last run (one-process arms 2 at a time, then the fp16 pair),
# as the sweep logged it (commit ae024d0); the CSVs hold each run's own wall time only.
SWEEP_MACHINE_MIN = 12.5


def _arms_table(d: Data) -> str:
    base = d.err("baseline", None)
    rows = []
    for a, what in ARMS.items():
        e, r = d.err(a, None), d.sel(a)
        paired = e - base.reindex(e.index)
        rows.append(
            {
                "arm": f"{a} {SHARED}" if a in SHARED_ARMS_V3 else a,
                "what it changes": what,
                "B": int(r["global_batch"].iloc[0]),
                "steps": int(r["steps"].iloc[0]),
                "lr peak": f"{r['lr_peak'].iloc[0]:.4g}",
                "test error % (mean ± std, n)": fmt_mean_std(e, 2),
                "Δ vs baseline (pt, same seeds)": "–" if a == "baseline" else f"{paired.mean():+.2f}",
            }
        )
    return markdown_table(pd.DataFrame(rows))


def _walltime(data_dir: Path, d: Data) -> str:
    own = d.runs[d.runs["csv"] == CSV].drop_duplicates("run_id")  # D_running rows are D's runs
    shared = d.runs[d.runs["csv"] == GOYAL_CSV]
    recipe = pd.read_csv(Path(data_dir) / "recipe_32k.csv")
    procs = recipe.drop_duplicates("run_id").set_index("run_id")["world_size"].reindex(own["run_id"])
    return (
        f"Sweep: {len(own)} runs of this study ({(procs == 1).sum()} one-process, {(procs == 2).sum()} "
        f"two-process), {own.wall_s.sum() / 60:.1f} min of summed run wall time (training process of rank 0, "
        f"without interpreter and torchrun start-up; {recipe['meta.device'].iloc[0]}, torch "
        f"{recipe['meta.torch'].iloc[0]}); {SWEEP_MACHINE_MIN:g} min of machine time with the one-process "
        f"arms two at a time. The baseline and A are the Goyal study's {len(shared)} runs "
        f"({shared.wall_s.sum() / 60:.1f} min, counted in its budget)."
    )


def _calib(data_dir: Path) -> str | None:
    cal = Path(data_dir) / "recipe_32k_calib.csv"
    if not cal.exists():
        return None
    c = pd.read_csv(cal)
    v3 = c[c["part"] == "rms_v3"]
    if not len(v3):
        return None
    grid = v3.pivot_table(index="rms_lr", columns="seed", values="final_test_err").rename(
        columns=lambda s: f"seed {s}"
    )
    grid["mean"] = grid.mean(axis=1).round(3)
    grid["summed wall_s"] = v3.groupby("rms_lr")["wall_s"].sum().round(1)
    from .calibrate import RMS_DEFAULT, RMS_MARGIN, pick_rms_lr

    first, margin = v3.iloc[0], grid["mean"][RMS_DEFAULT] - grid["mean"].min()
    text = (
        f"η_RMS grid (arm D at B = {int(first.global_batch)}, E = {first.epochs:g}, one process, calibration "
        f"seeds; final test error %):\n\n" + markdown_table(grid.reset_index()) + "\n\n"
        f"Pick: {pick_rms_lr(c, 'rms_v3'):g} (the rule: the lowest seed mean, {RMS_DEFAULT:g} unless another "
        f"value is better by more than {RMS_MARGIN:g} pt; here by {margin:.2f} pt)."
    )
    late = c[c["part"].isin(["probe", "probe_late"])]
    if len(late):
        w = pd.DataFrame(
            {
                "probe epochs (of 20)": late.window_epochs,
                "‖G‖² (± SE)": [f"{g:.4f} ± {e:.4f}" for g, e in zip(late.g2_mean, late.g2_se)],
                "tr(Σ)": late.trace_sigma_mean.round(1),
                "B_simple": [
                    f"{b:.0f}" if g > 2 * e else "unresolved (‖G‖² within 2 SE of 0)"
                    for b, g, e in zip(late.b_simple, late.g2_mean, late.g2_se)
                ],
                "use": late["part"].map(
                    {"probe": "the second design's reference", "probe_late": "read after its sweep"}
                ),
            }
        )
        text += (
            "\n\nThe second design's B_simple probe (baseline arm, B = 256, width 128, 20 epochs, seed "
            f"{int(late.seed.iloc[0])}) in each lr phase:\n\n" + markdown_table(w)
        )
    return text


def readme_blocks(data_dir: Path) -> dict[str, str | None]:
    """The study README's generated blocks (written by `python -m largebatch.report`)."""
    d = Data(v3_runs(data_dir, [*COLUMNS, "steps", "lr_peak"]))
    return {
        "results": _arms_table(d),
        "claims": None,
        "walltime": _walltime(data_dir, d),
        "regime": markdown_table(pd.DataFrame(proxy.regime_table_v3())),
        "calib": _calib(data_dir),
    }
