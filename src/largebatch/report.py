"""The reproduction report: every generated README block, written from paper_figures/data/*.csv by code.

    python -m largebatch.report            # rewrite every generated block (README, study READMEs, seeds)
    python -m largebatch.report --check    # exit 1 if any generated block differs from what the CSVs give

For each CSV `paper_figures/data/<study>.csv` whose study has a module `experiments/<study>/claims.py`,
`claims(data_dir) -> list[dict]` judges the study's claims (kept as data in experiments/<study>/claims.toml)
through `largebatch.verdict` and returns rows {id, ours, result, runs, csv, wall_per_seed}; the report adds
each claim's text from the spec, the commit that fixed it and whether that commit precedes the runs
(`largebatch.prereg`), and the seeds the claim needs (`verdict.seeds_needed`). A claims module may also
define `readme_blocks(data_dir) -> {name: markdown}`: the report writes those into the study's README (it
is the one writer of generated README blocks; notebooks only draw figures): a block given as None, or the
token <<claims>> inside one, becomes the study's claims table. No number in a generated block is typed by
hand.
"""

from __future__ import annotations

import csv
import io
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import claims, csvcheck, prereg
from . import verdict as V
from .claims import Row
from .cmdline import Command, exit_with
from .csvcheck import DataFileError
from .formatting import replace_block, write_block
from .metrics import oserror_text
from .paths import DATA, ROOT
from .study import Study, csv_keys, discover
from .study import find as find_study

START, END = "<!-- report:start -->", "<!-- report:end -->"
CLAIMS_TOKEN = "<<claims>>"  # in a readme_blocks() text: where the study's claims table goes
CHEAP_MIN = 15.0  # a study's extra runs count as cheap up to this many CPU minutes (issue 20)
SHOWN = {
    V.REPRODUCED: "reproduced",
    V.NOT_REPRODUCED: "**not reproduced**",
    V.INCONCLUSIVE: "inconclusive",
    V.EXPLORATORY: "*exploratory*",
    V.NOT_TESTABLE: "*not testable here*",
    V.NOT_SEPARATED: "reproduced, but so does the control",
}
JUDGED = (*V.OUTCOMES, V.NOT_TESTABLE, V.NOT_SEPARATED)  # every outcome but exploratory


def claims_module(study: str):
    """The claims module of the study called `study`, or None (largebatch.study)."""
    # largebatch.study: None when no study has this name (e.g. a <study>_curves.csv) or it has no
    # claims.py; an error inside an existing claims.py is raised.
    s = find_study(study)
    return s.module("claims") if s is not None else None


def _studies(data_dir: Path) -> list[Study]:
    """The studies with a claims module whose CSV `<name>.csv` is in `data_dir`, by name."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return [s for s in discover() if s.csv(data_dir).is_file() and s.module("claims") is not None]


def _target(spec: dict, res: V.Result | None) -> tuple[float, str]:
    """The half-width the interval must get below: half the paper's effect, or the margin."""
    if spec.get("margin") is not None:
        return float(spec["margin"]), "margin"
    if spec.get("paper_effect") is not None:
        return abs(float(spec["paper_effect"])) / 2, "paper effect / 2"
    if res is not None and math.isfinite(res.estimate):
        thr = float(spec.get("threshold", 0.0))
        return abs(res.estimate - thr), "distance of our estimate to the threshold"
    return math.nan, ""


def _code_file(study: str, cid: str, root: Path) -> str | None:
    """The repository-relative file of the claim's registered function (None: the first form, or a file
    outside `root`): prereg dates the claim by its code too."""
    fn = claims.registered(study).get(cid)
    path = Path(claims.source(fn)[0]).resolve() if fn is not None else None
    return (
        str(path.relative_to(Path(root).resolve()))
        if path and path.is_relative_to(Path(root).resolve())
        else None
    )


