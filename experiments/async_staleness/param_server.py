"""Real asynchronous SGD on torch.distributed: a parameter server (rank 0) and K workers over gloo p2p.

Each worker pulls the parameters (with their version), computes the gradient of its own minibatch of
n = per_worker_batch examples, waits an injected delay (its "speed") and pushes the gradient back;
the server is the only optimizer. Modes (Dean et al. 2012 Downpour; Chen et al., arXiv 1604.00981):

  async   the server applies each gradient as it arrives; its staleness is
          tau = server version - version the worker computed at
  sync    the server waits for the K gradients of the current version and applies their mean
          (the same update as an allreduce of K workers, B = K n)
  backup  K = N + b workers; the server applies the mean of the first N gradients of the current
          version and drops the b late ones (their workers get the new parameters)

Injected delays (ms, per gradient, per-worker RNG): none | const | exp | lognormal (sigma 1), each with
mean `delay_ms`, times `straggler_x` with probability `straggler_p` (heavy-tailed stragglers).

    torchrun --standalone --nproc_per_node=9 -m experiments.async_staleness.param_server \
        --mode=async --delay=lognormal --delay_ms=4 --updates=3000 --optimizer=sgd --lr_base=0.05
    python -m experiments.async_staleness.param_server --sweep [--scale=cpu]   # the study's real runs

Run directories are the core's: runs/<study>/<run_id>/{config.json, metrics.jsonl, summary.json} via
largebatch.metrics.RunSink, plus updates.csv (one row per gradient the server received) and, per
worker, pushes_w<rank>.csv (one row per gradient it sent). Models must be BN-free (no running
statistics travel). The server's clock (`train_s`, `time/s`) excludes its evaluations.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from largebatch.config import ConfigError, TrainConfig, make_config, parse_overrides, resolve, to_dict
from largebatch.data import DataError, EpochSampler, load
from largebatch.metrics import (
    RunBusy,
    RunLock,
    RunSink,
    atomic_write_text,
    git_info,
    is_complete,
    oserror_text,
)
from largebatch.models import has_batchnorm, model_for
from largebatch.optim import build_optimizer, set_lr
from largebatch.runid import NOT_HASHED, hash8, nondefault
from largebatch.validate import RANGES, check_data, check_ranges

from .config import real_grid
from .server_config import DELAYS, MODES, SERVER_FIELDS, SERVER_RANGES, ServerConfig  # noqa: F401

_HDR = 4  # header: worker->server [version, seq, loss sum, examples]; server->worker [version, stop, 0, 0]


def check(cfg: TrainConfig, sc: ServerConfig, workers: int) -> None:
    """Raise ConfigError (one line, the field and the fix) for a bad combination."""
    resolve(cfg, 1)
    if sc.mode not in MODES:
        raise ConfigError(f"--mode={sc.mode!r}: choose one of {MODES}")
    if sc.delay not in DELAYS:
        raise ConfigError(f"--delay={sc.delay!r}: choose one of {DELAYS}")
    check_ranges(sc, SERVER_RANGES)
    if workers < 1:
        raise ConfigError("param_server needs >= 2 processes: rank 0 serves, ranks 1..K work")
    if sc.mode == "backup" and not 0 < sc.backups < workers:
        raise ConfigError(f"--backups={sc.backups}: backup mode needs 0 < b < K={workers}")


def run_id(cfg: TrainConfig, sc: ServerConfig, workers: int) -> str:
    """`<study>-real-<hash8>-s<seed>`; the hash covers the non-default fields of both configs and K."""
    d = nondefault(cfg, NOT_HASHED)
    d.update({f"server.{k}": v for k, v in nondefault(sc).items()})
    d["workers"] = workers
    return f"{cfg.study}-real-{hash8(d)}-s{cfg.seed}"


def run_dir(cfg: TrainConfig, sc: ServerConfig, workers: int) -> Path:
    return Path(cfg.out_dir) / cfg.study / run_id(cfg, sc, workers)


# ---- the server's bookkeeping: pure, driven by (src, message) pairs, so it is unit-testable ----


class Server:
    """Versions, staleness and who-gets-what of the parameter server, independent of the transport.

    `on_message(src, version, seq)` returns (apply, reply): `apply` is the list of (src, seq) whose
    gradients to average into one update now (empty: keep waiting or drop), `reply` the workers to send
    the current parameters to (after the update). Every received gradient is logged exactly once in
    `log` as (server version before it, worker, seq, worker version, staleness, applied 0/1).
    """

    def __init__(self, mode: str, workers: int, backups: int, updates: int):
        self.mode, self.K, self.updates = mode, workers, updates
        self.need = 1 if mode == "async" else workers - (backups if mode == "backup" else 0)
        self.version, self.pending, self.log = 0, [], []
        self.busy = set(range(1, workers + 1))  # workers holding parameters, a gradient to come
        self.stopped: set[int] = set()

    @property
    def done(self) -> bool:
        return self.version >= self.updates

    def on_message(self, src: int, version: int, seq: int) -> tuple[list, list]:
        self.busy.discard(src)
        tau = self.version - version
        if self.mode != "async" and (tau != 0 or self.done):  # computed at an older version: dropped
            self.log.append((self.version, src, seq, version, tau, 0))
            return [], self._give([src])
        self.log.append((self.version, src, seq, version, tau, 1))  # async: in-flight ones too
        self.pending.append((src, seq))
        if len(self.pending) < self.need:
            return [], []
        apply, self.pending = self.pending, []
        self.version += 1
        return apply, self._give([w for w, _ in apply])

    def _give(self, ws: list) -> list:
        """Workers that get the current parameters now (none once the budget is spent)."""
        if self.done:
            return []
        self.busy.update(ws)
        return ws

    def to_stop(self) -> list:
        """Idle workers to send STOP to, once the update budget is spent."""
        idle = [w for w in range(1, self.K + 1) if w not in self.busy and w not in self.stopped]
        self.stopped.update(idle)
        return idle


# ---- processes ----


def _delay_s(sc: ServerConfig, g: torch.Generator) -> float:
    u = torch.rand(2, generator=g, dtype=torch.float64).tolist()
    if sc.delay == "none" or sc.delay_ms <= 0:
        d = 0.0
    elif sc.delay == "const":
        d = sc.delay_ms
    elif sc.delay == "exp":
        d = -sc.delay_ms * math.log(1.0 - u[0])
    else:  # lognormal, sigma = 1, mean delay_ms
        z = float(torch.randn(1, generator=g, dtype=torch.float64))
        d = sc.delay_ms * math.exp(z - 0.5)
    if u[1] < sc.straggler_p:
        d *= sc.straggler_x
    return d / 1000.0


def _flat_params(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _set_flat(model, flat: torch.Tensor, grad: bool = False) -> None:
    i = 0
    for p in model.parameters():
        n = p.numel()
        if grad:
            p.grad = flat[i : i + n].view_as(p).clone()
        else:
            p.data.copy_(flat[i : i + n].view_as(p))
        i += n


@torch.no_grad()
def _evaluate(model, x, y, batch: int) -> dict:
    model.eval()
    correct, loss = 0.0, 0.0
    for i in range(0, len(y), batch):
        out = model(x[i : i + batch])
        correct += (out.argmax(1) == y[i : i + batch]).sum().item()
        loss += F.cross_entropy(out, y[i : i + batch], reduction="sum").item()
    model.train()
    return {"acc": correct / len(y), "loss": loss / len(y)}


def _build(cfg: TrainConfig):
    """(data, model) of a run, checked against each other (largebatch.validate.check_data).

    Raises:
        ConfigError, DataError: one line naming the cause, before anything is written.
    """
    data = load(cfg)
    torch.manual_seed(cfg.seed)  # same initial parameters in every process
    model = model_for(cfg, data, zero_gamma=False)
    if has_batchnorm(model):
        raise ConfigError(
            f"model={cfg.model!r} has BatchNorm: the parameter server sends parameters only; "
            "use a BN-free model (mlp)"
        )
    check_data(cfg, data, model)
    return data, model


def worker(cfg: TrainConfig, sc: ServerConfig, rank: int, rdir: Path, built=None) -> None:
    """Pull parameters, compute a gradient on this worker's data, sleep the injected delay, push.
    `built`: (data, model) from _build (None builds them)."""
    import torch.distributed as dist

    data, model = built or _build(cfg)
    n_par = sum(p.numel() for p in model.parameters())
    sampler = EpochSampler(len(data.y_train), cfg.per_worker_batch, 0, 1, cfg.seed * 1009 + rank)
    g = torch.Generator().manual_seed(cfg.seed * 7919 + rank)
    down, up = torch.zeros(_HDR + n_par), torch.zeros(_HDR + n_par)
    pushes, seq = [], 0
    while True:
        dist.recv(down, src=0)
        if down[1] > 0:
            break
        version = int(down[0])
        _set_flat(model, down[_HDR:])
        idx = sampler.indices(seq)
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx], reduction="sum")
        (loss / len(idx)).backward()
        time.sleep(_delay_s(sc, g))
        up[0], up[1], up[2], up[3] = version, seq, loss.item(), len(idx)
        up[_HDR:] = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        dist.send(up, dst=0)
        pushes.append((seq, version))
        seq += 1
    rdir.mkdir(parents=True, exist_ok=True)
    text = "seq,version\n" + "".join(f"{s},{v}\n" for s, v in pushes)
    atomic_write_text(rdir / f"pushes_w{rank}.csv", text)


def server(cfg: TrainConfig, sc: ServerConfig, workers: int, rdir: Path, built=None) -> dict:
    """Serve until `updates` updates are applied, evaluating every `eval_every`; returns the summary.
    `built`: (data, model) from _build (None builds them)."""
    import torch.distributed as dist

    data, model = built or _build(cfg)
    opt = build_optimizer(model, cfg)
    n_par = sum(p.numel() for p in model.parameters())
    srv = Server(sc.mode, workers, sc.backups, sc.updates)
    res = resolve(cfg, 1, n_train=len(data.y_train))
    b_update = cfg.per_worker_batch * srv.need
    sink = _open_sink(cfg, sc, workers, rdir, res)
    buf, out = torch.zeros(_HDR + n_par), torch.zeros(_HDR + n_par)

    def send_params(ws, stop=False):
        out[0], out[1] = srv.version, float(stop)
        if not stop:
            out[_HDR:] = _flat_params(model)
        for w in ws:
            dist.send(out, dst=w)

    t0 = time.perf_counter()
    clock, t_mark, loss_acc, n_acc, grads = 0.0, time.perf_counter(), 0.0, 0, {}
    hit_s, times, last = None, [], {}
    send_params(range(1, workers + 1))
    while srv.busy:
        src = dist.recv(buf)
        ver, seq = int(buf[0]), int(buf[1])
        apply, reply = srv.on_message(src, ver, seq)
        if srv.log[-1][5]:
            grads[(src, seq)] = buf[_HDR:].clone()
            loss_acc, n_acc = loss_acc + float(buf[2]), n_acc + int(buf[3])
        if apply:
            g = torch.stack([grads.pop(k) for k in apply]).mean(0)
            tau = srv.log[-1][4] if sc.mode == "async" else 0
            lr = res.lr_peak / (max(tau, 1) if cfg.staleness_lr == "inverse" else 1)
            set_lr(opt, lr)
            opt.zero_grad(set_to_none=True)
            _set_flat(model, g, grad=True)
            opt.step()
            now = time.perf_counter()
            clock += now - t_mark
            t_mark = now
            times.append(clock)
            v = srv.version
            if v % sc.eval_every == 0 or v == sc.updates:
                te = _evaluate(model, data.x_test, data.y_test, cfg.eval_batch)
                last = _record(srv, b_update, len(data.y_train), loss_acc / max(n_acc, 1), lr, te, clock)
                sink.log(last)
                loss_acc, n_acc = 0.0, 0
                if hit_s is None and sc.target_acc and te["acc"] >= sc.target_acc:
                    hit_s = clock
                t_mark = time.perf_counter()  # the evaluation is not on the clock
        if reply:
            send_params(reply)
        if srv.done:
            send_params(srv.to_stop(), stop=True)
    if srv.version > sc.updates:  # async: the in-flight gradients applied after the budget
        te = _evaluate(model, data.x_test, data.y_test, cfg.eval_batch)
        last = {
            **last,
            "step": srv.version,
            "examples_seen": srv.version * b_update,
            "test/acc": te["acc"],
            "test/loss": te["loss"],
            "time/s": clock,
        }
        sink.log(last)
    summary = _summary(cfg, sc, workers, rdir, srv, b_update, last, clock, hit_s, time.perf_counter() - t0)
    sink.finish(summary)
    return summary


def _record(srv, b_update: int, n_train: int, loss: float, lr: float, te: dict, clock: float) -> dict:
    """The metrics record of an evaluation at the server's version."""
    v, taus = srv.version, [r[4] for r in srv.log if r[5]]
    return {
        "step": v,
        "examples_seen": v * b_update,
        "epoch": v * b_update / n_train,
        "train/loss": loss,
        "opt/lr": lr,
        "test/acc": te["acc"],
        "test/loss": te["loss"],
        "time/s": clock,
        "stale/tau_mean": sum(taus) / max(len(taus), 1),
    }


