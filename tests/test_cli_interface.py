"""The researcher's command line: --help lists every TrainConfig field with its comment, grouped by
config section (largebatch.cmdline's style), `--key value` equals `--key=value`, --dry prints the batch
accounting and runs nothing, a misspelt key gets "did you mean", and every error stays one line with
exit code 2.

Run: `pytest tests/test_cli_interface.py` (~10 s).
"""

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from largebatch.cli import main, normalize, select
from largebatch.config import ConfigError, TrainConfig, run_id

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_every_field_with_its_comment(flag, capsys):
    assert main([flag]) == 0
    out = capsys.readouterr().out
    src = (ROOT / "src/largebatch/config.py").read_text()
    for f in fields(TrainConfig):
        assert f"--{f.name}=" in out, f.name
        comment = next(ln for ln in src.splitlines() if ln.strip().startswith(f"{f.name}:")).split("# ", 1)[1]
        assert " ".join(comment.split()[:3]) in " ".join(out.split()), (f.name, comment)
    assert "--dry" in out and "config error" not in out


def test_help_groups_every_field_in_one_section(capsys):
    from largebatch.cli import SECTIONS

    placed = [n for names in SECTIONS.values() for n in names]
    assert sorted(placed) == sorted(f.name for f in fields(TrainConfig)), (
        "cli.SECTIONS must list each field once"
    )
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "\nother:" not in out and "\noptimizer:\n" in out and "\nmodel:\n" in out
    # choices come from the registries, a study's own models included (experiments/lars/models.py)
    assert "alexnet_mlp" in out and "cifar10" in out


def test_study_help_lists_grid_flags(capsys):
    from experiments.seed_mlp import config

    assert main(["--help"], study=config) == 0
    out = capsys.readouterr().out
    flags = ("--list", "--index", "--scale", "--smoke", "--force", "--no-resume", "--dry")
    assert all(f in out for f in flags)
    assert "experiments.seed_mlp.run" in out


def test_help_as_a_module_exits_zero():
    r = subprocess.run(
        [sys.executable, "-m", "largebatch.train", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "--global_batch" in r.stdout and not r.stderr.strip(), r.stderr


def test_space_separated_values_equal_the_equals_form():
    a = select(
        [
            "--global_batch",
            "1024",
            "--zero_gamma",
            "--decay",
            "step",
            "--decay_milestones_epochs",
            "1",
            "2",
            "--adam_betas",
            "0.8,0.9",
            "--lr_base",
            "-1",
            "--noprogress",
        ]
    )[1]
    b = select(
        [
            "--global_batch=1024",
            "--zero_gamma=true",
            "--decay=step",
            "--decay_milestones_epochs=1,2",
            "--adam_betas=0.8,0.9",
            "--lr_base=-1",
            "--progress=false",
        ]
    )[1]
    assert a == b and run_id(a) == run_id(b)
    assert a.decay_milestones_epochs == (1.0, 2.0) and a.zero_gamma and not a.progress


def test_index_and_scale_take_a_space_too():
    from experiments.seed_mlp import config

    flags, cfg = select(["--scale", "smoke", "--index", "0"], study=config)
    assert flags["scale_used"] == "smoke" and cfg == config.grid("smoke")[0]


@pytest.mark.parametrize(
    "argv,text",
    [
        (["--globl_batch", "64"], "did you mean global_batch"),
        (["--global_batch"], "--global_batch: give a value"),
        (["--global_batch", "big"], "global_batch"),
        (["--lr_bse=0.1"], "did you mean lr_base"),
    ],
)
def test_bad_input_is_one_line_exit_2(argv, text, tmp_path, capsys):
    assert main([*argv, f"--out_dir={tmp_path}", "--wandb=off"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and text in err and err.startswith("config error"), err
    assert not any(tmp_path.iterdir())


def test_dry_prints_accounting_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    argv = [
        "--global_batch=1024",
        "--per_worker_batch=32",
        "--lr_base=0.1",
        "--warmup=gradual",
        "--warmup_epochs=1",
        "--epochs=5",
        "--dataset=synthetic",
        "--synthetic_examples=8192",
        f"--out_dir={tmp_path}",
        "--dry",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 process(es) x 16 virtual worker(s) x n = 32" in out
    assert "= 0.4 (linear scaling)" in out and "8 steps/epoch x 5 epochs -> 40 steps" in out
    assert "(new)" in out and not any(tmp_path.iterdir())


def test_normalize_leaves_equals_form_alone():
    argv = ["--global_batch=64", "--force", "--no-resume", "--list", "--index=2"]
    assert normalize(argv) == argv
    with pytest.raises(ConfigError, match="did you mean"):
        normalize(["--epoch=3"])


@pytest.mark.parametrize(
    "entry", ["largebatch.sweep", "largebatch.figures", "largebatch.reproduce", "largebatch.report"]
)
def test_every_entry_point_answers_help_without_running(entry, capsys):
    import importlib

    mod = importlib.import_module(entry)
    with pytest.raises(SystemExit) as e:
        mod.main(["--help"])
    assert e.value.code == 0 and "usage" in capsys.readouterr().out


def test_param_server_help_is_not_a_traceback():
    r = subprocess.run(
        [sys.executable, "-m", "experiments.async_staleness.param_server", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "--delay_ms" in r.stdout and "--global_batch" in r.stdout, r.stderr[-2000:]
