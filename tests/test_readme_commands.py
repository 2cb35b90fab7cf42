"""Every command in every README code block still works, and every link resolves inside the repository.

Each ```bash line of README.md, experiments/README.md, experiments/*/README.md, benchmarks/README.md and
docs/*.md (continuation lines joined, comments and environment prefixes dropped) is checked the cheapest way
that catches a stale one:

- a training run (`largebatch.train`, a study's `run`, under python or torchrun): a smoke run (`--smoke`,
  `--scale=smoke`) runs for real into a temporary directory; any other the same arguments with `--dry`
  (parse, validate, resolve the batch accounting for torchrun's world size; nothing is trained or
  written); `--list` and `--help` run as they are; each checks its exit code;
- a sweep: the same arguments with `--dry` (the grid is built and the commands printed, nothing runs);
  `make reproduce` / `largebatch.reproduce`: its plan (`--dry`), exit code checked;
- collectors, figures, the report, calibration: their arguments are parsed by the command's own generated
  parser (largebatch.cmdline: unknown options, bad choices fail), `--only` names a notebook; they are not
  run, because they are long or write committed files; the parameter server, benchmarks, pytest, make,
  wandb, bash scripts, pip: parsing only (the module imports and has its entry point, the test files, make
  targets and scripts exist), because they are long, write files or need a GPU, a cluster or the internet.
- and every `python -m` module any README names answers `--help` with exit code 0.

The commands experiments/README.md gives for its template study `my_study` are checked on `seed_mlp`.
A command of any other kind fails the test, so a new kind of command has to be taught here. Markdown links
(outside the blocks that `largebatch.report` generates as well) must point at files of the repository, and
at headings that exist; nothing may point outside it (`../shared/`, PAPERS.md).

Run: `pytest tests/test_readme_commands.py` (~20 s).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [
        ROOT / "README.md",
        ROOT / "experiments/README.md",
        ROOT / "benchmarks/README.md",
        *ROOT.glob("experiments/*/README.md"),
        *ROOT.glob("docs/*.md"),
    ]
)
_BLOCK = re.compile(r"```(?:bash|sh|shell|console)\n(.*?)```", re.S)
_GENERATED = re.compile(r"<!-- ([\w-]+):start -->.*?<!-- \1:end -->", re.S)
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")
TEMPLATE_STAND_IN = "seed_mlp"  # experiments/README.md's commands for its template study run on a real one


def commands(path: Path) -> list[str]:
    """The commands of a file's shell code blocks: continuation lines joined, comments dropped."""
    out = []
    for block in _BLOCK.findall(path.read_text()):
        text = re.sub(r"\\\n\s*", " ", block)
        for line in text.splitlines():
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            if line and not line.startswith("$ "):
                out.append(line)
    return out


CASES = [(p.relative_to(ROOT).as_posix(), c) for p in DOCS for c in commands(p)]


def _argv(cmd: str) -> list[str]:
    argv = [a for a in shlex.split(cmd) if a != "..."]
    while argv and _ENV.match(argv[0]):
        argv.pop(0)
    return argv


def _world(torchrun_args: list[str]) -> int:
    vals = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in torchrun_args if "=" in a}
    return int(vals.get("--nnodes", "1").split(":")[-1]) * int(vals.get("--nproc_per_node", "1"))


def _module_call(argv: list[str]) -> tuple[str, list[str], int]:
    """(module, its arguments, world size) of `python -m M ...` or `torchrun ... -m M ...`."""
    head = Path(argv[0]).name
    if head.startswith("python") or head == "torchrun":
        if "-m" not in argv:
            return "", argv[1:], 1
        i = argv.index("-m")
        world = _world(argv[1:i]) if head == "torchrun" else 1
        return argv[i + 1], argv[i + 2 :], world
    if head.startswith("largebatch-"):  # the console scripts of pyproject.toml
        return "largebatch." + head.split("-", 1)[1], argv[1:], 1
    return "", argv[1:], 1


def _quiet(fn, *a, **kw):
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
        code = fn(*a, **kw)
    return code, out.getvalue() + err.getvalue()


def _parser(module: str):
    """The generated command line (largebatch.cmdline.Command) of a collect, calibrate, figures, report."""
    mod = importlib.import_module(module)
    if hasattr(mod, "CLI"):
        return mod.CLI
    if module.endswith(".collect"):
        from largebatch.results import CollectOptions, collect_command

        return collect_command(module, getattr(mod, "Options", CollectOptions))
    from largebatch.calibration import probe_command

    return probe_command(module.split(".")[1], mod.__doc__)


