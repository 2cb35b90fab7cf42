"""The training loop shared by every study: train(cfg) -> summary dict.

One optimizer step, in each of the P processes (Goyal et al., arXiv 1706.02677, §2-3):
  1. take this rank's b = B/P examples of the step's global batch (one permutation per epoch);
  2. forward/backward them in micro-batches of `micro_batch` examples, BN statistics per group of
     n = per_worker_batch (ghost BN = per-worker BN), the loss of each micro-batch summed over its
     examples and divided by b; DDP averages over the P ranks, so the gradient is
     (1/B) sum over all B examples (Remark 3); non-final micro-steps skip the allreduce (no_sync);
  3. set the scheduled lr and step the optimizer; fold the step's BN statistics into the running
     averages once.
`train` is a short loop over named steps: _setup (build, resume) -> per step _train_step, _log (train
loss over ranks, divergence / target check), _evaluate, _write, _checkpoint -> _finish (summary). `Run`
holds what the run trains with, `RunState` its progress.
Launch: `python -m largebatch.train --key=value ...` or `torchrun --nproc_per_node=2 -m largebatch.train`.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from . import dist as D
from .bn_stats import recompute_bn_stats
from .config import Resolved, TrainConfig, from_dict, resolve, run_id, to_dict
from .data import EpochSampler, TensorData, load
from .metrics import RunSink, atomic_write_text, git_info
from .models import commit_bn_stats, ghost_bns, has_batchnorm, model_for
from .noise import NoiseMeter
from .optim import build_optimizer, set_lr
from .schedules import lr_at
from .staleness import Staleness, build_staleness
from .validate import check_data

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_META = "checkpoint.json"  # the checkpoint's non-tensor state, readable (also inside the .pt)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: unreadable, or written under another config or data."""


def run_dir(cfg: TrainConfig) -> Path:
    return Path(cfg.out_dir) / cfg.study / run_id(cfg)


@torch.no_grad()
def evaluate(model, x: torch.Tensor, y: torch.Tensor, batch: int, dist: D.Dist) -> dict:
    """Accuracy and mean loss on (x, y), sharded over ranks and summed exactly (ragged shards ok)."""
    was = model.training
    model.eval()
    idx = torch.tensor_split(torch.arange(len(y)), dist.world_size)[dist.rank]
    tot = torch.zeros(3, dtype=torch.float64, device=y.device)  # correct, loss sum, count
    for chunk in idx.split(batch):
        out = model(x[chunk].to(y.device, non_blocking=True))
        tot[0] += (out.argmax(1) == y[chunk]).sum()
        tot[1] += F.cross_entropy(out.float(), y[chunk], reduction="sum")
        tot[2] += len(chunk)
    D.all_reduce_sum_(tot)
    model.train(was)
    n = max(tot[2].item(), 1.0)
    return {"acc": tot[0].item() / n, "loss": tot[1].item() / n}


def config_hash(cfg: TrainConfig) -> str:
    """The config's hash as its run id carries it (`<study>-<hash8>-s<seed>`): every field that shapes
    the trajectory, a replayed distribution by content."""
    return run_id(cfg).rsplit("-", 2)[1]


