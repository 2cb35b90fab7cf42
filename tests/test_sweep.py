"""Sweeps skip finished runs; LARS plugs into the core; the benchmark script runs on tiny sizes.

Run: `pytest tests/test_sweep.py`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from largebatch.config import make_config
from largebatch.models import build_model
from largebatch.optim import build_optimizer
from largebatch.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]


def test_sweep_runs_then_skips(tmp_path, capsys):
    extra = [f"--out_dir={tmp_path}", "--wandb=off"]
    assert run_sweep("seed_mlp", "smoke", 1, extra=extra) == 0
    assert len(list(tmp_path.glob("seed_mlp/*/summary.json"))) == 1
    capsys.readouterr()
    assert run_sweep("seed_mlp", "smoke", 1, extra=extra) == 0
    assert "1 already complete, 0 to run" in capsys.readouterr().out


def test_lars_groups_from_config():
    m = build_model("mlp_bn", (1, 28, 28), 10)
    opt = build_optimizer(m, make_config(optimizer="lars", weight_decay=5e-4))
    flags = {g["name"]: (g["lars_exclude"], g["weight_decay"]) for g in opt.param_groups}
    assert flags == {"decay": (False, 5e-4), "no_decay": (True, 0.0)}


def test_benchmark_script_runs_quick(tmp_path):
    out = tmp_path / "r.json"
    env = {**os.environ, "BENCH_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/bench_core.py"), "--quick", f"--out={out}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["core_mlp_b256"]["ratio"] > 0 and res["noise_per_example_vs_loop"]["speedup"] > 0


def test_benchmark_table_renders_gpu_check_rows(tmp_path):
    """A committed benchmarks/gpu_check.json (from scripts/gpu_check.sh) becomes rows of the table."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_core

    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- results:start -->\n<!-- results:end -->\n")
    gpu = {
        "device": "GPU X",
        "batch": 256,
        "resnet50_core_img_s": 2400.0,
        "resnet50_bare_img_s": 2500.0,
        "resnet50_core_over_bare": 0.96,
        "mlp_20_epochs_s": 12.5,
        "mlp_final_test_acc": 0.88,
    }
    bench_core.render({"torch": "t", "threads": 2}, readme, gpu=gpu)
    text = readme.read_text()
    assert "ResNet-50 training on GPU X" in text and "| 0.960 |" in text and "12.5 s" in text


def test_sweep_exits_nonzero_when_collect_refuses(tmp_path, monkeypatch, capsys):
    """A collect that refuses to shrink a committed CSV leaves it as it is and makes the sweep fail (its
    runs stay complete: the next run of the command skips them and collects again)."""
    import largebatch.sweep as S
    from largebatch.results import ShrinkError

    class Refusing:
        def collect(self, scale, **kw):
            raise ShrinkError("refusing to replace x.csv (6 rows) with 1 row")

    monkeypatch.setattr(S, "get_study", lambda name: Refusing())
    assert S.collect_study("seed_mlp", "smoke", tmp_path) is None
    monkeypatch.setattr(S, "plan", lambda *a, **k: ([], []))
    assert S.run_sweep("seed_mlp", "smoke", 1, extra=[f"--out_dir={tmp_path}"]) == 1
    assert "refusing to replace" in capsys.readouterr().err
