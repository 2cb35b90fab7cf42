"""Benchmarks (not tests): core overhead vs a hand-written loop, noise-measurement cost.

    python benchmarks/bench_core.py [--quick]        (writes benchmarks/results.json)
Every number is a ratio against a baseline measured in the same process (median of repeats).
The 2-rank noise overhead runs under torchrun from here (`noise_ddp` section).
"""

from __future__ import annotations

import argparse
import json
import math
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


def bare_loop(model_name, data, batch, steps, lr=0.1, **model_kw) -> float:
    """Minimal loop: same model, in-memory data, one permutation, SGD momentum. Returns samples/s."""
    torch.manual_seed(0)
    model = build_model(model_name, data.in_shape, 10, bn_group=0, **model_kw)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    t = time.perf_counter()
    perm = torch.randperm(len(data.y_train))
    for s in range(steps):
        idx = perm[s * batch : (s + 1) * batch]
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(data.x_train[idx]), data.y_train[idx]).backward()
        opt.step()
    return steps * batch / (time.perf_counter() - t)


def core_loop(model_name, data, batch, steps, out, per_worker=None, **kw) -> float:
    cfg = make_config(
        study="bench",
        model=model_name,
        global_batch=batch,
        per_worker_batch=per_worker or batch,
        lr_base=0.1,
        lr_base_batch=batch,
        momentum=0.9,
        epochs=1,
        max_steps=steps,
        eval_every_steps=10**9,
        eval_train_examples=0,
        progress=False,
        wandb="off",
        log_every_steps=50,
        out_dir=out,
        **kw,
    )
    s = train(cfg, data=data, resume=False)
    return steps * batch / s["train_s"]


def matmul_peak(n: int = 2048, reps: int = 10) -> float:
    """This machine's fp32 matmul FLOP/s (best of reps), the denominator of compute efficiency."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def step_matmuls_flop_s(batch: int = 512, dims=(784, 1000, 1000, 10), reps: int = 20) -> float:
    """FLOP/s of only the matmuls of one MLP training step, with the step's shapes and layouts (3 forward,
    3 weight-gradient, 2 input-gradient products; best of reps): the ceiling this BLAS sets for the step."""
    xs = [torch.randn(batch, d) for d in dims[:-1]]
    ws = [torch.randn(o, i) for i, o in zip(dims[:-1], dims[1:])]
    gs = [torch.randn(batch, o) for o in dims[1:]]
    flops = sum(2 * batch * i * o for i, o in zip(dims[:-1], dims[1:])) * 3 - 2 * batch * dims[0] * dims[1]

    def once():
        for x, w, g in zip(xs, ws, gs):
            F.linear(x, w)  # forward
            g.t() @ x  # weight gradient
        for w, g in zip(ws[1:], gs[1:]):
            g @ w  # input gradient (none for the first layer)

    once()
    best = math.inf
    for _ in range(reps):
        t = time.perf_counter()
        once()
        best = min(best, time.perf_counter() - t)
    return flops / best


def compute_efficiency(data, steps: int, repeats: int = 5) -> dict:
    """MLP 784-1000-1000-10 at batch 512: achieved FLOP/s (flop_counter) / matmul peak, through the core and
    through the bare loop (same model, alternated, median of `repeats`), so the core's share is separable
    from what this CPU's BLAS reaches on these shapes."""
    from largebatch.flops import count_flops

    model = build_model("mlp", data.in_shape, 10, width=1000, depth=2)
    flops = count_flops(model, (512, *data.in_shape), train=True)["train_flops"]
    peak = matmul_peak()
    r = ratio(
        lambda: core_loop("mlp", data, 512, steps, "/tmp/largebatch_bench", width=1000, depth=2),
        lambda: bare_loop("mlp", data, 512, steps, width=1000, depth=2),
        repeats,
    )
    achieved, bare = flops / 512 * r["core_samples_per_s"], flops / 512 * r["bare_samples_per_s"]
    shapes = step_matmuls_flop_s()
    return {
        "train_flops_per_step": flops,
        "achieved_flop_s": achieved,
        "matmul_peak_flop_s": peak,
        "efficiency": achieved / peak,
        "bare_flop_s": bare,
        "bare_efficiency": bare / peak,
        "core_vs_bare": r["ratio"],
        "step_matmuls_flop_s": shapes,
        "step_matmuls_vs_peak": shapes / peak,
        "efficiency_vs_step_matmuls": achieved / shapes,
        "repeats": repeats,
    }


