"""The study contract (largebatch.study): discovery, parts, errors, and a toy study added as one directory.

The toy study is written to a temporary directory that is added to the `experiments` package's path, the
way a new directory under experiments/ is found: nothing else is edited. It runs through the sweep (2 tiny
runs on synthetic data, in this process), its collect() (via the sweep and via `make figures --collect`)
the report (its claims.toml and its registered claim functions judged, the table rendered) and its notebook
(executed headless, its figure saved). Run: `pytest tests/test_study.py` (~10 s).
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import experiments
from largebatch import figures, report, reproduce, study
from largebatch.sweep import launch_cmd, run_sweep

TOY = "toy_study"

CONFIG = '''
"""Toy study: a tiny MLP on synthetic data, two seeds."""

from dataclasses import replace

from largebatch.config import TrainConfig

BASE = TrainConfig(study="toy_study", dataset="synthetic", synthetic_examples=256, model="mlp", width=8,
                   depth=1, global_batch=64, per_worker_batch=32, lr_base=0.1, lr_base_batch=64,
                   epochs=1.0, max_steps=2, eval_every_steps=2, eval_train_examples=0, test_examples=64,
                   eval_batch=64, log_every_steps=1, wandb="off", progress=False)
NPROC = 1


def grid(scale="cpu"):
    return [replace(BASE, seed=s) for s in ((0,) if scale == "smoke" else (0, 1))]
'''

RUN = """
from largebatch.cli import exit_main

from . import config

if __name__ == "__main__":
    exit_main(study=config)
"""

COLLECT = """
from pathlib import Path

from largebatch.results import load_runs, write_csv_atomic

RUNS, DATA = Path({runs!r}), Path({data!r})  # a real study: ROOT / "runs" and largebatch.results.DATA
WRITES = ("smoke", "cpu")  # the scales whose runs rewrite the CSV (the core's guard; default: cpu only)


def collect(scale="cpu", runs_dir=RUNS, data_dir=DATA):
    df = load_runs("toy_study", runs_dir)
    if not len(df):
        return []
    return [write_csv_atomic(df[["run_id", "seed", "final_test_acc"]], Path(data_dir) / "toy_study.csv",
                             sort_by=["run_id"])]
"""

CLAIMS = """
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from largebatch import verdict as V
from largebatch.claims import Row, claim
from largebatch.results import fmt_mean_std


class Data(NamedTuple):  # the CSVs the claims read, loaded once
    runs: pd.DataFrame


def load(data_dir):
    return Data(pd.read_csv(Path(data_dir) / "toy_study.csv"))


@claim("trains")
def trains(d, spec):
    return Row(fmt_mean_std(d.runs.final_test_acc * 100, 1) + " %", None, runs=d.runs)


@claim("above_chance")
def above_chance(d, spec):
    acc = d.runs.set_index("seed").final_test_acc * 100
    return Row(f"{acc.mean():.1f} %", V.one_sample(acc, spec["threshold"], spec["direction"]), runs=d.runs)
"""

NOTEBOOK = """
import pandas as pd

from largebatch import plots

df = pd.read_csv({csv!r})
fig, ax = plots.new_figure()
plots.errorbar_by(ax, df, "seed", "final_test_acc")
plots.save(fig, "toy_study_acc")
"""

CLAIMS_TOML = """
[[claim]]
id = "trains"
claim = "toy: the MLP trains on synthetic data"
paper = "-"
test = "exploratory"
figure = ""

