"""Pre-registration: which commit fixed a claim, and was it fixed before the runs it judges? (issue 20)

Each study keeps its claims as data in `experiments/<study>/claims.toml`, one `[[claim]]` table per row:

    id = "e_rule"                  # the row's key in claims.py
    claim = "..."                  # the claim as judged (the README's text)
    paper = "..."                  # the paper's number
    arms = ["...", "..."]          # what is compared
    batch = 1024                   # where (if it applies)
    statistic = "..."              # what is computed, in words
    test = "difference"            # difference | equivalence | one_sample | bootstrap | exact | exploratory
    direction = ">"                # the paper's side of the threshold
    threshold = 0.0                # or margin = 0.2 for equivalence tests
    paper_effect = 2.48            # the effect the paper reports (for the seeds-by-power rule)
    seeds = [0, 1, 2]
    figure = "paper_figures/..."
    registered = {commit = "bb09c20", file = "experiments/.../claims.py", quote = "..."}

The file is checked when it is loaded (`load_spec`): TOML syntax, every key one of SPEC_KEYS with its type
(a misspelt key is an error with "did you mean", not a criterion silently missing), id, claim and test
present, what the test needs (NEEDS) present, ids unique. A claim id or key that the claims code asks for
and the file lacks is a SpecKeyError naming the file and line.

The rule the report applies (README, "How verdicts are reached"):
  * the commit that fixed a claim is the last commit that changed its `[[claim]]` table (git blame), unless
    `registered` names an earlier commit whose version of `file` already contains `quote`, the same
    criterion in the words committed then; the report checks the quote against that commit and falls back
    to the spec's own commit when it is not there. A criterion that changed (new arms, another batch, a
    margin where there was none) has no such quote and carries the commit of the spec;
  * a row is pre-registered when that commit is an ancestor of (or equal to) every commit that produced
    the runs it judges (`meta.git_sha` of each run; `git merge-base --is-ancestor`), **post hoc** when it is
    not an ancestor of one of them or is not committed at all;
  * runs that record no git sha (the older CSVs) cannot prove it: such a row is **post hoc** when the claim
    was fixed after the CSV first held the runs, and *unverified* otherwise;
  * the statistic's code counts too (issue 31): for a claim computed by a registered function
    (largebatch.claims), the commit that last changed that function or a function of its claims.py that it
    calls (`claim_source`: the AST without docstrings, so words and comments do not count) dates the claim
    when it is not an ancestor of the criterion's commit (`code_commit`, `fixed_commit` returns how =
    "code"). A commit marked BYTE_IDENTICAL in its message changed code but left every generated block
    byte-identical (the report's output compared before and after it): a function's first registered
    version added by such a commit inherits its spec's date (the refactor that registered the claims, issue
    27, commit 2e2161e "Claims as registered functions"), and such a commit's later change (a helper shared
    by several claims, merged into one) keeps the date the function had. Any other change re-dates the row.

A claims.toml may also hold `[[replication]]` tables (`of` = a claim id, `why`, and the spec keys a later
design replaces to run the claim's cells again, e.g. seeds and experiments): the report judges the claim on
those runs too and shows it beside the row; the original verdict stays (`load_replications`).

And `[[rerun]]` tables (`of`, `by`, `why`): the row `by`, a later design's, asks `of`'s question again on
fresh seeds (none of `of`'s), so the counts take `by` as the claim's current verdict and count `of` as
superseded; `of` keeps its row and its own verdict, and says which row superseded it (`load_reruns`; the
report applies it only when `by` is judged and pre-registered). Checked here: both ids are claims of the file,
`by` stands below `of` (a later design), their seeds are disjoint, and no row is superseded twice.
"""

from __future__ import annotations

import ast
import copy
import difflib
import functools
import re
import subprocess
from io import StringIO
from pathlib import Path

import pandas as pd
import tomllib

from .csvcheck import DataFileError
from .paths import ROOT

PRE, POST, UNVERIFIED, UNCOMMITTED = "pre-registered", "post hoc", "unverified", "uncommitted"
_ZERO = "0" * 40


