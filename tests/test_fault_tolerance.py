"""Fault tolerance: a worker SIGKILLed mid-run under `torchrun --max-restarts=2` restarts, resumes from the
last checkpoint and ends with the same parameters as an uninterrupted run; W&B and metrics-write failures
do not lose the summary or the checkpoint.

Run: `pytest tests/test_fault_tolerance.py` (the torchrun test is marked slow; CI runs it).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from largebatch import metrics
from largebatch.config import make_config
from largebatch.trainer import run_dir, train

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "--train_examples=4096",
    "--global_batch=256",
    "--per_worker_batch=32",
    "--epochs=2",
    "--eval_every_steps=8",
    "--checkpoint_every_steps=4",
    "--eval_train_examples=0",
    "--progress=false",
    "--wandb=off",
]


def _torchrun(out, env_extra):
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1", **env_extra}
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    # a fault is injected by tests/fault_train.py (largebatch.train with a test-side on_step hook)
    entry = (
        [str(ROOT / "tests/fault_train.py")]
        if "LARGEBATCH_FAULT_AT_STEP" in env_extra
        else ["-m", "largebatch.train"]
    )
    return subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc_per_node=2",
            "--max-restarts=2",
            *entry,
            *ARGS,
            f"--out_dir={out}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_sigkill_restart_resumes_to_identical_parameters(tmp_path):
    clean = _torchrun(tmp_path / "clean", {})
    assert clean.returncode == 0, clean.stderr[-3000:]
    killed = _torchrun(tmp_path / "killed", {"LARGEBATCH_FAULT_AT_STEP": "10", "LARGEBATCH_FAULT_RANK": "1"})
    assert killed.returncode == 0, killed.stderr[-3000:]
    a = next((tmp_path / "clean").glob("demo/*"))
    b = next((tmp_path / "killed").glob("demo/*"))
    assert (b / ".fault_injected").exists(), "the fault was not injected"
    sa, sb = torch.load(a / "checkpoint.pt"), torch.load(b / "checkpoint.pt")
    for k in sa["model"]:
        assert torch.equal(sa["model"][k], sb["model"][k]), k
    steps = [json.loads(x)["step"] for x in (b / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))
    assert json.loads((b / "summary.json").read_text())["status"] == "complete"


def test_wandb_failure_does_not_stop_training(fmnist_small, tmp_path, monkeypatch):
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setattr(wandb, "init", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("W&B down")))
    cfg = make_config(model="mlp", max_steps=4, eval_train_examples=0, progress=False, out_dir=str(tmp_path))
    with pytest.warns(UserWarning, match="W&B disabled"):
        s = train(cfg, data=fmnist_small)
    assert s["status"] == "complete" and (run_dir(cfg) / "summary.json").exists()


def test_metrics_write_failure_stops_the_run_and_the_rerun_refills(fmnist_small, tmp_path, monkeypatch):
    """A full disk under metrics.jsonl stops the run (issue 25: a record lost would be a hole in the series
    of a run that then counts as complete); the last checkpoint survives and the rerun logs from there."""
    real = metrics.RunSink.start

    def start(self, *a, **k):
        real(self, *a, **k)
        f = self._f

        class Full:
            def write(self, text):
                if '"step": 3' in text:
                    raise OSError(28, "No space left on device")
                return f.write(text)

            def flush(self):
                f.flush()

            def close(self):
                f.close()

        self._f = Full()

    kw = dict(model="mlp", max_steps=4, log_every_steps=1, eval_every_steps=2, eval_train_examples=0)
    cfg = make_config(**kw, progress=False, wandb="off", out_dir=str(tmp_path))
    with monkeypatch.context() as mp:
        mp.setattr(metrics.RunSink, "start", start)
        with pytest.raises(OSError, match="No space left") as e:
            train(cfg, data=fmnist_small)
    assert e.value.filename == str(run_dir(cfg) / "metrics.jsonl")
    assert not (run_dir(cfg) / "summary.json").exists() and (run_dir(cfg) / "checkpoint.pt").exists()
    assert train(cfg, data=fmnist_small)["status"] == "complete"
    steps = [json.loads(x)["step"] for x in (run_dir(cfg) / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
