"""A non-editable install works: the wheel, installed into a fresh venv, runs outside the checkout and in it.

The wheel is built offline (`pip wheel --no-deps --no-build-isolation`) and installed with `--no-deps
--no-index` into a new venv that sees this interpreter's packages through a .pth file (torch and the rest
are reused, nothing is downloaded). Then, with no PYTHONPATH:
- outside the checkout: `largebatch-train --help`, `largebatch-train --model=alexnet_mlp --dry` (a study's
  model, from the installed `largebatch_experiments`), the replay CSV shipped as package data, and no
  generic top-level `experiments` package installed;
- in the checkout: `largebatch-report --check` (the committed results are found from the working directory).

Run: `pytest tests/test_install.py` (~40 s; marked slow, part of `make test`).
"""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    r = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "wheel"), str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = (tmp / "wheel").glob("largebatch-*.whl")
    v = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(v)], check=True, timeout=120)
    py = v / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "reuse_parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run(
        [*pip, "--python", str(py), "install", "--no-deps", "--no-index", str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return v, env, tmp


def _run(venv, cmd, cwd):
    v, env, _ = venv
    exe = v / "bin" / cmd[0]
    env = {**env, "WANDB_MODE": "disabled", "LARGEBATCH_OFFLINE": "1"}
    env.pop("LARGEBATCH_ROOT", None)
    return subprocess.run([str(exe), *cmd[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_train_help_and_a_study_model_outside_the_checkout(venv):
    out = venv[2] / "elsewhere"
    out.mkdir()
    r = _run(venv, ["largebatch-train", "--help"], out)
    assert r.returncode == 0 and "--global_batch=INT" in r.stdout and not r.stderr, r.stderr
    r = _run(venv, ["largebatch-train", "--model=alexnet_mlp", "--dry"], out)
    assert r.returncode == 0 and "alexnet_mlp on fashion_mnist" in r.stdout, r.stderr
    code = (
        "import importlib.util, largebatch, largebatch.study as s; "
        "from largebatch.replay import load_replay; "
        "assert 'site-packages' in largebatch.__file__, largebatch.__file__; "
        "assert s.package() == 'largebatch_experiments'; "
        "assert importlib.util.find_spec('experiments') is None; "
        "assert sum(load_replay('experiments/async_staleness/replay.csv').values()) > 0; "
        "print([x.name for x in s.discover()])"
    )
    r = _run(venv, ["python", "-c", code], out)
    assert r.returncode == 0 and "lars" in r.stdout, r.stderr[-2000:]
    assert not list(out.iterdir()), "a command wrote into the working directory"


def test_report_check_in_the_checkout(venv):
    r = _run(venv, ["largebatch-report", "--check"], ROOT)
    assert r.returncode == 0 and "up to date" in r.stdout, r.stdout + r.stderr[-2000:]