def judge(study: str, row: Row, root: Path = ROOT) -> dict:
    """A claim's row completed with its spec, pre-registration status and seeds needed."""
    specs = prereg.load_spec(study, root)
    if row.id not in specs:
        raise ValueError(
            f"experiments.{study}.claims: row id {row.id!r} is not in {prereg.spec_path(study, root)}"
        )
    spec = specs[row.id]
    res: V.Result | None = row.result
    if res is not None and spec.get("sesoi") is not None:
        res = V.with_sesoi(res, float(spec["sesoi"]), spec.get("direction", ">"))
    exploratory = spec.get("test") == "exploratory" or res is None
    fixed, how = prereg.fixed_commit(study, spec, root, _code_file(study, row.id, root))
    runs = row.runs
    commits = prereg.run_commits(runs, row.csv, row.key, root) if runs is not None and len(runs) else {}
    st = prereg.status(fixed, commits, root)
    out = {
        "study": study,
        "id": row.id,
        "claim": spec["claim"],
        "paper": spec.get("paper", ""),
        "ours": row.text,
        "figure": spec.get("figure", ""),
        "result": res,
        "spec": spec,
        "fixed": fixed,
        "fixed_how": how,
        "prereg": st,
        "run_commits": commits,
        "outcome": V.EXPLORATORY if exploratory else res.outcome,
    }
    target, why = _target(spec, res)
    need = need_obs = None
    if res is not None and not exploratory and math.isfinite(target):
        need = V.seeds_needed(res, target)
    if res is not None and not exploratory and res.outcome == V.INCONCLUSIVE:
        need_obs = V.seeds_needed(res, V.distance(res))
    out.update(target=target, target_why=why, need=need, need_obs=need_obs, wall_per_seed=row.wall_per_seed)
    control = row.control_result
    out["control_result"] = control
    out["replication"] = row.replication if row.replication and row.replication.result else None
    out["flags"] = row.flags
    if control is not None and out["outcome"] == V.REPRODUCED and control.outcome == V.REPRODUCED:
        out["outcome"] = V.NOT_SEPARATED
    return out


def apply_preconditions(rows: list[dict]) -> list[dict]:
    """A row whose spec names a precondition is judged only when that row is reproduced; otherwise its
    outcome is NOT_TESTABLE (its own interval stays in the table, the precondition's is named beside it)."""
    by_id = {(r["study"], r["id"]): r for r in rows}
    for r in rows:
        pre = r["spec"].get("precondition")
        if pre is None or r["outcome"] == V.EXPLORATORY:
            continue
        p = by_id.get((r["study"], pre))
        r["precondition_row"] = p
        if p is None or p["outcome"] != V.REPRODUCED:
            r["outcome"] = V.NOT_TESTABLE
    return rows


def apply_reruns(rows: list[dict], root: Path = ROOT) -> list[dict]:
    """The [[rerun]] tables (prereg.load_reruns): a judged row whose claim a later design asked again on fresh
    seeds gets `superseded_by` (the latest row of the chain of reruns) and that row gets `supersedes`; the
    counts take the latest row, and the earlier one keeps its own verdict in its table. A rerun whose later
    row is exploratory or not pre-registered supersedes nothing (`rerun_refused` says why): only a design
    fixed before its runs may replace a verdict. `rerun_declared`: was the [[rerun]] table itself committed
    before the later row's runs (prereg.status of prereg.rerun_commit)? A table written after them is shown
    ("named after its runs") and counted under the table; it still supersedes."""
    by_id = {(r["study"], r["id"]): r for r in rows}
    link: dict[tuple, dict] = {}
    for study in dict.fromkeys(r["study"] for r in rows):
        for t in prereg.load_reruns(study, root):
            old, new = by_id.get((study, t["of"])), by_id.get((study, t["by"]))
            if old is None or new is None or old["outcome"] == V.EXPLORATORY:
                continue  # a row without runs yet, or one that judges nothing
            if new["outcome"] == V.EXPLORATORY or new["prereg"] != prereg.PRE:
                why = "exploratory" if new["outcome"] == V.EXPLORATORY else new["prereg"]
                old["rerun_refused"] = f"its rerun `{new['id']}` is {why}, so it supersedes nothing"
                continue
            link[(study, old["id"])] = new
            declared = prereg.rerun_commit(study, old["id"], root)
            old["rerun_declared"] = prereg.status(declared, new.get("run_commits") or {}, root)
    for key, new in link.items():
        seen = {key}
        while (new["study"], new["id"]) in link and (new["study"], new["id"]) not in seen:
            seen.add((new["study"], new["id"]))
            new = link[(new["study"], new["id"])]
        old = by_id[key]
        old["superseded_by"] = new
        new.setdefault("supersedes", []).append(old)
    return rows


