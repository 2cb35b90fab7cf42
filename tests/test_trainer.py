"""The training core is honest data parallelism: equivalence, ghost BN stats, resume, divergence.

Checks that 2 gloo ranks x virtual workers, 1 process with the same virtual workers, and 1 process
with one big batch reach the same parameters (BN-free MLP, 1e-6); that ranks hold identical
parameters; that with ghost BN the 2-rank run equals the 1-process run, running statistics included;
that an interrupted run resumed from its checkpoint ends bitwise equal to an uninterrupted one; and
that a divergent run ends with status "diverged" and a complete summary.
Run: `pytest tests/test_trainer.py` (spawns 2 CPU processes for the distributed cases).
"""

import json

import pytest
import torch
from dist_utils import spawn
from interrupt import train_until
from workers import train_params

from largebatch.config import make_config
from largebatch.trainer import run_dir, train

BASE = dict(
    study="t",
    model="mlp",
    global_batch=128,
    per_worker_batch=16,
    lr_base=0.1,
    lr_base_batch=128,
    momentum=0.9,
    weight_decay=1e-4,
    epochs=1,
    max_steps=6,
    eval_train_examples=0,
    progress=False,
    wandb="off",
)


def _params(cfg_kwargs, data):
    _, model = train(make_config(**cfg_kwargs), data=data, return_model=True)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _close(a, b, tol):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k].double(), b[k].double(), atol=tol, rtol=0, msg=k)


@pytest.mark.slow
def test_two_ranks_equal_virtual_workers_and_big_batch(fmnist_small, tmp_path):
    kw2 = {**BASE, "micro_batch": 16, "out_dir": str(tmp_path / "a")}
    ranks = spawn(2, train_params, kw2, fmnist_small)
    for k in ranks[0]:  # DDP keeps ranks bitwise identical
        assert torch.equal(ranks[0][k], ranks[1][k]), k
    virt = _params({**BASE, "micro_batch": 16, "out_dir": str(tmp_path / "b")}, fmnist_small)
    big = _params({**BASE, "micro_batch": 0, "out_dir": str(tmp_path / "c")}, fmnist_small)
    _close(ranks[0], virt, 1e-6)
    _close(virt, big, 1e-6)
    init = _params({**BASE, "max_steps": 1, "lr_base": 0.0, "out_dir": str(tmp_path / "d")}, fmnist_small)
    assert (big["1.weight"] - init["1.weight"]).abs().max() > 1e-3  # it trained


@pytest.mark.slow
def test_ghost_bn_two_ranks_equal_one_process(fmnist_small, tmp_path):
    kw = {**BASE, "model": "resmlp_bn", "width": 32, "zero_gamma": True}
    ranks = spawn(2, train_params, {**kw, "out_dir": str(tmp_path / "a")}, fmnist_small)
    one = _params({**kw, "out_dir": str(tmp_path / "b")}, fmnist_small)
    chunked = _params({**kw, "micro_batch": 32, "out_dir": str(tmp_path / "c")}, fmnist_small)
    _close(ranks[0], one, 1e-5)  # running_mean/var included: averaged over ranks before the end
    _close(chunked, one, 1e-5)


def test_resume_is_exact(fmnist_small, tmp_path):
    kw = {**BASE, "max_steps": 9, "eval_every_steps": 3, "out_dir": str(tmp_path), "model": "mlp_bn"}
    cfg = make_config(**kw)
    a = _params({**kw, "out_dir": str(tmp_path / "full")}, fmnist_small)
    part = train_until(cfg, 7, data=fmnist_small)  # checkpoint at 6, step 7 is lost
    assert part["status"] == "interrupted" and not (run_dir(cfg) / "summary.json").exists()
    b = _params(kw, fmnist_small)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    steps = [json.loads(x)["step"] for x in (run_dir(cfg) / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)), "metrics.jsonl has duplicate rows after resume"


def test_divergence_is_recorded(fmnist_small, tmp_path):
    cfg = make_config(**{**BASE, "lr_base": 1e4, "max_steps": 30, "out_dir": str(tmp_path)})
    s = train(cfg, data=fmnist_small)
    assert s["status"] == "diverged" and s["diverged_step"] <= 30
    saved = json.loads((run_dir(cfg) / "summary.json").read_text())
    assert saved["status"] == "diverged" and saved["final_test_acc"] is None


def test_metrics_schema(fmnist_small, tmp_path):
    cfg = make_config(**{**BASE, "eval_every_steps": 3, "eval_train_examples": 256, "out_dir": str(tmp_path)})
    train(cfg, data=fmnist_small)
    d = run_dir(cfg)
    meta = json.loads((d / "config.json").read_text())
    assert meta["resolved"]["workers"] == 8 and meta["resolved"]["lr_peak"] == pytest.approx(0.1)
    assert meta["world_size"] == 1 and "git_sha" in meta and meta["config"]["seed"] == 0
    recs = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in recs if "test/acc" in r]
    assert [r["step"] for r in evals] == [3, 6]
    assert all(k in evals[-1] for k in ("examples_seen", "epoch", "train/loss", "opt/lr", "train_eval/acc"))
    assert evals[-1]["examples_seen"] == 6 * 128


def test_recomputed_bn_run_also_scores_the_running_averages(fmnist_small, tmp_path):
    """A bn_eval=recomputed run logs, beside its own score, what a bn_eval=running run with the same
    parameters logs (test_running/*), and its recomputed scores do not depend on that extra evaluation."""
    kw = {**BASE, "model": "mlp_bn", "eval_every_steps": 2, "bn_recompute_batches": 2}
    logs = {}
    for mode in ("running", "recomputed"):
        d = tmp_path / mode
        s = train(make_config(**kw, bn_eval=mode, out_dir=str(d)), data=fmnist_small)
        recs = [
            json.loads(line)
            for line in (run_dir(make_config(**kw, bn_eval=mode, out_dir=str(d))) / "metrics.jsonl")
            .read_text()
            .splitlines()
        ]
        logs[mode] = ([r for r in recs if "test/acc" in r], s)
    run_evals, rec_evals = logs["running"][0], logs["recomputed"][0]
    assert [r["step"] for r in run_evals] == [r["step"] for r in rec_evals] == [2, 4, 6]
    for a, b in zip(run_evals, rec_evals):
        assert b["test_running/acc"] == a["test/acc"] and b["test_running/loss"] == a["test/loss"]
    assert logs["recomputed"][1]["final_test_running_acc"] == logs["running"][1]["final_test_acc"]
    assert "final_test_running_acc" not in logs["running"][1]


def test_resumed_run_says_where_it_resumed(fmnist_small, tmp_path, capsys):
    cfg = make_config(**{**BASE, "checkpoint_every_steps": 3, "progress": True, "out_dir": str(tmp_path)})
    train_until(cfg, 4, data=fmnist_small)  # checkpoint at 3
    assert "resumed" not in capsys.readouterr().out
    train(cfg, data=fmnist_small)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[largebatch]")]
    assert lines == [f"[largebatch] {run_dir(cfg).name}: resumed at step 3 of 6"]
