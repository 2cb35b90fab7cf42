"""RunSink: a run's directory (config.json, metrics.jsonl, summary.json) and its W&B mirror.

Only rank 0 writes. summary.json is written last and atomically; `read_summary` is the one rule for
"this run is complete" (the summary parses and holds the final metrics). `RunLock` keeps a second run out
of a run directory while one writes it.

W&B is for watching and comparing runs (`wandb_identity`): project `largebatch`, offline unless WANDB_MODE
says otherwise, run id = the run id (so a resumed run continues the same W&B run: `wandb sync` uploads a
run's offline folders in order of start time into that one run), name `<study>/<arm>/B<batch>/s<seed>`,
job_type = the arm (`TrainConfig.tag`), group `<study>-<scale>` (smoke, cpu and paper runs never share
one), tags `scale:<scale>`, `batch:<B>`, `world:<P>`, `model:<m>`, `dataset:<d>` (and `resumed`), and two
x-axes: every metric is plotted against `examples_seen` (to compare batch sizes) by default, and against
the optimizer step (W&B's step) on request. Any W&B failure is reported once and never stops training.
Figures never read W&B.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import subprocess
import warnings
from pathlib import Path

WANDB_PROJECT = "largebatch"
METRIC_PREFIXES = (
    "train",
    "test",
    "train_eval",
    "test_running",
    "opt",
    "time",
    "noise",
    "noise_layer",
    "lars",
    "lars_layer",
    "stale",
)  # logged series: plotted against examples_seen


def wandb_identity(config: dict, resumed: bool = False, scale: str = "adhoc") -> dict:
    """wandb.init's name, group, job_type and tags for a run's config.json content.

    Args:
        config: {"config": TrainConfig as a dict, "world_size": P, ...} (what RunSink.start writes).
        resumed: the run continues from a checkpoint (adds the tag `resumed`).
        scale: the grid scale the run belongs to (smoke | cpu | paper; adhoc for `largebatch.train`).
    """
    c = config.get("config", {})
    scale = str(scale or "adhoc")
    arm, study, batch = c.get("tag") or "default", c.get("study", "demo"), c.get("global_batch", "?")
    tags = [
        f"scale:{scale}",
        f"batch:{batch}",
        f"world:{config.get('world_size', 1)}",
        f"model:{c.get('model', '?')}",
        f"dataset:{c.get('dataset', '?')}",
    ]
    tags += ["resumed"] if resumed else []
    return {
        "name": f"{study}/{arm}/B{batch}/s{c.get('seed', 0)}",
        "group": f"{study}-{scale}",
        "job_type": arm,
        "tags": [t[:64] for t in tags],
    }


def define_axes(run) -> None:
    """examples_seen as every series' x-axis (batch sizes compare at equal data), epoch and step beside."""
    run.define_metric("examples_seen")
    run.define_metric("epoch", step_metric="examples_seen")
    run.define_metric("step", step_metric="examples_seen")
    for prefix in METRIC_PREFIXES:
        run.define_metric(f"{prefix}/*", step_metric="examples_seen")


def named(e: OSError, path) -> OSError:
    """`e` naming `path` when it names no file (a buffered write's or torch.save's error names none)."""
    if getattr(e, "filename", None):
        return e
    out = OSError(e.errno, e.strerror or str(e), str(path))
    out.__cause__ = e
    return out


_FIX = {
    errno.ENOSPC: "free disk space",
    errno.EDQUOT: "free disk space (or raise the quota)",
    errno.EROFS: "use a writable {option}",
    errno.EACCES: "use a writable {option}",
    errno.EPERM: "use a writable {option}",
    errno.ENOTDIR: "use a directory for {option}",
}


