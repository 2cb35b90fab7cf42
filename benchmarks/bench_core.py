"""Benchmarks (not tests): core overhead vs a hand-written loop, noise-measurement cost.

    python benchmarks/bench_core.py [--quick]        (writes benchmarks/results.json)
Every number is a ratio against a baseline measured in the same process (median of repeats).
The 2-rank noise overhead runs under torchrun from here (`noise_ddp` section).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

os.environ.setdefault("WANDB_MODE", "disabled")
from largebatch.config import make_config  # noqa: E402
from largebatch.data import load_fashion_mnist  # noqa: E402
from largebatch.models import build_model  # noqa: E402
from largebatch.noise import per_example_estimate, per_example_estimate_linear, per_example_grads  # noqa: E402
from largebatch.trainer import train  # noqa: E402

HERE = Path(__file__).resolve().parent


def bare_loop(model_name, data, batch, steps, lr=0.1) -> float:
    """Minimal loop: same model, in-memory data, one permutation, SGD momentum. Returns samples/s."""
    torch.manual_seed(0)
    model = build_model(model_name, data.in_shape, 10, bn_group=0)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    t = time.perf_counter()
    perm = torch.randperm(len(data.y_train))
    for s in range(steps):
        idx = perm[s * batch:(s + 1) * batch]
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(data.x_train[idx]), data.y_train[idx]).backward()
        opt.step()
    return steps * batch / (time.perf_counter() - t)


def core_loop(model_name, data, batch, steps, out, **kw) -> float:
    cfg = make_config(study="bench", model=model_name, global_batch=batch, per_worker_batch=batch,
                      lr_base=0.1, lr_base_batch=batch, momentum=0.9, epochs=1, max_steps=steps,
                      eval_every_steps=10**9, eval_train_examples=0, progress=False, wandb="off",
                      log_every_steps=50, out_dir=out, **kw)
    s = train(cfg, data=data, resume=False)
    return steps * batch / s["train_s"]


def ratio(fa, fb, repeats):
    a, b = [], []
    for _ in range(repeats):
        a.append(fa())
        b.append(fb())
    return {"core_samples_per_s": statistics.median(a), "bare_samples_per_s": statistics.median(b),
            "ratio": statistics.median(a) / statistics.median(b), "repeats": repeats}


def render(res: dict, readme: Path) -> None:
    """Write the results table into benchmarks/README.md between its markers."""
    rows = ["| benchmark | measured | baseline (same process) | ratio |", "|---|---|---|---|"]
    for k in ("core_mlp_b256", "core_mlp_bn_b256", "core_seed_mlp_b100"):
        if k in res:
            r = res[k]
            rows.append(f"| {k}: core samples/s | {r['core_samples_per_s']:,.0f} | "
                        f"{r['bare_samples_per_s']:,.0f} (bare loop) | {r['ratio']:.3f} |")
    if "noise_per_example_vs_loop" in res:
        r = res["noise_per_example_vs_loop"]
        rows.append(f"| per-example noise estimate, samples/s | {r['vmap_samples_per_s']:,.0f} (vmap) | "
                    f"{r['loop_samples_per_s']:,.0f} (Python loop) | {r['speedup']:.2f}x |")
    if "noise_per_example_linear_vs_loop" in res:
        r = res["noise_per_example_linear_vs_loop"]
        rows.append(f"| per-example noise, Linear-only fast path (what NoiseMeter uses on MLPs), samples/s | "
                    f"{r['fast_samples_per_s']:,.0f} | {r['loop_samples_per_s']:,.0f} (Python loop) | "
                    f"{r['speedup']:.1f}x |")
    r = res.get("noise_two_batch_ddp", {})
    if "overhead_every_step" in r:
        rows.append(f"| two-batch noise, 2 ranks, B=1024: step time measuring every step | "
                    f"{r['step_s_measure_every_step'] * 1e3:.2f} ms | {r['step_s_without'] * 1e3:.2f} ms | "
                    f"+{r['overhead_every_step'] * 100:.1f}% |")
        rows.append(f"| same, measuring every 10 steps | | | +{r['overhead_every_10_steps'] * 100:.1f}% |")
    table = "\n".join(rows) + f"\n\n(torch {res.get('torch')}, {res.get('threads')} threads)\n"
    text = readme.read_text()
    a, b = "<!-- results:start -->", "<!-- results:end -->"
    readme.write_text(text[:text.index(a) + len(a)] + "\n" + table + text[text.index(b):])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--render-only", action="store_true", help="rewrite README table from results.json")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (used by the test suite)")
    ap.add_argument("--out", default=str(HERE / "results.json"))
    a = ap.parse_args()
    if a.render_only:
        render(json.loads(Path(a.out).read_text()), HERE / "README.md")
        return
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    data = load_fashion_mnist()
    steps, reps = (5, 1) if a.quick else (200, 5)
    tmp = "/tmp/largebatch_bench"
    res = {"threads": torch.get_num_threads(), "torch": torch.__version__}
    for name, model, batch in (("core_mlp_b256", "mlp", 256), ("core_mlp_bn_b256", "mlp_bn", 256),
                               ("core_seed_mlp_b100", "mlp", 100)):
        res[name] = ratio(lambda m=model, b=batch: core_loop(m, data, b, steps, tmp),
                          lambda m=model, b=batch: bare_loop(m, data, b, steps), reps)
        print(name, json.dumps(res[name]), flush=True)
    # per-example gradients: torch.func vmap vs a Python loop over examples
    model = build_model("mlp", data.in_shape, 10)
    x, y = data.x_train[:256], data.y_train[:256]
    n_loop = 16 if a.quick else 256

    def vm():
        t = time.perf_counter()
        per_example_estimate(per_example_grads(model, x, y))
        return 256 / (time.perf_counter() - t)

    def loop():
        t = time.perf_counter()
        gs = []
        for i in range(n_loop):
            model.zero_grad()
            F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
            gs.append([p.grad.clone() for p in model.parameters()])
        per_example_estimate([torch.stack(t) for t in zip(*gs)])
        return n_loop / (time.perf_counter() - t)

    def fast():
        t = time.perf_counter()
        per_example_estimate_linear(model, x, y)
        return 256 / (time.perf_counter() - t)

    pl = ratio(fast, loop, reps)
    res["noise_per_example_linear_vs_loop"] = {"fast_samples_per_s": pl["core_samples_per_s"],
                                               "loop_samples_per_s": pl["bare_samples_per_s"],
                                               "speedup": pl["ratio"]}
    print("noise_per_example_linear_vs_loop", json.dumps(res["noise_per_example_linear_vs_loop"]), flush=True)
    pe = ratio(vm, loop, reps)
    res["noise_per_example_vs_loop"] = {"vmap_samples_per_s": pe["core_samples_per_s"],
                                        "loop_samples_per_s": pe["bare_samples_per_s"],
                                        "speedup": pe["ratio"]}
    print("noise_per_example_vs_loop", json.dumps(res["noise_per_example_vs_loop"]), flush=True)
    if not a.quick:
        torchrun = str(Path(sys.executable).with_name("torchrun"))
        r = subprocess.run([torchrun, "--standalone", "--nproc_per_node=2", str(HERE / "bench_noise_ddp.py")],
                           capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        line = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
        res["noise_two_batch_ddp"] = json.loads(line[-1]) if line else {"error": r.stderr[-500:]}
        print("noise_two_batch_ddp", json.dumps(res["noise_two_batch_ddp"]), flush=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    if not a.quick:
        render(res, HERE / "README.md")


if __name__ == "__main__":
    main()