[[claim]]
id = "above_chance"
claim = "toy: test accuracy above 0 %"
paper = "-"
test = "one_sample"
direction = ">"
threshold = 0.0
seeds = [0, 1]
figure = ""
"""


@pytest.fixture
def extra_root(tmp_path, monkeypatch):
    """A second directory of the experiments package (as if it were the repository's experiments/)."""
    root = tmp_path / "experiments"
    root.mkdir()
    monkeypatch.setattr(experiments, "__path__", [*experiments.__path__, str(root)])
    yield root
    for name in [m for m in sys.modules if m.startswith("experiments.toy")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def write_study(root: Path, name: str, files: dict[str, str]) -> Path:
    d = root / name
    d.mkdir()
    (d / "__init__.py").write_text("")
    for part, text in files.items():
        (d / f"{part}.py").write_text(textwrap.dedent(text).lstrip())
    importlib.invalidate_caches()
    return d


def test_discovers_the_repository_studies():
    names = [s.name for s in study.discover()]
    assert names == sorted(names)
    assert {"seed_mlp", "lars", "goyal_linear_scaling", "scaling_model"} <= set(names)
    assert study.get("seed_mlp").nproc == 2 and study.get("recipe_32k").nproc == 1  # 0fb4d51: one per arm
    assert study.get("lars").nproc == 1
    assert not study.get("scaling_model").runnable  # collect + claims, no grid
    assert study.get("seed_mlp").module("claims") is None
    assert study.find("goyal_linear_scaling_curves") is None  # a CSV stem, not a study
    with pytest.raises(study.StudyError, match="no study 'nope'.*seed_mlp"):
        study.get("nope")


def test_every_repository_study_meets_the_contract():
    """Each part file a study has defines its function (study.PROTOCOLS); a runnable study has a smoke grid
    of its own runs."""
    for s in study.discover():
        for part in ("config", "collect", "claims"):
            mod = s.module(part)
            assert mod is None or isinstance(mod, study.PROTOCOLS[part]), (s.name, part)
        if s.runnable:
            cfgs = s.grid("smoke")
            assert cfgs and {c.study for c in cfgs} == {s.name}, s.name
            assert s.nproc >= 1


def test_a_toy_study_is_one_directory(tmp_path, extra_root, capsys, monkeypatch):
    runs, data = tmp_path / "runs", tmp_path / "data"
    write_study(
        extra_root,
        TOY,
        {
            "config": CONFIG,
            "run": RUN,
            "collect": COLLECT.format(runs=str(runs), data=str(data)),
            "claims": CLAIMS,
        },
    )
    (extra_root / TOY / "claims.toml").write_text(CLAIMS_TOML)
    s = study.get(TOY)
    assert s.runnable and s.nproc == 1 and len(s.grid("cpu")) == 2
    assert TOY in [x.name for x in study.discover() if x.runnable]  # `make reproduce` would run it
    assert launch_cmd(TOY, 1, "cpu", 1, [])[1:3] == ["-m", f"experiments.{TOY}.run"]

    # sweep: both runs in this process, then the study's collect()
    assert run_sweep(TOY, "cpu", 1, extra=[f"--out_dir={runs}"]) == 0
    assert len(list(runs.glob(f"{TOY}/*/summary.json"))) == 2
    csv = data / f"{TOY}.csv"
    assert len(pd.read_csv(csv)) == 2
    # collect again through `make figures --collect` (only the toy: the real studies' CSVs stay as they are),
    # then the report's claims look-up
    csv.unlink()
    monkeypatch.setattr(figures, "discover", lambda: [s])
    assert figures.run_collectors("cpu") == [csv] and len(pd.read_csv(csv)) == 2
    mod = report.claims_module(TOY)
    assert mod is not None and mod is s.module("claims")
    row, above = s.claims(data)  # one registered function per claims.toml id, in registration order
    assert (row.id, above.id) == ("trains", "above_chance") and "(n=2)" in row.text
    assert row.csv == "paper_figures/data/toy_study.csv" and len(row.runs) == 2 and above.result.n == 2
    # the report over the toy's CSV (root: where experiments/<study>/claims.toml is looked up)
    judged, _ = report.collect_claims(data, root=tmp_path)
    assert judged["study"] == TOY and judged["claim"] == "toy: the MLP trains on synthetic data"
    table = report.render_table([judged])
    assert "toy: the MLP trains on synthetic data" in table and row.text in table
    # rerun: both runs complete, nothing to do
    capsys.readouterr()
    assert run_sweep(TOY, "cpu", 1, extra=[f"--out_dir={runs}"]) == 0
    assert "2 already complete, 0 to run" in capsys.readouterr().out
    # its notebook, notebooks/<name>.ipynb: reads the CSV, saves its figure (as `make figures` runs it)
    books, figs = tmp_path / "notebooks", tmp_path / "figures"
    books.mkdir()
    monkeypatch.setattr(study, "NOTEBOOKS", books)
    monkeypatch.setattr(figures, "NOTEBOOKS", books)
    monkeypatch.setenv("LARGEBATCH_FIGURES", str(figs))
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK.format(csv=str(csv)))]), s.notebook
    )
    assert s.notebook == books / f"{TOY}.ipynb" and figures.notebooks([TOY]) == [s.notebook]
    figures.execute(s.notebook)
    assert (figs / f"{TOY}_acc.png").is_file()


def test_missing_broken_and_incomplete_parts(extra_root):
    write_study(extra_root, "toy_parts", {"config": "X = 1\n", "collect": "import no_such_module_here\n"})
    s = study.get("toy_parts")
    assert s.module("claims") is None and s.claims() is None and not s.runnable
    with pytest.raises(study.StudyError, match="must define grid"):
        s.grid("cpu")
    with pytest.raises(ModuleNotFoundError, match="no_such_module_here"):  # a broken part raises
        s.collect("cpu")
    with pytest.raises(ValueError, match="scale='huge'"):
        study.get("seed_mlp").grid("huge")


def test_reproduce_runs_a_study_hook_before_its_grid(extra_root, monkeypatch):
    """`make reproduce` calls collect.before_reproduce(scale) first, then the grid with config.NPROC."""
    write_study(
        extra_root,
        "toy_hook",
        {
            "config": "NPROC = 3\n\ndef grid(scale='cpu'):\n    return []\n",
            "run": "",
            "collect": "CALLS = []\n\ndef collect(scale='cpu', **kw):\n    return []\n\n"
            "def before_reproduce(scale):\n    CALLS.append(scale)\n    return 2\n",
        },
    )
    calls = []
    monkeypatch.setattr(reproduce, "discover", lambda: [study.get("toy_hook")])
    monkeypatch.setattr(
        reproduce, "run_sweep", lambda name, scale, nproc, **kw: calls.append((name, nproc)) or 0
    )
    monkeypatch.setattr(reproduce.figures, "main", lambda argv: 0)
    monkeypatch.setattr(reproduce.report, "main", lambda argv: 0)
    assert reproduce.main([]) == 1  # the hook's 2 failed runs
    assert study.get("toy_hook").module("collect").CALLS == ["cpu"] and calls == [("toy_hook", 3)]
    assert study.get("noise_scale").before_reproduce("cpu") == 0  # a collect module without the hook
