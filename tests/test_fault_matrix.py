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

from largebatch import metrics, results, sweep, trainer
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


def full_disk_metrics(out, fm, mp):
    """A full disk under metrics.jsonl at step 3: the run stops (it used to warn, go on, and finish with a
    hole in its series); the step-2 checkpoint survives and the rerun logs step 3 again."""
    real_open = open

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, text):
            if '"step": 3' in text:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(text)

        def __getattr__(self, name):
            return getattr(self.f, name)

    def fake_open(path, mode="r", *a, **k):
        f = real_open(path, mode, *a, **k)
        return Full(f) if Path(path).name == "metrics.jsonl" and "a" in mode else f

    mp.setattr(metrics, "open", fake_open, raising=False)
    return (["--log_every_steps=1"], 2, "metrics.jsonl: No space left on device")


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
    "momentum=1.5 (help says [0, 1))": bad("--momentum=1.5", "momentum=1.5: must be in [0, 1)"),
    "seed=2**64": bad(f"--seed={2**64}", "seed=18446744073709551616: must be in [0, 2**32)"),
    "num_classes below the labels": lambda out, fm, mp: (
        [*FMNIST, f"--data_dir={fm}", "--num_classes=5"],
        2,
        "num_classes=5: the fashion_mnist labels go up to 9",
    ),
    "model does not fit the input shape": bad("--model=resnet50", "model='resnet50' does not take"),
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
    "full disk: metrics.jsonl": full_disk_metrics,
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

    def case_cfg():
        return make_config(**parse_overrides([a for a in argv if a not in ("--force", "--no-resume")]))

    if code == 2 and name.startswith(("num_classes", "model", "momentum")):  # refused before any write
        assert not run_dir(case_cfg()).exists()
    # the fault left the run resumable: rerunning the same command finishes it with the clean numbers
    if name.startswith(("full disk", "Ctrl-C", "concurrent", "truncated summary", "checkpoint: pickled")):
        if name == "checkpoint: pickled code":
            assert not (tmp_path / "pwned").exists(), "the checkpoint ran code on load"
            argv.append("--no-resume")
        if name.startswith("full disk"):
            ck = torch.load(run_dir(case_cfg()) / CHECKPOINT, weights_only=True)
            assert ck["step"] == (2 if "summary" not in name else 4)  # it survived the failed write
        assert main(argv) == 0
        s = json.loads((run_dir(case_cfg()) / "summary.json").read_text())
        assert s["final_test_acc"] == ref_summary(template)["final_test_acc"]


# --- sweep misuse ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv,text",
    [
        (["no_such_study"], "study 'no_such_study': choose one of"),
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


@pytest.mark.parametrize(
    "sig,text", [(signal.SIGINT, "interrupted; rerun"), (signal.SIGTERM, "interrupted by SIGTERM; rerun")]
)
def test_signal_to_a_running_process_ends_with_one_line_and_finishes_wandb(sig, text, tmp_path):
    """Ctrl-C, and SIGTERM (a `kill`, a scheduler) handled as Ctrl-C (issue 25: it used to kill the run at
    once): exit 130 with one line, and the W&B run finished with exit code 130, its tail flushed."""
    pytest.importorskip("wandb")
    out = tmp_path / "out"
    extra = ("--max_steps=400", "--eval_every_steps=1", "--wandb=auto")
    p = _launch(out, {"WANDB_MODE": "offline", "WANDB_SILENT": "true"}, *extra)
    rdir = run_dir(cfg_of(out, *extra))
    t0 = time.time()
    while not (rdir / "checkpoint.json").exists() and time.time() - t0 < 60 and p.poll() is None:
        time.sleep(0.05)
    p.send_signal(sig)
    o, e = p.communicate(timeout=60)
    assert p.returncode == 130, (o, e)
    lines = [ln for ln in e.splitlines() if ln.strip()]
    assert len(lines) == 1 and text in lines[0], e
    (folder,) = rdir.glob("wandb/offline-run-*")
    assert _wandb_exit_code(folder)[0] == 130


# --- issue 25: a real full disk, SIGTERM and W&B, torchrun ranks, the parameter server's lock -------------


def _can_mount_tmpfs() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    r = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True
    )
    return r.returncode == 0


