"""Issue 21, one test per defect: no lost results, no silent wrong numbers, no tracebacks.

Each test failed on the code before the fix. Runs are tiny (synthetic data, 4 steps) and in-process
(`largebatch.cli.main`); one test spawns 2 gloo ranks (the restart series), one runs the README's
first example on Fashion-MNIST (~5 s).

Run: `WANDB_MODE=disabled pytest -q tests/test_safety.py`
"""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from interrupt import train_until

from largebatch import metrics, results
from largebatch.cli import main
from largebatch.config import make_config, parse_overrides, run_id
from largebatch.trainer import CHECKPOINT, run_dir, train

ROOT = Path(__file__).resolve().parents[1]
BASE = [
    "--dataset=synthetic",
    "--synthetic_examples=512",
    "--global_batch=64",
    "--per_worker_batch=32",
    "--max_steps=4",
    "--eval_every_steps=2",
    "--eval_train_examples=0",
    "--progress=false",
    "--wandb=off",
]


def _args(tmp_path, *extra) -> list[str]:
    return [*BASE, f"--out_dir={tmp_path}", *extra]


def _cfg(tmp_path, *extra):
    return make_config(**parse_overrides(_args(tmp_path, *extra)))


def _summary(cfg) -> dict:
    return json.loads((run_dir(cfg) / "summary.json").read_text())


def made_up_run(runs: Path, cfg, acc: float = 0.5, steps: int = 1) -> Path:
    """A complete run directory of `cfg` whose files agree (config.json hashes to its id, the summary's
    steps and accuracy are metrics.jsonl's last evaluation), as a collector requires since issue 25."""
    from largebatch.config import to_dict

    d = runs / cfg.study / run_id(cfg)
    d.mkdir(parents=True)
    cj = {"config": to_dict(cfg), "resolved": {"train_examples": 1}, "run_id": run_id(cfg), "git_sha": None}
    (d / "config.json").write_text(json.dumps(cj))
    summary = {
        "run_id": run_id(cfg),
        "status": "complete",
        "steps": steps,
        "examples_seen": steps,
        "final_train_acc": acc,
        "final_test_acc": acc,
        "target_reached_step": None,
        "wall_s": 1.0,
    }
    (d / "summary.json").write_text(json.dumps(summary))
    rec = {"step": steps, "examples_seen": steps, "test/acc": acc}
    (d / "metrics.jsonl").write_text(json.dumps(rec) + "\n")
    return d


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --- 1. --force, completeness, final evaluation ---------------------------------------------------------


def test_force_on_a_finished_run_trains_it_again_from_scratch(tmp_path, capsys):
    cfg = _cfg(tmp_path)
    assert main(_args(tmp_path)) == 0
    before = _summary(cfg)
    capsys.readouterr()
    assert main(_args(tmp_path)) == 0 and "--force" in capsys.readouterr().out  # skipped, hint given
    assert main(_args(tmp_path, "--force")) == 0
    after = _summary(cfg)
    assert after["steps"] == 4 and after["final_test_acc"] is not None
    assert after["final_test_acc"] == before["final_test_acc"]  # same run again, not 0 steps of nothing


def test_killed_after_last_checkpoint_before_summary_finishes_the_evaluation(tmp_path, capsys):
    clean = _cfg(tmp_path / "clean")
    assert main(_args(tmp_path / "clean")) == 0
    cut = _cfg(tmp_path / "cut")
    train_until(cut, 4)  # the last checkpoint is written, the summary is not (as if killed there)
    assert (run_dir(cut) / CHECKPOINT).exists() and not (run_dir(cut) / "summary.json").exists()
    capsys.readouterr()
    assert main(_args(tmp_path / "cut")) == 0
    out = capsys.readouterr().out
    assert "test acc None" not in out
    s = _summary(cut)
    assert s["status"] == "complete" and s["final_test_acc"] == _summary(clean)["final_test_acc"]
    assert metrics.is_complete(run_dir(cut))


