"""W&B is made for comparing arms: an offline run carries a readable name, job_type = arm, tags for the
scale and batch, examples_seen as the x-axis; a resumed run continues the same W&B run (same id).

The offline run file (`run-<id>.wandb`, a LevelDB-style log of protobuf records) is read back here.
Run: `pytest tests/test_wandb.py` (~15 s).
"""

import struct
import time
from pathlib import Path

import pytest

from largebatch.cli import main
from largebatch.config import make_config
from largebatch.trainer import run_dir, train

pytest.importorskip("wandb")
from wandb.proto import wandb_internal_pb2 as pb  # noqa: E402

ARGS = [
    "--dataset=synthetic",
    "--synthetic_examples=512",
    "--global_batch=64",
    "--per_worker_batch=32",
    "--max_steps=4",
    "--eval_every_steps=2",
    "--eval_train_examples=0",
    "--progress=false",
    "--tag=D",
    "--seed=1",
]


def records(path: Path):
    """The protobuf records of an offline .wandb file (header, then 32 KiB blocks of chunks)."""
    data = path.read_bytes()
    assert data[:4] == b":W&B", path
    pos, block, buf = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, n, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if pos + 7 + n > len(data):  # a record still being written
            break
        chunk, pos = data[pos + 7 : pos + 7 + n], pos + 7 + n
        if kind == 0 and n == 0:
            break
        if kind == 1:
            buf = b""
            yield _record(chunk)
        elif kind == 2:
            buf = chunk
        elif kind == 3:
            buf += chunk
        elif kind == 4:
            yield _record(buf + chunk)
            buf = b""


def _record(raw: bytes):
    r = pb.Record()
    r.ParseFromString(raw)
    return r


def _finished_file(folder: Path, timeout: float = 20.0) -> Path:
    """The folder's .wandb file once W&B's service has written its exit record (it writes asynchronously)."""
    t = time.monotonic()
    while True:
        path = next(folder.glob("*.wandb"), None)
        if path is not None and any(r.WhichOneof("record_type") == "exit" for r in records(path)):
            return path
        assert time.monotonic() - t < timeout, f"no finished .wandb file in {folder}"
        time.sleep(0.2)


def read_run(folder: Path) -> dict:
    """run id, name, job_type, tags, group, the x-axis definitions and logged steps of one offline folder."""
    out = {"metrics": {}, "steps": []}
    for r in records(_finished_file(folder)):
        kind = r.WhichOneof("record_type")
        if kind == "run":
            out.update(
                id=r.run.run_id,
                name=r.run.display_name,
                job_type=r.run.job_type,
                tags=list(r.run.tags),
                group=r.run.run_group,
            )
        elif kind == "metric":
            out["metrics"][r.metric.name or r.metric.glob_name] = r.metric.step_metric
        elif kind == "history":
            out["steps"].append(r.history.step.num)
    return out


def _interrupt(cfg, n: int) -> dict:
    """Train cfg and stop after n steps without a summary, as a killed run would."""
    try:
        from interrupt import train_until  # tests/interrupt.py (the trainer's on_step hook)
    except ImportError:
        return train(cfg, stop_after=n)
    return train_until(cfg, n)


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    yield
    # nothing to reset: the scale travels with each run (largebatch.cli.run), not in a global


def test_offline_run_has_name_job_type_tags_and_axes(tmp_path, offline):
    assert main([*ARGS, f"--out_dir={tmp_path}"]) == 0
    rdir = next((tmp_path / "demo").iterdir())
    (folder,) = (rdir / "wandb").glob("offline-run-*")
    run = read_run(folder)
    assert run["id"] == rdir.name  # the run id: unchanged, and what a resume continues
    assert run["name"] == "demo/D/B64/s1" and run["job_type"] == "D"
    assert run["group"] == "demo-adhoc"
    assert {"scale:adhoc", "batch:64", "world:1", "model:mlp", "dataset:synthetic"} <= set(run["tags"])
    assert run["metrics"]["examples_seen"] == ""  # defined as an axis itself
    for key in ("train/*", "test/*", "opt/*", "step", "epoch"):
        assert run["metrics"][key] == "examples_seen", (key, run["metrics"])
    assert run["steps"] == [2, 4]  # W&B's own step is the optimizer step


def test_study_scale_sets_group_and_tags(tmp_path, offline):
    from experiments.seed_mlp import config as seed_cfg

    over = [
        "--dataset=synthetic",
        "--synthetic_examples=1024",
        "--max_steps=2",
        "--eval_train_examples=0",
        "--progress=false",
        f"--out_dir={tmp_path}",
    ]
    assert main(["--smoke", *over], study=seed_cfg) == 0
    run = read_run(next((tmp_path / "seed_mlp").glob("*/wandb/offline-run-*")))
    assert run["group"] == "seed_mlp-smoke" and "scale:smoke" in run["tags"]
    assert run["name"] == "seed_mlp/default/B100/s0" and run["job_type"] == "default"


def test_resumed_run_continues_the_same_wandb_run(tmp_path, offline):
    cfg = make_config(
        dataset="synthetic",
        synthetic_examples=512,
        global_batch=64,
        per_worker_batch=32,
        max_steps=4,
        eval_every_steps=2,
        eval_train_examples=0,
        progress=False,
        tag="D",
        seed=1,
        out_dir=str(tmp_path),
    )
    assert _interrupt(cfg, 2)["status"] == "interrupted"
    import wandb

    wandb.finish()  # what the end of the interrupted process does (W&B's exit hook)
    assert main([*ARGS, f"--out_dir={tmp_path}"]) == 0
    folders = sorted((run_dir(cfg) / "wandb").glob("offline-run-*"))
    assert len(folders) == 2  # one per process start; `wandb sync` uploads both, in start order, into one run
    first, second = (read_run(f) for f in folders)
    assert first["id"] == second["id"] == run_dir(cfg).name
    assert "resumed" in second["tags"] and "resumed" not in first["tags"]
    assert first["steps"] == [2] and second["steps"] == [4]  # the second continues after the checkpoint
