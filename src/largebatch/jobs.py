"""Several runs of a grid at a time: a pool of worker processes, each running its runs in-process.

On a small machine, independent one-thread runs side by side beat one run on every core: measured on 2
cores with the small MLP step (784-200-10), two one-thread processes did 1.26-1.69x the examples per second
of one two-thread process (benchmarks/README.md, `jobs` rows), and a two-thread run collapses as soon as
anything else holds a core. `largebatch.sweep --jobs=N` therefore starts N workers (spawned interpreters:
torch is imported once per worker, not once per run, so noise_scale's sub-second runs stay cheap), each
with torch.set_num_threads(cores // N), and hands them grid indices. A run's id and results do not depend on
how many runs shared the machine: `threads` is not part of the run id (largebatch.runid.NOT_HASHED), and a
run at the same thread count gives the same numbers bit for bit whether it ran alone or beside another
(tests/test_jobs.py).

Output: one line per finished run (its own final line, or the cause of its failure); the per-run progress
bars are off in workers (many bars on one terminal fight). Ctrl-C (to the terminal's process group, or to
this process alone) reaches every worker as one interrupt: each running run stops at its next step and
exits as an interrupted run does (rerun to resume), the queue is dropped, and the sweep exits 130.

Runs that must run alone (a TrainConfig with `exclusive=True`, e.g. a run whose wall-clock time is a
result, and every multi-process torchrun) never enter the pool: the sweep runs them one at a time after it.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import queue
import signal
import sys
import time
from dataclasses import dataclass

from .config import TrainConfig

_STOP = None  # the sentinel a worker reads as "no more runs"
_INTERRUPT = signal.SIGUSR1  # parent -> worker: stop the current run as Ctrl-C would


def cores() -> int:
    """CPU cores this process may use (the affinity mask where there is one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def default_jobs() -> int:
    """Runs side by side when --jobs is not given: one one-thread run per core (measured on 2 cores,
    benchmarks/README.md), at most 8."""
    return max(1, min(8, cores()))


def threads_per_job(jobs: int) -> int:
    """torch threads of each of `jobs` runs side by side: cores // jobs, at least 1."""
    return max(1, cores() // max(1, jobs))


@dataclass(frozen=True)
class Task:
    """One run for a worker: its TrainConfig, handed to largebatch.cli.run (no command line)."""

    index: int
    cfg: TrainConfig
    scale: str = "cpu"
    fresh: bool = False  # start over instead of resuming (--no-resume)


@dataclass(frozen=True)
class Done:
    """What a worker sends back for one run."""

    index: int
    code: int
    output: str
    seconds: float
    worker: int


class _Interrupted(Exception):
    pass


def _on_interrupt(signum, frame):  # a worker's SIGUSR1 while a run trains: Ctrl-C for that run
    raise KeyboardInterrupt


def _worker(wid: int, threads: int, tasks, results) -> None:
    """A worker process: ignore the terminal's Ctrl-C (the parent forwards one interrupt as SIGUSR1), set
    the thread count once, then run tasks in-process until the sentinel."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(_INTERRUPT, signal.SIG_IGN)
    import torch

    from .cli import run as run_one

    torch.set_num_threads(threads)
    parent = os.getppid()
    while True:
        try:
            task = tasks.get(timeout=2.0)
        except queue.Empty:
            if os.getppid() != parent:  # the sweep was killed: no orphan waits on its queue forever
                return
            continue
        if task is _STOP:
            return
        out, err = sys.stdout, sys.stderr
        buf = io.StringIO()
        t = time.time()
        sys.stdout = sys.stderr = buf
        signal.signal(_INTERRUPT, _on_interrupt)
        try:
            code = run_one(task.cfg, task.scale, fresh=task.fresh)
        except KeyboardInterrupt:
            code = 130
        except BaseException as e:  # noqa: BLE001 - a worker must report, never die silently
            buf.write(f"run error: {type(e).__name__}: {e}\n")
            code = 1
        finally:
            signal.signal(_INTERRUPT, signal.SIG_IGN)
            sys.stdout, sys.stderr = out, err
        results.put(Done(task.index, int(code), buf.getvalue(), time.time() - t, wid))


class Pool:
    """N worker processes that run grid entries in-process; `run(tasks, on_done)` feeds them."""

    def __init__(self, jobs: int, threads: int):
        self.jobs, self.threads = jobs, threads
        ctx = mp.get_context("spawn")
        self.tasks, self.results = ctx.Queue(), ctx.Queue()
        self.procs = [
            ctx.Process(target=_worker, args=(w, threads, self.tasks, self.results), daemon=True)
            for w in range(jobs)
        ]
        for p in self.procs:
            p.start()

    def run(self, tasks: list[Task], on_done) -> None:
        """Run every task, calling on_done(Done) as each finishes (in finishing order).

        Raises:
            KeyboardInterrupt: after Ctrl-C, once every running run has stopped (queued ones never start).
            RuntimeError: a worker process died (its run's output is lost; rerun to retry it).
        """
        pending = list(tasks)
        running = 0
        try:
            while running < self.jobs and pending:
                self.tasks.put(pending.pop(0))
                running += 1
            while running:
                done = self._next()
                running -= 1
                on_done(done)
                if pending:
                    self.tasks.put(pending.pop(0))
                    running += 1
        except KeyboardInterrupt:
            self._drain_interrupted(running, on_done)
            raise

    def _next(self) -> Done:
        while True:
            try:
                return self.results.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in self.procs if not p.is_alive()]
                if dead:
                    raise RuntimeError(
                        f"sweep worker {self.procs.index(dead[0])} died (exit {dead[0].exitcode}); "
                        "rerun the same command to retry its run"
                    ) from None

    def _drain_interrupted(self, running: int, on_done) -> None:
        """Forward one interrupt to every worker, then wait for the running runs to stop."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the wait short
        try:
            for p in self.procs:
                if p.is_alive():
                    os.kill(p.pid, _INTERRUPT)
            deadline = time.time() + 120
            while running and time.time() < deadline:
                try:
                    on_done(self.results.get(timeout=1.0))
                    running -= 1
                except queue.Empty:
                    if not any(p.is_alive() for p in self.procs):
                        break
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def close(self) -> None:
        for _ in self.procs:
            try:
                self.tasks.put(_STOP)
            except (OSError, ValueError):
                pass
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["Task", "Done", "Pool", "cores", "default_jobs", "threads_per_job"]
