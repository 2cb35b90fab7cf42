"""Progress off a terminal is plain lines (no bar escape codes, no `loss=nan` before the first loss), and a
run's log holds them.

Run: `pytest tests/test_progress.py` (~5 s).
"""

from largebatch.cli import main
from largebatch.progress import Lines, progress


def test_lines_off_a_terminal(capsys, monkeypatch):
    monkeypatch.setenv("LARGEBATCH_PROGRESS_S", "0")
    p = progress(10, desc="demo")
    assert isinstance(p, Lines)  # pytest's captured stderr is not a TTY
    p.set_postfix(loss=None, acc="0.5000")
    for _ in range(10):
        p.update(1)
    p.close()
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert (
        len(lines) == 10 and lines[-1].startswith("[demo] step 10/10 (100 %)") and "acc 0.5000" in lines[-1]
    )
    assert "\r" not in err and "\x1b" not in err and "nan" not in err


def test_run_log_has_plain_progress_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LARGEBATCH_PROGRESS_S", "0")
    args = ["--train_examples=1024", "--global_batch=128", "--max_steps=8", "--eval_every_steps=4"]
    assert main(args + ["--wandb=off", f"--out_dir={tmp_path}"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err and "nan" not in err
    assert "[demo] step 8/8 (100 %)" in err and "loss " in err
