"""The 32k recipe's claims, third design (v3, issue 28): the Goyal study's proxy, arms at its image of 32k.

One function per claim id of claims.toml (ids v3_*), each taking the study's data (`Data`) and its spec and
returning one row for largebatch.report; `CLAIMS` maps the ids to them. The baseline (B = 256) and arm A
(Goyal's recipe at the image of 32k) are the Goyal study's runs (goyal_linear_scaling.csv, experiment
`batch`, design v3, the same seeds), read here as data; B, C, D, D_running and the fp16 pair come from
recipe_32k.csv. Every error is Goyal's model error (the median of the evaluations in the final 5/90 of the
run), in percent; a diverged run counts as 90 %. Arms are compared paired by seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from largebatch import verdict as V
from largebatch.results import fmt_mean_std

CSV = "paper_figures/data/recipe_32k.csv"
GOYAL_CSV = "paper_figures/data/goyal_linear_scaling.csv"
CHANCE_ERR = 90.0


@dataclass(frozen=True)
class Data:
    """The v3 runs of both CSVs, one row per (run, arm); `arm` is baseline, A, B, C, D, D_running, D2_*."""

    runs: pd.DataFrame

    def err(self, arm: str, seeds) -> pd.Series:
        d = self.sel(arm, seeds)
        e = d["final_test_err"].astype(float).where(d["status"] != "diverged", CHANCE_ERR)
        return e.set_axis(d["seed"]).rename_axis("seed").sort_index()

    def sel(self, arm: str, seeds=None) -> pd.DataFrame:
        d = self.runs[self.runs["arm"] == arm]
        return d if seeds is None else d[d["seed"].isin(seeds)]


def load(data_dir: Path, batch: int) -> Data:
    """The recipe's v3 arms and the Goyal study's v3 baseline and A (kn = `batch`), with a `csv` column."""
    r = pd.read_csv(Path(data_dir) / "recipe_32k.csv")
    r = r[r["design"] == "v3"].assign(csv=CSV)
    g = pd.read_csv(Path(data_dir) / "goyal_linear_scaling.csv")
    g = g[(g["design"] == "v3") & (g["experiment"] == "batch") & g["global_batch"].isin([256, batch])]
    g = g.assign(arm=g["global_batch"].map({256: "baseline", batch: "A"}), csv=GOYAL_CSV)
    cols = [
        "arm",
        "run_id",
        "seed",
        "global_batch",
        "status",
        "final_test_err",
        "wall_s",
        "meta.git_sha",
        "csv",
    ]
    return Data(pd.concat([r[cols], g[cols]], ignore_index=True))


def _row(data: Data, s: dict, ours: str, result, arms, control=None) -> dict:
    frames = [data.sel(a, s["seeds"]) for a in arms]
    frames = [f for f in frames if len(f)]
    runs = pd.concat(frames) if frames else data.runs.iloc[:0]
    # dated against each run's recorded commit; the rows of both CSVs carry meta.git_sha
    wall = float(sum(f["wall_s"].mean() for f in frames)) if frames else None
    return {
        "id": s["id"],
        "ours": ours,
        "result": result,
        "csv": CSV,
        "runs": runs,
        "wall_per_seed": wall,
        "control_result": control,
    }


def _ms(x: pd.Series) -> str:
    return fmt_mean_std(x, 2) + " %"


def a_fails(data: Data, s: dict) -> dict:
    a, b0 = data.err("A", s["seeds"]), data.err("baseline", s["seeds"])
    res = V.difference(a, b0, s["threshold"], s["direction"])
    ours = f"A (Goyal, B = {s['batch']}) {_ms(a)} vs baseline {_ms(b0)} (Δ {a.mean() - b0.mean():+.2f} pt)"
    return _row(data, s, ours, res, ["A", "baseline"])


def d_beats_a(data: Data, s: dict) -> dict:
    a, d = data.err("A", s["seeds"]), data.err("D", s["seeds"])
    ours = f"A {_ms(a)}, D {_ms(d)} (A − D {a.mean() - d.mean():+.2f} pt)"
    return _row(data, s, ours, V.difference(a, d, s["threshold"], s["direction"]), ["A", "D"])


def d_recovers(data: Data, s: dict) -> dict:
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


def d_near_baseline(data: Data, s: dict) -> dict:
    d, b0 = data.err("D", s["seeds"]), data.err("baseline", s["seeds"])
    ctl = data.err(s["control"], s["seeds"])
    res = V.equivalence(d, b0, s["margin"])
    control = V.equivalence(ctl, b0, s["margin"], label=s["control"])
    ours = (
        f"D − baseline {d.mean() - b0.mean():+.2f} pt; control {s['control']} − baseline "
        f"{ctl.mean() - b0.mean():+.2f} pt"
    )
    return _row(data, s, ours, res, ["D", "baseline", s["control"]], control)


def ablation(data: Data, s: dict) -> dict:
    ours = "; ".join(f"{a} {_ms(data.err(a, s['seeds']))}" for a in s["arms"])
    return _row(data, s, ours, None, s["arms"])


def bn_recomputed(data: Data, s: dict) -> dict:
    d, run = data.err("D", s["seeds"]), data.err("D_running", s["seeds"])
    ours = f"D (recomputed BN) {_ms(d)}, D_running {_ms(run)} (Δ {d.mean() - run.mean():+.2f} pt)"
    return _row(data, s, ours, V.noninferior(d, run, s["margin"]), ["D", "D_running"])


def fp16(data: Data, s: dict) -> dict:
    h, f = data.err("D2_fp16", s["seeds"]), data.err("D2_fp32", s["seeds"])
    ours = f"D2_fp16 {_ms(h)}, D2_fp32 {_ms(f)} (Δ {h.mean() - f.mean():+.2f} pt)"
    return _row(data, s, ours, V.equivalence(h, f, s["margin"]), ["D2_fp16", "D2_fp32"])


CLAIMS = {
    "v3_A_fails": a_fails,
    "v3_D_beats_A": d_beats_a,
    "v3_D_recovers": d_recovers,
    "v3_D_near_baseline": d_near_baseline,
    "v3_ablation": ablation,
    "v3_bn_recomputed": bn_recomputed,
    "v3_fp16": fp16,
}


def rows(data_dir: Path, spec: dict) -> list[dict]:
    """Every v3 row whose arms all have runs on its seeds (a claim without its runs is left out)."""
    data = load(data_dir, spec["v3_A_fails"]["batch"])
    out = []
    for cid, fn in CLAIMS.items():
        s = spec[cid]
        if all(len(data.sel(a, s["seeds"])) for a in s["arms"]):
            out.append(fn(data, s))
    return out