def _open_sink(cfg: TrainConfig, sc: ServerConfig, workers: int, rdir: Path, res) -> RunSink:
    """The server run's files: config.json (the TrainConfig, the server's config, the resolved values)."""
    sink = RunSink(rdir, True, cfg.wandb)
    sink.start(
        {
            "config": to_dict(cfg),
            "server": to_dict(sc),
            "resolved": to_dict(res),
            "run_id": run_id(cfg, sc, workers),
            "mechanism": "real",
            "workers": workers,
            "world_size": workers + 1,
            "device": "cpu",
            "torch": torch.__version__,
            **git_info(),
        }
    )
    return sink


def _summary(cfg, sc, workers: int, rdir: Path, srv, b_update: int, last: dict, clock, hit_s, wall) -> dict:
    """Write the server's log (updates.csv) and return the run's summary: steps, accuracy, staleness."""
    rows = "".join(",".join(str(x) for x in r) + "\n" for r in srv.log)
    atomic_write_text(
        rdir / "updates.csv", "server_version,worker,seq,worker_version,staleness,applied\n" + rows
    )
    taus = [r[4] for r in srv.log if r[5]]
    counts = [0] * (max(taus) + 1 if taus else 1)
    for t in taus:
        counts[t] += 1
    return {
        "run_id": run_id(cfg, sc, workers),
        "study": cfg.study,
        "status": "complete",
        "mechanism": "real",
        "mode": sc.mode,
        "workers": workers,
        "steps": srv.version,
        "examples_seen": srv.version * b_update,
        "wall_s": wall,
        "train_s": clock,
        "final_test_acc": last.get("test/acc"),
        "final_test_loss": last.get("test/loss"),
        "staleness_mean": sum(taus) / len(taus) if taus else None,
        "staleness_counts": counts,
        "dropped": sum(1 for r in srv.log if not r[5]),
        "time_to_target_s": hit_s,
        "step_time_mean_s": clock / max(srv.version, 1),
    }


