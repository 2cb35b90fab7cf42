"""Models and datasets by name (largebatch.registry), the CIFAR-10 loader, and runs from a file.

- a study's own model (experiments/lars/models.py, `@register_model`) is found by `largebatch.train` without
  naming the study, and a misspelt name gets the choices and "did you mean";
- a study-style `@register_dataset` extends `--dataset`;
- CIFAR-10 loads from a tiny file set written here in CIFAR's on-disk format (pickled batches data_batch_1..5
  and test_batch), never a download, and trains two steps; a corrupt batch is one DataError line;
- `--config=<file>` (JSON or TOML of TrainConfig fields) and `--from_run=<run dir>` (its config.json)
  rebuild the configuration exactly: the same run id.

Run: `pytest tests/test_registry.py` (~10 s).
"""

import json
import pickle

import numpy as np
import pytest
import torch

from largebatch import data as D
from largebatch.cli import load_config_file, main, select
from largebatch.config import ConfigError, TrainConfig, run_id
from largebatch.models import MODELS, build_model
from largebatch.registry import Registry

OK = ["--progress=false", "--wandb=off", "--eval_train_examples=0"]


def test_study_model_found_by_train(capsys):
    assert main(["--model=alexnet_mlp", "--dry"]) == 0
    assert "alexnet_mlp on fashion_mnist" in capsys.readouterr().out
    assert isinstance(build_model("alexnet_mlp_bn", (1, 28, 28), 10), torch.nn.Module)


def test_unknown_model_lists_choices_with_did_you_mean(capsys):
    assert main(["--model=alexnet_mpl", "--dry"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "did you mean alexnet_mlp" in err and "resnet50" in err


def test_registry_refuses_a_second_builder_under_one_name():
    r = Registry("model", "models")
    r.register("a")(lambda: 1)
    with pytest.raises(ValueError, match="registered twice"):
        r.register("a")(lambda: 2)


def test_registered_dataset_is_a_choice(monkeypatch, capsys):
    monkeypatch.setitem(D.DATASETS._items, "tiny", None)  # cleaned up after the test
    D.register_dataset("tiny", 64)(lambda cfg: D.make_synthetic(64, (1, 4, 4), 3))
    _, cfg = select(["--dataset=tiny", "--global_batch=32"])
    assert D.load(cfg).x_train.shape == (64, 1, 4, 4)
    assert main(["--dataset=tiny", "--global_batch=32", "--dry"]) == 0
    assert "N = 64 examples" in capsys.readouterr().out


def write_cifar(root, per_batch=4, corrupt=None):
    """CIFAR-10's python format: pickled dicts with b'data' (n x 3072 uint8, RGB planes) and b'labels'."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for name in D.CIFAR10_FILES:
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
        }
        (root / name).write_bytes(b"garbage" if name == corrupt else pickle.dumps(batch))
    return root


def test_cifar10_loader_reads_the_python_batches(tmp_path):
    root = write_cifar(tmp_path / "cifar-10-batches-py")
    D.load_cifar10.cache_clear()
    d = D.load_cifar10(str(tmp_path))  # the parent of cifar-10-batches-py/ is found too
    assert d.x_train.shape == (20, 3, 32, 32) and d.x_test.shape == (4, 3, 32, 32) and d.num_classes == 10
    raw = pickle.loads((root / "data_batch_1").read_bytes())
    pixel = raw[b"data"][0].reshape(3, 32, 32)[1, 0, 0] / 255  # green plane, first pixel
    assert d.x_train[0, 1, 0, 0].item() == pytest.approx((pixel - D.CIFAR10_MEAN[1]) / D.CIFAR10_STD[1], 1e-5)
    assert d.y_train[:4].tolist() == raw[b"labels"]


def test_cifar10_trains_two_steps(tmp_path, capsys):
    write_cifar(tmp_path / "c10", per_batch=8)
    D.load_cifar10.cache_clear()
    args = ["--dataset=cifar10", f"--data_dir={tmp_path / 'c10'}", "--train_examples=32", "--global_batch=16"]
    code = main(args + ["--per_worker_batch=8", "--max_steps=2", f"--out_dir={tmp_path / 'runs'}"] + OK)
    assert code == 0, capsys.readouterr().err


def test_cifar10_missing_or_corrupt_is_one_line(tmp_path):
    with pytest.raises(D.DataError, match="CIFAR-10 not found"):
        D.load_cifar10(str(tmp_path / "none"))
    write_cifar(tmp_path / "bad", corrupt="data_batch_3")
    with pytest.raises(D.DataError, match="data_batch_3 is missing, corrupt"):
        D.load_cifar10(str(tmp_path / "bad"))


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_config_file_gives_the_same_run_as_the_flags(tmp_path, suffix):
    flags = [
        "--global_batch=512",
        "--nesterov",
        "--decay=step",
        "--decay_milestones_epochs=1,2",
        "--lr_base=0.2",
    ]
    _, want = select(flags)
    path = tmp_path / f"c{suffix}"
    if suffix == ".json":
        path.write_text(
            json.dumps(
                {"global_batch": 512, "nesterov": True, "decay": "step", "decay_milestones_epochs": [1, 2]}
            )
        )
    else:
        path.write_text(
            'global_batch = 512\nnesterov = true\ndecay = "step"\ndecay_milestones_epochs = [1, 2]\n'
        )
    _, got = select([f"--config={path}", "--lr_base=0.2"])  # overrides apply on top of the file
    assert got == want and run_id(got) == run_id(want)


@pytest.mark.parametrize(
    "text,msg",
    [
        ('{"global_bach": 512}', "unknown config key 'global_bach'; did you mean global_batch"),
        ('{"global_batch": "512"}', "global_batch='512': expected an integer"),
        ('{"global_batch": ', "cannot read c.json"),
    ],
)
def test_bad_config_file_is_one_line(tmp_path, capsys, text, msg):
    (tmp_path / "c.json").write_text(text)
    assert main([f"--config={tmp_path / 'c.json'}", "--dry"]) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1, err


def test_from_run_reruns_exactly(tmp_path, capsys):
    args = [
        "--train_examples=1024",
        "--global_batch=128",
        "--max_steps=3",
        "--seed=4",
        f"--out_dir={tmp_path}",
    ]
    assert main(args + OK) == 0
    (rdir,) = (tmp_path / "demo").iterdir()
    cfg = load_config_file(str(rdir), run=True)
    assert run_id(cfg) == rdir.name and cfg.seed == 4 and isinstance(cfg.epochs, float)
    capsys.readouterr()
    assert main([f"--from_run={rdir}"]) == 0 and "skipping" in capsys.readouterr().out  # complete already
    with pytest.raises(ConfigError, match="no config.json"):
        select([f"--from_run={tmp_path}"])
    with pytest.raises(ConfigError, match="drop --index"):
        from experiments.seed_mlp import config

        select([f"--from_run={rdir}", "--index=1"], study=config)
    assert TrainConfig().model in MODELS
