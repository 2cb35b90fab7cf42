"""Run a study's grid, one process (or one torchrun) per entry, skipping completed runs.

    python -m largebatch.sweep noise_scale [--scale=cpu] [--nproc=1] [--jobs=0] [--only=0,3,5] [--dry]
                                           [--subprocess] [--partial] [--no-resume] [--key=value ...]
    python -m largebatch.sweep lars --scale=paper --cluster=slurm --nodes=auto --nproc=8 --gpus_per_node=8 \
        [--partition=P] [--account=A] [--timeout_min=2880] [--no-wait] --data_dir=/data/imagenet

With --nproc=1 runs execute in this process (no interpreter start per run) unless --subprocess; with
--jobs=N (default: one per core) N of them train at a time in N worker processes, cores // N threads each
(largebatch.jobs; a run's id and numbers do not depend on N at a given thread count);
with --nproc > 1 each run is its own torchrun, whose output is streamed as it comes (rank 0's progress
bar and its "resumed at step N" line; torchrun's own failure report is kept in the log, not shown). A run
is complete when its summary.json holds its final metrics (metrics.read_summary), so an interrupted sweep
picks up where it stopped (and an interrupted run resumes from its checkpoint; --no-resume starts the
runs it launches over). A failed run's output is kept in its run directory and its cause printed.

--cluster=slurm submits every missing run as one job through submitit (SLURM): --nodes > 1 starts a
multi-node torchrun inside the job (one task per node, rendezvous at the job's first node; --nodes=auto
gives each run B / (nproc x n) nodes, one worker per process as the papers ran); the same
skip-finished and resume rules apply, and a preempted or timed-out job is requeued and resumes from its
checkpoint. --cluster=local runs the jobs through submitit's local executor (the tests use it). Job logs go
to <out_dir>/<study>/_submitit/. Without --no-wait the sweep waits for its jobs and then collects.

After the grid, the study's `collect()` (if any) rewrites its CSVs under paper_figures/data/ atomically,
but never with fewer rows than the committed ones unless --partial.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from .cli import normalize
from .cli import run as run_one
from .cmdline import Command, UsageError, exit_with, usage_error
from .config import ConfigError, make_config, parse_overrides, run_id
from .csvcheck import DataFileError
from .jobs import default_jobs
from .metrics import is_complete, oserror_text
from .paths import ROOT
from .progress import is_tty  # the repository root: runs/ and the working directory of launched runs
from .study import discover
from .study import get as get_study
from .tables import ShrinkError, allow_partial
from .trainer import run_dir


def study_module(name: str, part: str = "config"):
    """The study's part module (largebatch.study): None if the study has no such file."""
    return get_study(name).module(part)


def launch_cmd(
    name: str, index: int, scale: str, nproc: int, extra: list[str], nodes: int = 1, rdzv: str = ""
) -> list[str]:
    """The command of one run: python -m <study>.run (nproc 1), a standalone torchrun, or with nodes > 1
    one node's part of a multi-node torchrun that meets at `rdzv` (host:port)."""
    args = ["-m", get_study(name).run_module, f"--index={index}", f"--scale={scale}"]
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    if nodes > 1:
        return [
            torchrun,
            f"--nnodes={nodes}",
            f"--nproc_per_node={nproc}",
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint={rdzv}",
            f"--rdzv-id={name}-{index}",
            *args,
            *extra,
        ]
    if nproc > 1:
        return [torchrun, "--standalone", f"--nproc_per_node={nproc}", *args, *extra]
    return [sys.executable, *args, *extra]


# torchrun's own report lines: its logger ("E1127 17:40:01.123 4242 torch/...") and the failure summary.
_LAUNCHER_LINE = re.compile(
    r"[EWI]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ |^\*{20,}$|^(WARNING|ERROR|INFO):torch\."
    r"|^Setting OMP_NUM_THREADS"
)  # (the logger's lines may follow a \r bar update)
_LAUNCHER_FAILURE = re.compile(
    r"ChildFailedError|^Traceback \(most recent call last\)"
    r"|torch\.distributed\.elastic"
)