def superseded(r: dict) -> bool:
    """A judged row that a later, pre-registered design asked again on fresh seeds (apply_reruns)."""
    return r.get("superseded_by") is not None


def _header(text: str) -> list[str]:
    return next(csv.reader(io.StringIO(text.partition("\n")[0])), [])


def _committed_header(name: str, data_dir: Path) -> list[str]:
    """The columns of the committed CSV `name`: paper_figures/data's (when `data_dir` is elsewhere), else
    the version at git HEAD."""
    ref = DATA / name
    if ref.is_file() and ref.resolve() != (data_dir / name).resolve():
        with open(ref) as f:
            return _header(f.readline())
    text = prereg.git("show", f"HEAD:{ref.relative_to(ROOT)}") if ref.is_relative_to(ROOT) else None
    return _header(text or "")


def _input_error(study: str, e: Exception, data_dir: Path) -> DataFileError | None:
    """A claims module's KeyError, AttributeError (`df.col`) or FileNotFoundError as the CSV it concerns
    (None: not a data problem but a bug, left to raise): a column that the committed CSV has and this one
    lacks, or a missing file."""
    who = f"experiments/{study}/claims.py"
    if isinstance(e, FileNotFoundError):
        return DataFileError(f"{e.filename}: no such file, which {who} reads; {csvcheck.fix(e.filename)}")
    arg = str(e.args[0]) if e.args else ""
    if isinstance(e, AttributeError):
        names = re.findall(r"has no attribute '([^']+)'", arg)
    elif "not in index" in arg or "None of" in arg:
        names = re.findall(r"'([^']+)'", arg)
    else:
        names = [arg]
    for name in names:
        for p in sorted(data_dir.glob("*.csv")):
            with open(p) as f:
                if name not in _header(f.readline()) and name in _committed_header(p.name, data_dir):
                    return DataFileError(
                        f"{p}: no column {name!r}, which {who} reads (the committed {p.name} has it); "
                        f"{csvcheck.fix(p)}"
                    )
    return None


def _call(study: str, fn, data_dir: Path):
    """fn(data_dir) of a study's claims module, its data errors as one-line DataFileErrors."""
    try:
        return fn(data_dir)
    except (KeyError, AttributeError, FileNotFoundError) as e:
        if isinstance(e, DataFileError):
            raise
        err = _input_error(study, e, data_dir)
        if err is None:
            raise
        raise err from None


def check_inputs(data_dir: str | Path, root: Path = ROOT) -> None:
    """What the report reads, checked before it writes anything: `data_dir` exists and holds the CSV of
    every study whose claims it reports (a typo or a partial directory would empty their blocks), each CSV
    well formed and without repeated rows or keys (largebatch.csvcheck, the studies' KEYS), and every
    claims.toml valid (prereg.load_spec).

    Raises:
        DataFileError: one line naming the file (and line) and the fix.
    """
    data_dir = Path(data_dir)
    csvcheck.check_dir(data_dir, csv_keys())
    for s in discover():
        if s.has("claims") and prereg.spec_path(s.name, root).is_file():
            prereg.load_spec(s.name, root)
            if not (data_dir / f"{s.name}.csv").is_file():
                raise DataFileError(
                    f"--data_dir={data_dir}: no {s.name}.csv, whose claims the report writes; give the "
                    "directory that holds every study's CSV (paper_figures/data)"
                )


