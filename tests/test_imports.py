"""The import graph of src/largebatch and experiments/, computed statically with ast: no cycle, and
no study module located by a string outside the study contract (largebatch.study).

Run: `pytest tests/test_imports.py` (no torch import, < 1 s).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"largebatch": ROOT / "src" / "largebatch", "experiments": ROOT / "experiments"}


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the two packages."""
    out = {}
    for pkg, base in PACKAGES.items():
        for f in sorted(base.rglob("*.py")):
            parts = [pkg, *f.relative_to(base).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """Our modules that `name` imports anywhere in its file (top level or inside a function)."""
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")
                up = up[: len(up) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            # importing a.b.c runs a/__init__ and a/b/__init__ first
            parts = t.split(".")
            out |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & known
    out.discard(name)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imported(m, p, set(mods)) for m, p in mods.items()}


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `g` as a list of nodes (first == last), or None (iterative DFS, three colours)."""
    colour = dict.fromkeys(g, 0)
    for start in sorted(g):
        if colour[start]:
            continue
        stack, path = [(start, iter(sorted(g[start])))], [start]
        colour[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif colour.get(nxt) == 0:
                colour[nxt] = 1
                stack.append((nxt, iter(sorted(g[nxt]))))
                path.append(nxt)
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_import_graph_has_no_cycle():
    g = graph()
    assert "largebatch.config" in g and "experiments.lars.config" in g
    assert find_cycle(g) is None, " -> ".join(find_cycle(g))


def test_core_never_imports_a_study():
    g = graph()
    bad = {
        m: sorted(t for t in ts if t.startswith("experiments"))
        for m, ts in g.items()
        if m.startswith("largebatch")
    }
    assert not {m: ts for m, ts in bad.items() if ts}


def test_studies_never_import_each_other():
    g = graph()
    bad = {}
    for m, ts in g.items():
        if m.startswith("experiments."):
            own = ".".join(m.split(".")[:2])
            other = sorted(
                t for t in ts if t.startswith("experiments.") and t != own and not t.startswith(own + ".")
            )
            if other:
                bad[m] = other
    assert bad == {}


LOOKUPS = {"import_module", "__import__", "find_spec", "spec_from_file_location", "run_module", "run_path"}


def _text(node) -> str:
    """The literal start of a string or f-string node ('' for anything else)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    return ""


def string_lookups(path: Path) -> list[str]:
    """Calls that import a module by name, and launcher arguments `-m experiments.…`, in `path`."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            if name in LOOKUPS:
                out.append(f"{path.name}:{node.lineno} {name}()")
        if isinstance(node, (ast.List, ast.Tuple)):
            for a, b in zip(node.elts, node.elts[1:]):
                if _text(a) == "-m" and _text(b).startswith("experiments."):
                    out.append(f"{path.name}:{node.lineno} -m {_text(b)}...")
    return out


def test_string_lookups_are_found(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(
        "import importlib\nimportlib.import_module(f'experiments.{n}.config')\n"
        "cmd = ['python', '-m', f'experiments.{n}.run']\n"
    )
    assert len(string_lookups(f)) == 2


def test_no_study_module_located_by_string_outside_the_contract():
    """Only largebatch/study.py turns a study name into a module (`experiments.<name>.<part>`)."""
    offenders = [
        hit for p in sorted((ROOT / "src").rglob("*.py")) if p.name != "study.py" for hit in string_lookups(p)
    ]
    assert offenders == []


# ---- the two halves of src/largebatch (issue 27): the training core never imports the harness -------------

# The training core: one run, from a TrainConfig to its run directory (config and ids, data, models, the
# distributed step, optimizers and schedules, the noise / staleness / BN hooks, metrics and progress, and
# the small libraries they use: errors, registries, command-line parsing, repository paths).
CORE = {
    "bn_stats",
    "cmdline",
    "config",
    "data",
    "dist",
    "errors",
    "flops",
    "lars",
    "metrics",
    "models",
    "noise",
    "optim",
    "paths",
    "progress",
    "registry",
    "replay",
    "rmsprop_warmup",
    "runid",
    "schedules",
    "staleness",
    "trainer",
    "validate",
}
# The reproduction harness: studies and their grids (study, cli's grid selection, sweep, jobs, reproduce),
# runs to CSVs (runs, tables, csvcheck, results, formatting), claims and verdicts (claims, verdict, prereg,
# report), figures (plots, figures) and the shared recipes and calibration probes of the studies.
HARNESS = {
    "bstar",
    "calibration",
    "claims",
    "cli",
    "csvcheck",
    "figures",
    "formatting",
    "jobs",
    "plots",
    "prereg",
    "proxies",
    "recipes",
    "report",
    "reproduce",
    "results",
    "runs",
    "scalemodel",
    "scales",
    "study",
    "sweep",
    "tables",
    "train",
    "verdict",
}


def test_every_core_module_is_in_one_half():
    names = {m.split(".", 1)[1] for m in modules() if m.startswith("largebatch.")}
    assert not CORE & HARNESS
    assert names == CORE | HARNESS, (
        f"new module(s) to place in CORE or HARNESS: {sorted(names - CORE - HARNESS)}"
    )


def test_the_training_core_never_imports_the_harness():
    g = graph()
    bad = {m: sorted(t for t in g[f"largebatch.{m}"] if t.split(".", 1)[-1] in HARNESS) for m in CORE}
    assert {m: ts for m, ts in bad.items() if ts} == {}


def private_imports(path: Path) -> list[str]:
    """`from <our module> import _name` and `<our module>._name` in `path` (dunders aside)."""
    tree, ours, out = ast.parse(path.read_text(), str(path)), {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in PACKAGES):
            for a in node.names:
                ours[a.asname or a.name] = True
                if a.name.startswith("_") and not a.name.startswith("__"):
                    out.append(f"{path.name}:{node.lineno} import {a.name}")
        elif isinstance(node, ast.Import):
            ours.update(
                {
                    (a.asname or a.name).split(".")[0]: True
                    for a in node.names
                    if a.name.split(".")[0] in PACKAGES
                }
            )
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in ours
        ):
            out.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    return out


def test_nothing_imports_another_modules_private_names():
    """STYLE §13: notebooks and tests call only public functions; modules too (a private name is the
    module's own business)."""
    files = [p for d in ("src", "experiments", "tests") for p in sorted((ROOT / d).rglob("*.py"))]
    assert [hit for p in files for hit in private_imports(p)] == []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert not re.findall(r"\b[A-Za-z]\w*\._[a-z]\w*\(", nb.read_text()), nb.name