def test_truncated_summary_is_not_complete_and_the_rerun_repairs_it(tmp_path, capsys):
    cfg = _cfg(tmp_path)
    assert main(_args(tmp_path)) == 0
    good = _summary(cfg)
    p = run_dir(cfg) / "summary.json"
    p.write_text(p.read_text()[: len(p.read_text()) // 2])
    assert not metrics.is_complete(run_dir(cfg))
    assert len(results.load_runs("demo", tmp_path)) == 0 and "truncated" in capsys.readouterr().err
    assert main(_args(tmp_path)) == 0
    assert _summary(cfg)["final_test_acc"] == good["final_test_acc"]
    # a summary with null metrics (what the old --force wrote) is not complete either
    p.write_text(json.dumps({**good, "final_test_acc": None}))
    assert not metrics.is_complete(run_dir(cfg))


# --- 2. checkpoints are tied to their config and data -----------------------------------------------------


def test_checkpoint_of_another_config_is_refused_naming_both(tmp_path, capsys):
    a, b = _cfg(tmp_path), _cfg(tmp_path, "--lr_base=0.2")
    train_until(a, 2)
    run_dir(b).mkdir(parents=True)
    shutil.copy(run_dir(a) / CHECKPOINT, run_dir(b) / CHECKPOINT)
    assert main(_args(tmp_path, "--lr_base=0.2")) == 2
    line = _one_line(capsys.readouterr().err)
    assert run_id(a) in line and run_id(b) in line and "--no-resume" in line
    assert not (run_dir(b) / "config.json").exists() and not (run_dir(b) / "summary.json").exists()
    assert main(_args(tmp_path, "--lr_base=0.2", "--no-resume")) == 0  # the advice works


def test_checkpoint_of_other_data_is_refused(tmp_path):
    from largebatch.data import make_synthetic
    from largebatch.trainer import CheckpointError

    cfg = make_config(
        dataset="synthetic",
        global_batch=64,
        max_steps=4,
        eval_every_steps=2,
        wandb="off",
        eval_train_examples=0,
        progress=False,
        out_dir=str(tmp_path),
    )
    train_until(cfg, 2, data=make_synthetic(512, (1, 28, 28), 10, seed=0))
    with pytest.raises(CheckpointError, match="trained on data"):
        train(cfg, data=make_synthetic(512, (1, 28, 28), 10, seed=1))


# --- 3. a restart resumes every rank's own loss sums ------------------------------------------------------


def test_two_rank_restart_logs_the_uninterrupted_train_loss_series(fmnist_small, tmp_path):
    from dist_utils import spawn
    from safety_workers import restart_series

    kw = dict(
        model="mlp",
        global_batch=256,
        per_worker_batch=32,
        max_steps=8,
        log_every_steps=4,
        checkpoint_every_steps=3,
        eval_every_steps=8,
        eval_train_examples=0,
        progress=False,
        wandb="off",
        out_dir=str(tmp_path),
    )
    clean, cut = spawn(2, restart_series, kw, fmnist_small, 3)[0]
    assert [s for s, _ in clean] == [4, 8]
    assert cut == clean  # bitwise: the step-4 loss includes both ranks' steps 1-3 sums from the checkpoint


# --- 4. collectors never shrink a committed CSV; --replay never edits its input ----------------------------


def test_partial_grid_refused_unless_asked(tmp_path, capsys):
    """The issue's case: a rerun of one noise_scale run would have replaced the 298-row CSV with one row."""
    import sys

    sys.path.insert(0, str(ROOT))
    from experiments.noise_scale import collect as C
    from experiments.noise_scale.config import grid

    data = tmp_path / "data"
    data.mkdir()
    for name in ("noise_scale.csv", "noise_scale_curves.csv"):
        shutil.copy(ROOT / "paper_figures/data" / name, data / name)
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    made_up_run(tmp_path / "runs", grid("cpu")[0])
    rows = len(pd.read_csv(data / "noise_scale.csv"))  # the committed CSV (298 rows when the issue was filed)
    with pytest.raises(results.ShrinkError, match=f"{rows} rows"):
        C.collect("cpu", tmp_path / "runs", data)
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before  # neither CSV changed
    # the command line says so in one line and exits 1; --partial writes on request
    assert results.collect_main(lambda s: C.collect(s, tmp_path / "runs", data), []) == 1
    assert "refusing to replace" in _one_line(capsys.readouterr().err)
    assert results.collect_main(lambda s: C.collect(s, tmp_path / "runs", data), ["--partial"]) == 0
    assert len(pd.read_csv(data / "noise_scale.csv")) == 1


def test_write_csvs_is_all_or_nothing(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    results.write_csv_atomic(pd.DataFrame({"x": [1]}), a)
    results.write_csv_atomic(pd.DataFrame({"x": [1, 2, 3]}), b)
    old = a.read_bytes(), b.read_bytes()
    with pytest.raises(results.ShrinkError):
        results.write_csvs([(pd.DataFrame({"x": [1, 2]}), a), (pd.DataFrame({"x": [1]}), b)])
    assert (a.read_bytes(), b.read_bytes()) == old
    with results.allow_partial():
        results.write_csvs([(pd.DataFrame({"x": [1, 2]}), a), (pd.DataFrame({"x": [1]}), b)])
    assert len(pd.read_csv(b)) == 1


def test_replay_helper_never_edits_the_committed_input(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT))
    from experiments.async_staleness import collect as C

    committed = tmp_path / "replay.csv"
    shutil.copy(ROOT / "experiments/async_staleness/replay.csv", committed)
    before = committed.read_bytes()
    out = C.write_replay(runs_dir=tmp_path / "runs", path=committed)  # no real runs here
    assert committed.read_bytes() == before
    assert out != committed and out.is_relative_to(tmp_path / "runs")
    old, new = pd.read_csv(committed, comment="#"), pd.read_csv(out, comment="#")
    assert set(old.staleness_dist) <= set(new.staleness_dist)  # no distribution dropped (80 real2ms lines)
    for name in set(old.staleness_dist) - {"sim_async_n16"}:
        pd.testing.assert_frame_equal(
            old[old.staleness_dist == name].reset_index(drop=True),
            new[new.staleness_dist == name].reset_index(drop=True),
        )
    with pytest.raises(ValueError, match="committed input"):
        C.write_replay(runs_dir=tmp_path / "runs", path=committed, out=committed)


# --- 5. validation and one-line errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "arg,field",
    [
        ("--micro_batch=-32", "micro_batch"),
        ("--epochs=inf", "epochs"),
        ("--log_every_steps=0", "log_every_steps"),
        ("--lr_base=nan", "lr_base"),
    ],
)
def test_values_that_used_to_pass_validation_exit_2(tmp_path, capsys, arg, field):
    assert main(_args(tmp_path, arg)) == 2
    assert field in _one_line(capsys.readouterr().err)
    assert not any(tmp_path.iterdir())


def test_grid_flags_to_largebatch_train_are_refused(tmp_path, capsys):
    for flag in ("--list", "--index=3", "--scale=cpu"):
        assert main(_args(tmp_path, flag)) == 2
        assert "experiments.<study>.run" in _one_line(capsys.readouterr().err)
    assert not any(tmp_path.iterdir())


def test_collector_skips_a_corrupt_config_json_with_a_warning(tmp_path, capsys):
    import sys

    sys.path.insert(0, str(ROOT))
    from experiments.seed_mlp import collect as C

    bad = tmp_path / "runs" / "seed_mlp" / "seed_mlp-deadbeef-s0"
    bad.mkdir(parents=True)
    (bad / "config.json").write_text('{"config": {"stud')
    assert C.collect("cpu", tmp_path / "runs", tmp_path / "data") == []
    assert "config.json is unreadable" in capsys.readouterr().err


def test_sweep_keeps_a_failed_runs_log_and_accepts_no_resume(tmp_path, capsys):
    import sys

    sys.path.insert(0, str(ROOT))
    from experiments.seed_mlp.config import grid
    from largebatch.sweep import RUN_LOG, run_sweep

    extra = [f"--out_dir={tmp_path}", "--wandb=off"]
    cfg = make_config(grid("smoke")[0], out_dir=str(tmp_path), wandb="off")
    run_dir(cfg).mkdir(parents=True)
    (run_dir(cfg) / CHECKPOINT).write_bytes(b"not a checkpoint")
    assert run_sweep("seed_mlp", "smoke", 1, extra=extra) == 1
    out = capsys.readouterr()
    log = run_dir(cfg) / RUN_LOG
    assert log.exists() and "checkpoint error" in log.read_text()
    assert "checkpoint error" in out.out + out.err and "--no-resume" in out.out + out.err
    assert run_sweep("seed_mlp", "smoke", 1, extra=[*extra, "--no-resume"]) == 0
    assert metrics.is_complete(run_dir(cfg))


def test_failure_excerpt_finds_the_rank_error_under_torchruns_summary():
    from largebatch.sweep import failure_excerpt

    text = (
        "[W] some warning\ndata error: /x/train-images-idx3-ubyte.gz is missing, corrupt or truncated\n"
        'Traceback (most recent call last):\n  File "/v/bin/torchrun", line 8\n'
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:\n"
        + "=" * 60
        + "\n"
        + "\n".join(f"summary line {i}" for i in range(40))
    )
    assert failure_excerpt(text) == (
        "data error: /x/train-images-idx3-ubyte.gz is missing, corrupt or truncated"
    )
    text2 = "ZeroDivisionError in rank 1\nTraceback (most recent call last):\n  torchrun\nChildFailedError\n"
    assert failure_excerpt(text2) == "ZeroDivisionError in rank 1"


def test_ctrl_c_ends_with_one_line(tmp_path, capsys, monkeypatch):
    from largebatch import trainer

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "evaluate", boom)
    try:
        code = main(_args(tmp_path))
    except KeyboardInterrupt:
        code = "KeyboardInterrupt escaped"
    assert code == 130
    assert "rerun the same command to resume" in _one_line(capsys.readouterr().err)


