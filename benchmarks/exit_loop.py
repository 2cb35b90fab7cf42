"""Clean-exit check (not a test): N consecutive 2-process gloo torchrun runs must all exit 0.

    python benchmarks/exit_loop.py [--runs=50]      (writes benchmarks/exit_loop.json)
This machine's gloo aborts at interpreter exit ~1 run in 5 with a naive teardown; largebatch tears down
with a barrier, destroy_process_group and os._exit (largebatch.cli.exit_main).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "exit_loop.json"))
    a = ap.parse_args()
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    codes, t0 = [], time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.runs):
            r = subprocess.run(
                [
                    torchrun,
                    "--standalone",
                    "--nproc_per_node=2",
                    "-m",
                    "largebatch.train",
                    "--train_examples=2048",
                    "--max_steps=4",
                    "--progress=false",
                    "--wandb=off",
                    f"--seed={i}",
                    f"--out_dir={tmp}",
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            codes.append(r.returncode)
            print(f"run {i}: rc={r.returncode}", flush=True)
    res = {"runs": a.runs, "exit_0": codes.count(0), "codes": codes, "wall_s": round(time.time() - t0, 1)}
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != "codes"}))
    return 0 if res["exit_0"] == a.runs else 1


if __name__ == "__main__":
    sys.exit(main())
