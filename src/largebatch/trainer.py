"""The training loop shared by every study: train(cfg) -> summary dict.

One optimizer step, in each of the P processes (Goyal et al., arXiv 1706.02677, §2-3):
  1. take this rank's b = B/P examples of the step's global batch (one permutation per epoch);
  2. forward/backward them in micro-batches of `micro_batch` examples, BN statistics per group of
     n = per_worker_batch (ghost BN = per-worker BN), the loss of each micro-batch summed over its
     examples and divided by b; DDP averages over the P ranks, so the gradient is
     (1/B) sum over all B examples (Remark 3); non-final micro-steps skip the allreduce (no_sync);
  3. set the scheduled lr and step the optimizer; fold the step's BN statistics into the running
     averages once.
Launch: `python -m largebatch.train --key=value ...` or `torchrun --nproc_per_node=2 -m largebatch.train`.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import math
import os
import signal
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from . import dist as D
from .bn_stats import recompute_bn_stats
from .config import TrainConfig, from_dict, resolve, run_id, to_dict
from .data import EpochSampler, TensorData, load
from .metrics import RunSink, atomic_write_text, git_info
from .models import build_model, commit_bn_stats, ghost_bns, has_batchnorm
from .noise import NoiseMeter
from .optim import build_optimizer, set_lr
from .schedules import lr_at
from .staleness import build_staleness

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


def _save(path: Path, state: dict, meta: dict) -> None:
    """Tensors, numbers and strings in `path` (loadable with weights_only=True); `meta` (JSON) rides
    inside it as a string and is written beside it as checkpoint.json for people to read."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save({**state, "meta": json.dumps(meta)}, tmp)
        os.replace(tmp, path)
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
            f"checkpoint {path} cannot be read ({type(e).__name__}: {why}); {fix}") from None
    want = config_hash(cfg)
    if meta is None:  # written before checkpoints carried their config: trust the run's config.json
        try:
            old = json.loads((path.parent / "config.json").read_text())["config"]
            meta = {"config_hash": config_hash(from_dict(old)), "run_id": run_id(from_dict(old))}
        except Exception:  # noqa: BLE001
            raise CheckpointError(f"checkpoint {path} carries no config hash and its config.json is "
                                  f"unreadable; {fix}") from None
    if meta.get("config_hash") != want or meta.get("run_id") != run_id(cfg):
        raise CheckpointError(
            f"checkpoint {path} was written under config {meta.get('config_hash')} (run "
            f"{meta.get('run_id')}), but this run's config is {want} (run {run_id(cfg)}); use another "
            f"--out_dir, or {fix}")
    if meta.get("data_hash") not in (None, dhash):
        raise CheckpointError(
            f"checkpoint {path} was trained on data {meta['data_hash'][:12]}, but this run's data is "
            f"{dhash[:12]} (the dataset files or subset changed); {fix}")
    return ck, meta


def _maybe_inject_fault(done: int, dist: D.Dist, rdir: Path) -> None:
    """Fault-tolerance tests: SIGKILL this rank once at step $LARGEBATCH_FAULT_AT_STEP (rank
    $LARGEBATCH_FAULT_RANK, default 1), as a crashed worker would die; a marker file makes it happen once."""
    at = os.environ.get("LARGEBATCH_FAULT_AT_STEP")
    if at and done == int(at) and dist.rank == int(os.environ.get("LARGEBATCH_FAULT_RANK", "1")):
        marker = rdir / ".fault_injected"
        if not marker.exists():
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)