def spec_path(study: str, root: Path = ROOT) -> Path:
    return Path(root) / "experiments" / study / "claims.toml"


class SpecError(DataFileError):
    """A claims.toml that cannot be used: TOML syntax, an unknown or misspelt key, a wrong type, a key its
    test needs missing, a repeated id; the message names the file and line."""


class SpecKeyError(SpecError, KeyError):
    """The claims code asks a claims.toml for a claim id or key it does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


_NUM = (int, float)
# Every key a [[claim]] table may have, with its type(s): a misspelt key ("thresold") is an error, not a
# silently missing criterion. A study-specific key is added here.
SPEC_KEYS: dict[str, tuple] = {
    "id": (str,),
    "claim": (str,),
    "paper": (str,),
    "test": (str,),
    "figure": (str,),
    "arms": (list,),
    "statistic": (str,),
    "seeds": (list,),
    "threshold": (*_NUM, list),
    "direction": (str,),
    "margin": _NUM,
    "band": (list,),
    "paper_effect": _NUM,
    "batch": (int, list),
    "registered": (dict,),
    "stable_train_acc": _NUM,
    "cells": (list,),
    "settings": (list,),
    "setting": (list,),
    "experiments": (list,),
    "predicted": (list,),
    "batch_flat": (list,),
    "batch_beyond": (list,),
    "sesoi": _NUM,  # smallest effect of interest of a directional claim (largebatch.verdict.with_sesoi)
    "sesoi_why": (str,),
    "precondition": (str,),  # id of the row that must be reproduced for this one to be judged
    "control": (str,),  # the arm without the method, judged by the same test
}
REGISTERED_KEYS = {"commit": (str,), "file": (str,), "quote": (str,), "quotes": (list,)}
TESTS = ("difference", "equivalence", "noninferior", "one_sample", "bootstrap", "exact", "exploratory")
DIRECTIONS = (">", "<")
NEEDS = {  # what each test reads from its spec, beyond id, claim and test
    "equivalence": ("margin",),
    "noninferior": ("margin",),
    "difference": ("threshold", "band"),  # one of them (band: difference_band)
    "one_sample": ("threshold",),
    "bootstrap": ("threshold", "band"),  # one of them
}


class _Claims(dict):
    """A study's claims by id; a missing id is a SpecKeyError naming the file. `replications` and `reruns`:
    its [[replication]] and [[rerun]] tables."""

    path = ""
    replications: list = []
    reruns: list = []

    def __missing__(self, key):
        raise SpecKeyError(
            f"{self.path}: no claim with id {key!r}, which the study's claims.py asks for"
            f"{_near(key, self)} (ids: {', '.join(self)})"
        )


class _Claim(dict):
    """One [[claim]] table; a missing key is a SpecKeyError naming the file and the table's line."""

    where = ""

    def __missing__(self, key):
        raise SpecKeyError(f"{self.where}: claim {self.get('id')!r} has no key {key!r}{_near(key, self)}")

    def updated(self, keys: dict) -> _Claim:
        """A copy with `keys` replaced (a replication: the same claim on other seeds)."""
        out = _Claim({**self, **keys})
        out.where = self.where
        return out


def _near(key, names) -> str:
    near = difflib.get_close_matches(str(key), [str(n) for n in names], n=1, cutoff=0.7)
    return f"; did you mean {near[0]!r}?" if near else ""


def _is(v, types: tuple) -> bool:
    return isinstance(v, types) and not (isinstance(v, bool) and bool not in types)


def _line_of(lines: list[str], first: int, last: int, key: str) -> int:
    for i in range(first, min(last + 1, len(lines))):
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return first + 1


