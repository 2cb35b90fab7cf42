"""Two-batch noise measurement overhead under DDP (run by bench_core.py under a 2-process torchrun).

MLP on Fashion-MNIST, global batch 1024, 300 steps, measured every step / every 10 steps / never;
alternated, median of 7.
"""

import json
import os
import statistics

os.environ.setdefault("WANDB_MODE", "disabled")
from largebatch import dist as D  # noqa: E402
from largebatch.config import make_config  # noqa: E402
from largebatch.data import load_fashion_mnist  # noqa: E402
from largebatch.trainer import train  # noqa: E402

d = D.init("cpu")
data = load_fashion_mnist()
STEPS = 300
times = {0: [], 1: [], 10: []}
for rep in range(7):
    for every in (0, 1, 10):
        cfg = make_config(
            study="bench_noise",
            model="mlp",
            global_batch=1024,
            per_worker_batch=32,
            epochs=6,
            max_steps=STEPS,
            eval_every_steps=10**9,
            eval_train_examples=0,
            noise_every_steps=every,
            progress=False,
            wandb="off",
            out_dir=f"/tmp/largebatch_bench_noise_{rep}",
        )
        times[every].append(train(cfg, data=data, dist=d, resume=False)["train_s"])
if d.is_main:
    off, on, on10 = (statistics.median(times[k]) for k in (0, 1, 10))
    print(
        json.dumps(
            {
                "step_s_without": off / STEPS,
                "step_s_measure_every_step": on / STEPS,
                "overhead_every_step": on / off - 1,
                "overhead_every_10_steps": on10 / off - 1,
                "global_batch": 1024,
                "ranks": 2,
            }
        )
    )
D.cleanup()
