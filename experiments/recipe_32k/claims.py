"""The 32k recipe's claims, judged from paper_figures/data/recipe_32k{,_curves}.csv by largebatch.verdict.

The claims, as data, are in claims.toml (arms, batch, statistic, threshold or margin, seeds), fixed before the
second design's sweep; this module computes the statistics' inputs and hands them to `largebatch.verdict`.
Errors are final test errors in percentage points; a diverged run counts as chance error (90 % on 10
classes). The single-technique ablations (B and C against A) are an exploratory row without a verdict;
D_running is D's own running-average score (same runs). The first design (18 epochs, B = 8,192) and its
claims are in the history of this file and of recipe_32k.csv.
Paper numbers: Akiba et al. 74.9 % top-1 at 32k (abstract); Goyal et al. 32k 27.55 ± 0.28 % and 256 23.60 ±
0.12 % top-1 error (Fig. 3 / Table 1), so across the two papers D - A = -2.45 pt and recovery = 62 %.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from largebatch import verdict as V
from largebatch.prereg import load_spec
from largebatch.results import fmt_mean_std, markdown_table, mean_std_n

from . import proxy

FIG_ARMS = "paper_figures/recipe_32k_arms.png"
FIG_BN = "paper_figures/recipe_32k_bn_fp16.png"
CHANCE_ERR = 90.0
CSV = "paper_figures/data/recipe_32k.csv"
PAPER_A, PAPER_D, PAPER_BASE = 27.55, 100 - 74.9, 23.60


def arm_errors(runs: pd.DataFrame) -> dict[str, pd.Series]:
    """Final test error per arm (diverged runs at chance), indexed by seed."""
    err = runs["final_test_err"].astype(float).where(runs["status"] != "diverged", CHANCE_ERR)
    return {
        a: err[runs["arm"] == a].set_axis(runs.loc[runs["arm"] == a, "seed"]) for a in runs["arm"].unique()
    }


def _fmt(s: pd.Series) -> str:
    m, sd, n = mean_std_n(s)
    return f"{m:.2f} ± {sd:.2f}% (n={n})" if n > 1 else (f"{m:.2f}% (n=1)" if n else "–")


def _mean(s) -> float:
    return mean_std_n(s)[0]


def _spec() -> dict[str, dict]:
    return load_spec("recipe_32k")


def _wall(runs: pd.DataFrame, arms) -> float | None:
    """Seconds of run wall time one more seed of `arms` costs (mean wall_s per arm, summed)."""
    if "wall_s" not in runs.columns:
        return None
    return float(sum(runs.loc[runs["arm"] == a, "wall_s"].mean() for a in arms if (runs["arm"] == a).any()))


def _sel(runs: pd.DataFrame, arms, seeds) -> pd.DataFrame:
    return runs[runs["arm"].isin(arms) & runs["seed"].isin(seeds)]


def evaluate(runs: pd.DataFrame, curves: pd.DataFrame | None = None) -> list[dict]:
    """Claim rows {id, ours, result, runs, csv, wall_per_seed} of the second design (claims.toml): criteria at
    the main batch (4 B_simple, batch_role "main"), the B_simple prediction also at B_simple ("alt")."""
    spec = _spec()
    ids = set(runs["run_id"])
    curves = None if curves is None else curves[curves["run_id"].isin(ids)]
    main, alt = runs[runs["batch_role"] == "main"], runs[runs["batch_role"] == "alt"]
    e, ea = arm_errors(main), arm_errors(alt)
    if not {"baseline", "A", "D"} <= set(e):
        return []

    def arm(a, cid, errs=e):
        return errs[a][errs[a].index.isin(spec[cid]["seeds"])] if a in errs else pd.Series(dtype=float)

    def row(cid, ours, result, arms, table=main):
        return {
            "id": cid,
            "ours": ours,
            "result": result,
            "runs": _sel(table, arms, spec[cid]["seeds"]),
            "csv": CSV,
            "wall_per_seed": _wall(table, arms),
        }

    B = int(main.loc[main["arm"] == "A", "global_batch"].iloc[0])
    rows = []
    A_, D_ = arm("A", "v2_D_beats_A"), arm("D", "v2_D_beats_A")
    s = spec["v2_D_beats_A"]
    rows.append(
        row(
            "v2_D_beats_A",
            f"B={B}: D {_fmt(D_)} vs A {_fmt(A_)}: A − D = {_mean(A_) - _mean(D_):+.2f} pt",
            V.difference(A_, D_, s["threshold"], s["direction"]),
            ["A", "D"],
        )
    )
    s = spec["v2_D_recovers"]
    A_, D_, b_ = (arm(k, "v2_D_recovers") for k in ("A", "D", "baseline"))
    common = A_.index.intersection(D_.index).intersection(b_.index)
    res = V.bootstrap(
        [A_[common], D_[common], b_[common]],
        lambda a, d, b: (a.mean() - d.mean()) / (a.mean() - b.mean()),
        s["threshold"],
        s["direction"],
        paired=True,
        what="recovery",
    )
    rows.append(
        row(
            "v2_D_recovers",
            f"{res.estimate:.0%} of A − baseline = {_mean(A_) - _mean(b_):.2f} pt "
            f"(baseline B=256 {_fmt(b_)})",
            res,
            ["A", "D", "baseline"],
        )
    )
    s = spec["v2_D_near_baseline"]
    D_, b_ = arm("D", "v2_D_near_baseline"), arm("baseline", "v2_D_near_baseline")
    rows.append(
        row(
            "v2_D_near_baseline",
            f"D − baseline = {_mean(D_) - _mean(b_):+.2f} pt",
            V.equivalence(D_, b_, s["margin"]),
            ["D", "baseline"],
        )
    )
    s = spec["v2_bsimple_falls"]
    A_, b_ = arm("A", "v2_bsimple_falls"), arm("baseline", "v2_bsimple_falls")
    rows.append(
        row(
            "v2_bsimple_falls",
            f"A at B={B} {_fmt(A_)} vs baseline {_fmt(b_)}: {_mean(A_) - _mean(b_):+.2f} pt",
            V.difference(A_, b_, s["threshold"], s["direction"]),
            ["A", "baseline"],
        )
    )
    if "A" in ea:
        s = spec["v2_bsimple_flat"]
        Ar, b_ = arm("A", "v2_bsimple_flat", ea), arm("baseline", "v2_bsimple_flat")
        Bref = int(alt.loc[alt["arm"] == "A", "global_batch"].iloc[0])
        r = row(
            "v2_bsimple_flat",
            f"A at B={Bref} {_fmt(Ar)} vs baseline {_fmt(b_)}: {_mean(Ar) - _mean(b_):+.2f} pt",
            V.equivalence(Ar, b_, s["margin"]),
            ["A"],
            alt,
        )
        r["runs"] = pd.concat([r["runs"], _sel(main, ["baseline"], s["seeds"])])
        rows.append(r)
    single = [
        f"{k} {_fmt(e[k])}, {k} − A = {_mean(e[k]) - _mean(e['A']):+.2f} pt" for k in ("B", "C") if k in e
    ]
    if single:
        rows.append(row("v2_ablation", f"B={B}: " + "; ".join(single), None, ["A", "B", "C"]))
    if "D_running" in e:
        s = spec["v2_bn_recomputed"]
        D_, r_ = arm("D", "v2_bn_recomputed"), arm("D_running", "v2_bn_recomputed")
        rows.append(
            row(
                "v2_bn_recomputed",
                f"recomputed {_fmt(D_)} vs running {_fmt(r_)}: {_mean(D_) - _mean(r_):+.2f} pt",
                V.noninferior(D_, r_, s["margin"]),
                ["D", "D_running"],
            )
        )
        if curves is not None and len(curves):
            rows.append(
                _bn_first_half(
                    main,
                    curves[curves["batch_role"] == "main"],
                    spec["v2_bn_first_half"],
                    row,
                    "v2_bn_first_half",
                )
            )
    if "D_fp16" in e:
        s = spec["v2_fp16"]
        procs = main.loc[main["arm"] == "D_fp16", "world_size"].astype(int)
        real = bool(len(procs)) and bool((procs >= 2).all())
        f_, D_ = arm("D_fp16", "v2_fp16"), arm("D", "v2_fp16")
        rows.append(
            row(
                "v2_fp16",
                f"fp16 {_fmt(f_)} vs fp32 {_fmt(D_)}: {_mean(f_) - _mean(D_):+.2f} pt; "
                f"{procs.min() if len(procs) else 0} gloo processes"
                + ("" if real else " (fp16 hook inactive in one process: not measured)"),
                V.equivalence(f_, D_, s["margin"]) if real else None,
                ["D_fp16", "D"],
            )
        )
    return rows


def _bn_first_half(
    runs: pd.DataFrame, curves: pd.DataFrame, spec: dict, row, cid: str = "bn_first_half"
) -> dict:
    """PAPERS.md §4.4's stricter form: recomputed within the margin of running at every epoch of the first
    half (paired by seed per epoch; every epoch must pass)."""
    c = curves[curves["arm"].isin(["D", "D_running"]) & curves["seed"].isin(spec["seeds"])]
    E = float(runs.loc[runs["arm"] == "D", "epochs"].iloc[0])
    c = c[c["epoch"] <= E / 2].dropna(subset=["test_err"])
    c = c.groupby(["arm", "epoch", "seed"], as_index=False)["test_err"].mean()
    parts = []
    for ep, g in c.groupby("epoch"):
        d = g[g["arm"] == "D"].set_index("seed")["test_err"]
        r = g[g["arm"] == "D_running"].set_index("seed")["test_err"]
        parts.append(V.noninferior(d, r, spec["margin"], label=f"ep {ep:g}"))
    res = V.all_of(parts) if parts else None
    worst = max(parts, key=lambda p: p.estimate) if parts else None
    ours = (
        "no curves"
        if not parts
        else (
            f"{sum(p.outcome == V.REPRODUCED for p in parts)} of {len(parts)} epochs pass; largest "
            f"recomputed − running {worst.estimate:+.2f} pt at {worst.label}"
        )
    )
    return row(cid, ours, res, ["D", "D_running"])


def claims(data_dir: Path) -> list[dict]:
    """Rows for the README table (see largebatch.report): the third design's once its runs are in the CSV."""
    runs = pd.read_csv(Path(data_dir) / "recipe_32k.csv")
    if "design" in runs.columns and (runs["design"] == "v3").any():
        from . import claims_v3

        return claims_v3.rows(Path(data_dir), _spec())
    path = Path(data_dir) / "recipe_32k_curves.csv"
    return evaluate(runs, pd.read_csv(path) if path.exists() else None)


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