def data_hash(data: TensorData) -> str:
    """sha1 of the dataset's shapes, labels and first training inputs: a checkpoint names its data."""
    h = hashlib.sha1()
    for t in (data.y_train, data.y_test):
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    if isinstance(data.x_train, torch.Tensor):
        h.update(str(tuple(data.x_train.shape)).encode())
        h.update(data.x_train[:16].detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(path: Path, state: dict, meta: dict) -> None:
    """Tensors, numbers and strings in `path` (loadable with weights_only=True); `meta` (JSON) rides
    inside it as a string and is written beside it as checkpoint.json for people to read."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        # Through a Python file object: on a full disk torch.save(obj, path) raises a RuntimeError from its
        # own writer ("unexpected pos ...") that no longer says why; with a file object the OSError
        # (ENOSPC) stays in the exception's context and becomes the error the command line reports.
        with open(tmp, "wb") as f:
            torch.save({**state, "meta": json.dumps(meta)}, f)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:
        # The writer turns whatever its file object raised into that RuntimeError, a Ctrl-C or SIGTERM
        # (KeyboardInterrupt, cli.Terminated) that lands inside a write as much as a full disk: both stay
        # in the context, and the interrupt must stay an interrupt (exit 130, "rerun to resume").
        cause = e
        while cause is not None and not isinstance(cause, (OSError, KeyboardInterrupt)):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        if isinstance(cause, KeyboardInterrupt):
            raise cause from None
        raise OSError(cause.errno, cause.strerror or str(cause), str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)  # a full disk leaves the previous checkpoint, not a partial file
    atomic_write_text(path.with_name(CHECKPOINT_META), json.dumps(meta, indent=1))


def load_checkpoint(path: Path, device, cfg: TrainConfig, dhash: str) -> tuple[dict, dict]:
    """(state, meta) of the checkpoint at `path`, checked against this run's config and data.

    Raises:
        CheckpointError: unreadable file, or one written under another config or dataset.
    """
    fix = "rerun with --no-resume to start this run over (it replaces the checkpoint)"
    try:
        ck = torch.load(path, map_location=device, weights_only=True)
        meta = json.loads(ck.pop("meta")) if "meta" in ck else None
        if not isinstance(ck, dict) or "model" not in ck or "step" not in ck:
            raise ValueError("not a largebatch checkpoint")
    except Exception as e:  # noqa: BLE001 - any failure to read it gets the same one-line advice
        why = (str(e).strip().splitlines() or [""])[0][:160]
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(e).__name__}: {why}); {fix}"
        ) from None
    want = config_hash(cfg)
    if meta is None:  # written before checkpoints carried their config: trust the run's config.json
        try:
            old = json.loads((path.parent / "config.json").read_text())["config"]
            meta = {"config_hash": config_hash(from_dict(old)), "run_id": run_id(from_dict(old))}
        except Exception:  # noqa: BLE001
            raise CheckpointError(
                f"checkpoint {path} carries no config hash and its config.json is unreadable; {fix}"
            ) from None
    if meta.get("config_hash") != want or meta.get("run_id") != run_id(cfg):
        raise CheckpointError(
            f"checkpoint {path} was written under config {meta.get('config_hash')} (run "
            f"{meta.get('run_id')}), but this run's config is {want} (run {run_id(cfg)}); use another "
            f"--out_dir, or {fix}"
        )
    if meta.get("data_hash") not in (None, dhash):
        raise CheckpointError(
            f"checkpoint {path} was trained on data {meta['data_hash'][:12]}, but this run's data is "
            f"{dhash[:12]} (the dataset files or subset changed); {fix}"
        )
    return ck, meta


@dataclass
class Run:
    """What one run trains with: built once by _setup, never reassigned by the loop."""

    cfg: TrainConfig
    res: Resolved
    dist: D.Dist
    data: TensorData
    model: torch.nn.Module
    ddp: torch.nn.Module  # DDP around the model, or the model itself in a world of one
    opt: torch.optim.Optimizer
    noise: NoiseMeter | None
    stale: Staleness | None
    sampler: EpochSampler
    amp: Any  # autocast or nullcontext: both can be re-entered
    bns: list  # ghost BN modules: each step's statistics are folded into the running averages once
    rdir: Path
    dhash: str  # data_hash(data): a checkpoint names its data
    sink: RunSink
    bar: Any  # progress on rank 0 with cfg.progress (largebatch.progress: a bar or lines), else None
    n_tr: int  # training examples scored at each evaluation


@dataclass
class RunState:
    """The loop's progress: what a checkpoint saves and the summary reports."""

    start: int  # the step this process began at (> 0: resumed from a checkpoint)
    loss_sum: torch.Tensor  # this rank's train-loss sum since the last log (float64, on the device)
    n_loss: int  # examples behind loss_sum on this rank
    recent: collections.deque  # bn_eval=recomputed: index tensors of the last training batches
    last_loss: float | None = None  # the last logged train loss (progress bar, summary)
    saved_eval: dict | None = None  # the final evaluation stored in the checkpoint resumed from
    step: int = 0  # steps done
    status: str = "running"  # running | diverged | reached; "complete" once the loop ends otherwise
    diverged_at: int | None = None
    reached_at: int | None = None
    last_eval: dict = field(default_factory=dict)  # the record of the last evaluation
    pending: list = field(default_factory=list)  # (detached loss, weight) not yet added to loss_sum
    t_train: float = 0.0  # seconds spent in training steps
    t0: float = field(default_factory=time.perf_counter)

    def flush(self) -> torch.Tensor:
        """loss_sum with the pending losses added (one add per flush, not one per micro-step)."""
        if self.pending:
            self.loss_sum = self.loss_sum + sum(t.double() * w for t, w in self.pending)
            self.pending.clear()
        return self.loss_sum

    def totals(self, n: int) -> torch.Tensor:
        """[loss sum, n] in float64: the vector summed over ranks to log the train loss."""
        n_ = torch.tensor(float(n), dtype=torch.float64, device=self.loss_sum.device)
        return torch.stack([self.flush(), n_])


def train(
    cfg: TrainConfig,
    data: TensorData | None = None,
    dist: D.Dist | None = None,
    resume: bool = True,
    *,
    scale: str = "adhoc",
    on_step: Callable[[Run, RunState], None] | None = None,
    return_model: bool = False,
):
    """Train one run and return its summary (also written to runs/<study>/<run_id>/summary.json).

    Args:
        data: preloaded dataset (tests); None loads cfg.dataset.
        dist: from largebatch.dist.init(); None means a world of one.
        resume: continue from the run's checkpoint if one exists.
        scale: the grid scale the run belongs to (smoke | cpu | paper | adhoc): its W&B group and tag.
        on_step: called as on_step(run, state) after every step that leaves the run going, its checkpoint
            written (tests stop or kill a run there: tests/interrupt.py).
        return_model: return (summary, model) instead of the summary.
    """
    run, st = _setup(cfg, data, dist, resume, scale)
    try:
        for _ in range(st.start, run.res.total_steps):
            rec, lr, totals = _train_step(run, st)
            _log(run, st, rec, lr, totals)
            if st.status == "reached" or (st.status == "running" and _due(run, st, run.res.eval_every_steps)):
                _evaluate(run, st, rec)
            _write(run, st, rec)
            if st.status != "running":
                break
            if _due(run, st, run.res.checkpoint_every_steps):
                _checkpoint(run, st)
            if on_step is not None:
                on_step(run, st)
        summary = _finish(run, st)
    except BaseException as e:  # the W&B run gets what was logged (Ctrl-C, SIGTERM: exit code 130)
        run.sink.abort(130 if isinstance(e, KeyboardInterrupt) else 1)
        raise
    finally:
        if run.bar is not None:
            run.bar.close()
    return (summary, run.model) if return_model else summary


def _due(run: Run, st: RunState, every: int) -> bool:
    return st.step % every == 0 or st.step == run.res.total_steps


def _setup(
    cfg: TrainConfig, data: TensorData | None, dist: D.Dist | None, resume: bool, scale: str = "adhoc"
) -> tuple[Run, RunState]:
    """Build the run (data, model, DDP, optimizer, noise meter, staleness), resume it from its checkpoint
    or clear an old one, open its files and say what it runs."""
    dist = dist or D.init(cfg.device)
    res = resolve(cfg, dist.world_size)
    data = data if data is not None else load(cfg)
    res = resolve(cfg, dist.world_size, n_train=len(data.y_train))
    torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // dist.local_world_size))
    dev = dist.device
    data = data.to(dev)
    torch.manual_seed(cfg.seed)  # same init on every rank
    model = model_for(cfg, data)
    check_data(cfg, data, model)  # num_classes and input shape against the data, before anything is written
    model = model.to(dev)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16) if cfg.amp == "bf16" else contextlib.nullcontext()
    noise = NoiseMeter(cfg, res, model) if cfg.noise_every_steps else None
    hook, hook_state = D.compression_hook(cfg.comm_dtype), None
    if noise is not None and dist.world_size > 1:
        hook, hook_state = noise.comm_hook(hook)
    ddp = D.wrap_ddp(model, dist, hook, hook_state)
    opt = build_optimizer(model, cfg)
    stale = build_staleness(cfg, model)  # None unless cfg.staleness / coherence logging is on
    sampler = EpochSampler(
        len(data.y_train), cfg.global_batch, dist.rank, dist.world_size, cfg.seed, stream=cfg.equal_examples
    )
    rdir = run_dir(cfg)
    st = RunState(
        start=0,
        loss_sum=torch.zeros((), dtype=torch.float64, device=dev),
        n_loss=0,
        recent=collections.deque(maxlen=cfg.bn_recompute_batches),
    )  # bn_eval=recomputed (Akiba)
    dhash = data_hash(data)
    if resume and (rdir / CHECKPOINT).exists():
        _resume(cfg, dist, model, opt, noise, stale, sampler, rdir, dhash, st)
    elif dist.is_main:  # a fresh start (--no-resume, --force): no old checkpoint outlives it
        for name in (CHECKPOINT, CHECKPOINT_META):
            (rdir / name).unlink(missing_ok=True)
    sink = _open_sink(cfg, res, dist, rdir, st, scale)
    bar = _announce(cfg, res, dist, st)
    run = Run(
        cfg,
        res,
        dist,
        data,
        model,
        ddp,
        opt,
        noise,
        stale,
        sampler,
        amp,
        ghost_bns(model),
        rdir,
        dhash,
        sink,
        bar,
        min(cfg.eval_train_examples, len(data.y_train)),
    )
    st.t0 = time.perf_counter()
    return run, st