def split_args(argv: list[str]) -> tuple[dict, dict, dict]:
    """(server fields, TrainConfig overrides, flags) from --key=value arguments."""
    sv, rest, flags = {}, [], {}
    for a in argv:
        key, _, val = a[2:].partition("=")
        if a in ("--sweep", "--dry"):
            flags[a[2:]] = True
        elif key == "scale":
            flags["scale"] = val
        elif key in SERVER_FIELDS:
            typ = type(SERVER_FIELDS[key].default)
            try:
                sv[key] = typ(val)
            except ValueError:
                raise ConfigError(f"--{key}={val!r}: expected a {typ.__name__}") from None
        else:
            rest.append(a)
    return sv, parse_overrides(rest), flags


def main(argv: list[str] | None = None) -> int:
    """One process of a real run (under torchrun); rank 0 serves. Returns the exit code, as
    largebatch.cli's: 0 done, 2 bad input (config, data, an unwritable directory: one line, printed by
    every rank that finds it, since torchrun may stop rank 0 before it prints), 3 the run directory is in
    use by another run (rank 0 holds the trainer's lock, largebatch.metrics.RunLock, for the whole run;
    every rank learns the outcome before any starts), 130 interrupted."""
    import datetime

    import torch.distributed as dist

    argv = sys.argv[1:] if argv is None else argv
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    try:
        sv, over, _ = split_args(argv)
        cfg, sc = make_config(TrainConfig(study="async_staleness"), **over), ServerConfig(**sv)
        check(cfg, sc, world - 1)
        built = _build(cfg)
    except (ConfigError, DataError) as e:
        print(f"{'data' if isinstance(e, DataError) else 'config'} error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    rdir, lock, refused = run_dir(cfg, sc, world - 1), None, (0, "")
    if rank == 0:
        try:
            lock = RunLock(rdir).acquire()
        except RunBusy as e:
            refused = (3, str(e))
        except OSError as e:
            refused = (2, oserror_text(e))
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=120))
    code = torch.tensor([refused[0]])
    dist.broadcast(code, src=0)  # no rank starts unless rank 0 holds the run directory
    try:
        if int(code):
            if rank == 0:
                print(f"run error: {refused[1]}", file=sys.stderr)
            return int(code)
        if rank == 0:
            s = server(cfg, sc, world - 1, rdir, built)
            print(
                f"{s['run_id']}: {s['mode']} K={s['workers']} {s['steps']} updates, staleness mean "
                f"{s['staleness_mean']}, test acc {s['final_test_acc']:.4f}, {s['train_s']:.1f}s",
                flush=True,
            )
        else:
            worker(cfg, sc, rank, rdir, built)
        dist.barrier()
    except OSError as e:  # a full disk or unwritable directory (rank 0 writes the run's files)
        print(f"run error: {oserror_text(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if rank == 0:
            print(
                f"run error: {rdir.name} interrupted; rerun the same command to run it again", file=sys.stderr
            )
        return 130
    finally:
        if lock is not None:
            lock.release()
    dist.destroy_process_group()
    return 0


def launch(
    cfg: TrainConfig, sc: ServerConfig, workers: int, timeout: float = 600, env_extra: dict | None = None
) -> subprocess.CompletedProcess:
    """One real run as `torchrun --nproc_per_node=workers+1` (used by the sweep and the tests)."""
    from largebatch.paths import ROOT

    over = {k: v for k, v in to_dict(cfg).items() if v != TrainConfig.__dataclass_fields__[k].default}
    args = [f"--{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in over.items()]
    args += [f"--{k}={v}" for k, v in to_dict(sc).items() if v != SERVER_FIELDS[k].default]
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    cmd = [
        torchrun,
        "--standalone",
        f"--nproc_per_node={workers + 1}",
        "-m",
        __spec__.name if __spec__ is not None else __name__,  # experiments. or largebatch_experiments.
        *args,
    ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        **(env_extra or {}),
    }
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def sweep(scale: str = "cpu", dry: bool = False) -> int:
    """Run the study's real runs (config.real_grid), skipping those with a summary.json; returns failures."""
    failed = 0
    entries = real_grid(scale)
    todo = [e for e in entries if not is_complete(run_dir(*e))]
    print(
        f"[real] {len(entries)} real runs, {len(entries) - len(todo)} complete, {len(todo)} to run",
        flush=True,
    )
    for cfg, sc, k in todo:
        if dry:
            print(run_id(cfg, sc, k), sc)
            continue
        t = time.time()
        r = launch(cfg, sc, k)
        ok = r.returncode == 0 and is_complete(run_dir(cfg, sc, k))
        failed += not ok
        why = ""
        if not ok:  # keep the whole output; show the rank's own error, not torchrun's summary
            from largebatch.sweep import RUN_LOG, failure_excerpt

            log = run_dir(cfg, sc, k) / RUN_LOG
            try:
                log.parent.mkdir(parents=True, exist_ok=True)
                log.write_text(r.stdout + r.stderr)
                why = f"\n{failure_excerpt(r.stdout + r.stderr)}\n[real] full log: {log}"
            except OSError:
                why = f"\n{failure_excerpt(r.stdout + r.stderr)}"
        print(
            f"[real] {run_id(cfg, sc, k)} {sc.mode} K={k}: {'ok' if ok else 'FAILED'} "
            f"in {time.time() - t:.0f}s" + why,
            flush=True,
        )
    return failed


def print_help() -> None:
    """`--help`: ServerConfig and TrainConfig options with their comments (largebatch.cli.help_text)."""
    from largebatch.cli import help_text

    doc = __doc__.split("\n\n")
    print(
        help_text(
            "python -m experiments.async_staleness.param_server",
            doc[0],
            groups=(("ServerConfig", ServerConfig), ("TrainConfig", TrainConfig)),
            run_flags={
                "--sweep": "run the study's real runs (config.real_grid), skip finished ones",
                "--scale": "with --sweep: smoke | cpu (default)",
                "--dry": "with --sweep: list the runs, run nothing",
            },
            ranges={**RANGES, **SERVER_RANGES},
        )
    )


if __name__ == "__main__":
    args = sys.argv[1:]
    if any(a in ("-h", "--help") for a in args):
        if os.environ.get("RANK", "0") == "0":
            print_help()
        sys.stdout.flush()
        os._exit(0)
    if "--sweep" in args:
        _, _, fl = split_args(args)
        code = 1 if sweep(fl.get("scale", "cpu"), fl.get("dry", False)) else 0
    else:
        code = main(args)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # gloo threads can abort interpreter teardown; every file is closed by now
