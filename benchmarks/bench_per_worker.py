"""The seed article's case for large minibatches, measured: samples/s of one worker against its batch.

    python benchmarks/bench_per_worker.py          (writes benchmarks/per_worker.csv; ~1-2 min on one core)

One worker = one process on one CPU thread (torch.set_num_threads(1)). For the seed MLP (784-100-100-10)
and a small BN ResNet (resnet_small, depth 1 = ResNet-8, 28x28 inputs), one SGD training step (forward,
backward, update) on random Fashion-MNIST-shaped data is timed at per-worker batches 1 ... 256: after two
warm-up steps, steps run until at least MIN_S seconds have passed; REPEATS such timings per batch, in
alternating order, give samples/s per repeat. The CSV is rendered by experiments/scaling_model/claims.py.
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from largebatch.models import build_model

HERE = Path(__file__).resolve().parent
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256]
MODELS = {"mlp": {"width": 100, "depth": 2}, "resnet_small": {"width": 16, "depth": 1}}
REPEATS, MIN_S = 5, 0.25


def _cpu() -> str:
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def time_steps(model, opt, x, y, min_s: float) -> float:
    """Samples/s of training steps on (x, y) over at least min_s seconds."""

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(2):
        step()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= min_s:
            return n * x.shape[0] / dt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "per_worker.csv"))
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument("--min_s", type=float, default=MIN_S)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = []
    for name, kw in MODELS.items():
        model = build_model(name, (1, 28, 28), 10, **kw)
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        data = {b: (torch.randn(b, 1, 28, 28), torch.randint(0, 10, (b,))) for b in BATCHES}
        for r in range(a.repeats):
            order = BATCHES if r % 2 == 0 else BATCHES[::-1]  # alternate: drift does not favour one end
            for b in order:
                x, y = data[b]
                rows.append(
                    {
                        "model": name,
                        "per_worker_batch": b,
                        "repeat": r,
                        "samples_per_s": round(time_steps(model, opt, x, y, a.min_s), 3),
                    }
                )
        print(f"[bench_per_worker] {name} done", flush=True)
    meta = {"device": _cpu(), "torch": torch.__version__, "threads": torch.get_num_threads()}
    out = Path(a.out)
    with out.open("w", newline="") as f:
        w = csv.DictWriter(
            f,
            fieldnames=["model", "per_worker_batch", "repeat", "samples_per_s", "device", "torch", "threads"],
            lineterminator="\n",
        )
        w.writeheader()
        for r in sorted(rows, key=lambda r: (r["model"], r["per_worker_batch"], r["repeat"])):
            w.writerow({**r, **meta})
    print(f"[bench_per_worker] wrote {out} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