def _open_sink(cfg: TrainConfig, res, dist: D.Dist, rdir: Path, st: RunState, scale: str) -> RunSink:
    """The run's files (config.json with the resolved values, the git commit and the machine; metrics.jsonl
    kept up to the step it resumes at) and its W&B run."""
    sink = RunSink(rdir, dist.is_main, cfg.wandb, scale=scale)
    sink.start(
        {
            "config": to_dict(cfg),
            "resolved": to_dict(res),
            "run_id": run_id(cfg),
            "world_size": dist.world_size,
            "device": str(dist.device),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            **git_info(),
        },
        resume_step=st.start or None,
    )
    return sink


def _announce(cfg: TrainConfig, res, dist: D.Dist, st: RunState):
    """Say what the run trains (or where it resumes) and start its progress bar (None: off, or not rank 0)."""
    if not (dist.is_main and cfg.progress):
        return None
    if st.start:
        print(f"[largebatch] {run_id(cfg)}: resumed at step {st.start} of {res.total_steps}", flush=True)
    else:
        print(
            f"[largebatch] {run_id(cfg)}: B={cfg.global_batch} = {dist.world_size} proc x "
            f"{res.workers_per_process} workers x n={cfg.per_worker_batch}, lr_peak={res.lr_peak:.4g}, "
            f"{res.total_steps} steps",
            flush=True,
        )
    from .progress import progress  # a bar on a terminal, plain periodic lines in a log

    return progress(
        res.total_steps, st.start, cfg.study, "step", leave=False, dynamic_ncols=True, mininterval=1.0
    )