def test_full_disk_on_a_real_small_filesystem(tmp_path):
    """A 256 KiB tmpfs (in a private mount namespace) holds config.json and metrics.jsonl but not the
    700 KB checkpoint: torch.save meets a real ENOSPC. Exit 2, one line naming the checkpoint, no partial
    or temporary file (it used to exit 1 with torch's RuntimeError, "unexpected pos")."""
    if not _can_mount_tmpfs():
        pytest.skip("cannot mount a tmpfs here (needs root and unshare); the mocked cases cover the path")
    d = tmp_path / "small"
    d.mkdir()
    train = " ".join([sys.executable, "-m", "largebatch.train", *BASE, f"--out_dir={d}"])
    script = f"mount -t tmpfs -o size=256k tmpfs {d} && {train}; rc=$?; ls -a {d}/demo/*/; exit $rc"
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"{CHECKPOINT}: No space left on device" in lines[0], r.stderr
    files = r.stdout.split()
    assert "config.json" in files and CHECKPOINT not in files, files
    assert not [f for f in files if ".tmp" in f], files


def _wandb_exit_code(folder: Path, timeout: float = 15.0):
    """(exit code, logged steps) of an offline W&B run folder once its exit record is written."""
    from test_wandb import records

    t = time.monotonic()
    while True:
        path = next(folder.glob("*.wandb"), None)
        recs = list(records(path)) if path is not None else []
        exits = [r.exit.exit_code for r in recs if r.WhichOneof("record_type") == "exit"]
        if exits:
            steps = [r.history.step.num for r in recs if r.WhichOneof("record_type") == "history"]
            return exits[0], steps
        assert time.monotonic() - t < timeout, f"the W&B run in {folder} was never finished"
        time.sleep(0.2)


