"""spawn(world_size, fn, *args) -> {rank: result}: run fn in gloo processes on this machine."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import socket
import traceback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child(rank, world, port, fn, args, q):
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "WORLD_SIZE": str(world),
            "LOCAL_RANK": str(rank),
            "LOCAL_WORLD_SIZE": str(world),
            "WANDB_MODE": "disabled",
            "OMP_NUM_THREADS": "1",
        }
    )
    import torch

    from largebatch import dist as D

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    try:
        d = D.init("cpu", timeout_s=60)
        out = fn(d, *args)
        D.cleanup()
        q.put((rank, "ok", pickle.dumps(out)))  # plain bytes: no shared-memory handles
    except Exception:
        q.put((rank, "error", traceback.format_exc()))
    q.close()
    q.join_thread()
    os._exit(0)


def spawn(world_size: int, fn, *args, timeout: float = 120.0) -> dict:
    """Run fn(dist, *args) on `world_size` gloo ranks; return each rank's result or raise."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_child, args=(r, world_size, port, fn, args, q)) for r in range(world_size)]
    for p in procs:
        p.start()
    results = {}
    try:
        for _ in procs:
            rank, status, out = q.get(timeout=timeout)
            if status != "ok":
                raise AssertionError(f"rank {rank} failed:\n{out}")
            results[rank] = pickle.loads(out)
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return results