def _resume(cfg, dist, model, opt, noise, stale, sampler, rdir: Path, dhash: str, st: RunState) -> None:
    """Load the checkpoint into the model, optimizer, RNG, noise meter, staleness and `st`."""
    dev = dist.device
    ck, meta = load_checkpoint(rdir / CHECKPOINT, dev, cfg, dhash)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    torch.set_rng_state(ck["rng"].cpu())
    st.start = st.step = ck["step"]
    st.n_loss = ck["n_acc"]
    ranks = ck.get("loss_acc_ranks")
    if ranks is not None and len(ranks) == dist.world_size:  # every rank resumes its own sums
        st.loss_sum = ranks[dist.rank].to(dev, torch.float64).clone()
    else:  # another world size (or an older checkpoint): the sum sits on rank 0, counts spread evenly
        total = ranks.sum() if ranks is not None else ck["loss_acc"]
        old_p = len(ranks) if ranks is not None else dist.world_size
        st.loss_sum = (total if dist.is_main else torch.zeros_like(total)).to(dev, torch.float64).clone()
        st.n_loss = st.n_loss * old_p // dist.world_size
    if noise is not None and ck.get("noise") is not None:
        noise.load_state_dict(ck["noise"])
    if stale is not None and ck.get("staleness") is not None:
        stale.load_state_dict(ck["staleness"])
    if cfg.bn_eval == "recomputed":  # the last batches before the checkpoint, as if never stopped
        for s_ in range(max(0, st.start - cfg.bn_recompute_batches), st.start):
            st.recent.append(sampler.indices(s_).to(dev))
    st.last_loss = meta.get("last_train_loss")  # for the progress bar and the summary
    st.saved_eval = meta.get("final_eval")


