"""Runs side by side (`largebatch.sweep --jobs`, largebatch.jobs): same ids and same numbers as one at a time.

Checked: a grid swept with jobs=2 gives bit-identical summaries and metrics to the same grid swept one run
at a time at the same thread count; threads (and the `exclusive` flag) are not part of a run id; exclusive
runs never enter the pool; Ctrl-C stops the pool's runs and the sweep exits 130 with the runs resumable;
reproduce --dry/--list/--only. Run: `pytest tests/test_jobs.py`.
"""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from largebatch import reproduce
from largebatch.config import TrainConfig
from largebatch.runid import run_id
from largebatch.sweep import main as sweep_main
from largebatch.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
TIMES = ("wall_s", "train_s", "eval_s", "time_s", "finished_at", "started_at")


def _numbers(run: Path) -> tuple[dict, list]:
    """A run's summary and metrics without the wall-clock fields."""
    s = {k: v for k, v in json.loads((run / "summary.json").read_text()).items() if k not in TIMES}
    m = [
        {k: v for k, v in json.loads(line).items() if not k.startswith("time")}
        for line in (run / "metrics.jsonl").read_text().splitlines()
    ]
    return s, m


def test_jobs2_equals_one_at_a_time_bitwise(tmp_path, capsys):
    common = ["--wandb=off", "--threads=1"]
    only = [0, 1, 2]  # the Fashion-MNIST entries of the Goyal smoke grid
    a, b = tmp_path / "one", tmp_path / "two"
    assert run_sweep("goyal_linear_scaling", "smoke", 1, only, [f"--out_dir={a}", *common], jobs=1) == 0
    assert run_sweep("goyal_linear_scaling", "smoke", 1, only, [f"--out_dir={b}", *common], jobs=2) == 0
    out = capsys.readouterr().out
    assert "2 at a time" in out and out.count("[sweep] ") >= 4  # one line per finished run
    runs_a = sorted(p.name for p in (a / "goyal_linear_scaling").iterdir())
    runs_b = sorted(p.name for p in (b / "goyal_linear_scaling").iterdir())
    assert runs_a == runs_b and len(runs_a) == 3
    for name in runs_a:
        assert _numbers(a / "goyal_linear_scaling" / name) == _numbers(b / "goyal_linear_scaling" / name)


def test_threads_and_exclusive_do_not_change_the_run_id():
    cfg = TrainConfig(study="x", global_batch=64)
    assert run_id(cfg) == run_id(replace(cfg, threads=1)) == run_id(replace(cfg, threads=7))
    assert run_id(cfg) == run_id(replace(cfg, exclusive=True))
    assert run_id(cfg) != run_id(replace(cfg, seed=1))


def test_exclusive_runs_are_not_pooled(tmp_path, monkeypatch):
    import largebatch.sweep as S

    pooled = []
    monkeypatch.setattr(
        S, "_run_pooled", lambda name, scale, cfgs, todo, extra, jobs: pooled.extend(todo) or []
    )
    real_plan = S.plan

    def plan(*a, **k):
        cfgs, todo = real_plan(*a, **k)
        return [replace(c, exclusive=(i == 1)) for i, c in enumerate(cfgs)], todo

    monkeypatch.setattr(S, "plan", plan)
    monkeypatch.setattr(S, "run_one", lambda cfg, scale, fresh=False: 0)
    S.run_sweep(
        "goyal_linear_scaling", "smoke", 1, [0, 1, 2], [f"--out_dir={tmp_path}", "--wandb=off"], jobs=2
    )
    assert pooled == [0, 2]


def test_sweep_rejects_negative_jobs(capsys):
    assert sweep_main(["goyal_linear_scaling", "--jobs=-1"]) == 2
    assert "--jobs=-1" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_stops_the_pool_and_runs_resume(tmp_path):
    """SIGINT to the sweep alone (not its process group): both pooled runs stop, exit 130, no traceback."""
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    cmd = [
        sys.executable,
        "-m",
        "largebatch.sweep",
        "goyal_linear_scaling",
        "--only=0,1",
        "--jobs=2",
        f"--out_dir={tmp_path}",
        "--wandb=off",
        "--max_steps=100000",
        "--epochs=1000",
    ]
    p = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list(tmp_path.glob("goyal_linear_scaling/*/metrics.jsonl"))) < 2:
        time.sleep(0.5)
    time.sleep(2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "Traceback" not in out
    assert out.count("interrupted") >= 2 and "rerun the same command" in err
    assert not list(tmp_path.glob("goyal_linear_scaling/*/summary.json"))  # neither counts as complete


def test_reproduce_dry_prints_plan_and_overall_time(capsys):
    assert reproduce.main(["--dry", "--only=goyal_linear_scaling,seed_mlp", "--jobs=2"]) == 0
    out = capsys.readouterr().out
    assert "goyal_linear_scaling" in out and "seed_mlp" in out and "lars" not in out
    assert "estimated" in out and "in all" in out


def test_reproduce_list_and_bad_only(capsys):
    assert reproduce.main(["--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert "goyal_linear_scaling" in listed and "failure_batch" not in listed  # calibration: only when named
    assert reproduce.main(["--list", "--only=failure_batch"]) == 0
    assert capsys.readouterr().out.split() == ["failure_batch"]
    assert reproduce.main(["--only=nope"]) == 2
    assert "unknown study 'nope'" in capsys.readouterr().err


def test_jobs_gain_reads_the_benchmark(tmp_path):
    f = tmp_path / "r.json"
    f.write_text(json.dumps({reproduce.JOBS_KEY: {"ratio": 1.4}}))
    assert reproduce.jobs_gain(2, f) == 1.4 and reproduce.jobs_gain(1, f) == 1.0
    assert reproduce.jobs_gain(2, tmp_path / "missing.json") == 1.0


def test_an_entry_with_its_own_nproc_gets_a_torchrun(monkeypatch, capsys):
    """A grid entry with nproc = 2 is launched as a 2-process torchrun, the others as the sweep says."""
    import largebatch.sweep as S

    real_plan = S.plan

    def plan(*a, **k):
        cfgs, todo = real_plan(*a, **k)
        return [replace(c, nproc=2 if i == 1 else 0) for i, c in enumerate(cfgs)], todo

    monkeypatch.setattr(S, "plan", plan)
    S.run_sweep("goyal_linear_scaling", "smoke", 1, [0, 1], ["--wandb=off"], dry=True, jobs=2)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "--index=" in ln]
    assert "--nproc_per_node=2" in lines[1] and "torchrun" not in lines[0]


def test_a_run_defined_for_two_processes_refuses_one():
    from largebatch.config import ConfigError, make_config, validate

    with pytest.raises(ConfigError, match="nproc=2"):
        validate(make_config(nproc=2, global_batch=64), world_size=1)
    validate(make_config(nproc=2, global_batch=64), world_size=2)
