"""Bad-input and fault matrix (issue 21): bad values, corrupt files, kills at each phase of a run, a full
disk, an unwritable directory, concurrent runs, Ctrl-C, a crash inside the trainer, sweep misuse.

Every case asserts its exit code, that the run says why in one line naming the cause (stderr for errors,
the run's own status line for successes; never a traceback), and that no earlier result changed: each
case's output directory holds a finished run of another config whose files must stay byte-identical, and
cases that recover compare their final numbers with an uninterrupted run. Runs are tiny (synthetic data
or a 64-image fake Fashion-MNIST, 4 steps) and in-process; only kills and a cross-process lock use
subprocesses.

Run: `WANDB_MODE=disabled pytest -q tests/test_fault_matrix.py` (about a minute on 2 cores)
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from interrupt import train_until

from largebatch import metrics, sweep, trainer
from largebatch.cli import main
from largebatch.config import make_config, parse_overrides
from largebatch.trainer import CHECKPOINT, run_dir

ROOT = Path(__file__).resolve().parents[1]
BASE = [
    "--dataset=synthetic",
    "--synthetic_examples=512",
    "--global_batch=64",
    "--per_worker_batch=32",
    "--max_steps=4",
    "--eval_every_steps=2",
    "--eval_train_examples=0",
    "--progress=false",
    "--wandb=off",
]
OTHER = ["--seed=7"]  # the earlier, finished run that no case may touch
FMNIST = ["--dataset=fashion_mnist", "--global_batch=32", "--eval_every_steps=2"]


def cfg_of(out: Path, *extra: str):
    return make_config(**parse_overrides([*BASE, f"--out_dir={out}", *extra]))


def snapshot(d: Path) -> dict:
    return {
        str(p.relative_to(d)): p.read_bytes()
        for p in sorted(d.rglob("*"))
        if p.is_file() and p.name != metrics.LOCK
    }


def _idx(path: Path, arr: np.ndarray) -> None:
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(head + arr.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """out/: the earlier finished run; ref/: the uninterrupted run every recovering case must match;
    fmnist/: a valid 64 + 32 image Fashion-MNIST in IDX format."""
    base = tmp_path_factory.mktemp("template")
    assert main([*BASE, f"--out_dir={base / 'out'}", *OTHER]) == 0
    assert main([*BASE, f"--out_dir={base / 'ref'}"]) == 0
    g = np.random.default_rng(0)
    fm = base / "fmnist"
    fm.mkdir()
    _idx(fm / "train-images-idx3-ubyte.gz", g.integers(0, 256, (64, 28, 28)))
    _idx(fm / "train-labels-idx1-ubyte.gz", g.integers(0, 10, 64))
    _idx(fm / "t10k-images-idx3-ubyte.gz", g.integers(0, 256, (32, 28, 28)))
    _idx(fm / "t10k-labels-idx1-ubyte.gz", g.integers(0, 10, 32))
    return base


def ref_summary(template) -> dict:
    return json.loads((run_dir(cfg_of(template / "ref")) / "summary.json").read_text())


# --- the cases: name -> setup(out, fm, monkeypatch) returning (argv, exit code, text in the one line) ------


def bad(arg, text):
    return lambda out, fm, mp: ([arg], 2, text)


def fm_case(mutate, text):
    def setup(out, fm, mp):
        mutate(fm)
        return ([*FMNIST, f"--data_dir={fm}"], 2, text)

    return setup


def _truncate(p: Path, keep: float = 0.5) -> None:
    b = p.read_bytes()
    p.write_bytes(b[: int(len(b) * keep)])


def ckpt_case(mutate, text, extra=()):
    def setup(out, fm, mp):
        cfg = cfg_of(out)
        train_until(cfg, 2)
        mutate(run_dir(cfg) / CHECKPOINT, out)
        return (list(extra), 2, text)

    return setup


def _foreign_ckpt(ck: Path, out: Path) -> None:
    other = cfg_of(out / "elsewhere", "--lr_base=0.3")
    train_until(other, 2)
    shutil.copy(run_dir(other) / CHECKPOINT, ck)
    shutil.rmtree(out / "elsewhere")


class _Evil:
    marker = ""

    def __reduce__(self):
        return (Path.touch, (Path(_Evil.marker),))


def _evil_ckpt(ck: Path, out: Path) -> None:
    _Evil.marker = str(out.parent / "pwned")
    torch.save({"model": _Evil(), "step": 2}, ck)


def full_disk_checkpoint(out, fm, mp):
    """What torch.save does on a real full disk (test_full_disk_on_a_real_small_filesystem): its writer
    raises a RuntimeError ("unexpected pos") whose context is the file's OSError, which names no file."""
    real = torch.save

    def save(obj, f, *a, **k):
        if isinstance(obj, dict) and obj.get("step") == 4:
            f.write(b"partial")
            try:
                raise OSError(errno.ENOSPC, "No space left on device")
            except OSError:  # the context is kept, as in torch's writer: no `from`
                raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos")  # noqa: B904
        return real(obj, f, *a, **k)

    mp.setattr(trainer.torch, "save", save)
    return ([], 2, f"{CHECKPOINT}: No space left on device")