def _train_step(run: Run, st: RunState) -> tuple[dict, float, torch.Tensor | None]:
    """One optimizer step (module doc). Returns (the step's noise/staleness records, its lr, the train-loss
    totals already summed over ranks with the noise measurement, or None)."""
    cfg, res, model, noise, stale, dev = run.cfg, run.res, run.model, run.noise, run.stale, run.dist.device
    ts, step, b = time.perf_counter(), st.step, res.per_process_batch
    lr = lr_at(step, cfg, res)
    set_lr(run.opt, lr, step / res.steps_per_epoch)
    idx = run.sampler.indices(step).to(dev)
    x, y = run.data.x_train[idx].to(dev, non_blocking=True), run.data.y_train[idx]
    measure = noise is not None and step % cfg.noise_every_steps == 0
    k = noise.micro_steps(res.accum_steps) if measure else res.accum_steps
    mm = b // k
    run.opt.zero_grad(set_to_none=True)
    if measure:
        noise.begin(model, k)
    if stale is not None:  # load w_{step - tau}: this step's gradient is taken there
        stale.before(step, model)
    for i in range(k):
        last = i == k - 1
        ctx = run.ddp.no_sync() if (run.ddp is not model and not last) else contextlib.nullcontext()
        with ctx, run.amp:
            if k == 1:  # the common step: one mean loss, no extra division op
                loss = F.cross_entropy(run.ddp(x).float(), y)
                st.pending.append((loss.detach(), b))
            else:
                loss = F.cross_entropy(
                    run.ddp(x[i * mm : (i + 1) * mm]).float(), y[i * mm : (i + 1) * mm], reduction="sum"
                )
                st.pending.append((loss.detach(), 1))
                loss = loss / b
            if measure and last:  # the train-loss totals share the noise reduction: no collective of theirs
                noise.carry(st.totals(st.n_loss + b))
            loss.backward()
        if measure:
            noise.after_micro(model, i, mm, b)
    st.n_loss += b
    rec, totals = {}, None
    if measure:
        rec_noise, totals = noise.end(model, lr, (x, y))
        rec.update(rec_noise)
    if stale is not None:
        rec.update(stale.after(model, run.opt, x, y) or {})  # restores w_step
    run.opt.step()
    if run.bns:
        commit_bn_stats(run.bns)
    st.t_train += time.perf_counter() - ts
    st.step = step + 1
    if cfg.bn_eval == "recomputed":
        st.recent.append(idx)
    return rec, lr, totals


def _log(run: Run, st: RunState, rec: dict, lr: float, totals: torch.Tensor | None) -> None:
    """Every log_every_steps, at the end and on steps with records: the train loss since the last log,
    summed over ranks, into `rec`; a non-finite or too large loss ends the run (diverged), one below
    cfg.stop_at_train_loss too (reached)."""
    cfg, done = run.cfg, st.step
    if not (done % cfg.log_every_steps == 0 or done == run.res.total_steps or rec):
        return
    if totals is None:
        totals = D.all_reduce_sum_(st.totals(st.n_loss))
    tr_loss = (totals[0] / totals[1].clamp(min=1)).item()
    st.last_loss = tr_loss
    st.loss_sum.zero_()
    st.n_loss = 0
    rec.update(
        {
            "train/loss": tr_loss,
            "opt/lr": lr,
            "time/samples_per_s": done * cfg.global_batch / max(st.t_train, 1e-9) if st.start == 0 else None,
        }
    )
    if not math.isfinite(tr_loss) or tr_loss > cfg.divergence_loss:
        st.status, st.diverged_at = "diverged", done
    elif cfg.stop_at_train_loss and tr_loss < cfg.stop_at_train_loss:
        st.status, st.reached_at = "reached", done


def _scores(run: Run) -> dict:
    """Test accuracy and loss, and those of the first n_tr training examples, of the model as it is."""
    cfg, data = run.cfg, run.data
    te = evaluate(run.model, data.x_test, data.y_test, cfg.eval_batch, run.dist)
    out = {"test/acc": te["acc"], "test/loss": te["loss"]}
    if run.n_tr:
        tr = evaluate(run.model, data.x_train[: run.n_tr], data.y_train[: run.n_tr], cfg.eval_batch, run.dist)
        out.update({"train_eval/acc": tr["acc"], "train_eval/loss": tr["loss"]})
    return out


def _evaluate(run: Run, st: RunState, rec: dict) -> None:
    """Scores (and LARS statistics) into `rec`, which becomes st.last_eval. With bn_eval=recomputed the
    running averages are scored too (test_running/*: what a bn_eval=running run logs, same parameters),
    then BN statistics recomputed from the last batches serve this evaluation only."""
    cfg, model, bns, data = run.cfg, run.model, run.bns, run.data
    D.average_buffers_(model)
    saved_bn = None
    if cfg.bn_eval == "recomputed" and bns:
        te = evaluate(model, data.x_test, data.y_test, cfg.eval_batch, run.dist)
        rec.update({"test_running/acc": te["acc"], "test_running/loss": te["loss"]})
        saved_bn = [(m.running_mean.clone(), m.running_var.clone()) for m in bns]
        batches = [data.x_train[i].to(run.dist.device) for i in st.recent]
        recompute_bn_stats(model, batches, D.all_reduce_mean_)
    if hasattr(run.opt, "last_stats"):
        stats = run.opt.last_stats()
        if stats:
            rec["lars/trust_ratio_mean"] = sum(x["ratio"] for x in stats) / len(stats)
            for x in stats:
                for k in ("ratio", "w_norm", "g_norm"):
                    rec[f"lars_layer/{x['name']}/{k}"] = x[k]
    rec.update(_scores(run))
    if saved_bn is not None:  # training goes on with the running averages, as without evaluation
        for m, (mean, var) in zip(bns, saved_bn):
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
    st.last_eval = rec
    if run.bar is not None:
        loss = {"loss": f"{st.last_loss:.3f}"} if st.last_loss is not None else {}  # none before the first
        run.bar.set_postfix(**loss, acc=f"{rec['test/acc']:.4f}", refresh=False)