class _Forward:
    """Copies one pipe of a child to our stream as it arrives (\\r-terminated progress updates too), keeping
    everything for the failure log; torchrun's own log lines are not shown, and nothing after its failure
    report starts."""

    def __init__(self, pipe, out):
        self.pipe, self.out, self.kept, self.muted = pipe, out, [], False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _show(self, piece: str) -> None:
        line = piece.rstrip("\r\n")
        if _LAUNCHER_FAILURE.search(line):
            self.muted = True
        if self.muted:
            return
        m = _LAUNCHER_LINE.search(line)
        if m:  # show what came before it on the line (a progress update), drop the launcher's text
            piece = piece[: m.start()]
            if not piece:
                return
        try:
            self.out.write(piece)
            self.out.flush()
        except (OSError, ValueError):
            pass

    def _run(self) -> None:
        dec, partial = codecs.getincrementaldecoder("utf-8")(errors="replace"), ""
        while True:
            chunk = os.read(self.pipe.fileno(), 8192)
            text = dec.decode(chunk, final=not chunk)
            self.kept.append(text)
            partial += text
            pieces = re.split(r"(?<=[\r\n])", partial)
            partial = pieces.pop() if pieces and not pieces[-1].endswith(("\r", "\n")) else ""
            for piece in pieces:
                if piece:
                    self._show(piece)
            if not chunk:
                if partial:
                    self._show(partial)
                return

    def text(self) -> str:
        self.thread.join()
        return "".join(self.kept)