def _check_claim(c: dict, path: str, lines: list[str], span: tuple[int, int]) -> None:
    def fail(key: str | None, msg: str):
        line = _line_of(lines, *span, key) if key else span[0] + 1
        raise SpecError(f"{path} line {line}: claim {c.get('id')!r}: {msg}")

    for key, v in c.items():
        if key not in SPEC_KEYS:
            fail(key, f"unknown key {key!r}{_near(key, SPEC_KEYS)} (known keys: prereg.SPEC_KEYS)")
        if not _is(v, SPEC_KEYS[key]):
            names = {"str": "string", "list": "list", "dict": "table"}
            want = dict.fromkeys(
                "number" if t in _NUM else names.get(t.__name__, t.__name__) for t in SPEC_KEYS[key]
            )
            fail(key, f"{key} = {v!r}: must be a {' or '.join(want)}")
    for key in ("id", "claim", "test"):
        if key not in c:
            fail(None, f"no {key!r} key")
    if c["test"] not in TESTS:
        fail("test", f"test = {c['test']!r}: choose one of {TESTS}")
    if "direction" in c and c["direction"] not in DIRECTIONS:
        fail("direction", f"direction = {c['direction']!r}: choose one of {DIRECTIONS}")
    need = NEEDS.get(c["test"], ())
    if need and not any(k in c for k in need):
        fail(None, f"test = {c['test']!r} needs {' or '.join(need)}")
    for key, v in (c.get("registered") or {}).items():
        if key not in REGISTERED_KEYS or not _is(v, REGISTERED_KEYS[key]):
            fail("registered", f"registered: {key} = {v!r}: the keys are commit, file, quote (or quotes)")


@functools.cache
def _load(path: str, mtime: float) -> dict:
    text = Path(path).read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: TOML syntax error: {e}") from None
    tables = ("claim", "replication", "rerun")
    if set(data) - set(tables) or not all(isinstance(data.get(t, []), list) for t in tables):
        bad = next(iter(set(data) - set(tables)), "claim")
        raise SpecError(
            f"{path}: {bad!r}: a claims spec holds only [[claim]], [[replication]] and [[rerun]] tables"
            f"{_near(bad, tables)}"
        )
    lines, spans = text.splitlines(), table_spans(text)
    starts = _starts(lines, "claim")
    out = _Claims()
    out.path = path
    for k, c in enumerate(data.get("claim", [])):
        span = spans.get(c.get("id"), (starts[k], _end(lines, starts[k])))
        _check_claim(c, path, lines, span)
        if c["id"] in out:
            raise SpecError(f"{path} line {span[0] + 1}: duplicate claim id {c['id']!r}")
        claim = _Claim(c)
        claim.where = f"{path} line {span[0] + 1}"
        out[c["id"]] = claim
    for cid, c in out.items():  # a precondition names an earlier claim of the same file
        pre = c.get("precondition")
        if pre is not None and (pre not in out or list(out).index(pre) >= list(out).index(cid)):
            raise SpecError(
                f"{c.where}: claim {cid!r}: precondition = {pre!r} must be the id of a claim above it in "
                f"this file{_near(pre, out)}"
            )
    out.replications = _replications(data.get("replication", []), out, path, lines)
    out.reruns = _reruns(data.get("rerun", []), out, path, lines)
    return out


REPLICATION_KEYS = {"of": (str,), "why": (str,)}  # and the spec keys it replaces (seeds, experiments, ...)


def _replications(tables: list[dict], claims: dict, path: str, lines: list[str]) -> list[dict]:
    """The [[replication]] tables, checked: `of` names a claim of this file, `why` says which later design
    ran its cells on which seeds, and every other key is a spec key (the ones the rerun replaces)."""
    starts = _starts(lines, "replication")
    out = []
    for k, t in enumerate(tables):
        where = f"{path} line {starts[k] + 1}"
        for key in ("of", "why"):
            if not isinstance(t.get(key), str):
                raise SpecError(f'{where}: a [[replication]] table needs {key} = "..."')
        if t["of"] not in claims:
            raise SpecError(f"{where}: of = {t['of']!r} is not a claim of this file{_near(t['of'], claims)}")
        for key, v in t.items():
            types = REPLICATION_KEYS.get(key) or SPEC_KEYS.get(key)
            if types is None or key in ("id", "claim", "test"):
                raise SpecError(f"{where}: [[replication]] key {key!r} is not a spec key it can replace")
            if not _is(v, types):
                raise SpecError(f"{where}: [[replication]] {key} = {v!r} has the wrong type")
        out.append(dict(t))
    return out