def collect_claims(data_dir: str | Path = DATA, root: Path = ROOT) -> list[dict]:
    """Every judged row of every study with a CSV in `data_dir` and a claims module, sorted by study.

    Raises:
        ValueError: a row misses a key, names no claim of the spec, or has no verdict where one is due.
        DataFileError: a CSV the claims read lacks a column or is missing, or a claims.toml is invalid.
    """
    out = []
    for s in _studies(Path(data_dir)):
        for row in _call(s.name, lambda d, s=s: s.claims(d, root), Path(data_dir)):
            r = judge(s.name, row, root)
            if r["outcome"] not in (*JUDGED, V.EXPLORATORY):
                raise ValueError(f"{s.name}/{r['id']}: outcome {r['outcome']!r}")
            out.append(r)
    return apply_reruns(apply_preconditions(out), root)


def _cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def _fixed_cell(r: dict) -> str:
    c = f"`{prereg.short(r['fixed'])}`" + (" (its code)" if r["fixed_how"] == "code" else "")
    if r["outcome"] == V.EXPLORATORY:
        return c
    if r["prereg"] == prereg.POST:
        return c + " **post hoc**"
    if r["prereg"] == prereg.UNVERIFIED:
        return c + " (unverified)"
    return c


def _seeds_cell(r: dict) -> str:
    res = r["result"]
    if res is None or r["outcome"] == V.EXPLORATORY:
        return ""
    if res.method.startswith("exact"):
        return "– (exact)"
    if res.too_few:
        return f"{res.n_text()} → needs ≥ {V.MIN_BOOT_N} seeds first (no bootstrap interval on fewer)"
    if r.get("flags") and r["outcome"] == V.INCONCLUSIVE:
        return f"{res.n_text()}: flagged above; more seeds cannot decide it"
    txt = (
        f"{res.n_text()} → > {V.SEED_CAP} (cap not enough)"
        if r["need"] is None
        else f"{res.n_text()} → {r['need']}"
        if r["need"] > res.n
        else f"{res.n_text()} (meets the rule)"
    )
    if r["outcome"] == V.INCONCLUSIVE:
        obs = r["need_obs"]
        txt += f"; to decide at the observed estimate: {obs if obs is not None else f'> {V.SEED_CAP}'}"
    return txt


COUNTED = (*JUDGED, V.EXPLORATORY, "post hoc", "not replicated", "superseded")
REPLICATED = {
    V.REPRODUCED: "replicated",
    V.INCONCLUSIVE: "not replicated (inconclusive)",
    V.NOT_REPRODUCED: "not replicated (not reproduced)",
}


def seeds_text(seeds) -> str:
    """Seeds as ranges: [10, 11, ..., 19] -> '10–19', [0, 1, 3] -> '0–1, 3'."""
    out, run = [], []
    for x in sorted(seeds):
        if run and x != run[-1] + 1:
            out.append(run)
            run = []
        run.append(x)
    out += [run] if run else []
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in out)


def not_replicated(r: dict) -> bool:
    """A reproduced row whose claim, judged again on a later design's fresh seeds, does not pass there."""
    rep = r.get("replication")
    return r["outcome"] == V.REPRODUCED and rep is not None and rep.result.outcome != V.REPRODUCED