def oserror_text(
    e: OSError, option: str = "--out_dir", then: str = "then rerun the same command (it resumes)"
) -> str:
    """One line for a failed write: the file, the system's reason ("No space left on device", "Permission
    denied", ...) and the fix."""
    where = f" {e.filename}" if getattr(e, "filename", None) else " a run file"
    fix = _FIX.get(e.errno or 0, "check the path").format(option=option)
    return f"cannot write{where}: {e.strerror or e}; {fix}, {then}"


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file and rename: readers see the old file or the new, never half. A failed
    write (full disk, read-only directory) leaves the old file and no temporary one, and raises an
    OSError naming `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if e.filename in (None, str(tmp)):  # name the file the caller writes, not the temporary one
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


SUMMARY = "summary.json"
LOCK = ".lock"
WANDB_DIR = "wandb"  # wandb.init(dir=<run dir>) keeps its offline runs here


def read_summary(run_dir: str | Path) -> dict | None:
    """The run's summary if the run is complete, else None: the one completeness rule (CLI, sweep,
    collectors).

    Complete means summary.json exists, parses to an object with a status, and a run that finished
    (status "complete") carries its final test accuracy as a number; a diverged run is complete without
    metrics. A truncated or half-written summary, or one with null metrics, is not complete: rerunning
    resumes from the last checkpoint and writes it properly.
    """
    try:
        s = json.loads((Path(run_dir) / SUMMARY).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(s, dict) or s.get("status") not in ("complete", "diverged"):
        return None
    if s["status"] == "complete":
        acc = s.get("final_test_acc")
        if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not math.isfinite(acc):
            return None
    return s


def is_complete(run_dir: str | Path) -> bool:
    """True when `read_summary(run_dir)` finds a complete summary."""
    return read_summary(run_dir) is not None


class RunBusy(RuntimeError):
    """Another process holds the run directory's lock."""


class RunLock:
    """An exclusive lock on a run directory (fcntl.flock on <run_dir>/.lock) while a run writes it.

    The kernel drops the lock when the holder dies, so a killed run never leaves a stale lock.
    """

    def __init__(self, run_dir: str | Path):
        self.path, self._fd = Path(run_dir) / LOCK, None

    def acquire(self) -> RunLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            finally:
                os.close(fd)
            raise RunBusy(
                f"run directory {self.path.parent} is in use by another run (pid {holder}); wait "
                "for it to finish, or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def git_info() -> dict:
    from .paths import ROOT, source_checkout

    root = source_checkout() or ROOT  # the code's checkout; for a wheel, the repository it runs in
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "-uno"], cwd=root, capture_output=True, text=True, timeout=5
            ).stdout.strip()
        )
        return {"git_sha": sha or None, "git_dirty": dirty}
    except Exception:
        return {"git_sha": None, "git_dirty": None}


class RunSink:
    """Writes one run's files on the main rank; every method is a no-op elsewhere."""

    def __init__(self, run_dir: Path, is_main: bool, wandb_mode: str = "auto", scale: str = "adhoc"):
        self.dir, self.is_main, self._wandb = Path(run_dir), is_main, None
        self._wandb_mode, self._f, self.scale = wandb_mode, None, scale

    def start(self, config: dict, resume_step: int | None = None) -> None:
        """Write config.json; on resume keep metrics up to `resume_step` only (no duplicate rows)."""
        if not self.is_main:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.dir / "config.json", json.dumps(config, indent=1, default=str))
        path = self.dir / "metrics.jsonl"
        if resume_step is not None and path.exists():
            keep = [
                ln
                for ln in path.read_text().splitlines()
                if ln.strip() and _parse(ln) is not None and _parse(ln).get("step", 0) <= resume_step
            ]
            atomic_write_text(path, "".join(ln + "\n" for ln in keep))
        else:  # a fresh start (or --force): the old series, summary and W&B runs go, so none outlives its run
            path.unlink(missing_ok=True)
            (self.dir / SUMMARY).unlink(missing_ok=True)
            # `wandb sync runs/<study>/*/wandb/offline-run-*` would upload old trainings into this run's id
            shutil.rmtree(self.dir / WANDB_DIR, ignore_errors=True)
        try:
            self._f = open(path, "a")
        except OSError as e:
            raise named(e, path) from None
        self._start_wandb(config, resume_step)

    def _start_wandb(self, config: dict, resume_step: int | None = None) -> None:
        mode = os.environ.get("WANDB_MODE", "offline")
        if self._wandb_mode == "off" or mode == "disabled":
            return
        try:
            import wandb

            ident = wandb_identity(config, resumed=resume_step is not None, scale=self.scale)
            self._wandb = wandb.init(
                project=WANDB_PROJECT,
                id=self.dir.name,
                resume="allow",
                config={**config, "scale": self.scale, "resumed_at_step": resume_step},
                dir=str(self.dir),
                mode=mode,
                **ident,
                settings=wandb.Settings(silent=True, console="off"),
            )
            define_axes(self._wandb)
        except Exception as e:  # never let W&B stop training
            warnings.warn(f"W&B disabled for this run: {type(e).__name__}: {e}", stacklevel=2)
            self._wandb = None

    def log(self, record: dict) -> None:
        if not self.is_main:
            return
        rec = {k: _clean(v) for k, v in record.items() if not k.startswith("_")}
        try:
            self._f.write(json.dumps(rec) + "\n")
            self._f.flush()
        except OSError as e:  # a full disk: the run stops here (a record lost would be a hole in the
            # series); the rerun resumes from the last checkpoint and logs again from there
            raise named(e, self.dir / "metrics.jsonl") from None
        if self._wandb is not None:
            try:
                extra = {k[1:]: v for k, v in record.items() if k.startswith("_")}
                self._wandb.log({**rec, **extra}, step=int(record.get("step", 0)))
            except Exception as e:
                warnings.warn(f"W&B log failed, continuing without it: {e}", stacklevel=2)
                self._wandb = None

    def finish(self, summary: dict) -> None:
        """Write summary.json last (atomically), then close the W&B run."""
        if not self.is_main:
            return
        self._close_file()
        atomic_write_text(
            self.dir / "summary.json", json.dumps({k: _clean(v) for k, v in summary.items()}, indent=1)
        )
        if self._wandb is not None:
            try:
                for k, v in summary.items():
                    self._wandb.summary[k] = _clean(v)
            except Exception as e:
                warnings.warn(f"W&B summary failed: {e}", stacklevel=2)
        self._finish_wandb(0)

    def abort(self, exit_code: int) -> None:
        """A run that stops before its summary (Ctrl-C, SIGTERM: 130; an error: 1): close metrics.jsonl and
        finish the W&B run with `exit_code`, so the records logged so far are flushed to it (a resumed run
        then continues the same W&B run from its checkpoint, without a hole). Never raises."""
        if not self.is_main:
            return
        with contextlib.suppress(OSError):
            self._close_file()
        self._finish_wandb(exit_code)

    def _close_file(self) -> None:
        f, self._f = self._f, None
        if f is not None:
            try:
                f.close()
            except OSError as e:
                raise named(e, self.dir / "metrics.jsonl") from None

    def _finish_wandb(self, exit_code: int) -> None:
        run, self._wandb = self._wandb, None
        if run is not None:
            try:
                run.finish(exit_code=exit_code)
            except BaseException as e:  # noqa: BLE001 - W&B never stops a run, nor its interruption
                warnings.warn(f"W&B finish failed: {type(e).__name__}: {e}", stacklevel=2)


def _parse(line: str):
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None
