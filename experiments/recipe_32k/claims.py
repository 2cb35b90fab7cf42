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
    r = pd.read_csv(Path(data_dir) / "recipe_32k.csv")
    r = r[r["design"] == "v3"].assign(csv=CSV)
    g = pd.read_csv(Path(data_dir) / "goyal_linear_scaling.csv")
    by_batch = {b: a for a, b in SHARED_ARMS_V3.items()}
    g = g[(g["design"] == "v3") & (g["experiment"] == "batch") & g["global_batch"].isin(by_batch)]
    g = g.assign(arm=g["global_batch"].map(by_batch), csv="paper_figures/data/goyal_linear_scaling.csv")
    return Data(pd.concat([r[[*COLUMNS, "csv"]], g[[*COLUMNS, "csv"]]], ignore_index=True))


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


def arm_errors(runs: pd.DataFrame) -> dict[str, pd.Series]:
    """Final test error per arm (diverged runs at chance), indexed by seed."""
    err = runs["final_test_err"].astype(float).where(runs["status"] != "diverged", CHANCE_ERR)
    return {
        a: err[runs["arm"] == a].set_axis(runs.loc[runs["arm"] == a, "seed"]) for a in runs["arm"].unique()
    }


ARMS = ["baseline", "A", "B", "C", "D", "D_running", "D_fp16"]


def readme_blocks(data_dir: Path) -> dict[str, str | None]:
    """The study README's generated blocks (written by `python -m largebatch.report`)."""
    all_runs = pd.read_csv(Path(data_dir) / "recipe_32k.csv")
    runs, alt = all_runs[all_runs.batch_role == "main"], all_runs[all_runs.batch_role == "alt"]
    arms = [a for a in ARMS if a in set(runs.arm)]

    def arm_row(a, r):
        first = r.iloc[0]
        return {
            "arm": a,
            "B": int(first.global_batch),
            "optimizer": first.optimizer,
            "schedule": first.schedule,
            "BN eval": first.bn_eval,
            "allreduce": f"{first.comm_dtype} × {int(r.world_size.min())} proc",
            "test error (%)": fmt_mean_std(arm_errors(r)[a], 2),
            "train error (%)": fmt_mean_std(r.final_train_err, 2),
            "status": ", ".join(f"{k} {v}" for k, v in r.status.value_counts().items()),
            "wall (s)": f"{r.wall_s.mean():.0f}",
        }

    table = pd.DataFrame(
        [arm_row(a, runs[runs.arm == a]) for a in arms]
        + [arm_row(a, alt[alt.arm == a]) for a in arms if a in set(alt.arm)]
    )
    uniq = all_runs.drop_duplicates("run_id")  # D_running rows are D's own runs (second design)
    wall = uniq.wall_s.sum() / 60
    blocks = {
        "results": markdown_table(table),
        "claims": None,
        "walltime": f"Sweep: {len(uniq)} runs, {wall:.1f} min of summed run wall time (training "
        "process of rank 0, without interpreter and torchrun start-up; "
        f"{all_runs['meta.device'].iloc[0]}, torch {all_runs['meta.torch'].iloc[0]}).",
        "regime": markdown_table(pd.DataFrame(proxy.regime_table())),
    }
    cal = Path(data_dir) / "recipe_32k_calib.csv"
    if cal.exists():
        c = pd.read_csv(cal)
        probe = c[c["part"] == "probe"].iloc[0]
        rms = c[c["part"] == "rms"][["rms_lr", "final_test_err", "status", "wall_s"]]
        blocks["calib"] = (
            f"B_simple probe (baseline arm, B = 256, {probe.epochs:g} epochs, seed {int(probe.seed)}): "
            f"tr(Σ) / |G|² over epochs {probe.window_epochs} = {probe.b_simple:.0f} "
            f"(|G|² = {probe.g2_mean:.4f} ± {probe.g2_se:.4f} SE, {int(probe.n_measurements)} measurements). "
            f"η_RMS grid (arm D at B = {int(c[c['part'] == 'rms'].global_batch.iloc[0])}, 1 process, seed "
            f"{int(probe.seed)}):\n\n" + markdown_table(rms)
        )
        late = c[c["part"].isin(["probe", "probe_late"])]
        if (late["part"] == "probe_late").any():
            w = late.assign(
                use=late["part"].map(
                    {"probe": "the reference (fixed before the sweep)", "probe_late": "exploratory"}
                ),
                g2=[f"{g:.4f} ± {e:.4f}" for g, e in zip(late.g2_mean, late.g2_se)],
                b_simple=[
                    f"{b:.0f}" if g > 2 * e else "unresolved (‖G‖² within 2 SE of 0)"
                    for b, g, e in zip(late.b_simple, late.g2_mean, late.g2_se)
                ],
            )[["window_epochs", "g2", "trace_sigma_mean", "b_simple", "use"]]
            w = w.rename(
                columns={
                    "window_epochs": "probe epochs (of 20)",
                    "g2": "‖G‖² (± SE)",
                    "trace_sigma_mean": "tr(Σ)",
                    "b_simple": "B_simple",
                }
            )
            blocks["calib"] += (
                "\n\nThe same probe in each lr phase (the later windows were added after the "
                "sweep):\n\n" + markdown_table(w.round({"tr(Σ)": 1}))
            )
    return blocks
