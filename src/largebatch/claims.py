"""Claims as registered functions (STYLE §13): one decorated function per id of a study's claims.toml.

A study's `experiments/<name>/claims.py` loads the CSVs its claims read once, into a small typed object,
and registers one function per claim, in the order its rows appear in the README (timm's `@register_model`:
a decorator and a registry, so that the toml and the code cannot drift; tests/test_claims_specs.py checks
that every toml id has exactly one function and every function a toml id):

    from largebatch import verdict as V
    from largebatch.claims import Row, claim

    class Data(NamedTuple):                   # the CSVs the claims read, loaded once
        runs: pd.DataFrame

    def load(data_dir: Path) -> Data:
        return Data(pd.read_csv(Path(data_dir) / "my_study.csv"))

    @claim("a_flat")
    def a_flat(d: Data, spec: dict) -> Row:
        a, b = by_seed(d.runs, 1024), by_seed(d.runs, 256)
        return Row(f"Δ {a.mean() - b.mean():+.2f} pt", V.equivalence(a, b, spec["margin"]), runs=d.runs)

One function may serve several ids that compute the same statistic (`@claim("v3_a_nobn", "v4_a_nobn")`;
it reads which one from `spec["id"]`). Rows come in the order of claims.toml.

A function returns a `Row` (our numbers as text, the verdict, the runs it judged for dating) or None when
its runs are not in the CSVs yet; it formats no README text (no table cells, no markdown): the report
(largebatch.report) renders every row the same way. The study is the package the function's module sits in
(`experiments.<name>.claims`), so a claim never spells its study's name.

A study whose claims.py still has the first form, `claims(data_dir) -> list[dict]` (rows with the keys of
`Row`), keeps working through `Row.from_dict` until it is converted.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from . import verdict as V


class ClaimError(ValueError):
    """A claims module that breaks the contract: a repeated or unknown id, a row of the wrong type."""


@dataclass(frozen=True, eq=False)
class Row:
    """One claim's row, as its registered function computes it from the committed CSVs.

    Attributes:
        ours: Our numbers as text (one string, or parts the report joins with "; ").
        result: The verdict (largebatch.verdict), or None for an exploratory row.
        runs: The CSV rows the claim judges (prereg dates them: was the claim fixed before these runs?).
        csv: Repository-relative path of that CSV ("" = the study's own, paper_figures/data/<study>.csv).
        key: The column of `csv` that names a row (for the git history of its first appearance).
        wall_per_seed: Summed wall time (s) of one seed of the claim's runs (the cost of more seeds).
        control_result: The same test applied to the method's control (the arm without the method); a
            reproduced row whose control passes too "does not separate" (spec key `control`).
        flags: Short warnings the reader needs beside the interval (e.g. an optimum at a grid edge).
        id: The claim id; filled in from the registration (a function need not repeat it).
        replication: The same claim judged on other seeds (a later design's runs of its cells): set by
            `run` from the study's [[replication]] tables, never by the claim's function.
    """

    ours: str | tuple[str, ...]
    result: V.Result | None
    runs: pd.DataFrame | None = None
    csv: str = ""
    key: str = "run_id"
    wall_per_seed: float | None = None
    control_result: V.Result | None = None
    flags: tuple[str, ...] = ()
    id: str = ""
    replication: Replication | None = None

    @property
    def text(self) -> str:
        """`ours` as one cell's text."""
        return self.ours if isinstance(self.ours, str) else "; ".join(self.ours)

    @classmethod
    def from_dict(cls, d: dict, who: str = "claims") -> Row:
        """A row of the first form (`claims(data_dir) -> list[dict]`), keys as the fields; others ignored.

        Raises:
            ClaimError: `id`, `ours` or `result` is missing.
        """
        missing = {"id", "ours", "result"} - set(d)
        if missing:
            raise ClaimError(f"{who}: row {d.get('id')!r} misses {sorted(missing)}")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True, eq=False)
class Replication:
    """A judged claim computed again on a later design's runs of its cells (claims.toml [[replication]]).

    Attributes:
        spec: The [[replication]] table: `of` (the claim), the spec keys it replaces (seeds, experiments),
            `why`.
        result: The claim's verdict on those runs (None: they are not in the CSVs yet).
        runs: The rows it judged.
    """

    spec: dict
    result: V.Result | None
    runs: pd.DataFrame | None = None

    @property
    def seeds(self) -> list:
        return list(self.spec.get("seeds", []))


Claim = Callable[[Any, dict], "Row | None"]
_REGISTRY: dict[str, dict[str, Claim]] = {}  # study -> {claim id: function}, in registration order


def study_of(module: str) -> str:
    """The study a claims module belongs to: `experiments.<study>.claims` -> `<study>`."""
    parts = module.split(".")
    if len(parts) < 3:
        raise ClaimError(f"{module}: a claim is registered from experiments/<study>/claims.py")
    return parts[-2]


def claim(*cids: str, study: str | None = None) -> Callable[[Claim], Claim]:
    """Register the decorated function as the claims `cids` of its study (the package of its module): one
    function may serve several ids that compute the same statistic on other arms or designs (it reads which
    from its spec, `spec["id"]`).

    Raises:
        ClaimError: no id given, or another function already holds one of `cids` in that study.
    """
    if not cids or not all(isinstance(c, str) and c for c in cids):
        raise ClaimError(f"claim(...) needs one or more claim ids (strings), got {cids!r}")

    def deco(fn: Claim) -> Claim:
        s = study or study_of(fn.__module__)
        reg = _REGISTRY.setdefault(s, {})
        for cid in cids:
            old = reg.get(cid)
            if old is not None and (old.__module__, old.__qualname__) != (fn.__module__, fn.__qualname__):
                raise ClaimError(
                    f"claim {cid!r} of {s} is registered twice: {old.__qualname__} and {fn.__qualname__}"
                )
            reg[cid] = fn  # a reloaded module replaces its own function in place
        fn.claim_ids, fn.claim_study = tuple(cids), s
        return fn

    return deco


def registered(study: str) -> dict[str, Claim]:
    """{claim id: function} of `study`, in registration order (its claims module must be imported)."""
    return dict(_REGISTRY.get(study, {}))


def forget(study: str) -> None:
    """Drop a study's registrations (a toy study in a test; a module imported again re-registers)."""
    _REGISTRY.pop(study, None)


def source(fn: Claim) -> tuple[str, str]:
    """(file, qualified name) of a registered function, for dating its code (largebatch.prereg)."""
    return inspect.getsourcefile(fn) or "", fn.__qualname__


def is_registry_module(mod) -> bool:
    """Does a claims module use registered functions (a `load` and at least one @claim)?"""
    return callable(getattr(mod, "load", None)) and any(
        getattr(v, "claim_study", None) is not None for v in vars(mod).values()
    )


def check_ids(study: str, mod, spec: dict) -> None:
    """Every id of the study's claims.toml has exactly one registered function, and vice versa.

    Raises:
        ClaimError: naming the ids on either side that have no partner.
    """
    fns = [cid for v in vars(mod).values() for cid in getattr(v, "claim_ids", ())]
    dup = sorted({c for c in fns if fns.count(c) > 1})
    code, toml = set(registered(study)), set(spec)
    if dup or code != toml:
        raise ClaimError(
            f"experiments/{study}: claims.toml and claims.py disagree: "
            + "; ".join(
                t
                for t in (
                    f"ids without a function: {sorted(toml - code)}" if toml - code else "",
                    f"functions without a toml id: {sorted(code - toml)}" if code - toml else "",
                    f"ids registered twice: {dup}" if dup else "",
                )
                if t
            )
        )


def run(
    study: str, mod, spec: dict, data_dir: Path, csv: str = "", replications: list[dict] = ()
) -> list[Row]:
    """The study's rows: its registered functions over `mod.load(data_dir)`, each with its spec.

    Rows of the first form (`mod.claims(data_dir)`) pass through `Row.from_dict`. A row without a csv gets
    `csv` (the study's own CSV, repository-relative). Each of `replications` ([[replication]] tables:
    `of`, the spec keys to replace, `why`) computes its claim again with those keys replaced and is
    attached to the claim's row (registered functions only).

    Raises:
        ClaimError: the toml and the functions disagree, or a function returns something not a Row, or a
            row under another id.
    """
    if not is_registry_module(mod):
        rows = [Row.from_dict(d, f"experiments.{study}.claims") for d in mod.claims(Path(data_dir))]
    else:
        check_ids(study, mod, spec)
        data = mod.load(Path(data_dir))
        rows = [_replicated(r, data, spec, study, replications) for r in evaluate(study, data, spec).values()]
    return [r if r.csv or not csv else replace(r, csv=csv) for r in rows]


def evaluate(study: str, data, spec: dict, ids=None) -> dict[str, Row]:
    """{id: row} of the study's registered claims (those in `ids`, default all) on `data`, the object its
    claims module's load() returns, in the order of `spec` (the claims.toml's); a claim whose runs are not
    in the data yet has no row.

    Raises:
        ClaimError: a function returns something not a Row, or a row under another id.
    """
    out, reg = {}, registered(study)
    for cid in [c for c in spec if c in reg] + [c for c in reg if c not in spec]:  # the toml's order
        fn = reg[cid]
        if ids is not None and cid not in ids:
            continue
        r = fn(data, spec[cid])
        if r is None:  # its runs are not in the CSVs yet
            continue
        if not isinstance(r, Row) or r.id not in ("", cid):
            who = f"experiments.{study}.claims.{fn.__qualname__}"
            raise ClaimError(f"{who}: returns {type(r).__name__}, not a Row for {cid!r}")
        out[cid] = replace(r, id=cid)
    return out


def _replicated(row: Row, data, spec: dict, study: str, replications) -> Row:
    """`row` with its replication (the first [[replication]] table naming it), if any."""
    rep = next((t for t in replications if t["of"] == row.id), None)
    if rep is None:
        return row
    over = {k: v for k, v in rep.items() if k not in ("of", "why")}
    again = registered(study)[row.id](data, spec[row.id].updated(over))
    got = Replication(rep, again.result if again is not None else None, again.runs if again else None)
    return replace(row, replication=got)


__all__ = [
    "Row",
    "ClaimError",
    "claim",
    "registered",
    "check_ids",
    "run",
    "Replication",
    "study_of",
    "source",
]
