"""largebatch.calibration: a study's whole calibrate.py (train the B_simple probe, write its CSV, print it).

A tiny probe on synthetic data (4 steps, the noise module on every step) goes through `probe_main`: trained,
collected, printed; `--collect` alone collects; before the probe exists it says so and exits 1.
Run: `pytest tests/test_calibration.py` (~3 s).
"""

import pandas as pd

from largebatch import calibration
from largebatch.config import make_config


def test_probe_main_trains_collects_and_prints(tmp_path, capsys):
    probe = {"study": "toy_probe", "dataset": "synthetic", "synthetic_examples": 256, "model": "mlp"}
    probe |= {"width": 8, "depth": 1, "global_batch": 64, "per_worker_batch": 16, "lr_base_batch": 64}
    probe |= {"epochs": 1.0, "max_steps": 4, "noise_every_steps": 1, "noise_ema": 0.0, "test_examples": 64}
    cfg = make_config(
        **probe,
        eval_train_examples=0,
        eval_batch=64,
        out_dir=str(tmp_path / "runs"),
        wandb="off",
        progress=False,
    )
    csv = tmp_path / "toy_probe_calib.csv"
    args = ("toy_probe", "Calibrate the toy probe.", cfg, (0.0, 1.0), csv)
    assert calibration.probe_main(*args, argv=["--collect"]) == 1  # nothing trained yet
    assert "no complete probe run" in capsys.readouterr().err and not csv.exists()
    assert calibration.probe_main(*args, note=lambda b: f"(proxy uses {b:.0f})", argv=[]) == 0
    row = pd.read_csv(csv).iloc[0]
    assert row.part == "probe" and row.b_simple > 0 and row.n_measurements == 3  # epochs 0.25-0.75
    assert f"B_simple = {row.b_simple:.1f} (proxy uses" in capsys.readouterr().out
    assert calibration.probe_main(*args, argv=["--collect"]) == 0  # collected again, nothing trained