def full_disk_summary(out, fm, mp):
    real = metrics.atomic_write_text

    def write(path, text):
        if Path(path).name == "summary.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, text)

    mp.setattr(metrics, "atomic_write_text", write)
    return ([], 2, "summary.json")


_HELD: list = []  # locks a case holds until its run has been refused


def locked(out, fm, mp):
    _HELD.append(metrics.RunLock(run_dir(cfg_of(out))).acquire())
    return ([], 3, "in use by another run")


def ctrl_c(out, fm, mp):
    real, n = trainer.evaluate, []

    def evaluate(*a, **k):
        n.append(1)
        if len(n) == 2:  # the second evaluation: after the step-2 checkpoint
            raise KeyboardInterrupt
        return real(*a, **k)

    mp.setattr(trainer, "evaluate", evaluate)
    return ([], 130, "interrupted; rerun the same command to resume")


def crash(out, fm, mp):
    mp.setattr(trainer, "evaluate", lambda *a, **k: 1 / 0)
    return ([], 1, "error.log")


def truncated_summary(out, fm, mp):
    cfg = cfg_of(out)
    assert main([*BASE, f"--out_dir={out}"]) == 0
    _truncate(run_dir(cfg) / "summary.json")
    return ([], 0, "complete after 4 steps")


def finished_then_force(out, fm, mp):
    assert main([*BASE, f"--out_dir={out}"]) == 0
    return (["--force"], 0, "complete after 4 steps")


def finished_skip(out, fm, mp):
    assert main([*BASE, f"--out_dir={out}"]) == 0
    return ([], 0, "skipping")


def corrupt_ckpt_no_resume(out, fm, mp):
    cfg = cfg_of(out)
    train_until(cfg, 2)
    (run_dir(cfg) / CHECKPOINT).write_bytes(b"garbage")
    return (["--no-resume"], 0, "complete after 4 steps")


def corrupt_config_json(out, fm, mp):
    cfg = cfg_of(out)
    train_until(cfg, 2)
    (run_dir(cfg) / "config.json").write_text('{"conf')
    return ([], 0, "complete after 4 steps")