def run_streamed(cmd: list[str], cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `cmd`, streaming its stdout and stderr to ours as they come; returns them all, as
    subprocess.run(capture_output=True) would."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = _Forward(proc.stdout, sys.stdout), _Forward(proc.stderr, sys.stderr)
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # the child got the same Ctrl-C; let it write its checkpoint and exit
        code = proc.wait()
    return subprocess.CompletedProcess(cmd, code, out.text(), err.text())


RUN_FLAGS = ("--no-resume",)  # passed through to every run launched (not TrainConfig overrides)
RUN_LOG = "sweep_run.log"  # a failed run's full output, kept in its run directory
_OWN_ERROR = re.compile(r"^(config|data|checkpoint|run) error")


def failure_excerpt(text: str, lines: int = 15) -> str:
    """The lines of a failed run's output that say why: its own one-line errors when there are any, else
    the last lines before torchrun's summary (which would otherwise push the real error out of view)."""
    all_lines = text.splitlines()
    own = list(dict.fromkeys(ln for ln in all_lines if _OWN_ERROR.match(ln)))
    if own:
        return "\n".join(own[:5])
    cut = next((i for i, ln in enumerate(all_lines) if "ChildFailedError" in ln), len(all_lines))
    tb = [i for i, ln in enumerate(all_lines[:cut]) if ln.startswith("Traceback (most recent call last)")]
    if cut < len(all_lines) and tb:
        cut = tb[-1]  # torchrun's own traceback starts here; the rank's error is above it
    return "\n".join(all_lines[:cut][-lines:])


class _Tee(io.TextIOBase):
    """Within `with`, sys.<name> is also copied into a buffer (an in-process run's log)."""

    def __init__(self, name: str):
        self.name, self.buf, self.orig = name, io.StringIO(), None

    def __enter__(self) -> _Tee:
        self.orig = getattr(sys, self.name)
        setattr(sys, self.name, self)
        return self

    def __exit__(self, *exc) -> None:
        setattr(sys, self.name, self.orig)

    def write(self, s: str) -> int:
        self.buf.write(s)
        return self.orig.write(s)

    def flush(self) -> None:
        self.orig.flush()

    def isatty(self) -> bool:
        return self.orig.isatty()

    def fileno(self) -> int:
        return self.orig.fileno()

    def text(self) -> str:
        return self.buf.getvalue()


def _keep_log(cfg, text: str) -> Path | None:
    d = run_dir(cfg)
    try:
        d.mkdir(parents=True, exist_ok=True)
        (d / RUN_LOG).write_text(text)
        return d / RUN_LOG
    except OSError:
        return None


def run_sweep(
    name: str,
    scale: str = "cpu",
    nproc: int = 1,
    only: list[int] | None = None,
    extra: list[str] | None = None,
    dry: bool = False,
    subprocess_runs: bool = False,
    partial: bool = False,
    jobs: int = 1,
) -> int:
    """Run every missing entry of the study's grid; returns the number of failed runs.

    A run is complete when `metrics.read_summary` finds its final metrics. A failed run's full output is
    kept in its run directory (sweep_run.log; an in-process run's traceback in error.log) and its cause is
    printed. The study's collect() then refuses to shrink a committed CSV unless `partial`.
    With `jobs` > 1 (single-process, in-process runs only), up to `jobs` runs train at a time, each with
    cores // jobs threads (largebatch.jobs); runs marked `exclusive` then run alone, one at a time.
    """
    from tqdm.auto import tqdm

    extra = normalize(list(extra or []), RUN_FLAGS)
    cfgs, todo = plan(name, scale, only, extra)
    failed = []
    own = {i: cfgs[i].nproc or nproc for i in todo}  # a grid entry may ask for its own process count
    pooled = (
        []
        if dry or subprocess_runs or jobs <= 1
        else [i for i in todo if own[i] == 1 and not cfgs[i].exclusive]
    )
    if len(pooled) > 1:
        failed += _run_pooled(name, scale, cfgs, pooled, extra, min(jobs, len(pooled)))
        todo = [i for i in todo if i not in pooled]
    streamed = any(own[i] > 1 for i in todo) or subprocess_runs  # a child draws its own progress bar
    # no bar in a log (each run prints its own plain progress lines there: largebatch.progress)
    off = streamed or dry or not todo or not is_tty()
    bar = tqdm(todo, desc=name, unit="run", dynamic_ncols=True, disable=off)
    for k, i in enumerate(bar):
        bar.set_postfix_str(run_id(cfgs[i]))
        cmd = launch_cmd(name, i, scale, own[i], extra)
        if dry:
            print(" ".join(cmd))
            continue
        t = time.time()
        if own[i] == 1 and not subprocess_runs:  # in this process: the TrainConfig itself, no command line
            with _Tee("stdout") as out, _Tee("stderr") as err:
                code = run_one(cfgs[i], scale, fresh="--no-resume" in extra)
            r = subprocess.CompletedProcess(cmd, code, out.text(), err.text())
        else:
            print(f"[sweep] run {k + 1}/{len(todo)}: index {i}, {run_id(cfgs[i])}", flush=True)
            r = run_streamed(cmd)
        if r.returncode == 130:
            raise KeyboardInterrupt
        if r.returncode != 0:
            failed.append(i)
            tqdm.write(
                _failure_report(
                    cfgs[i], i, r.returncode, (r.stdout or "") + (r.stderr or ""), time.time() - t
                )
            )
    if not dry:
        if collect_study(name, scale, Path(cfgs[0].out_dir) if cfgs else ROOT / "runs", partial) is None:
            failed.append("collect")  # the runs are complete; the CSVs were left as they were
    runs_failed = [i for i in failed if i != "collect"]
    if runs_failed:
        print(
            f"[sweep] {len(runs_failed)} run(s) failed: {runs_failed}; rerun the same command to retry them"
        )
    if "collect" in failed:
        print("[sweep] the runs are kept; collect them with the study's collect (see above) or --partial")
    return len(failed)


def _failure_report(cfg, i: int, code: int, out: str, seconds: float) -> str:
    """The lines a failed run gets: its cause, and where its full output is kept."""
    log = _keep_log(cfg, out) if out else None
    tb = run_dir(cfg) / "error.log"
    where = log or (tb if tb.exists() else None)
    why = failure_excerpt(out) if out else "(no output)"
    return f"[sweep] run {i} ({run_id(cfg)}) failed rc={code} after {seconds:.0f}s:\n{why}" + (
        f"\n[sweep] full log: {where}" if where else ""
    )


def _run_pooled(name: str, scale: str, cfgs: list, todo: list[int], extra: list[str], jobs: int) -> list[int]:
    """Run `todo` on a pool of `jobs` in-process workers (largebatch.jobs): one line per finished run, an
    overall bar on a terminal only; returns the failed indices. Ctrl-C stops every running run (they exit
    as interrupted runs do, resumable) and raises KeyboardInterrupt."""
    from tqdm.auto import tqdm

    from .jobs import Pool, Task, threads_per_job

    threads = threads_per_job(jobs)
    set_threads = not any(a.startswith("--threads=") for a in extra)
    fresh = "--no-resume" in extra
    tasks = []
    for i in todo:  # each worker gets the TrainConfig (overrides applied by plan), without a progress bar
        cfg = replace(cfgs[i], progress=False)
        if set_threads and cfg.threads == 0:
            cfg = replace(cfg, threads=threads)
        tasks.append(Task(i, cfg, scale, fresh))
    print(f"[sweep] {len(todo)} run(s), {jobs} at a time, {threads} thread(s) each", flush=True)
    failed: list[int] = []
    bar = tqdm(total=len(todo), desc=name, unit="run", dynamic_ncols=True, disable=not sys.stderr.isatty())
    finished = 0

    def on_done(d) -> None:
        nonlocal finished
        finished += 1
        bar.update(1)
        if d.code == 130:
            tqdm.write(f"[sweep] run {d.index} ({run_id(cfgs[d.index])}) interrupted after {d.seconds:.0f}s")
        elif d.code != 0:
            failed.append(d.index)
            tqdm.write(_failure_report(cfgs[d.index], d.index, d.code, d.output, d.seconds))
        else:
            last = (d.output.strip().splitlines() or [""])[-1]
            tqdm.write(f"[sweep] {finished}/{len(todo)} index {d.index}: {last}")

    try:
        with Pool(jobs, threads) as pool:
            pool.run(tasks, on_done)
    finally:
        bar.close()
    return failed


def plan(name: str, scale: str, only: list[int] | None, extra: list[str]) -> tuple[list, list[int]]:
    """The grid (with the overrides in `extra` applied) and the indices still to run; prints the count."""
    over = parse_overrides([a for a in extra if a not in RUN_FLAGS])
    cfgs = [make_config(c, **over) for c in study_module(name).grid(scale)]
    outside = [i for i in only or () if not 0 <= i < len(cfgs)]
    if outside:  # not a silent no-op: the user meant some run
        raise ConfigError(
            f"--only={','.join(map(str, only))}: index {outside[0]} is not in the {scale} grid of {name}, "
            f"which has {len(cfgs)} entries (0..{len(cfgs) - 1}; `--dry` lists them)"
        )
    chosen = [i for i in range(len(cfgs)) if only is None or i in only]
    todo = [i for i in chosen if not is_complete(run_dir(cfgs[i]))]
    sel = f", {len(chosen)} selected" if only is not None else ""
    print(
        f"[sweep] {name} ({scale}): {len(cfgs)} runs{sel}, {len(chosen) - len(todo)} already complete, "
        f"{len(todo)} to run",
        flush=True,
    )
    return cfgs, todo


class ClusterRun:
    """One run of a grid as a submitit job: the local sweep's command, or on several nodes one node's
    part of a multi-node torchrun (rendezvous at the job's first node). Requeued on preemption or
    timeout; the rerun resumes from the run's checkpoint."""

    def __init__(
        self, name: str, index: int, scale: str, nproc: int, nodes: int, extra: list[str], port: int = 29500
    ):
        self.name, self.index, self.scale, self.nproc, self.nodes = name, index, scale, nproc, nodes
        self.extra, self.port = list(extra), port

    def command(self, env=None) -> list[str]:
        rdzv = ""
        if self.nodes > 1:
            if env is None:
                import submitit

                env = submitit.JobEnvironment()
            rdzv = f"{env.hostnames[0]}:{self.port}"
        return launch_cmd(self.name, self.index, self.scale, self.nproc, self.extra, self.nodes, rdzv)

    def __call__(self) -> int:
        r = run_streamed(self.command(), cwd=ROOT)
        if r.returncode != 0:
            raise RuntimeError(
                f"run {self.index} of {self.name} failed rc={r.returncode}:\n"
                f"{failure_excerpt((r.stdout or '') + (r.stderr or ''))}"
            )
        return r.returncode

    def checkpoint(self, *args, **kwargs):
        """submitit's preemption/timeout hook: requeue the same run (it resumes from its checkpoint)."""
        import submitit

        return submitit.helpers.DelayedSubmission(
            ClusterRun(self.name, self.index, self.scale, self.nproc, self.nodes, self.extra, self.port)
        )


def auto_nodes(cfg, nproc: int, max_nodes: int = 128) -> int:
    """Nodes for one run with one worker of n examples per process (the papers' setting): B / (nproc n),
    at most max_nodes, lowered until the processes divide B (the rest become virtual workers)."""
    per_node = nproc * cfg.per_worker_batch
    n = max(1, min(max_nodes, cfg.global_batch // per_node))
    while n > 1 and cfg.global_batch % (n * per_node):
        n -= 1
    return n


def executor(
    cluster: str,
    folder: Path,
    nodes: int = 1,
    nproc: int = 1,
    gpus_per_node: int = 0,
    partition: str = "",
    account: str = "",
    timeout_min: int = 24 * 60,
    cpus_per_task: int = 0,
):
    """A submitit executor: SLURM (one task per node, each starting torchrun --nproc_per_node) or local."""
    import submitit

    if cluster == "local":
        ex = submitit.LocalExecutor(folder=folder)
        ex.update_parameters(timeout_min=timeout_min)
        return ex
    ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
    params = {
        "nodes": nodes,
        "tasks_per_node": 1,
        "timeout_min": timeout_min,
        "cpus_per_task": cpus_per_task or max(1, nproc) * 4,
        "slurm_signal_delay_s": 120,
    }
    if gpus_per_node:
        params["gpus_per_node"] = gpus_per_node
    if partition:
        params["slurm_partition"] = partition
    if account:
        params["slurm_account"] = account
    ex.update_parameters(**params)
    return ex


def run_cluster(
    name: str,
    scale: str = "paper",
    nproc: int = 1,
    nodes: int = 1,
    only: list[int] | None = None,
    extra: list[str] | None = None,
    cluster: str = "slurm",
    wait: bool = True,
    dry: bool = False,
    partial: bool = False,
    max_nodes: int = 128,
    **executor_kw,
) -> int:
    """Submit every missing run of the grid as one submitit job; returns the number of failed jobs (0 when
    not waiting). The same completeness rule as run_sweep decides what is missing. nodes=0: each run gets
    `auto_nodes` (one process per worker, as the papers ran)."""
    extra = normalize(list(extra or []), RUN_FLAGS)
    cfgs, todo = plan(name, scale, only, extra)
    if dry or not todo:
        for i in todo:
            n_i = nodes or auto_nodes(cfgs[i], nproc, max_nodes)
            print(
                f"[{n_i} node(s)] "
                + " ".join(
                    ClusterRun(name, i, scale, nproc, n_i, extra).command(
                        env=type("E", (), {"hostnames": ["$HEAD_NODE"]})()
                    )
                )
            )
        if not dry and todo == [] and cfgs:
            collect_study(name, scale, Path(cfgs[0].out_dir), partial)
        return 0
    folder = Path(cfgs[0].out_dir) / name / "_submitit"
    jobs = []
    for i in todo:
        n_i = nodes or auto_nodes(cfgs[i], nproc, max_nodes)
        ex = executor(cluster, folder, nodes=n_i, nproc=nproc, **executor_kw)
        ex.update_parameters(name=f"{name}-{i}")
        job = ex.submit(ClusterRun(name, i, scale, nproc, n_i, extra))
        jobs.append((i, job))
        print(f"[sweep] submitted run {i} ({run_id(cfgs[i])}) as job {job.job_id}", flush=True)
    if not wait:
        print(
            f"[sweep] {len(jobs)} job(s) submitted; logs in {folder}; rerun the same command to collect "
            "(finished runs are skipped)"
        )
        return 0
    failed = []
    for i, job in jobs:
        try:
            job.result()
        except Exception as e:  # a failed job: its own error, not the executor's wrapping
            failed.append(i)
            text = str(e).strip().splitlines()
            print(
                f"[sweep] run {i} ({run_id(cfgs[i])}) failed (job {job.job_id}): "
                f"{text[-1] if text else type(e).__name__}; logs in {folder}",
                flush=True,
            )
    collect_study(name, scale, Path(cfgs[0].out_dir), partial)
    if failed:
        print(f"[sweep] {len(failed)} job(s) failed: {failed}; rerun the same command to retry them")
    return len(failed)


def collect_study(name: str, scale: str, runs_dir: Path, partial: bool = False) -> list[Path] | None:
    """The study's collect() (if any, through largebatch.study: the scale guard first): the paths written,
    or None when it refused or failed (printed, not raised: the sweep then exits nonzero, its runs kept)."""
    try:
        with allow_partial(partial):
            paths = get_study(name).collect(scale, runs_dir=runs_dir)
    except ShrinkError as e:
        print(f"[sweep] collect: {e}", file=sys.stderr)
        return None
    except DataFileError as e:  # a malformed committed CSV, a run whose files disagree: nothing written
        print(f"[sweep] collect error: {e}", file=sys.stderr)
        return None
    except OSError as e:
        print(f"[sweep] collect error: {oserror_text(e, 'data directory', 'then rerun')}", file=sys.stderr)
        return None
    for path in paths:
        print(f"[sweep] wrote {path}")
    return paths


@dataclass
class Options:
    study: str = ""  # the study whose grid runs (experiments/<study>/config.py)
    scale: Literal["smoke", "cpu", "paper"] = "cpu"  # which grid: smoke (seconds), cpu, paper (the papers')
    only: str = ""  # comma-separated grid indices, e.g. 0,3,5 ("" = the whole grid)
    dry: bool = False  # print the command of every missing run; run nothing
    resume: bool = True  # shown as --no-resume: start the runs it launches over, not from their checkpoints
    partial: bool = False  # let collect() write CSVs with fewer rows than the committed ones
    nproc: int = 1  # processes per run (a torchrun when > 1)
    jobs: int = 0  # single-process runs at a time, cores // jobs threads each (0 = one per core, at most 8)
    subprocess: bool = False  # one interpreter per run instead of in-process runs (nproc = 1)
    cluster: str = ""  # submit the missing runs as jobs (local = submitit's executor on this machine)
    nodes: str = "1"  # nodes per run (multi-node torchrun when > 1); auto = B / (nproc x n), <= max_nodes
    max_nodes: int = 128  # cap of --nodes=auto
    gpus_per_node: int = 0  # GPUs per node to request (0 = none)
    partition: str = ""  # SLURM partition
    account: str = ""  # SLURM account
    timeout_min: int = 24 * 60  # job time limit, minutes
    wait: bool = True  # shown as --no-wait: return after submitting (rerun the same command to collect)


def command() -> Command:
    return Command(
        "python -m largebatch.sweep",
        "Run a study's grid, one process (or one torchrun) per entry, skipping completed runs; then the "
        "study's collect() rewrites its CSVs.",
        Options,
        positional=("study",),
        choices={
            "study": lambda: [s.name for s in discover() if s.has("config")],
            "cluster": ("slurm", "local"),
        },
        sections={
            "which runs": ("scale", "only", "dry", "resume", "partial"),
            "how (this machine)": ("nproc", "jobs", "subprocess"),
            "cluster (submitit): one job per run": (
                "cluster",
                "nodes",
                "max_nodes",
                "gpus_per_node",
                "partition",
                "account",
                "timeout_min",
                "wait",
            ),
        },
        extra="TrainConfig overrides applied to every run of the grid (`python -m largebatch.train --help`)",
    )


def main(argv=None) -> int:
    try:
        a, extra = command().parse(sys.argv[1:] if argv is None else argv)
    except UsageError as e:
        return usage_error("sweep", str(e))
    if not a.resume:
        extra = [*extra, "--no-resume"]
    try:
        only = [int(i) for i in a.only.split(",") if i] or None
    except ValueError:
        return usage_error("sweep", f"--only={a.only!r}: give comma-separated grid indices, e.g. --only=0,3")
    if a.nproc < 1:
        return usage_error("sweep", f"--nproc={a.nproc}: must be >= 1")
    if a.jobs < 0:
        return usage_error("sweep", f"--jobs={a.jobs}: give 0 (auto) or a number of runs at a time")
    nodes = 0 if a.nodes == "auto" else int(a.nodes) if a.nodes.isdigit() else -1
    if nodes < 0 or (nodes != 1 and not a.cluster):
        why = "give a number >= 1 or auto, and other than 1 only with --cluster=slurm"
        return usage_error("sweep", f"--nodes={a.nodes}: {why}")
    try:
        if a.cluster:
            kw = {
                k: getattr(a, k)
                for k in ("gpus_per_node", "partition", "account", "timeout_min", "max_nodes")
            }
            return (
                1
                if run_cluster(
                    a.study, a.scale, a.nproc, nodes, only, extra, a.cluster, a.wait, a.dry, a.partial, **kw
                )
                else 0
            )
        jobs = a.jobs or default_jobs()
        return (
            1
            if run_sweep(a.study, a.scale, a.nproc, only, extra, a.dry, a.subprocess, a.partial, jobs)
            else 0
        )
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "[sweep] interrupted; rerun the same command to continue (finished runs are skipped, the "
            "interrupted one resumes from its checkpoint)",
            file=sys.stderr,
        )
        return 130


def cli() -> None:
    """The console script `largebatch-sweep`."""
    exit_with(main, name="sweep")


if __name__ == "__main__":
    cli()
