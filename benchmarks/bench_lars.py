"""Times one LARS step against one torch.optim.SGD(momentum=0.9, weight_decay=5e-4) step on CPU.

Parameters are torchvision resnet50's (161 tensors, 25.6M values, untrained) with fixed random grads;
each optimizer gets its own copy. Prints JSON with the median seconds per step and the ratio LARS / SGD.
Not a test. Run: cd /work/main && OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/bench_lars.py
"""

import argparse
import json
import statistics
import time

import torch
import torchvision

from largebatch.lars import LARS


def _params(seed: int) -> list[torch.Tensor]:
    torch.manual_seed(seed)
    ps = [p.detach().clone().requires_grad_() for p in torchvision.models.resnet50(weights=None).parameters()]
    for p in ps:
        p.grad = torch.randn_like(p) * 1e-3
    return ps


def _median_step(opt: torch.optim.Optimizer, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        opt.step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    ps_l, ps_s = _params(0), _params(0)
    lars = LARS(ps_l, lr=0.1, momentum=0.9, weight_decay=5e-4, trust_coef=0.001)
    sgd = torch.optim.SGD(ps_s, lr=0.1, momentum=0.9, weight_decay=5e-4)  # default: for-loop on CPU
    sgd_fe = torch.optim.SGD(_params(0), lr=0.1, momentum=0.9, weight_decay=5e-4, foreach=True)
    t_l = _median_step(lars, args.repeats, args.warmup)
    t_s = _median_step(sgd, args.repeats, args.warmup)
    t_f = _median_step(sgd_fe, args.repeats, args.warmup)
    print(
        json.dumps(
            {
                "device": "cpu",
                "threads": torch.get_num_threads(),
                "tensors": len(ps_l),
                "numel": sum(p.numel() for p in ps_l),
                "repeats": args.repeats,
                "lars_step_s": round(t_l, 5),
                "sgd_step_s": round(t_s, 5),
                "sgd_foreach_step_s": round(t_f, 5),
                "ratio_lars_over_sgd": round(t_l / t_s, 3),
                "ratio_lars_over_sgd_foreach": round(t_l / t_f, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
