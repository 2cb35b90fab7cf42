"""The only module that touches torch.distributed: process group, DDP wrapping, reductions.

Launched under `torchrun` it reads RANK/WORLD_SIZE/LOCAL_RANK and joins a process group (NCCL on
CUDA, gloo on CPU); launched as a plain `python -m ...` it is a world of one with no group at all.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist


@dataclass(frozen=True)
class Dist:
    rank: int
    local_rank: int
    world_size: int
    local_world_size: int
    device: torch.device
    is_main: bool

    @property
    def enabled(self) -> bool:
        return self.world_size > 1 or tdist.is_initialized()


def env_world_size() -> int:
    """World size from the torchrun environment (1 without torchrun); no group is created."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init(device: str = "auto", timeout_s: float = 300.0) -> Dist:
    """Join the process group if launched by torchrun; pick the device and backend.

    Args:
        device: "auto" (CUDA if available), "cpu" or "cuda".
        timeout_s: collective timeout; a dead peer fails the job instead of hanging it forever.
    """
    world = env_world_size()
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        dev = torch.device("cuda", torch.cuda.current_device())
    else:
        dev = torch.device("cpu")
    if world > 1 and not tdist.is_initialized():
        backend = "nccl" if use_cuda else "gloo"
        kw = {"device_id": dev} if use_cuda else {}
        timeout = datetime.timedelta(seconds=timeout_s)
        tdist.init_process_group(
            backend,
            timeout=timeout,
            store=_attempt_store(rank, world, timeout),
            rank=rank,
            world_size=world,
            **kw,
        )
    return Dist(rank, local_rank, world, local_world, dev, rank == 0)


def _attempt_store(rank: int, world: int, timeout) -> tdist.Store:
    """The rendezvous store, with keys prefixed by torchrun's restart count.

    After `torchrun --max-restarts` relaunches the workers, the agent's store still holds the previous
    attempt's keys; without a per-attempt prefix gloo reads a dead peer's address and the restart fails
    with "connectFullMesh ... Connection refused" (seen here with torch 2.14; cf. pytorch issue 167288).
    """
    agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = tdist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        world,
        is_master=(rank == 0 and not agent),
        timeout=timeout,
        multi_tenant=not agent,
    )
    return tdist.PrefixStore(f"largebatch/attempt_{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)


def cleanup() -> None:
    """Tear the group down: a barrier first so no peer is still mid-collective (gloo aborts)."""
    if tdist.is_initialized():
        try:
            tdist.barrier()
        finally:
            tdist.destroy_process_group()


def barrier() -> None:
    if tdist.is_initialized():
        tdist.barrier()


def all_reduce_sum_(t: torch.Tensor) -> torch.Tensor:
    """In-place sum over ranks (no-op for a world of one)."""
    if tdist.is_initialized():
        tdist.all_reduce(t, op=tdist.ReduceOp.SUM)
    return t


def world_size() -> int:
    """Ranks in the default group (1 without torch.distributed)."""
    return tdist.get_world_size() if tdist.is_initialized() else 1


def all_reduce_mean_(t: torch.Tensor) -> torch.Tensor:
    if tdist.is_initialized():
        tdist.all_reduce(t, op=tdist.ReduceOp.SUM)
        t.div_(tdist.get_world_size())
    return t


def broadcast_object(obj, src: int = 0):
    if not tdist.is_initialized():
        return obj
    box = [obj]
    tdist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather_tensor(t: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's copy of `t` (same shape on all ranks), in rank order; [t] for a world of one."""
    if not tdist.is_initialized():
        return [t]
    out = [torch.empty_like(t) for _ in range(tdist.get_world_size())]
    tdist.all_gather(out, t.contiguous())
    return out


def all_gather_object(obj) -> list:
    if not tdist.is_initialized():
        return [obj]
    out = [None] * tdist.get_world_size()
    tdist.all_gather_object(out, obj)
    return out


def average_buffers_(module: torch.nn.Module) -> None:
    """Average floating-point buffers (BN running statistics) over ranks.

    Each rank updates its running averages from its own workers' statistics; the update is linear,
    so the rank average equals the single-process value exactly (tests/test_trainer.py).
    """
    if not tdist.is_initialized():
        return
    bufs = [b for b in module.buffers() if b.is_floating_point()]
    if bufs:
        flat = torch.cat([b.reshape(-1) for b in bufs])
        all_reduce_mean_(flat)
        offset = 0
        for b in bufs:
            b.copy_(flat[offset : offset + b.numel()].view_as(b))
            offset += b.numel()


def wrap_ddp(model: torch.nn.Module, dist: Dist, comm_hook=None, hook_state=None):
    """DistributedDataParallel around `model` (returned unchanged for a world of one).

    Buffers are not broadcast each forward: BN statistics stay per worker (Goyal §2.3) and are
    averaged explicitly with `average_buffers_` before evaluation and checkpoints.
    """
    if not tdist.is_initialized():
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ddp = DDP(
        model,
        device_ids=[dist.device] if dist.device.type == "cuda" else None,
        forward_sync_buffers=False,
        gradient_as_bucket_view=True,
    )
    if comm_hook is not None:
        ddp.register_comm_hook(hook_state, comm_hook)
    return ddp


def compression_hook(dtype: str):
    """PyTorch's built-in fp16/bf16 allreduce-compression hook, or None for fp32."""
    if dtype == "fp32":
        return None
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

    return {"fp16": default_hooks.fp16_compress_hook, "bf16": default_hooks.bf16_compress_hook}[dtype]


def allreduce_bucket_async(tensor: torch.Tensor):
    """Start an async mean-allreduce of a DDP bucket; returns a Future of the tensor."""
    ws = tdist.get_world_size()
    tensor.div_(ws)
    return tdist.all_reduce(tensor, async_op=True).get_future().then(lambda f: f.value()[0])