# --- 6. the run directory is locked -----------------------------------------------------------------------


def test_second_run_on_a_locked_directory_exits_with_a_message(tmp_path, capsys):
    cfg = _cfg(tmp_path)
    with metrics.RunLock(run_dir(cfg)):
        assert main(_args(tmp_path)) == 3
        assert "in use by another run" in _one_line(capsys.readouterr().err)
    assert main(_args(tmp_path)) == 0  # released: the run goes ahead


# --- 7. checkpoints load with weights_only=True -------------------------------------------------------------


class _Evil:
    def __reduce__(self):
        return (Path.touch, (Path(_Evil.marker),))


def test_checkpoint_cannot_run_code_on_load(tmp_path, capsys):
    cfg = _cfg(tmp_path)
    train_until(cfg, 2)
    ck = run_dir(cfg) / CHECKPOINT
    assert torch.load(ck, weights_only=True)["step"] == 2  # an honest checkpoint loads safely
    _Evil.marker = str(tmp_path / "pwned")
    torch.save({"model": _Evil(), "step": 2}, ck)
    assert main(_args(tmp_path)) == 2
    assert "--no-resume" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "pwned").exists()
    meta = json.loads((run_dir(cfg) / "checkpoint.json").read_text())
    assert meta["run_id"] == run_id(cfg) and len(meta["data_hash"]) == 40