def _write(run: Run, st: RunState, rec: dict) -> None:
    """The step's record (if any) to metrics.jsonl and W&B; the progress bar moves on."""
    if rec:
        run.sink.log(
            {
                "step": st.step,
                "examples_seen": st.step * run.cfg.global_batch,
                "epoch": st.step / run.res.steps_per_epoch,
                **rec,
            }
        )
    if run.bar is not None:
        run.bar.update(1)


def _checkpoint(run: Run, st: RunState) -> None:
    """checkpoint.pt (+ checkpoint.json) on rank 0: model, optimizer, RNG, every rank's own loss sums, noise
    and staleness state; the last one also carries the final evaluation."""
    cfg, dist, done = run.cfg, run.dist, st.step
    D.average_buffers_(run.model)  # linear in the per-rank statistics: safe at any step
    sums = D.all_gather_tensor(st.flush().reshape(1))  # every rank's own partial loss sum
    if dist.is_main:
        run.rdir.mkdir(parents=True, exist_ok=True)
        meta = {
            "run_id": run_id(cfg),
            "config_hash": config_hash(cfg),
            "data_hash": run.dhash,
            "step": done,
            "world_size": dist.world_size,
            "sampler": run.sampler.state_dict(done),
            "last_train_loss": st.last_loss,
            # the final evaluation rides in the last checkpoint: a run killed before its
            # summary finishes from here instead of reporting no metrics
            "final_eval": (
                {k: v for k, v in st.last_eval.items() if isinstance(v, (int, float))}
                if done == run.res.total_steps
                else None
            ),
        }
        save_checkpoint(
            run.rdir / CHECKPOINT,
            {
                "model": run.model.state_dict(),
                "optimizer": run.opt.state_dict(),
                "rng": torch.get_rng_state(),
                "step": done,
                "loss_acc": st.loss_sum,
                "loss_acc_ranks": torch.cat(sums).cpu(),
                "n_acc": st.n_loss,
                "noise": run.noise.state_dict() if run.noise is not None else None,
                "staleness": run.stale.state_dict() if run.stale is not None else None,
            },
            meta,
        )
    D.barrier()


def _finish(run: Run, st: RunState) -> dict:
    """The summary (written to summary.json last). A run resumed from its last checkpoint takes the final
    evaluation stored there (an older checkpoint without one: the final model is scored again)."""
    cfg, res = run.cfg, run.res
    if st.start >= res.total_steps and st.status == "running":
        st.last_eval = dict(st.saved_eval or {})
        if "test/acc" not in st.last_eval:
            D.average_buffers_(run.model)
            st.last_eval.update({**_scores(run), "train/loss": st.last_loss})
    status = "complete" if st.status in ("running", "reached") else st.status
    last = {} if status == "diverged" else st.last_eval
    summary = {
        "run_id": run_id(cfg),
        "study": cfg.study,
        "status": status,
        "steps": st.step,
        "diverged_step": st.diverged_at,
        "target_reached_step": st.reached_at,
        "examples_seen": st.step * cfg.global_batch,
        "wall_s": time.perf_counter() - st.t0,
        "train_s": st.t_train,
        "lr_peak": res.lr_peak,
        "world_size": run.dist.world_size,
        "has_bn": has_batchnorm(run.model),
        "final_test_acc": last.get("test/acc"),
        "final_test_loss": last.get("test/loss"),
        "final_train_acc": last.get("train_eval/acc"),
        "final_train_loss": last.get("train/loss"),
        **({"final_test_running_acc": last["test_running/acc"]} if "test_running/acc" in last else {}),
        **(run.stale.summary() if run.stale is not None else {}),
    }
    run.sink.finish(summary)
    return summary