def train(cfg: TrainConfig, data: TensorData | None = None, dist: D.Dist | None = None,
          resume: bool = True, stop_after: int | None = None) -> dict:
    """Train one run and return its summary (also written to runs/<study>/<run_id>/summary.json).

    Args:
        data: preloaded dataset (tests); None loads cfg.dataset.
        dist: from largebatch.dist.init(); None means a world of one.
        resume: continue from the run's checkpoint if one exists.
        stop_after: return after this many steps without a summary, as if killed (tests).
    """
    dist = dist or D.init(cfg.device)
    res = resolve(cfg, dist.world_size)
    data = data if data is not None else load(cfg)
    res = resolve(cfg, dist.world_size, n_train=len(data.y_train))
    torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // dist.local_world_size))
    dev = dist.device
    data = data.to(dev)
    torch.manual_seed(cfg.seed)  # same init on every rank
    model = build_model(cfg.model, data.in_shape, cfg.num_classes or data.num_classes, cfg.width,
                        cfg.depth, cfg.zero_gamma, cfg.per_worker_batch).to(dev)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    amp = (torch.autocast(dev.type, dtype=torch.bfloat16) if cfg.amp == "bf16"
           else contextlib.nullcontext())  # reusable: both context managers can be re-entered
    noise = None
    if cfg.noise_every_steps:
        noise = NoiseMeter(cfg, res, model)
    hook, hook_state = D.compression_hook(cfg.comm_dtype), None
    if noise is not None and dist.world_size > 1:
        hook, hook_state = noise.comm_hook(hook)
    ddp = D.wrap_ddp(model, dist, hook, hook_state)
    opt = build_optimizer(model, cfg)
    stale = build_staleness(cfg, model)  # None unless cfg.staleness / coherence logging is on
    sampler = EpochSampler(len(data.y_train), cfg.global_batch, dist.rank, dist.world_size, cfg.seed)
    rdir, start, status, diverged_at, reached_at = run_dir(cfg), 0, "running", None, None
    recent = collections.deque(maxlen=cfg.bn_recompute_batches)  # bn_eval=recomputed (Akiba)
    ckpt_path = rdir / CHECKPOINT
    loss_acc = torch.zeros((), dtype=torch.float64, device=dev)
    n_acc = 0
    pending: list[tuple[torch.Tensor, int]] = []  # (detached loss, weight) since the last flush

    def flush(acc: torch.Tensor) -> torch.Tensor:
        if pending:
            acc = acc + sum(t.double() * w for t, w in pending)
            pending.clear()
        return acc
    dhash, ck_meta = data_hash(data), {}
    if resume and ckpt_path.exists():
        ck, ck_meta = load_checkpoint(ckpt_path, dev, cfg, dhash)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        torch.set_rng_state(ck["rng"].cpu())
        start, n_acc = ck["step"], ck["n_acc"]
        ranks = ck.get("loss_acc_ranks")
        if ranks is not None and len(ranks) == dist.world_size:  # every rank resumes its own sums
            loss_acc = ranks[dist.rank].to(dev, torch.float64).clone()
        else:  # another world size (or an older checkpoint): the sum sits on rank 0, counts spread evenly
            total = ranks.sum() if ranks is not None else ck["loss_acc"]
            old_p = len(ranks) if ranks is not None else dist.world_size
            loss_acc = (total if dist.is_main else torch.zeros_like(total)).to(dev, torch.float64).clone()
            n_acc = n_acc * old_p // dist.world_size
        if noise is not None and ck.get("noise") is not None:
            noise.load_state_dict(ck["noise"])
        if stale is not None and ck.get("staleness") is not None:
            stale.load_state_dict(ck["staleness"])
        if cfg.bn_eval == "recomputed":  # the last batches before the checkpoint, as if never stopped
            for s_ in range(max(0, start - cfg.bn_recompute_batches), start):
                recent.append(sampler.indices(s_).to(dev))
    elif dist.is_main:  # a fresh start (--no-resume, --force): no old checkpoint outlives it
        for name in (CHECKPOINT, CHECKPOINT_META):
            (rdir / name).unlink(missing_ok=True)
    sink = RunSink(rdir, dist.is_main, cfg.wandb)
    meta = {"config": to_dict(cfg), "resolved": to_dict(res), "run_id": run_id(cfg),
            "world_size": dist.world_size, "device": str(dev), "torch": torch.__version__,
            "cuda": torch.version.cuda, **git_info()}
    sink.start(meta, resume_step=start if start else None)
    if dist.is_main and cfg.progress and start == 0:
        print(f"[largebatch] {run_id(cfg)}: B={cfg.global_batch} = {dist.world_size} proc x "
              f"{res.workers_per_process} workers x n={cfg.per_worker_batch}, lr_peak={res.lr_peak:.4g}, "
              f"{res.total_steps} steps", flush=True)
    bar = None
    if dist.is_main and cfg.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=res.total_steps, initial=start, desc=cfg.study, unit="step", leave=False,
                   dynamic_ncols=True, mininterval=1.0)
    b, K, bns = res.per_process_batch, res.accum_steps, ghost_bns(model)
    n_tr = min(cfg.eval_train_examples, len(data.y_train))
    last_eval, t_train, t0 = {}, 0.0, time.perf_counter()
    last_loss = ck_meta.get("last_train_loss")  # for the progress bar and the summary
    done = start
    fault_at = os.environ.get("LARGEBATCH_FAULT_AT_STEP")  # read once: the step loop stays lean
    for step in range(start, res.total_steps):
        ts = time.perf_counter()
        lr = lr_at(step, cfg, res)
        set_lr(opt, lr, step / res.steps_per_epoch)
        idx = sampler.indices(step).to(dev)
        x, y = data.x_train[idx].to(dev, non_blocking=True), data.y_train[idx]
        measure = noise is not None and step % cfg.noise_every_steps == 0
        k_micro = noise.micro_steps(K) if (measure and dist.world_size == 1) else K
        mm = b // k_micro
        opt.zero_grad(set_to_none=True)
        if measure:
            noise.begin(model, k_micro)
        if stale is not None:  # load w_{step - tau}: this step's gradient is taken there
            stale.before(step, model)
        for i in range(k_micro):
            sync = i == k_micro - 1
            ctx = ddp.no_sync() if (ddp is not model and not sync) else contextlib.nullcontext()
            with ctx, amp:
                if k_micro == 1:  # the common step: one mean loss, no extra division op
                    loss = F.cross_entropy(ddp(x).float(), y)
                    pending.append((loss.detach(), b))
                else:
                    loss = F.cross_entropy(ddp(x[i * mm:(i + 1) * mm]).float(), y[i * mm:(i + 1) * mm],
                                           reduction="sum")
                    pending.append((loss.detach(), 1))
                    loss = loss / b
                if measure and sync and noise.piggyback:  # loss totals ride in the gradient allreduce
                    loss_acc = flush(loss_acc)
                    noise.hook_state.extra = torch.stack(
                        [loss_acc, torch.tensor(float(n_acc + b), dtype=torch.float64, device=dev)])
                loss.backward()
            if measure and dist.world_size == 1:
                noise.after_micro(model, i, mm, b)
        n_acc += b
        rec_noise, tot = None, None
        if measure:  # the train-loss totals share the noise reduction (no second collective)
            extra = None
            if not noise.piggyback:
                loss_acc = flush(loss_acc)
                extra = torch.stack([loss_acc, torch.tensor(float(n_acc), dtype=torch.float64, device=dev)])
            rec_noise = noise.end(model, lr, (x, y), extra=extra)
            tot = noise.reduced_extra
        rec_stale = stale.after(model, opt, x, y) if stale is not None else None  # restores w_step
        opt.step()
        if bns:
            commit_bn_stats(bns)
        t_train += time.perf_counter() - ts
        done = step + 1
        rec = {}
        if rec_noise:
            rec.update(rec_noise)
        if rec_stale:
            rec.update(rec_stale)
        if done % cfg.log_every_steps == 0 or done == res.total_steps or rec:
            if tot is None:
                loss_acc = flush(loss_acc)
                tot = torch.stack([loss_acc, torch.tensor(float(n_acc), dtype=torch.float64, device=dev)])
                D.all_reduce_sum_(tot)
            tr_loss = (tot[0] / tot[1].clamp(min=1)).item()
            last_loss = tr_loss
            loss_acc.zero_()
            n_acc = 0
            rec.update({"train/loss": tr_loss, "opt/lr": lr, "time/samples_per_s":
                        done * cfg.global_batch / max(t_train, 1e-9) if start == 0 else None})
            if not math.isfinite(tr_loss) or tr_loss > cfg.divergence_loss:
                status, diverged_at = "diverged", done
            elif cfg.stop_at_train_loss and tr_loss < cfg.stop_at_train_loss:
                status, reached_at = "reached", done
        if cfg.bn_eval == "recomputed":
            recent.append(idx)
        is_eval = done % res.eval_every_steps == 0 or done == res.total_steps or status != "running"
        if is_eval and status != "diverged":
            D.average_buffers_(model)
            saved_bn = None
            if cfg.bn_eval == "recomputed" and bns:
                # the running averages' score too (what a bn_eval=running run would log: same parameters),
                # then the recomputed statistics for this evaluation only
                te = evaluate(model, data.x_test, data.y_test, cfg.eval_batch, dist)
                rec.update({"test_running/acc": te["acc"], "test_running/loss": te["loss"]})
                saved_bn = [(m.running_mean.clone(), m.running_var.clone()) for m in bns]
                recompute_bn_stats(model, [data.x_train[i].to(dev) for i in recent], D.all_reduce_mean_)
            if hasattr(opt, "last_stats"):
                st = opt.last_stats()
                if st:
                    rec["lars/trust_ratio_mean"] = sum(x["ratio"] for x in st) / len(st)
                    for x in st:
                        for k in ("ratio", "w_norm", "g_norm"):
                            rec[f"lars_layer/{x['name']}/{k}"] = x[k]
            te = evaluate(model, data.x_test, data.y_test, cfg.eval_batch, dist)
            rec.update({"test/acc": te["acc"], "test/loss": te["loss"]})
            if n_tr:
                tr = evaluate(model, data.x_train[:n_tr], data.y_train[:n_tr], cfg.eval_batch, dist)
                rec.update({"train_eval/acc": tr["acc"], "train_eval/loss": tr["loss"]})
            if saved_bn is not None:  # training goes on with the running averages, as without evaluation
                for m, (mean, var) in zip(bns, saved_bn):
                    m.running_mean.copy_(mean)
                    m.running_var.copy_(var)
            last_eval = rec
            if bar is not None:
                bar.set_postfix(loss=f"{last_loss if last_loss is not None else float('nan'):.3f}",
                                acc=f"{te['acc']:.4f}", refresh=False)
        if rec:
            sink.log({"step": done, "examples_seen": done * cfg.global_batch,
                      "epoch": done / res.steps_per_epoch, **rec})
        if bar is not None:
            bar.update(1)
        if status != "running":
            break
        if done % res.checkpoint_every_steps == 0 or done == res.total_steps:
            D.average_buffers_(model)  # linear in the per-rank statistics: safe at any step
            loss_acc = flush(loss_acc)
            sums = D.all_gather_tensor(loss_acc.reshape(1))  # every rank's own partial loss sum
            if dist.is_main:
                rdir.mkdir(parents=True, exist_ok=True)
                meta = {"run_id": run_id(cfg), "config_hash": config_hash(cfg), "data_hash": dhash,
                        "step": done, "world_size": dist.world_size, "sampler": sampler.state_dict(done),
                        "last_train_loss": last_loss,
                        # the final evaluation rides in the last checkpoint: a run killed before its
                        # summary finishes from here instead of reporting no metrics
                        "final_eval": ({k: v for k, v in last_eval.items() if isinstance(v, (int, float))}
                                       if done == res.total_steps else None)}
                _save(ckpt_path, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                  "rng": torch.get_rng_state(), "step": done, "loss_acc": loss_acc,
                                  "loss_acc_ranks": torch.cat(sums).cpu(), "n_acc": n_acc,
                                  "noise": noise.state_dict() if noise is not None else None,
                                  "staleness": stale.state_dict() if stale is not None else None}, meta)
            D.barrier()
        if stop_after is not None and done >= stop_after:
            if bar is not None:
                bar.close()
            return {"status": "interrupted", "step": done}
        if fault_at:
            _maybe_inject_fault(done, dist, rdir)
    if bar is not None:
        bar.close()
    if start >= res.total_steps and status == "running":  # resumed from the last checkpoint, no summary yet
        last_eval = dict(ck_meta.get("final_eval") or {})
        if "test/acc" not in last_eval:  # an older checkpoint: evaluate the final model again
            D.average_buffers_(model)
            te = evaluate(model, data.x_test, data.y_test, cfg.eval_batch, dist)
            last_eval.update({"test/acc": te["acc"], "test/loss": te["loss"], "train/loss": last_loss})
            if n_tr:
                tr = evaluate(model, data.x_train[:n_tr], data.y_train[:n_tr], cfg.eval_batch, dist)
                last_eval.update({"train_eval/acc": tr["acc"], "train_eval/loss": tr["loss"]})
    status = "complete" if status in ("running", "reached") else status
    if status == "diverged":
        last_eval = {}
    summary = {"run_id": run_id(cfg), "study": cfg.study, "status": status,
               "steps": done,
               "diverged_step": diverged_at, "target_reached_step": reached_at,
               "examples_seen": done * cfg.global_batch,
               "wall_s": time.perf_counter() - t0, "train_s": t_train,
               "lr_peak": res.lr_peak, "world_size": dist.world_size, "has_bn": has_batchnorm(model),
               "final_test_acc": last_eval.get("test/acc"), "final_test_loss": last_eval.get("test/loss"),
               "final_train_acc": last_eval.get("train_eval/acc"),
               "final_train_loss": last_eval.get("train/loss"),
               **({"final_test_running_acc": last_eval["test_running/acc"]}
                  if "test_running/acc" in last_eval else {}),
               **(stale.summary() if stale is not None else {})}
    sink.finish(summary)
    summary["_model"] = model
    return summary