# --- 8. the README's example trains, and the progress bar shows the train loss ----------------------------


def test_readme_first_training_example_reaches_sensible_accuracy(tmp_path, capsys):
    text = (ROOT / "README.md").read_text()
    m = re.search(r"^python -m largebatch\.train (.*?)(?<!\\)$", text.replace("\\\n", " "), re.M)
    args = [a for a in m.group(1).split("#")[0].split() if a.startswith("--")]
    assert main([*args, f"--out_dir={tmp_path}", "--progress=false", "--wandb=off"]) == 0
    s = json.loads(next(tmp_path.glob("demo/*/summary.json")).read_text())
    assert s["status"] == "complete" and s["final_test_acc"] > 0.8, s


def test_progress_bar_shows_the_train_loss_between_logs(tmp_path, monkeypatch):
    from largebatch.progress import Lines  # what a run shows off a terminal (pytest's stderr)

    seen = []
    real = Lines.set_postfix
    monkeypatch.setattr(
        Lines,
        "set_postfix",
        lambda self, *a, **k: (seen.append(k.get("loss")), real(self, *a, **k))[1],
    )
    # log at step 2, evaluate at 3 (between logs) and 4
    assert main(_args(tmp_path, "--progress=true", "--log_every_steps=2", "--eval_every_steps=3")) == 0
    assert seen and all(v is not None and v != "nan" for v in seen), seen