def counts(rows: list[dict], current: bool = True) -> dict[str, dict[str, int]]:
    """study -> {outcome: count} (exploratory rows counted apart; post hoc: of every judged row, superseded
    ones too; not replicated: of the reproduced rows). `current`: a superseded row counts as "superseded",
    not by its outcome (the later row that reran its claim counts instead); False counts every row by its
    own outcome."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        c = out.setdefault(r["study"], {k: 0 for k in COUNTED})
        c["superseded" if current and superseded(r) else r["outcome"]] += 1
        c["post hoc"] += r["outcome"] != V.EXPLORATORY and r["prereg"] == prereg.POST
        c["not replicated"] += not_replicated(r) and not (current and superseded(r))
    return out


def _total(c: dict[str, dict[str, int]]) -> dict[str, int]:
    return {k: sum(d[k] for d in c.values()) for k in COUNTED}


def render_counts(rows: list[dict]) -> str:
    """The README's counts table (superseded rows apart), and below it every judged row by its own verdict."""
    c = counts(rows)
    lines = [
        "| study | reproduced | not reproduced | inconclusive | not testable here (precondition not "
        "reproduced) | control passes too | superseded (a later design reran the claim on fresh seeds) | "
        "exploratory (no verdict) | of the judged, superseded too: post hoc | of the reproduced: not "
        "replicated on fresh seeds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s, d in c.items():
        lines.append(
            f"| `{s}` | {d[V.REPRODUCED]} | {d[V.NOT_REPRODUCED]} | {d[V.INCONCLUSIVE]} | "
            f"{d[V.NOT_TESTABLE]} | {d[V.NOT_SEPARATED]} | {d['superseded']} | {d[V.EXPLORATORY]} | "
            f"{d['post hoc']} | {d['not replicated']} |"
        )
    tot = _total(c)
    lines.append(
        f"| **all** | **{tot[V.REPRODUCED]}** | **{tot[V.NOT_REPRODUCED]}** | "
        f"**{tot[V.INCONCLUSIVE]}** | {tot[V.NOT_TESTABLE]} | {tot[V.NOT_SEPARATED]} | {tot['superseded']} | "
        f"{tot[V.EXPLORATORY]} | {tot['post hoc']} | {tot['not replicated']} |"
    )
    every = _total(counts(rows, current=False))
    n = sum(every[k] for k in JUDGED)
    late = sum(superseded(r) and r.get("rerun_declared") != prereg.PRE for r in rows)
    lines += [
        "",
        f"Every judged row by its own verdict, the {tot['superseded']} superseded ones included ({n} rows): "
        f"{every[V.REPRODUCED]} reproduced, {every[V.NOT_REPRODUCED]} not reproduced, "
        f"{every[V.INCONCLUSIVE]} inconclusive, {every[V.NOT_TESTABLE]} not testable here, "
        f"{every[V.NOT_SEPARATED]} passed by the control too."
        + (
            f" Of the superseded rows, {late} were named by a `[[rerun]]` table committed after the later "
            'design\'s runs, or not shown to precede them ("named after its runs" in their rows); the later '
            "designs themselves were fixed before their runs."
            if late
            else ""
        ),
    ]
    return "\n".join(lines)


def render_study_counts(rows: list[dict]) -> str:
    """One study's verdicts in one line (its README's `verdicts` block)."""
    c = counts(rows)[rows[0]["study"]] if rows else {}
    if not c:
        return "No claims judged yet."
    extra = ""
    if c[V.NOT_TESTABLE]:
        extra += f", {c[V.NOT_TESTABLE]} not testable here (precondition not reproduced)"
    if c[V.NOT_SEPARATED]:
        extra += f", {c[V.NOT_SEPARATED]} passed by the control too"
    if c["not replicated"]:
        extra += f" ({c['not replicated']} of the reproduced not replicated on fresh seeds)"
    return (
        f"**Verdicts (generated from the CSVs):** {c[V.REPRODUCED]} reproduced, "
        f"{c[V.NOT_REPRODUCED]} not reproduced, {c[V.INCONCLUSIVE]} inconclusive{extra}"
        f" ({c['post hoc']} of the judged rows post hoc), {c[V.EXPLORATORY]} exploratory. "
        + (
            f"{c['superseded']} earlier rows are superseded and not counted here: a later design asked their "
            "claims again on fresh seeds, and each keeps its own verdict in the claims table. "
            if c["superseded"]
            else ""
        )
        + "Each row's "
        "interval, n and the commit that fixed it are in the claims table; where the prose of this "
        "README speaks of a criterion passing or failing, it reads the seed means, and the table's "
        "verdict governs."
    )


def _interval_cell(r: dict) -> str:
    """The interval and its test; the precondition's, the control's and the replication's beside it; the
    row's flags (e.g. an optimum at a grid edge)."""
    res = r["result"]
    iv = "" if res is None else f"{res.interval()} ({res.method}; {res.rule})"
    pre = r.get("precondition_row")
    if r["outcome"] == V.NOT_TESTABLE:
        iv = (
            f"precondition `{r['spec']['precondition']}` "
            + (f"{SHOWN[pre['outcome']]}: {pre['result'].interval()}" if pre else "has no row")
            + (f"; this row's own: {iv}" if iv else "")
        )
    ctl = r.get("control_result")
    if ctl is not None:
        iv += f"; control {r['spec'].get('control', '')}: {SHOWN[ctl.outcome]}, {ctl.interval()}"
    rep = r.get("replication")
    if rep is not None and r["outcome"] != V.EXPLORATORY:
        iv += (
            f"; replication, seeds {seeds_text(rep.seeds)} ({rep.spec['why']}): {rep.result.interval()}, "
            f"{REPLICATED[rep.result.outcome]}"
        )
    for flag in r.get("flags") or ():
        iv += f"; **{flag}**"
    if r.get("supersedes"):
        iv += "; reruns on fresh seeds, and supersedes: " + ", ".join(
            f"`{o['id']}` ({SHOWN[o['outcome']]} on seeds {seeds_text(o['spec']['seeds'])})"
            for o in r["supersedes"]
        )
    if r.get("rerun_refused"):
        iv += f"; {r['rerun_refused']}"
    return iv


def _verdict_cell(r: dict) -> str:
    rep = r.get("replication")
    out = SHOWN[r["outcome"]]
    if not_replicated(r):
        out += f"; **not replicated** on seeds {seeds_text(rep.seeds)}"
    new = r.get("superseded_by")
    if new is not None:
        when = {prereg.PRE: "", prereg.POST: "; named after its runs"}.get(
            r.get("rerun_declared"), "; not shown to be named before its runs"
        )
        out += (
            f"; *superseded* by `{new['id']}` (seeds {seeds_text(new['spec']['seeds'])}: "
            f"{SHOWN[new['outcome']]}{when})"
        )
    return out


def render_rows(rows: list[dict], with_study: bool = False) -> str:
    """The claim table: claim | paper | ours | verdict | interval (test) | n → needed | fixed at | figure."""
    head = ["claim", "paper", "ours", "verdict", "interval (test)", "seeds: n → needed", "fixed at", "figure"]
    if with_study:
        head = ["study", *head]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        fig = r["figure"] or ""
        fig = f"[{Path(fig).stem}]({fig})" if fig else ""
        cells = [
            r["claim"],
            r["paper"],
            r["ours"],
            _verdict_cell(r),
            _interval_cell(r),
            _seeds_cell(r),
            _fixed_cell(r),
            fig,
        ]
        if with_study:
            cells = [f"`{r['study']}`", *cells]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def render_table(rows: list[dict]) -> str:
    """The README block: counts, then one table per study."""
    if not rows:
        return "(no study CSV with a claims module yet)"
    parts = [render_counts(rows), ""]
    for study in dict.fromkeys(r["study"] for r in rows):
        parts += [f"#### `{study}`", "", render_rows([r for r in rows if r["study"] == study]), ""]
    return "\n".join(parts).rstrip("\n")


def seeds_plan(rows: list[dict]) -> list[dict]:
    """Per judged row measured on seeds: the power rule's n, the n that would decide the row at the observed
    estimate, the extra runs' CPU minutes for the larger of the two, and the study's total of those."""
    out = []
    for r in rows:
        res = r["result"]
        if res is None or r["outcome"] == V.EXPLORATORY or res.method.startswith("exact"):
            continue
        n, need, obs = res.n, r["need"], r["need_obs"]
        undecided = r["outcome"] == V.INCONCLUSIVE
        if undecided:  # the seeds that decide it at the estimate we see (and meet the rule, if they can)
            plan = None if obs is None else max(obs, need or 0)
        else:
            plan = need
        wall = r["wall_per_seed"]
        extra = max((plan if plan is not None else V.SEED_CAP) - n, 0)
        out.append(
            {
                "study": r["study"],
                "id": r["id"],
                "outcome": r["outcome"],
                "n": n,
                "need": need,
                "obs": obs,
                "plan": plan,
                "target": r["target"],
                "why": r["target_why"],
                "half_width": res.half_width,
                "too_few": res.too_few,
                "flagged": bool(r.get("flags")),
                "superseded_by": (r.get("superseded_by") or {}).get("id"),
                "extra": extra,
                "wall": wall,
                "minutes": extra * wall / 60 if wall is not None else math.nan,
            }
        )
    by_study: dict[str, float] = {}
    for p in out:
        live = p["superseded_by"] is None
        if live and p["outcome"] == V.INCONCLUSIVE and p["plan"] is not None and p["extra"] > 0 and p["wall"]:
            by_study[p["study"]] = by_study.get(p["study"], 0.0) + p["minutes"]
    for p in out:
        p["study_minutes"] = by_study.get(p["study"], 0.0)
    return out


def render_seeds(rows: list[dict]) -> str:
    """The docs/seeds.md table: seeds by the power rule, seeds to decide, cheap reruns."""
    plan = seeds_plan(rows)
    lines = [
        "| study | claim | verdict now | half-width now | target (why) | n now → power rule | n to decide at "
        "the observed estimate | extra runs' CPU min | rerun? |",
        "|---|---|---|---:|---|---|---|---:|---|",
    ]

    def n_txt(v):
        return f"> {V.SEED_CAP} (cap not enough)" if v is None else str(v)

    for p in plan:
        hw = "" if not math.isfinite(p["half_width"]) else f"{p['half_width']:.3g}"
        tgt = "" if not math.isfinite(p["target"]) else f"{p['target']:.3g} ({p['why']})"
        obs = n_txt(p["obs"]) if p["outcome"] == V.INCONCLUSIVE else "decided"
        if p["outcome"] != V.INCONCLUSIVE:
            plan_txt = "decided"
        elif p["superseded_by"]:
            plan_txt = f"no: superseded by {p['superseded_by']} (a later design asked it on fresh seeds)"
        elif p["flagged"]:
            plan_txt = "no: flagged (e.g. censored at a grid edge); a new design decides it, not more seeds"
        elif p["too_few"]:
            plan_txt = f"first ≥ {V.MIN_BOOT_N} seeds: no bootstrap interval on fewer (then the power rule)"
            obs = "unknown (no interval yet)"
        elif p["plan"] is None:
            plan_txt = "no: the cap of 10 seeds is not enough (a redesign, its own issue)"
        elif p["extra"] == 0:
            plan_txt = "no: more seeds would not change it (interval already narrow)"
        elif p["wall"] is None:
            plan_txt = "cost unknown"
        elif p["study_minutes"] <= CHEAP_MIN:
            plan_txt = f"**yes, cheap**: {p['plan']} seeds (study's extra runs {p['study_minutes']:.1f} min)"
            if p["need"] is None:
                plan_txt += "; the power rule is not met even at 10"
        else:
            plan_txt = (
                f"not cheap: {p['plan']} seeds (study's extra runs {p['study_minutes']:.1f} min > "
                f"{CHEAP_MIN:g})"
            )
        live = p["outcome"] == V.INCONCLUSIVE and not p["superseded_by"]
        mins = f"{p['minutes']:.1f}" if p["wall"] is not None and live else ""
        lines.append(
            f"| `{p['study']}` | {p['id']} | {p['outcome']} | {hw} | {tgt} | {p['n']} → "
            f"{n_txt(p['need']) if not p['too_few'] else f'≥ {V.MIN_BOOT_N} first'} | {obs} | {mins} | "
            f"{plan_txt} |"
        )
    return "\n".join(lines)


def current_table(text: str) -> str | None:
    """The table now between the report markers of `text`, or None without markers."""
    i, j = text.find(START), text.find(END)
    return None if i < 0 or j < i else text[i + len(START) : j].strip("\n")


def blocks(
    data_dir: Path = DATA, root: Path = ROOT, readme: Path | None = None
) -> dict[Path, dict[str, str]]:
    """Every generated block: {file: {block name: markdown}} (README: `readme`, default root/README.md)."""
    rows = collect_claims(data_dir, root)
    out: dict[Path, dict[str, str]] = {
        Path(readme) if readme else Path(root) / "README.md": {"report": render_table(rows)},
        Path(root) / "docs" / "seeds.md": {"seeds": render_seeds(rows)},
    }
    for s in _studies(Path(data_dir)):
        fn = getattr(s.module("claims"), "readme_blocks", None)
        if fn is None:
            continue
        table = render_rows([r for r in rows if r["study"] == s.name])
        got = {
            k: table if v is None else v.replace(CLAIMS_TOKEN, table)
            for k, v in _call(s.name, fn, Path(data_dir)).items()
        }
        out[_readme(s.name, root)] = got
    for study in dict.fromkeys(r["study"] for r in rows):  # the counts line, where a README asks for it
        path = _readme(study, root)
        if path.is_file() and "<!-- verdicts:start -->" in path.read_text():
            mine = [r for r in rows if r["study"] == study]
            out.setdefault(path, {})["verdicts"] = render_study_counts(mine)
    return out


def _readme(study: str, root: Path) -> Path:
    """The study's README under `root` (the study's own, largebatch.study, when `root` is the checkout)."""
    s = find_study(study)
    return (
        s.readme if s is not None and Path(root) == ROOT else Path(root) / "experiments" / study / "README.md"
    )


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


@dataclass
class Options:
    check: bool = False  # write nothing; exit 1 if any generated block differs from what the CSVs give
    root: str = (
        ""  # repository root: claims.toml files, docs/, READMEs ("" = $LARGEBATCH_ROOT or the checkout)
    )
    data_dir: str = ""  # directory of the committed CSVs ("" = <root>/paper_figures/data)
    readme: str = ""  # the README holding the report block ("" = <root>/README.md)


CLI = Command(
    "python -m largebatch.report",
    "Write every generated README block (results tables, study READMEs, docs/seeds.md) from the committed "
    "CSVs in paper_figures/data/; --check only compares.",
    Options,
    sections={"what": ("check",), "where (paths)": ("root", "data_dir", "readme")},
)


def main(argv: list[str] | None = None) -> int:
    a, _ = CLI.parse(sys.argv[1:] if argv is None else argv)
    root = Path(a.root) if a.root else ROOT
    data_dir = Path(a.data_dir) if a.data_dir else (root / "paper_figures" / "data" if a.root else DATA)
    readme = Path(a.readme) if a.readme else root / "README.md"
    stale, wrote = [], []
    try:
        check_inputs(data_dir, root)
        every = blocks(data_dir, root, readme)
    except DataFileError as e:  # before anything is written: no block is emptied by a bad input
        print(f"report error: {e}", file=sys.stderr)
        return 2
    for path, bl in every.items():
        if not path.is_file():
            if path == readme:
                print(f"[report] no {path}", file=sys.stderr)
                return 1
            continue  # e.g. docs/seeds.md of a checkout without it
        text = path.read_text()
        for name, block in bl.items():
            try:
                new = replace_block(text, block, name)
            except ValueError:
                print(
                    f"[report] {path} has no '<!-- {name}:start -->' / '<!-- {name}:end -->' markers",
                    file=sys.stderr,
                )
                return 1
            if new != text:
                stale.append(f"{_rel(path)}:{name}")
                if not a.check:
                    try:
                        write_block(path, block, name)
                    except OSError as e:
                        print(f"report error: {oserror_text(e, 'checkout', 'then rerun')}", file=sys.stderr)
                        return 2
                    wrote.append(f"{_rel(path)}:{name}")
                text = new
    if a.check:
        if stale:
            print(
                "[report] out of date (run `python -m largebatch.report`): " + ", ".join(stale),
                file=sys.stderr,
            )
            return 1
        print("[report] every generated README block is up to date")
        return 0
    print(f"[report] wrote {len(wrote)} block(s)" + (": " + ", ".join(wrote) if wrote else ""))
    return 0


def cli() -> None:
    """The console script `largebatch-report`."""
    exit_with(main, name="report")


if __name__ == "__main__":
    cli()