def check(cmd: str, monkeypatch, tmp_path: Path) -> None:
    argv = _argv(cmd.replace("my_study", TEMPLATE_STAND_IN))
    head = Path(argv[0]).name
    module, args, world = _module_call(argv)
    if module in ("largebatch.train", "largebatch.cli") or re.fullmatch(r"experiments\.\w+\.run", module):
        from largebatch.cli import main

        study = (
            importlib.import_module(module.rsplit(".", 1)[0] + ".config") if module.endswith(".run") else None
        )
        monkeypatch.setenv("WORLD_SIZE", str(world))
        smoke = world == 1 and ("--smoke" in args or "--scale=smoke" in args)
        extra = (
            []
            if any(a in ("--list", "--help", "-h") for a in args)
            else [f"--out_dir={tmp_path}", "--progress=false", "--wandb=off"]
            if smoke
            else ["--dry"]
        )
        code, out = _quiet(main, [*args, *extra], study=study)
        assert code == 0, f"{cmd!r} exits {code}:\n{out}"
    elif module == "largebatch.sweep":
        from largebatch import sweep

        code, out = _quiet(sweep.main, [*args, "--dry"])
        assert code == 0, f"{cmd!r} exits {code}:\n{out}"
    elif re.fullmatch(r"experiments\.\w+\.(collect|calibrate)", module) or module in (
        "largebatch.figures",
        "largebatch.report",
    ):
        _parser(module).parse(args)  # a stale option or choice raises UsageError
        if module == "largebatch.figures":
            from largebatch import figures

            only = [s for a in args if a.startswith("--only=") for s in a.split("=", 1)[1].split(",") if s]
            known = {p.stem for p in figures.notebooks()}
            assert set(only) <= known, f"{cmd!r}: no notebook {sorted(set(only) - known)}"
    elif module == "largebatch.reproduce" or (head == "make" and args == ["reproduce"]):
        from largebatch import reproduce

        code, out = _quiet(reproduce.main, [*args, "--dry"] if module else ["--dry"])
        assert code == 0 and "estimated" in out, f"{cmd!r} (its plan) exits {code}:\n{out}"
    elif module == "experiments.async_staleness.param_server":
        mod = importlib.import_module(module)
        assert hasattr(mod, "main"), module
        mod.split_args([a for a in args if a not in ("--sweep", "--dry")])  # raises on a stale key
    elif module == "pytest" or head == "pytest":
        paths = [a.split("::")[0] for a in args if not a.startswith("-") and "/" in a]
        assert all((ROOT / p).exists() for p in paths), f"{cmd!r}: missing {paths}"
    elif head.startswith("python") and module == "" and args and args[0] == "-c":
        compile(args[1], "<readme>", "exec")  # parsing only (it may need the internet)
    elif head.startswith("python") and module == "":
        assert (ROOT / args[0]).is_file(), f"{cmd!r}: no file {args[0]}"
    elif head == "make":  # (make reproduce: above)
        targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
        assert set(args) <= targets, f"{cmd!r}: no make target {sorted(set(args) - targets)}"
    elif head == "bash":
        assert (ROOT / args[0]).is_file(), f"{cmd!r}: no script {args[0]}"
    elif head == "wandb":
        assert args and args[0] in ("login", "sync", "online", "offline"), cmd  # needs the internet
    elif head == "pip" or (module == "pip"):
        assert args and args[0] == "install", cmd
    else:
        pytest.fail(f"{cmd!r}: a command of a kind this test does not check; teach check() about it")


@pytest.mark.parametrize("where,cmd", CASES, ids=[f"{w}:{c[:60]}" for w, c in CASES])
def test_readme_command_still_works(where, cmd, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    check(cmd, monkeypatch, tmp_path)


MODULES = sorted(
    {
        _module_call(_argv(c.replace("my_study", TEMPLATE_STAND_IN)))[0]
        for _, c in CASES
        if _module_call(_argv(c.replace("my_study", TEMPLATE_STAND_IN)))[0].startswith(
            ("largebatch", "experiments")
        )
    }
)


@pytest.mark.parametrize("module", MODULES)
def test_every_module_answers_help(module, capsys):
    """`python -m <module> --help` exits 0 with a usage line, for every module a README names (in process)."""
    if module in ("largebatch.train", "largebatch.cli") or module.endswith(".run"):
        from largebatch.cli import main

        study = (
            importlib.import_module(module.rsplit(".", 1)[0] + ".config") if module.endswith(".run") else None
        )
        assert main(["--help"], study=study) == 0
    elif module.endswith("param_server"):
        importlib.import_module(module).print_help()
    else:
        mod = importlib.import_module(module)
        main = getattr(mod, "main", None)
        if main is None:  # a collect module: its generated parser
            with pytest.raises(SystemExit) as e:
                _parser(module).parse(["--help"])
            assert e.value.code == 0
        else:
            from largebatch.cmdline import run_main

            assert run_main(main, ["--help"]) == 0
    assert "usage:" in capsys.readouterr().out


def test_every_readme_has_commands():
    assert len(CASES) > 30 and {w for w, _ in CASES} >= {"README.md", "experiments/README.md"}


# --- links --------------------------------------------------------------------------------------------------

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(m) for m in re.findall(r"^#+\s+(.*)$", text, re.M)}


def _prose(path: Path) -> str:
    return _GENERATED.sub("", path.read_text())


@pytest.mark.parametrize("path", DOCS, ids=[p.relative_to(ROOT).as_posix() for p in DOCS])
def test_links_resolve_inside_the_repository(path):
    bad = []
    for m in _LINK.finditer(_prose(path)):
        target = m.group(1) or m.group(2)
        if re.match(r"^[a-z]+://|^mailto:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if ROOT not in dest.parents and dest != ROOT:
            bad.append(f"{target}: outside the repository")
        elif not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(f"{target}: no heading #{anchor}")
    assert not bad, f"{path.relative_to(ROOT)}: " + "; ".join(bad)


@pytest.mark.parametrize("path", DOCS, ids=[p.relative_to(ROOT).as_posix() for p in DOCS])
def test_no_reference_outside_the_repository(path):
    text = _prose(path)
    for pattern in (r"\.\./shared", r"PAPERS(\.md)?\b", r"slurm_example\.sh"):
        hits = [ln for ln in text.splitlines() if re.search(pattern, ln)]
        assert not hits, f"{path.relative_to(ROOT)} refers to {pattern}: {hits[0][:120]}"


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