def virtual_workers(data, steps: int) -> dict:
    """Cost of emulating k workers at B = 2048 (BN-MLP): ghost BN in one pass, and with accumulation."""
    out = {}
    base = core_loop("mlp_bn", data, 2048, steps, "/tmp/largebatch_bench", per_worker=2048)
    for k in (1, 8, 64):
        n = 2048 // k
        ghost = core_loop("mlp_bn", data, 2048, steps, "/tmp/largebatch_bench", per_worker=n)
        accum = core_loop("mlp_bn", data, 2048, steps, "/tmp/largebatch_bench", per_worker=n, micro_batch=n)
        out[f"k{k}"] = {
            "per_worker_batch": n,
            "ghost_bn_samples_per_s": ghost,
            "ghost_bn_ratio": ghost / base,
            "accumulation_samples_per_s": accum,
            "accumulation_ratio": accum / base,
        }
    out["one_big_batch_samples_per_s"] = base
    return out


def ratio(fa, fb, repeats):
    """Alternate fa, fb (the order flips every repeat); `ratio` is the median of the per-pair ratios, which
    cancels the slow drift of a shared machine's speed better than a ratio of medians (also reported)."""
    a, b = [], []
    for i in range(repeats):
        if i % 2:
            b.append(fb())
            a.append(fa())
        else:
            a.append(fa())
            b.append(fb())
    pairs = [x / y for x, y in zip(a, b)]
    return {
        "core_samples_per_s": statistics.median(a),
        "bare_samples_per_s": statistics.median(b),
        "ratio": statistics.median(pairs),
        "ratio_of_medians": statistics.median(a) / statistics.median(b),
        "pair_ratio_min": min(pairs),
        "pair_ratio_max": max(pairs),
        "repeats": repeats,
    }


def gpu_rows(gpu: dict) -> list[str]:
    """Rows of scripts/gpu_check.sh's JSON (benchmarks/gpu_check.json), when a GPU run has been committed."""
    rows = []
    if "resnet50_core_img_s" in gpu:
        rows.append(
            f"| ResNet-50 training on {gpu.get('device', 'GPU')}, batch {gpu.get('batch')}, bf16 + "
            f"channels_last, images/s | {gpu['resnet50_core_img_s']:,.0f} (core) | "
            f"{gpu['resnet50_bare_img_s']:,.0f} (bare loop) | {gpu['resnet50_core_over_bare']:.3f} |"
        )
    if "mlp_20_epochs_s" in gpu:
        rows.append(
            f"| seed MLP, 20 epochs on {gpu.get('device', 'GPU')} | {gpu['mlp_20_epochs_s']:.1f} s | "
            f"| test acc {gpu.get('mlp_final_test_acc', float('nan')):.4f} |"
        )
    return rows