@pytest.fixture
def wandb_offline(monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    yield
    # nothing to reset: the scale travels with each run (largebatch.cli.run), not in a global


def test_force_removes_the_old_wandb_folder(tmp_path, wandb_offline):
    """`wandb sync runs/<study>/*/wandb/offline-run-*` uploads every folder under one run id: after --force
    only the new training's folder may be left."""
    args = [a for a in BASE if a != "--wandb=off"] + [f"--out_dir={tmp_path}"]
    assert main(args) == 0
    assert main([*args, "--force"]) == 0
    folders = list(run_dir(cfg_of(tmp_path)).glob("wandb/offline-run-*"))
    assert len(folders) == 1, folders


def test_ctrl_c_finishes_the_wandb_run_and_the_resume_leaves_no_hole(tmp_path, wandb_offline, monkeypatch):
    """Ctrl-C at the step-4 evaluation: the W&B run is finished with exit code 130 holding steps 1-3, and
    the resumed run (from the step-2 checkpoint, same W&B id) logs the rest: together every step of
    metrics.jsonl, no hole."""
    extra = ["--max_steps=6", "--log_every_steps=1"]
    args = [a for a in BASE if a != "--wandb=off"] + [f"--out_dir={tmp_path}", *extra]
    real, n = trainer.evaluate, []

    def evaluate(*a, **k):
        n.append(1)
        if len(n) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    with monkeypatch.context() as mp:
        mp.setattr(trainer, "evaluate", evaluate)
        assert main(args) == 130
    rdir = run_dir(cfg_of(tmp_path, *extra))
    (first,) = rdir.glob("wandb/offline-run-*")
    code, steps = _wandb_exit_code(first)
    assert code == 130 and steps == [1, 2, 3], (code, steps)
    assert main(args) == 0
    (second,) = set(rdir.glob("wandb/offline-run-*")) - {first}
    code2, steps2 = _wandb_exit_code(second)
    logged = [json.loads(x)["step"] for x in (rdir / "metrics.jsonl").read_text().splitlines()]
    assert code2 == 0 and sorted(set(steps) | set(steps2)) == logged == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_torchrun_config_error_is_printed_by_the_ranks(tmp_path):
    """3 processes cannot split B = 64 into workers of 32: every rank finds it and prints the one line
    (rank 0 alone used to be stopped by torchrun before it printed); each rank exits 2."""
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    r = subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc_per_node=3",
            "-m",
            "largebatch.train",
            *BASE,
            f"--out_dir={tmp_path}",
        ],
        cwd=ROOT,
        env={**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode != 0
    ours = r.stderr.split("Traceback (most recent call last)")[
        0
    ]  # what the ranks said, before torchrun's report
    assert "config error: global_batch=64 is not divisible by processes x per_worker_batch = 3 x 32" in ours
    assert "exitcode  : 2" in r.stderr, r.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_parameter_server_refuses_a_run_directory_in_use(tmp_path):
    """The parameter server takes the trainer's run-directory lock: a second run of one config exits 3 on
    every rank, and the first run's files stay (it used to start, and delete the first's metrics.jsonl)."""
    sys.path.insert(0, str(ROOT))
    from experiments.async_staleness import param_server as ps

    cfg = make_config(
        study="async_staleness",
        dataset="synthetic",
        synthetic_examples=256,
        global_batch=32,
        model="mlp",
        width=16,
        out_dir=str(tmp_path),
        wandb="off",
        progress=False,
    )
    sc = ps.ServerConfig(updates=4, eval_every=2)
    d = ps.run_dir(cfg, sc, 1)
    d.mkdir(parents=True)
    (d / "metrics.jsonl").write_text('{"step": 2}\n')
    with metrics.RunLock(d):
        r = ps.launch(cfg, sc, 1, timeout=180, env_extra={"WANDB_MODE": "disabled"})
    assert r.returncode != 0
    assert "run error: run directory" in r.stderr and "in use by another run" in r.stderr, r.stderr
    assert "exitcode  : 3" in r.stderr, r.stderr
    assert (d / "metrics.jsonl").read_text() == '{"step": 2}\n' and not (d / "summary.json").exists()


# --- issue 25: the collectors, the report and the figures check their inputs and write nothing when wrong ---


DATA = ROOT / "paper_figures" / "data"


def _files(d: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def _err_line(capsys) -> str:
    o, e = capsys.readouterr()
    lines = [ln for ln in e.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in o + e, (o, e)
    return lines[0]


@pytest.fixture
def study_data(tmp_path):
    """A copy of the committed CSVs, and the seed_mlp / noise_scale collectors over tmp runs."""
    sys.path.insert(0, str(ROOT))
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    return data


def _made_up_run(runs: Path, cfg, acc: float = 0.5) -> Path:
    from test_safety import made_up_run

    return made_up_run(runs, cfg, acc)


def _insert_line(path: Path, after: int, line: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:after] + [line] + lines[after:]))


def test_collector_malformed_committed_row_is_an_error_not_a_shrink(study_data, tmp_path, capsys):
    """One malformed row in a committed CSV used to switch the never-shrink guard off (the file counted as
    empty): a collector with one run replaced the committed rows with 1 and exited 0."""
    from experiments.noise_scale import collect as C
    from experiments.noise_scale.config import grid

    csv = study_data / "noise_scale.csv"
    _insert_line(csv, 5, "a,row,with,too,many,fields," + "," * 30 + "\n")
    before = _files(study_data)
    _made_up_run(tmp_path / "runs", grid("cpu")[0])
    for argv in ([], ["--partial"], ["--merge"]):  # --partial and --merge never relax it either
        collect = (
            (lambda s: C.collect(s, tmp_path / "runs", study_data, merge=True))
            if argv == ["--merge"]
            else (lambda s: C.collect(s, tmp_path / "runs", study_data))
        )
        assert results.collect_main(collect, [a for a in argv if a != "--merge"]) == 2
        assert f"{csv} line 6: " in _err_line(capsys)
    assert _files(study_data) == before


@pytest.mark.parametrize(
    "edit,text",
    [
        ("config", "config.json: its config is run seed_mlp-"),
        ("summary", "summary.json: final_test_acc=0.99, but the last evaluation in metrics.jsonl gives 0.5"),
        ("steps", "summary.json: steps=7, but metrics.jsonl ends at step 1"),
    ],
)
def test_collector_refuses_a_run_whose_files_disagree(edit, text, study_data, tmp_path, capsys):
    """A hand-edited config.json (made to look like a grid run) or summary.json used to be collected as it
    was; the run id is a hash of the config, and the summary must be metrics.jsonl's last evaluation."""
    from experiments.seed_mlp import collect as C
    from experiments.seed_mlp.config import grid

    runs = tmp_path / "runs"
    cfg = grid("cpu")[0]
    if edit == "config":  # another run's directory, its config edited into the grid's
        d = _made_up_run(runs, make_config(cfg, seed=5))
        cj = json.loads((d / "config.json").read_text())
        cj["config"]["seed"] = cfg.seed
        (d / "config.json").write_text(json.dumps(cj))
    else:
        d = _made_up_run(runs, cfg)
        s = json.loads((d / "summary.json").read_text())
        s.update({"final_test_acc": 0.99} if edit == "summary" else {"steps": 7})
        (d / "summary.json").write_text(json.dumps(s))
    before = _files(study_data)
    assert results.collect_main(lambda s: C.collect(s, runs, study_data), []) == 2
    assert text in _err_line(capsys)
    assert _files(study_data) == before


@pytest.mark.parametrize("argv", [["--scale=bogus"], ["--sclae=paper"], ["--partail"]])
def test_collect_command_line_refuses_what_it_does_not_know(argv, capsys):
    """`collect --scale=bogus` used to exit 0 doing nothing (and a misspelt flag was ignored)."""
    called = []
    assert results.collect_main(lambda s: called.append(s) or [], argv) == 2
    assert "collect error:" in _err_line(capsys) and not called


def _report_root(tmp_path) -> Path:
    """A copy of what the report writes (README.md, docs/seeds.md, the study READMEs) and reads
    (claims.toml): a bad case must leave every file as it was."""
    root = tmp_path / "root"
    for rel in [
        "README.md",
        "docs/seeds.md",
        *[str(p.relative_to(ROOT)) for p in ROOT.glob("experiments/*/*.toml")],
    ]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, root / rel)
    for p in ROOT.glob("experiments/*/README.md"):
        (root / p.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, root / p.relative_to(ROOT))
    return root


