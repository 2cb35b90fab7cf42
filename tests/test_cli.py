"""Bad input exits 2 with one line naming the field and the fix, and writes nothing; torchrun runs
exit 0 every time.

Run: `pytest tests/test_cli.py` (the torchrun test is marked slow; it runs in CI).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from largebatch.cli import main

ROOT = Path(__file__).resolve().parents[1]
OK = ["--max_steps=3", "--progress=false", "--wandb=off", "--eval_train_examples=0"]


@pytest.mark.parametrize(
    "args,field",
    [
        (["--bogus=1"], "unknown config key 'bogus'"),
        (["--global_batch=100"], "global_batch=100 is not divisible"),
        (["--lr_base=-1"], "lr_base=-1.0: must be >= 0"),
        (["--data_dir=/nonexistent"], "apt-get install dataset-fashion-mnist"),
        (["--model=vgg"], "model='vgg'"),
        (["--optimizer=sgdd"], "optimizer='sgdd'"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(args, field, tmp_path, capsys):
    code = main(args + OK + [f"--out_dir={tmp_path}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and field in err and len(err.splitlines()) == 1, err
    assert not any(tmp_path.iterdir()), "a run directory was left behind"


def test_world_size_must_divide_batch(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert main(["--global_batch=256"] + OK + [f"--out_dir={tmp_path}"]) == 2
    assert "3 x 32" in capsys.readouterr().err and not any(tmp_path.iterdir())


def test_completed_run_is_skipped(tmp_path, capsys):
    args = OK + ["--train_examples=1024", f"--out_dir={tmp_path}"]
    assert main(args) == 0
    assert main(args) == 0 and "skipping" in capsys.readouterr().out


@pytest.mark.slow
def test_torchrun_two_processes_exits_zero_four_times(tmp_path):
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    for i in range(4):  # ten in an earlier version: 98 s of the suite's 10-minute budget
        r = subprocess.run(
            [
                torchrun,
                "--standalone",
                "--nproc_per_node=2",
                "-m",
                "largebatch.train",
                "--train_examples=2048",
                "--max_steps=4",
                "--progress=false",
                "--wandb=off",
                f"--seed={i}",
                f"--out_dir={tmp_path}",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, f"run {i}: rc={r.returncode}\n{r.stderr[-3000:]}"
    assert len(list((tmp_path / "demo").glob("*/summary.json"))) == 4