def render(res: dict, readme: Path, gpu: dict | None = None) -> None:
    """Write the results table into benchmarks/README.md between its markers (plus the GPU check's rows
    from benchmarks/gpu_check.json if it exists)."""
    if gpu is None and (HERE / "gpu_check.json").exists():
        gpu = json.loads((HERE / "gpu_check.json").read_text())
    rows = ["| benchmark | measured | baseline (same process) | ratio |", "|---|---|---|---|"]
    for k in ("core_mlp_b256", "core_mlp_bn_b256", "core_seed_mlp_b100"):
        if k in res:
            r = res[k]
            rng = (
                f" (pairs {r['pair_ratio_min']:.3f}–{r['pair_ratio_max']:.3f})"
                if "pair_ratio_min" in r
                else ""
            )
            rows.append(
                f"| {k}: core samples/s | {r['core_samples_per_s']:,.0f} | "
                f"{r['bare_samples_per_s']:,.0f} (bare loop) | {r['ratio']:.3f}{rng} |"
            )
    if "noise_per_example_vs_loop" in res:
        r = res["noise_per_example_vs_loop"]
        rows.append(
            f"| per-example noise estimate, samples/s | {r['vmap_samples_per_s']:,.0f} (vmap) | "
            f"{r['loop_samples_per_s']:,.0f} (Python loop) | {r['speedup']:.2f}x |"
        )
    if "noise_per_example_linear_vs_loop" in res:
        r = res["noise_per_example_linear_vs_loop"]
        rows.append(
            f"| per-example noise, Linear-only fast path (what NoiseMeter uses on MLPs), samples/s | "
            f"{r['fast_samples_per_s']:,.0f} | {r['loop_samples_per_s']:,.0f} (Python loop) | "
            f"{r['speedup']:.1f}x |"
        )
    r = res.get("noise_two_batch_ddp", {})
    if "overhead_every_step" in r:
        rows.append(
            f"| two-batch noise, 2 ranks, B=1024: step time measuring every step | "
            f"{r['step_s_measure_every_step'] * 1e3:.2f} ms | {r['step_s_without'] * 1e3:.2f} ms | "
            f"+{r['overhead_every_step'] * 100:.1f}% |"
        )
        rows.append(f"| same, measuring every 10 steps | | | +{r['overhead_every_10_steps'] * 100:.1f}% |")
    r = res.get("compute_efficiency_mlp1000_b512")
    if r:
        rows.append(
            f"| MLP 784-1000-1000-10 training step, batch 512, through the core | "
            f"{r['achieved_flop_s'] / 1e9:.1f} GFLOP/s | {r['matmul_peak_flop_s'] / 1e9:.1f} GFLOP/s "
            f"(fp32 matmul peak, 2048²) | {r['efficiency']:.3f} |"
        )
        if "bare_efficiency" in r:
            rows.append(
                f"| same step in the bare loop | {r['bare_flop_s'] / 1e9:.1f} GFLOP/s | "
                f"{r['matmul_peak_flop_s'] / 1e9:.1f} GFLOP/s | {r['bare_efficiency']:.3f} "
                f"(core / bare {r['core_vs_bare']:.3f}) |"
            )
        if "step_matmuls_flop_s" in r:
            rows.append(
                f"| only the step's 8 matmuls (its shapes, no autograd) | "
                f"{r['step_matmuls_flop_s'] / 1e9:.1f} GFLOP/s | "
                f"{r['matmul_peak_flop_s'] / 1e9:.1f} GFLOP/s | {r['step_matmuls_vs_peak']:.3f} "
                f"(core step / these matmuls {r['efficiency_vs_step_matmuls']:.3f}) |"
            )
    r = res.get("virtual_workers_mlp_bn_b2048")
    if r:
        for k in ("k1", "k8", "k64"):
            v = r[k]
            rows.append(
                f"| BN-MLP B=2048 as {k[1:]} virtual workers (n={v['per_worker_batch']}): ghost BN / "
                f"+accumulation, samples/s | {v['ghost_bn_samples_per_s']:,.0f} / "
                f"{v['accumulation_samples_per_s']:,.0f} | {r['one_big_batch_samples_per_s']:,.0f} "
                f"(one batch, one BN group) | {v['ghost_bn_ratio']:.3f} / "
                f"{v['accumulation_ratio']:.3f} |"
            )
    r = res.get("data_parallel_2_vs_1", {})
    if "samples_per_s_ratio" in r:
        rows.append(
            f"| 2 gloo processes vs 1 at global batch {r['two_procs']['global_batch']} (MLP), "
            "samples/s; "
            f"allreduce share of the 2-process step {r['two_procs']['allreduce_share']:.1%} | "
            f"{r['two_procs']['samples_per_s']:,.0f} | {r['one_proc']['samples_per_s']:,.0f} | "
            f"{r['samples_per_s_ratio']:.3f} |"
        )
    for key in ("jobs_small_mlp_grid", "jobs_resmlp_bn_grid"):
        r = res.get(key)
        if not r:
            continue
        rows.append(
            f"| sweep of {len(r['grid_indices'].split(','))} {r['study']} runs ({r['max_steps']} steps "
            f"each): 2 one-thread runs at a time (--jobs=2) vs one {r['jobs1_threads']}-thread run "
            f"(--jobs=1), wall time | {r['jobs2_s']:.1f} s | {r['jobs1_s']:.1f} s | "
            f"{r['ratio']:.2f}x (pairs {r['pair_ratio_min']:.2f}–{r['pair_ratio_max']:.2f}) |"
        )
        if "warm_ratio" in r:
            rows.append(
                "| same, steady state of a long sweep: the worker pool started and warmed before the clock "
                f"(its start with a warm-up run per worker: {r['pool_start_s']:.1f} s, paid once a sweep) | "
                f"{r['warm_jobs2_s']:.1f} s | {r['warm_jobs1_s']:.1f} s | {r['warm_ratio']:.2f}x (pairs "
                f"{r['warm_pair_ratio_min']:.2f}–{r['warm_pair_ratio_max']:.2f}) |"
            )
    rows += gpu_rows(gpu or {})
    table = "\n".join(rows) + f"\n\n(torch {res.get('torch')}, {res.get('threads')} threads)\n"
    text = readme.read_text()
    a, b = "<!-- results:start -->", "<!-- results:end -->"
    readme.write_text(text[: text.index(a) + len(a)] + "\n" + table + text[text.index(b) :])


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
    for name, model, batch in (
        ("core_mlp_b256", "mlp", 256),
        ("core_mlp_bn_b256", "mlp_bn", 256),
        ("core_seed_mlp_b100", "mlp", 100),
    ):
        n = steps if a.quick else len(data.y_train) // batch - 1  # one epoch: every batch distinct
        res[name] = ratio(
            lambda m=model, b=batch, n=n: core_loop(m, data, b, n, tmp),
            lambda m=model, b=batch, n=n: bare_loop(m, data, b, n),
            1 if a.quick else 9,
        )
        res[name]["steps"] = n
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
            F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
            gs.append([p.grad.clone() for p in model.parameters()])
        per_example_estimate([torch.stack(t) for t in zip(*gs)])
        return n_loop / (time.perf_counter() - t)

    def fast():
        t = time.perf_counter()
        per_example_estimate_linear(model, x, y)
        return 256 / (time.perf_counter() - t)

    pl = ratio(fast, loop, reps)
    res["noise_per_example_linear_vs_loop"] = {
        "fast_samples_per_s": pl["core_samples_per_s"],
        "loop_samples_per_s": pl["bare_samples_per_s"],
        "speedup": pl["ratio"],
    }
    print("noise_per_example_linear_vs_loop", json.dumps(res["noise_per_example_linear_vs_loop"]), flush=True)
    pe = ratio(vm, loop, reps)
    res["noise_per_example_vs_loop"] = {
        "vmap_samples_per_s": pe["core_samples_per_s"],
        "loop_samples_per_s": pe["bare_samples_per_s"],
        "speedup": pe["ratio"],
    }
    print("noise_per_example_vs_loop", json.dumps(res["noise_per_example_vs_loop"]), flush=True)
    res["compute_efficiency_mlp1000_b512"] = compute_efficiency(data, 3 if a.quick else 100, reps)
    print("compute_efficiency", json.dumps(res["compute_efficiency_mlp1000_b512"]), flush=True)
    res["virtual_workers_mlp_bn_b2048"] = virtual_workers(data, 2 if a.quick else 20)
    print("virtual_workers", json.dumps(res["virtual_workers_mlp_bn_b2048"]), flush=True)
    if not a.quick:
        torchrun = str(Path(sys.executable).with_name("torchrun"))
        r = subprocess.run(
            [torchrun, "--standalone", "--nproc_per_node=2", str(HERE / "bench_dp.py")],
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        one = subprocess.run([sys.executable, str(HERE / "bench_dp.py")], capture_output=True, text=True)
        lines = [
            json.loads(ln) for out in (r.stdout, one.stdout) for ln in out.splitlines() if ln.startswith("{")
        ]
        if len(lines) == 2:
            two, single = lines
            res["data_parallel_2_vs_1"] = {
                "two_procs": two,
                "one_proc": single,
                "samples_per_s_ratio": two["samples_per_s"] / single["samples_per_s"],
            }
        else:
            res["data_parallel_2_vs_1"] = {"error": (r.stderr + one.stderr)[-500:]}
        print("data_parallel_2_vs_1", json.dumps(res["data_parallel_2_vs_1"]), flush=True)
        r = subprocess.run(
            [torchrun, "--standalone", "--nproc_per_node=2", str(HERE / "bench_noise_ddp.py")],
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        line = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
        res["noise_two_batch_ddp"] = json.loads(line[-1]) if line else {"error": r.stderr[-500:]}
        print("noise_two_batch_ddp", json.dumps(res["noise_two_batch_ddp"]), flush=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    if not a.quick:
        render(res, HERE / "README.md")


if __name__ == "__main__":
    main()