RERUN_KEYS = ("of", "by", "why")


def _reruns(tables: list[dict], claims: dict, path: str, lines: list[str]) -> list[dict]:
    """The [[rerun]] tables, checked: `of` and `by` name claims of this file, `by` below `of` (a later
    design), on seeds disjoint from `of`'s (fresh seeds, never pooled), `why` says which design reran it;
    a row is superseded by one table at most."""
    starts = _starts(lines, "rerun")
    order = list(claims)
    out, seen = [], {}
    for k, t in enumerate(tables):
        where = f"{path} line {starts[k] + 1}"
        for key in t:
            if key not in RERUN_KEYS:
                near = _near(key, RERUN_KEYS)
                raise SpecError(f"{where}: [[rerun]] key {key!r}: the keys are of, by, why{near}")
        for key in RERUN_KEYS:
            if not isinstance(t.get(key), str) or not t[key].strip():
                raise SpecError(f'{where}: a [[rerun]] table needs {key} = "..."')
        for key in ("of", "by"):
            if t[key] not in claims:
                near = _near(t[key], claims)
                raise SpecError(f"{where}: {key} = {t[key]!r} is not a claim of this file{near}")
        of, by = claims[t["of"]], claims[t["by"]]
        if order.index(t["by"]) <= order.index(t["of"]):
            raise SpecError(
                f"{where}: by = {t['by']!r} must be a later design's claim, below of = {t['of']!r} in the "
                "file"
            )
        shared = sorted(set(of.get("seeds") or []) & set(by.get("seeds") or []))
        if not of.get("seeds") or not by.get("seeds") or shared:
            raise SpecError(
                f"{where}: a rerun is on fresh seeds: {t['by']!r} shares seeds {shared} with {t['of']!r} "
                "(pooling them is optional stopping); give both claims their seeds, disjoint"
                if shared
                else f"{where}: {t['of']!r} and {t['by']!r} must both list their seeds (a rerun is on fresh "
                "seeds)"
            )
        if t["of"] in seen:
            raise SpecError(
                f"{where}: {t['of']!r} is already superseded by {seen[t['of']]!r}; name one later design "
                "(a chain of reruns is followed: of -> by -> the row that reran by)"
            )
        seen[t["of"]] = t["by"]
        out.append(dict(t))
    return out


def load_reruns(study: str, root: Path = ROOT) -> list[dict]:
    """The study's [[rerun]] tables: a row whose claim a later, pre-registered design asked again on fresh
    seeds; the report counts the later row and keeps the earlier one, marked superseded."""
    return getattr(load_spec(study, root), "reruns", [])


def load_replications(study: str, root: Path = ROOT) -> list[dict]:
    """The study's [[replication]] tables: a judged claim computed again on a later design's runs of its
    cells (other seeds), shown beside its row; the original verdict stays (it was pre-registered)."""
    return getattr(load_spec(study, root), "replications", [])


def load_spec(study: str, root: Path = ROOT) -> dict[str, dict]:
    """The study's claims as data, keyed by id, in file order (empty without a claims.toml)."""
    return load_spec_file(spec_path(study, root))


def load_spec_file(p: Path) -> dict[str, dict]:
    """The claims.toml at `p` (`load_spec`; its `replications` attribute holds its [[replication]] tables)."""
    p = Path(p)
    return _load(str(p), p.stat().st_mtime) if p.is_file() else _Claims()


def git(*args: str, root: Path = ROOT) -> str | None:
    """`git <args>` in `root`: its stdout, or None when git fails or is not there."""
    try:
        r = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout if r.returncode == 0 else None


@functools.cache
def _full(sha: str, root: Path = ROOT) -> str | None:
    out = git("rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}", root=root)
    return out.strip() if out else None


