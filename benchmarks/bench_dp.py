"""Data-parallel scaling probe (run by bench_core.py): samples/s at global batch 1024 on this world size,
and the share of step time an allreduce of the gradient takes (timed alone, same size, same group)."""

import json
import os
import statistics
import time

import torch

os.environ.setdefault("WANDB_MODE", "disabled")
from largebatch import dist as D  # noqa: E402
from largebatch.config import make_config  # noqa: E402
from largebatch.data import load_fashion_mnist  # noqa: E402
from largebatch.trainer import train  # noqa: E402

d = D.init("cpu")
data = load_fashion_mnist()
B, STEPS = 1024, 40
sps = []
for rep in range(3):
    cfg = make_config(
        study="bench_dp",
        model="mlp",
        width=512,
        global_batch=B,
        per_worker_batch=32,
        epochs=1,
        max_steps=STEPS,
        eval_every_steps=10**9,
        eval_train_examples=0,
        progress=False,
        wandb="off",
        out_dir=f"/tmp/largebatch_bench_dp_{d.world_size}_{rep}",
    )
    s, model = train(cfg, data=data, dist=d, resume=False, return_model=True)
    sps.append(STEPS * B / s["train_s"])
n_params = sum(p.numel() for p in model.parameters())
share = 0.0
if d.world_size > 1:
    g = torch.randn(n_params)
    ts = []
    for _ in range(20):
        t = time.perf_counter()
        D.all_reduce_sum_(g)
        ts.append(time.perf_counter() - t)
    share = statistics.median(ts) / (B / statistics.median(sps))
if d.is_main:
    print(
        json.dumps(
            {
                "world_size": d.world_size,
                "global_batch": B,
                "samples_per_s": statistics.median(sps),
                "params": n_params,
                "allreduce_share": share,
            }
        )
    )
D.cleanup()