def torn_metrics_line(out, fm, mp):
    cfg = cfg_of(out)
    train_until(cfg, 2)
    with open(run_dir(cfg) / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "train/lo')
    return ([], 0, "complete after 4 steps")


CASES = {
    "epochs=inf": bad("--epochs=inf", "epochs"),
    "epochs=nan": bad("--epochs=nan", "epochs"),
    "log_every_steps=0": bad("--log_every_steps=0", "log_every_steps"),
    "micro_batch<0": bad("--micro_batch=-32", "micro_batch"),
    "global_batch=0": bad("--global_batch=0", "global_batch"),
    "per_worker_batch<0": bad("--per_worker_batch=-1", "per_worker_batch"),
    "lr_base=inf": bad("--lr_base=inf", "lr_base"),
    "momentum<0": bad("--momentum=-0.5", "momentum"),
    "eval_batch=0": bad("--eval_batch=0", "eval_batch"),
    "divergence_loss=0": bad("--divergence_loss=0", "divergence_loss"),
    "adam_betas one value": bad("--adam_betas=0.9", "adam_betas"),
    "noise_ema>1": bad("--noise_ema=1.5", "noise_ema"),
    "study path": bad("--study=../elsewhere", "study"),
    "unknown key": bad("--bogus=1", "unknown config key 'bogus'"),
    "bad type": bad("--global_batch=big", "global_batch"),
    "unknown model": bad("--model=vgg", "model='vgg'"),
    "device=cuda without GPU": bad("--device=cuda", "device='cuda'"),
    "--list to train": bad("--list", "--list"),
    "--index to train": bad("--index=2", "--index"),
    "data: truncated images": fm_case(
        lambda d: _truncate(d / "train-images-idx3-ubyte.gz"), "train-images-idx3-ubyte.gz"
    ),
    "data: garbage labels": fm_case(
        lambda d: (d / "train-labels-idx1-ubyte.gz").write_bytes(b"junk"), "train-labels-idx1-ubyte.gz"
    ),
    "data: missing test labels": fm_case(
        lambda d: (d / "t10k-labels-idx1-ubyte.gz").unlink(), "t10k-labels-idx1-ubyte.gz"
    ),
    "data: empty dir": fm_case(lambda d: [p.unlink() for p in d.iterdir()], "Fashion-MNIST not found"),
    "checkpoint: garbage": ckpt_case(lambda ck, out: ck.write_bytes(b"garbage"), "--no-resume"),
    "checkpoint: truncated": ckpt_case(lambda ck, out: _truncate(ck), "--no-resume"),
    "checkpoint: another config's": ckpt_case(_foreign_ckpt, "was written under config"),
    "checkpoint: pickled code": ckpt_case(_evil_ckpt, "cannot be read"),
    "full disk: checkpoint": full_disk_checkpoint,
    "full disk: summary": full_disk_summary,
    "read-only out_dir": lambda out, fm, mp: (["--out_dir=/sys/largebatch-test"], 2, "writable --out_dir"),
    "out_dir is a file": lambda out, fm, mp: ([f"--out_dir={out / 'config.json'}"], 2, "--out_dir"),
    "concurrent run (lock held)": locked,
    "Ctrl-C mid-run": ctrl_c,
    "crash inside the trainer": crash,
    "truncated summary.json": truncated_summary,
    "--force on a finished run": finished_then_force,
    "finished run is skipped": finished_skip,
    "corrupt checkpoint + --no-resume": corrupt_ckpt_no_resume,
    "corrupt config.json, good checkpoint": corrupt_config_json,
    "torn metrics.jsonl line": torn_metrics_line,
}


@pytest.mark.parametrize("name", list(CASES))
def test_matrix(name, template, tmp_path, capsys, monkeypatch):
    if name == "device=cuda without GPU" and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    out, fm = tmp_path / "out", tmp_path / "fmnist"
    shutil.copytree(template / "out", out)
    shutil.copytree(template / "fmnist", fm)
    earlier = snapshot(out / "demo")
    if name == "out_dir is a file":
        (out / "config.json").write_text("x")
    argv, code, text = CASES[name](out, fm, monkeypatch)
    capsys.readouterr()
    argv = (
        [*BASE, f"--out_dir={out}", *argv]
        if not any(a.startswith("--out_dir=") for a in argv)
        else [*BASE, *argv]
    )
    got = main(argv)
    o, e = capsys.readouterr()
    assert "Traceback" not in o + e
    assert got == code, (got, o, e)
    lines = [ln for ln in (e if code else o).splitlines() if ln.strip()]
    assert len(lines) == 1 and text in lines[0], (o, e)
    monkeypatch.undo()
    while _HELD:
        _HELD.pop().release()
    now = {k: v for k, v in snapshot(out / "demo").items() if k in earlier}
    assert now == earlier, "an earlier result changed"
    assert not list(out.rglob("*.tmp*")), "a temporary file was left behind"
    # the fault left the run resumable: rerunning the same command finishes it with the clean numbers
    if name.startswith(("full disk", "Ctrl-C", "concurrent", "truncated summary", "checkpoint: pickled")):
        if name == "checkpoint: pickled code":
            assert not (tmp_path / "pwned").exists(), "the checkpoint ran code on load"
            argv.append("--no-resume")
        if name == "full disk: checkpoint":
            ck = torch.load(run_dir(cfg_of(out)) / CHECKPOINT, weights_only=True)
            assert ck["step"] == 2  # the previous checkpoint survived the failed write
        assert main(argv) == 0
        s = json.loads((run_dir(cfg_of(out)) / "summary.json").read_text())
        assert s["final_test_acc"] == ref_summary(template)["final_test_acc"]


# --- sweep misuse ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv,text",
    [
        (["no_such_study"], "unknown study 'no_such_study'"),
        (["seed_mlp", "--scale=smoke", "--globl_batch=64"], "unknown config key 'globl_batch'"),
        (["seed_mlp", "--only=first"], "--only"),
        (["seed_mlp", "--nproc=0"], "--nproc"),
    ],
)
def test_sweep_misuse_is_one_line(argv, text, capsys):
    assert sweep.main(argv) == 2
    o, e = capsys.readouterr()
    lines = [ln for ln in e.splitlines() if ln.strip()]
    assert len(lines) == 1 and text in lines[0] and "Traceback" not in o + e, e


