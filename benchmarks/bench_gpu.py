"""GPU benchmark (not a test): ResNet-50 training throughput through the core vs a bare loop, and the seed
article's 20-epoch MLP time on one GPU. Writes JSON (default benchmarks/gpu_results.json).

    python benchmarks/bench_gpu.py [--out=PATH] [--batch=256] [--steps=30] [--compile]
Both sides use the same model, synthetic ImageNet-shaped data already on the GPU, bf16 autocast and
channels_last; the ratio core/bare is measured in this process (median of 3 alternating repeats).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

os.environ.setdefault("WANDB_MODE", "disabled")
from largebatch.config import make_config  # noqa: E402
from largebatch.data import make_synthetic  # noqa: E402
from largebatch.models import build_model  # noqa: E402
from largebatch.trainer import train  # noqa: E402


def bare(data, batch, steps, compile_):
    torch.manual_seed(0)
    model = build_model("resnet50", (3, 224, 224), 1000).cuda().to(memory_format=torch.channels_last)
    fwd = torch.compile(model) if compile_ else model
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = data.x_train, data.y_train

    def step(i):
        idx = torch.randint(0, len(y), (batch,), device="cuda")
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.cross_entropy(fwd(x[idx]).float(), y[idx])
        loss.backward()
        opt.step()

    for i in range(5):
        step(i)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(steps):
        step(i)
    torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t)


def core(data, batch, steps):
    cfg = make_config(
        study="bench_gpu",
        model="resnet50",
        dataset="synthetic_imagenet",
        global_batch=batch,
        per_worker_batch=32,
        lr_base=0.1,
        lr_base_batch=batch,
        momentum=0.9,
        epochs=1e6,
        max_steps=steps + 5,
        eval_every_steps=10**9,
        eval_train_examples=0,
        progress=False,
        wandb="off",
        amp="bf16",
        channels_last=True,
        device="cuda",
        log_every_steps=50,
        out_dir="/tmp/largebatch_bench_gpu",
        synthetic_examples=len(data.y_train),
    )
    s = train(cfg, data=data, resume=False)
    return (steps + 5) * batch / s["train_s"]  # includes 5 warm-up steps, so a conservative number


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).with_name("gpu_results.json")))
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--compile", action="store_true")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit(
            "bench_gpu.py: no CUDA GPU visible (torch.cuda.is_available() is False); "
            "run it on a machine with one, e.g. via scripts/gpu_check.sh"
        )
    torch.backends.cudnn.benchmark = True
    data = make_synthetic(2048, (3, 224, 224), 1000).to("cuda")
    res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "batch": a.batch}
    b, c = [], []
    for _ in range(3):
        b.append(bare(data, a.batch, a.steps, False))
        c.append(core(data, a.batch, a.steps))
    res["resnet50_bare_img_s"], res["resnet50_core_img_s"] = statistics.median(b), statistics.median(c)
    res["resnet50_core_over_bare"] = res["resnet50_core_img_s"] / res["resnet50_bare_img_s"]
    if a.compile:
        res["resnet50_bare_compiled_img_s"] = bare(data, a.batch, a.steps, True)
    # time for 90 ImageNet epochs on this one GPU at the core's throughput
    res["resnet50_90_epochs_hours"] = 90 * 1281167 / res["resnet50_core_img_s"] / 3600
    cfg = make_config(
        study="bench_gpu_mlp",
        model="mlp",
        optimizer="adam",
        lr_base=1e-3,
        lr_base_batch=100,
        lr_scaling="none",
        global_batch=100,
        per_worker_batch=100,
        epochs=20,
        eval_every_steps=600,
        progress=False,
        wandb="off",
        device="cuda",
        out_dir="/tmp/largebatch_bench_gpu",
    )
    s = train(cfg, resume=False)
    res["mlp_20_epochs_s"], res["mlp_20_epochs_train_s"] = s["wall_s"], s["train_s"]
    res["mlp_final_test_acc"] = s["final_test_acc"]
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