def _snapshot_root(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _dup_row(d: Path, name: str = "seed_mlp.csv", change: bool = False) -> str:
    lines = (d / name).read_text().splitlines(keepends=True)
    row = lines[1].replace("complete", "complete") if not change else lines[1].replace(",0.8838,", ",0.9838,")
    (d / name).write_text("".join([*lines, row]))
    return f"{d / name} line {len(lines) + 1} repeats line 2"


def _drop_column(d: Path, name: str, col: str) -> None:
    import pandas as pd

    pd.read_csv(d / name).drop(columns=[col]).to_csv(d / name, index=False)


def _toml(root: Path, old: str, new: str, study: str = "async_staleness") -> None:
    p = root / "experiments" / study / "claims.toml"
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new, 1))


def _quote_first(root: Path, key: str, study: str = "async_staleness") -> None:
    """`key = 0.5` -> `key = "0.5"` (a string where a number belongs) at the key's first line."""
    p = root / "experiments" / study / "claims.toml"
    lines = p.read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith(f"{key} = "))
    lines[i] = f'{key} = "{lines[i].split("= ", 1)[1]}"'
    p.write_text("\n".join(lines) + "\n")


REPORT_CASES = {
    # name: (change(data, root) -> text expected in the one line, use --check)
    "--data_dir typo": (lambda d, r: "--data_dir=" + str(d) + "x: no such directory", "x"),
    "--data_dir typo, --check": (lambda d, r: ": no such directory", "x"),
    "--data_dir without a study's CSV": (
        lambda d, r: (d / "recipe_32k.csv").unlink() or "no recipe_32k.csv, whose claims the report writes",
        "",
    ),
    "repeated run row": (lambda d, r: _dup_row(d), ""),
    "repeated run id, other numbers": (
        lambda d, r: _dup_row(d, change=True) + " (run_id=seed_mlp-4948a73f-s0)",
        "",
    ),
    "malformed row": (
        lambda d, r: _insert_line(d / "lars.csv", 3, "x,y\n") or f"{d / 'lars.csv'} line 4: 2 field(s)",
        "",
    ),
    "CSV without a column the claims read": (
        lambda d, r: (
            _drop_column(d, "async_staleness.csv", "final_test_acc")
            or "async_staleness.csv: no column 'final_test_acc', which experiments/async_staleness/claims.py"
        ),
        "",
    ),
    "claims.toml key typo": (
        lambda d, r: (
            _toml(r, "\nthreshold =", "\nthresold =") or "unknown key 'thresold'; did you mean 'threshold'?"
        ),
        "",
    ),
    "claims.toml wrong type": (lambda d, r: _quote_first(r, "margin") or "margin = '", ""),
    "claims.toml syntax error": (lambda d, r: _toml(r, "[[claim]]", "[[claim]") or "TOML syntax error", ""),
}