# --- kills (real processes) -------------------------------------------------------------------------------


def _launch(out: Path, env_extra: dict | None = None, *extra: str) -> subprocess.Popen:
    """`python -m largebatch.train`, or tests/fault_train.py when env_extra asks for a fault."""
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1", **(env_extra or {})}
    entry = (
        [str(ROOT / "tests/fault_train.py")]
        if "LARGEBATCH_FAULT_AT_STEP" in (env_extra or {})
        else ["-m", "largebatch.train"]
    )
    return subprocess.Popen(
        [sys.executable, *entry, *BASE, f"--out_dir={out}", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a suite started in the background (`make test &`) inherits SIGINT ignored, and a Python child that
        # starts with SIGINT ignored installs no KeyboardInterrupt handler: restore the default disposition
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.mark.parametrize(
    "phase,at",
    [
        ("before the first checkpoint", 1),
        ("after a mid-run checkpoint", 3),
        ("after the last checkpoint, before the summary", 4),
    ],
)
def test_sigkill_at_each_phase_then_rerun_matches_uninterrupted(phase, at, template, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(template / "out", out)
    earlier = snapshot(out / "demo")
    p = _launch(out, {"LARGEBATCH_FAULT_AT_STEP": str(at), "LARGEBATCH_FAULT_RANK": "0"})
    p.communicate(timeout=120)
    assert p.returncode == -signal.SIGKILL
    cfg = cfg_of(out)
    assert not metrics.is_complete(run_dir(cfg))
    capsys.readouterr()
    assert main([*BASE, f"--out_dir={out}"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    ref = ref_summary(template)
    assert f"test acc {ref['final_test_acc']}" in line, line
    a = torch.load(run_dir(cfg) / CHECKPOINT, weights_only=True)["model"]
    b = torch.load(run_dir(cfg_of(template / "ref")) / CHECKPOINT, weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert {k: v for k, v in snapshot(out / "demo").items() if k in earlier} == earlier


def test_second_process_on_a_locked_run_directory(template, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(template / "out", out)
    with metrics.RunLock(run_dir(cfg_of(out))):
        p = _launch(out)
        o, e = p.communicate(timeout=120)
    assert p.returncode == 3, e
    lines = [ln for ln in e.splitlines() if ln.strip()]
    assert len(lines) == 1 and "in use by another run" in lines[0] and str(os.getpid()) in lines[0]


def test_sigint_to_a_running_process_ends_with_one_line(template, tmp_path):
    out = tmp_path / "out"
    p = _launch(out, None, "--max_steps=400", "--eval_every_steps=1")
    ck = run_dir(cfg_of(out, "--max_steps=400", "--eval_every_steps=1")) / "checkpoint.json"
    t0 = time.time()
    while not ck.exists() and time.time() - t0 < 60 and p.poll() is None:
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    o, e = p.communicate(timeout=60)
    assert p.returncode == 130, (o, e)
    lines = [ln for ln in e.splitlines() if ln.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0], e
