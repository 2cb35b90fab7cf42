"""Cluster sweeps on submitit: a smoke sweep runs through submitit's local executor (one job per run, the
same command as the local sweep) and skips its finished runs on a second call; the SLURM path builds one
multi-node torchrun per node; a subprocess sweep streams the child's output as it comes.

Run: `pytest tests/test_submitit.py` (~20 s: each local job starts an interpreter).
"""

import sys
from pathlib import Path

import pytest

from largebatch import sweep
from largebatch.config import make_config
from largebatch.sweep import ClusterRun, auto_nodes, executor, run_cluster, run_streamed

pytest.importorskip("submitit")

FAST = ["--dataset=synthetic", "--synthetic_examples=1024", "--wandb=off", "--progress=false"]


def test_local_executor_runs_then_skips(tmp_path, capsys):
    extra = [f"--out_dir={tmp_path}", *FAST]
    assert run_cluster("seed_mlp", "smoke", 1, only=None, extra=extra, cluster="local") == 0
    assert len(list(tmp_path.glob("seed_mlp/*/summary.json"))) == 1
    assert list(tmp_path.glob("seed_mlp/_submitit/*")), "no submitit job folder"
    out = capsys.readouterr().out
    assert "1 to run" in out and "submitted run 0" in out
    assert run_cluster("seed_mlp", "smoke", 1, only=None, extra=extra, cluster="local") == 0
    out = capsys.readouterr().out
    assert "1 already complete, 0 to run" in out and "submitted" not in out


def test_local_executor_reports_a_failed_job(tmp_path, capsys):
    extra = [f"--out_dir={tmp_path}", *FAST, "--lr_base=-1"]  # validation fails inside the job
    assert run_cluster("seed_mlp", "smoke", 1, only=None, extra=extra, cluster="local") == 1
    assert "failed" in capsys.readouterr().out


def test_multi_node_command_and_slurm_parameters(tmp_path, monkeypatch):
    from submitit.slurm.slurm import SlurmExecutor

    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 2))  # as if srun were here
    env = type("Env", (), {"hostnames": ["node17", "node18"]})()
    cmd = ClusterRun("lars", 3, "paper", 8, 4, ["--wandb=off"]).command(env=env)
    assert Path(cmd[0]).name == "torchrun" and "--nnodes=4" in cmd and "--nproc_per_node=8" in cmd
    assert "--rdzv-endpoint=node17:29500" in cmd and cmd[-3:] == ["--index=3", "--scale=paper", "--wandb=off"]
    ex = executor("slurm", tmp_path, nodes=4, nproc=8, gpus_per_node=8, partition="gpu")
    params = ex._executor.parameters
    assert params["nodes"] == 4 and params["ntasks_per_node"] == 1 and params["gpus_per_node"] == 8
    assert params["partition"] == "gpu"
    sbatch = ex._executor._make_submission_file_text("python -m x", "uid")
    assert "#SBATCH --nodes=4" in sbatch and "#SBATCH --ntasks-per-node=1" in sbatch


def test_cluster_dry_prints_commands_and_runs_nothing(tmp_path, capsys):
    assert (
        sweep.main(
            [
                "seed_mlp",
                "--scale=smoke",
                "--cluster=slurm",
                "--nodes=2",
                "--nproc=2",
                "--dry",
                f"--out_dir={tmp_path}",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "--nnodes=2" in out and not any(tmp_path.iterdir())


def test_streamed_child_output_is_shown_and_kept(capfd):
    code = (
        "import sys, time\n"
        "print('[largebatch] demo-x-s0: resumed at step 4 of 8', flush=True)\n"
        "sys.stderr.write('\\r 50%|#####     | 4/8'); sys.stderr.flush()\n"
        "sys.stderr.write('E1127 17:40:01.123000 4242 torch/distributed/x.py:1] launcher noise\\n')\n"
        "sys.stderr.write('\\r100%|##########| 8/8\\n')\n"
    )
    r = run_streamed([sys.executable, "-c", code])
    out, err = capfd.readouterr()
    assert r.returncode == 0 and "resumed at step 4 of 8" in out and "resumed at step 4" in r.stdout
    assert "4/8" in err and "8/8" in err and "launcher noise" not in err and "launcher noise" in r.stderr


def test_auto_nodes_gives_one_worker_per_process():
    cfg = make_config(global_batch=8192, per_worker_batch=32)
    assert auto_nodes(cfg, 8) == 32 and auto_nodes(cfg, 8, max_nodes=16) == 16
    assert auto_nodes(make_config(global_batch=256, per_worker_batch=32), 8) == 1
    assert auto_nodes(make_config(global_batch=96, per_worker_batch=32), 1, max_nodes=2) == 1  # 2 x 32 ∤ 96


def test_subprocess_sweep_streams_the_resumed_line(tmp_path, capfd):
    """A sweep run in its own process shows the child's output as it comes, its 'resumed at step N' too."""
    from experiments.seed_mlp.config import grid

    try:
        from interrupt import train_until  # tests/interrupt.py: stop a run after n steps, as if killed
    except ImportError:
        pytest.skip("tests/interrupt.py not available")
    extra = [
        f"--out_dir={tmp_path}",
        "--dataset=synthetic",
        "--synthetic_examples=1024",
        "--wandb=off",
        "--max_steps=4",
        "--eval_every_steps=2",
    ]
    cfg = make_config(
        grid("smoke")[0],
        out_dir=str(tmp_path),
        dataset="synthetic",
        synthetic_examples=1024,
        wandb="off",
        max_steps=4,
        eval_every_steps=2,
        progress=False,
    )
    assert train_until(cfg, 2)["status"] == "interrupted"
    assert sweep.run_sweep("seed_mlp", "smoke", 1, extra=extra, subprocess_runs=True) == 0
    out, err = capfd.readouterr()
    assert "resumed at step 2 of 4" in out and "complete after 4 steps" in out, out + err