@pytest.mark.parametrize("name", list(REPORT_CASES))
def test_report_refuses_bad_input_and_writes_nothing(name, study_data, tmp_path, capsys):
    """Each used to write (a --data_dir typo emptied the README's results block and docs/seeds.md and
    printed "wrote 2 block(s)"), count a run twice (`--check` only said "out of date"), or end in a
    traceback (a missing column, a claims.toml key typo, a wrong type, a TOML syntax error)."""
    from largebatch import report

    root = _report_root(tmp_path)
    change, suffix = REPORT_CASES[name]
    text = change(study_data, root)
    before = _snapshot_root(root)
    argv = ["--root", str(root), "--data_dir", f"{study_data}{suffix}"] + (
        ["--check"] if "--check" in name else []
    )
    capsys.readouterr()
    assert report.main(argv) == 2
    line = _err_line(capsys)
    assert line.startswith("report error: ") and text in line, line
    assert _snapshot_root(root) == before


def test_claims_code_asking_for_a_missing_id_or_key_names_the_file(tmp_path):
    from largebatch import prereg

    root = _report_root(tmp_path)
    _toml(root, 'id = "v2_iii_sgd"', 'id = "v2_iii_sdg"')  # a claim no [[rerun]] table names
    spec = prereg.load_spec("async_staleness", root)
    missing = r"claims.toml: no claim with id 'v2_iii_sgd'.*did you mean 'v2_iii_sdg'"
    with pytest.raises(KeyError, match=missing):
        spec["v2_iii_sgd"]
    with pytest.raises(KeyError, match=r"claims.toml line \d+: claim 'v2_iii_sdg' has no key 'margin'"):
        spec["v2_iii_sdg"]["margin"]


def test_figures_check_the_csvs_before_any_notebook_runs(study_data, capsys, monkeypatch):
    from largebatch import figures

    text = _dup_row(study_data)
    monkeypatch.setattr(figures, "DATA", study_data, raising=False)
    ran = []
    monkeypatch.setattr(figures, "execute", lambda *a, **k: ran.append(a) or 0.0)
    assert figures.main(["--only=seed_article"]) == 2
    assert text in _err_line(capsys) and not ran


def test_sweep_only_outside_the_grid_is_an_error(capsys):
    """`sweep --only=99` used to select nothing and exit 0."""
    assert sweep.main(["seed_mlp", "--only=99", "--dry"]) == 2
    line = _err_line(capsys)
    assert "--only=99: index 99 is not in the cpu grid of seed_mlp" in line


def test_a_signal_inside_the_checkpoint_write_stays_an_interrupt(tmp_path, monkeypatch):
    """SIGTERM (cli.Terminated) or Ctrl-C raised inside one of torch.save's writes comes out of its writer as
    a RuntimeError ("unexpected pos"); save_checkpoint gives back the interrupt, so the run exits 130 with
    "rerun to resume" instead of a bug's traceback (a flaky case of the signal test above), and the previous
    checkpoint stays whole with no partial file beside it."""
    from largebatch.cli import Terminated

    path = tmp_path / "checkpoint.pt"
    trainer.save_checkpoint(path, {"step": 1, "w": torch.zeros(4)}, {"step": 1})
    real_open, writes = open, []

    class Interrupted:
        def __init__(self, f):
            self.f = f

        def write(self, b):
            writes.append(len(b))
            if len(writes) == 3:
                raise Terminated
            return self.f.write(b)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

    def interrupting_open(p, mode="r", *a, **k):
        return Interrupted(real_open(p, mode, *a, **k))

    monkeypatch.setattr(trainer, "open", interrupting_open, raising=False)
    with pytest.raises(Terminated):
        trainer.save_checkpoint(path, {"step": 2, "w": torch.ones(100_000)}, {"step": 2})
    monkeypatch.undo()
    assert len(writes) >= 3 and not path.with_name(path.name + ".tmp").exists()
    assert torch.load(path, weights_only=True)["step"] == 1