@functools.cache
def is_ancestor(a: str, b: str, root: Path = ROOT) -> bool | None:
    """Is commit `a` an ancestor of (or equal to) commit `b`? None if either is unknown here."""
    fa, fb = _full(a, root), _full(b, root)
    if fa is None or fb is None:
        return None
    try:
        r = subprocess.run(
            ["git", "merge-base", "--is-ancestor", fa, fb], cwd=root, capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.returncode == 0


@functools.cache
def _blame(path: str, root: Path = ROOT) -> list[tuple[str, int]]:
    """(commit, committer time) of each line of `path` as it is in the working tree."""
    out = git("blame", "--porcelain", "--", path, root=root)
    if out is None:
        return []
    times, lines, cur = {}, [], None
    for ln in out.splitlines():
        m = re.match(r"^([0-9a-f]{40}) \d+ \d+", ln)
        if m:
            cur = m.group(1)
        elif ln.startswith("committer-time "):
            times[cur] = int(ln.split()[1])
        elif ln.startswith("\t"):
            lines.append(cur)
    return [(c, times.get(c, 0)) for c in lines]


def _starts(lines: list[str], kind: str) -> list[int]:
    """0-based lines of the `[[kind]]` table headers."""
    return [i for i, ln in enumerate(lines) if ln.strip() == f"[[{kind}]]"]


def _end(lines: list[str], start: int) -> int:
    """The last line of the table that starts at `start`: the line before the next table header (any kind:
    a [[replication]] table after a claim does not belong to the claim's span), or the file's last line."""
    head = re.compile(r"^\s*\[\[?\s*[A-Za-z_][\w.]*\s*\]\]?\s*(#.*)?$")
    return next((i - 1 for i in range(start + 1, len(lines)) if head.match(lines[i])), len(lines) - 1)


def table_spans(text: str, kind: str = "claim", key: str = "id") -> dict[str, tuple[int, int]]:
    """claim id -> (first, last) 0-based line of its [[claim]] table (up to the next table header); with
    `kind` and `key`, the same for another kind of table by another key (`rerun_spans`)."""
    lines = text.splitlines()
    out = {}
    for s in _starts(lines, kind):
        e = _end(lines, s)
        for ln in lines[s : e + 1]:
            m = re.match(rf'^\s*{key}\s*=\s*"([^"]+)"', ln)
            if m:
                out[m.group(1)] = (s, e)
                break
    return out


def rerun_spans(text: str) -> dict[str, tuple[int, int]]:
    """`of` claim id -> (first, last) 0-based line of its [[rerun]] table (up to the next table header)."""
    return table_spans(text, "rerun", "of")


def rerun_commit(study: str, of: str, root: Path = ROOT) -> str:
    """The last commit that changed the [[rerun]] table naming `of`; UNCOMMITTED if it has uncommitted lines
    (or there is none). The report compares it with the later row's runs: a table committed after them
    declared the supersession after its results."""
    p = spec_path(study, root)
    return _table_commit(p, rerun_spans(p.read_text()).get(of), root)


def spec_commit(study: str, claim_id: str, root: Path = ROOT) -> str:
    """The last commit that changed the claim's [[claim]] table; UNCOMMITTED if it has uncommitted lines."""
    p = spec_path(study, root)
    return _table_commit(p, table_spans(p.read_text()).get(claim_id), root)


def _table_commit(p: Path, span: tuple[int, int] | None, root: Path) -> str:
    """The newest commit among the non-blank lines `span` of the file `p` (git blame of the working tree);
    UNCOMMITTED when a line is not committed or there is no span."""
    blame = _blame(str(p.relative_to(root)), root)
    text = p.read_text().splitlines()
    if not blame or span is None:
        return UNCOMMITTED
    # blank lines say nothing of the criterion: the one that separates this table from a table appended
    # after it must not re-date this one
    lines = [blame[i] for i in range(span[0], min(span[1] + 1, len(blame))) if text[i].strip()]
    if any(c == _ZERO for c, _ in lines):
        return UNCOMMITTED
    # the newest commit among the table's non-blank lines
    return max(lines, key=lambda ct: ct[1])[0]


@functools.cache
def _show(commit: str, file: str, root: Path = ROOT) -> str | None:
    return git("show", f"{commit}:{file}", root=root)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def registered_ok(reg: dict | None, root: Path = ROOT) -> bool:
    """Does `reg`'s commit hold every quote in its file (whitespace-insensitive)?

    `reg` is {commit, file, quote} or {commit, quotes = [[file, quote], ...]} (all must be found).
    """
    if not reg or "commit" not in reg:
        return False
    pairs = [tuple(q) for q in reg.get("quotes", [])]
    if "file" in reg and "quote" in reg:
        pairs.append((reg["file"], reg["quote"]))
    if not pairs:
        return False
    for file, quote in pairs:
        text = _show(reg["commit"], file, root)
        if text is None or _norm(quote) not in _norm(text):
            return False
    return True


def fixed_commit(study: str, spec: dict, root: Path = ROOT, code: str | None = None) -> tuple[str, str]:
    """(commit, how): the commit that fixed the claim and whether it is 'registered' (an earlier commit
    holding the same criterion), 'spec' (the spec's own last change), 'code' (a later change to the code that
    computes the statistic: `code`, the repository-relative file of the claim's registered function,
    `code_commit`) or UNCOMMITTED."""
    reg = spec.get("registered")
    if registered_ok(reg, root):
        c, how = _full(reg["commit"], root) or reg["commit"], "registered"
    else:
        c = spec_commit(study, spec["id"], root)
        how = "spec" if c != UNCOMMITTED else UNCOMMITTED
    k = code_commit(code, spec["id"], root) if code and c != UNCOMMITTED else None
    if k == UNCOMMITTED or (k is not None and is_ancestor(k, c, root) is not True):
        return k, "code" if k != UNCOMMITTED else UNCOMMITTED  # the code changed after the criterion
    return c, how


# The trailer of a commit that changed the claims' code but left every generated block byte-identical (the
# report's output at its parent and at it compared): the refactor that registered the claims as functions
# (issue 27) and its follow-ups. A function's first registered version, when added by such a commit, inherits
# its spec's date, and a marked commit's change of a function keeps the date the function had.
BYTE_IDENTICAL = "Generated-blocks: byte-identical"


def _is_claim(dec: ast.expr, cid: str) -> bool:
    """Is `dec` the decorator `@claim("cid")`, `@claim(..., "cid", ...)` (or `@<module>.claim(...)`)?"""
    f = dec.func if isinstance(dec, ast.Call) else None
    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
    args = dec.args if isinstance(dec, ast.Call) else []
    return name == "claim" and any(isinstance(a, ast.Constant) and a.value == cid for a in args)


def _dump(fn: ast.AST) -> str:
    """`fn` as ast.dump without docstrings (a comment or docstring edit does not re-date a claim)."""
    fn = copy.deepcopy(fn)
    for node in ast.walk(fn):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(fn)


@functools.cache
def claim_source(text: str, cid: str) -> str | None:
    """The normalised source of the function registered as `cid` in the module `text` and of the module's
    functions it calls (transitively): the code that computes the claim's statistic in its claims.py. None
    when no function is registered under `cid` (or the text does not parse)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    start = next((n for n in defs.values() if any(_is_claim(d, cid) for d in n.decorator_list)), None)
    if start is None:
        return None
    seen, todo = {start.name}, [start]
    while todo:
        for node in ast.walk(todo.pop()):
            if isinstance(node, ast.Name) and node.id in defs and node.id not in seen:
                seen.add(node.id)
                todo.append(defs[node.id])
    return "\n".join(_dump(defs[k]) for k in sorted(seen))


@functools.cache
def _file_history(file: str, root: Path = ROOT) -> tuple[tuple[str, bool], ...]:
    """(commit, has the BYTE_IDENTICAL trailer) of every commit that changed `file`, oldest first."""
    out = git("log", "--topo-order", "--reverse", "--format=%H%x1f%B%x1e", "--", file, root=root) or ""
    rows = [r.strip().split("\x1f", 1) for r in out.split("\x1e") if r.strip()]
    return tuple((h, BYTE_IDENTICAL in (msg.splitlines() if msg else [])) for h, msg in rows)


def code_commit(file: str, cid: str, root: Path = ROOT) -> str | None:
    """The commit that last changed the code of claim `cid` in `file` (`claim_source`: its registered function
    and the functions of that module it calls), or None when it has not changed since its first registered
    version and that version came with a commit marked BYTE_IDENTICAL (then the spec's date stands); a
    change made by a marked commit keeps the date the code had before it. UNCOMMITTED when the working
    tree's version differs from the last commit's."""
    path = Path(root) / file
    now = claim_source(path.read_text(), cid) if path.is_file() else None
    if now is None:
        return None
    last, last_src, first = None, None, True
    for commit, identical in _file_history(file, root):
        src = claim_source(_show(commit, file, root) or "", cid)
        if src is not None and src != last_src:
            if not identical:
                last = commit
            elif first:
                last = None  # a first version added by a marked refactor: the spec's date stands
            first = False  # a marked commit's later change keeps the date it had
        if src is None:
            first = True  # removed (or never there): its next version is a first version again
        last_src = src
    if last_src != now:
        return UNCOMMITTED
    return last


RENAMES = "paper_figures/data/run_id_renames.csv"  # old_run_id,new_run_id: ids renamed by a scheme change


def _renames(root: Path) -> dict[str, str]:
    """new run id -> old run id, from the committed rename table (run ids renamed when the id scheme changed:
    a renamed run is dated by the first commit that held it under either name)."""
    path = Path(root) / RENAMES
    if not path.is_file():
        return {}
    df = pd.read_csv(path, dtype=str)
    return dict(zip(df["new_run_id"], df["old_run_id"]))


@functools.cache
def _first_commits(csv_rel: str, key: str, root: Path = ROOT) -> dict[str, str]:
    """key value -> the first commit whose version of the CSV holds it (under its old name, for a run id
    in the rename table)."""
    out: dict[str, str] = {}
    log = git("log", "--format=%H", "--reverse", "--", csv_rel, root=root) or ""
    for c in log.split():
        text = _show(c, csv_rel, root)
        if not text:
            continue
        try:
            df = pd.read_csv(StringIO(text), usecols=[key])
        except (ValueError, pd.errors.ParserError):
            continue
        for v in df[key].astype(str):
            out.setdefault(v, c)
    if key == "run_id":
        for new, old in _renames(root).items():
            if old in out:
                out[new] = out[old]  # the old name is older: git log runs oldest first
    return out


def run_commits(runs: pd.DataFrame, csv_rel: str, key: str = "run_id", root: Path = ROOT) -> dict:
    """{'shas': the runs' recorded git shas} or {'data_commits': first commits holding each run's row}."""
    if "meta.git_sha" in runs.columns and runs["meta.git_sha"].notna().all() and len(runs):
        return {"shas": sorted(set(runs["meta.git_sha"].astype(str)))}
    first = _first_commits(csv_rel, key, root)
    return {"data_commits": sorted({first[v] for v in runs[key].astype(str) if v in first})}


def status(fixed: str, commits: dict, root: Path = ROOT) -> str:
    """PRE, POST or UNVERIFIED for a claim fixed at `fixed` judging runs described by `commits`."""
    if fixed == UNCOMMITTED:
        return POST
    shas = commits.get("shas")
    if shas:
        anc = [is_ancestor(fixed, s, root) for s in shas]
        if any(a is False for a in anc):
            return POST
        return PRE if all(anc) else UNVERIFIED
    data = commits.get("data_commits") or []
    if not data:
        return UNVERIFIED
    anc = [is_ancestor(fixed, c, root) for c in data]
    return POST if any(a is False for a in anc) else UNVERIFIED


def clear_caches() -> None:
    """Forget what git said (blame, file histories): after new commits in a long-lived process or a test."""
    for f in (_blame, _file_history, _first_commits, claim_source):
        f.cache_clear()


def short(sha: str) -> str:
    return sha if sha == UNCOMMITTED else sha[:7]