@pytest.mark.slow
def test_two_process_sweep_failure_shows_the_ranks_own_error_and_keeps_the_log(tmp_path, capsys):
    import sys

    sys.path.insert(0, str(ROOT))
    from experiments.seed_mlp.config import grid
    from largebatch.sweep import RUN_LOG, run_sweep

    cfg = make_config(grid("smoke")[0], out_dir=str(tmp_path), wandb="off")
    run_dir(cfg).mkdir(parents=True)
    (run_dir(cfg) / CHECKPOINT).write_bytes(b"not a checkpoint")
    assert run_sweep("seed_mlp", "smoke", 2, extra=[f"--out_dir={tmp_path}", "--wandb=off"]) == 1
    o = capsys.readouterr()
    shown = o.out + o.err
    assert "checkpoint error" in shown and "--no-resume" in shown and "ChildFailedError" not in shown, shown
    log = (run_dir(cfg) / RUN_LOG).read_text()
    assert "checkpoint error" in log and "ChildFailedError" in log  # the whole output, torchrun's part too


# --- 9. issue 25: one table of ranges drives the check and --help ------------------------------------------


def test_every_numeric_field_has_a_range_that_help_prints_and_no_comment_repeats():
    """The check and the help read the same table (largebatch.validate.RANGES), so they cannot disagree
    (the help said momentum in [0, 1) while 1.5 was accepted); no field comment states a range by hand."""
    from dataclasses import fields

    from experiments.async_staleness.server_config import SERVER_RANGES, ServerConfig
    from largebatch.cli import help_text
    from largebatch.config import TrainConfig
    from largebatch.validate import RANGES, is_numeric

    for cls, table in ((TrainConfig, RANGES), (ServerConfig, SERVER_RANGES)):
        numeric = [f.name for f in fields(cls) if is_numeric(f.default)]
        assert [n for n in numeric if n not in table] == [], cls.__name__
    entries, cur = {}, None  # option -> its help text (the option's line and its continuation lines)
    for line in help_text("x").splitlines():
        m = re.match(r"\s{2}--([a-z_0-9]+)", line)
        if m:
            cur = m.group(1)
            entries[cur] = line
        elif cur and line.startswith("   "):
            entries[cur] += " " + line.strip()
        else:
            cur = None
    for name, rng in RANGES.items():
        entry = " ".join(entries[name].split())
        assert f"range {rng.text()} (default" in entry, (name, entry)
    src = (ROOT / "src/largebatch/config.py").read_text()
    assert not re.search(r"#.*\bin [\[(]-?\d", src), "a field comment states a range: put it in RANGES"
