"""Data: the shared one-permutation-per-epoch sampler and the dataset loaders.

Run: `pytest tests/test_data.py`.
"""

import pytest
import torch

from largebatch.data import DataError, EpochSampler, load_fashion_mnist, load_mnist1d, subset


def test_shards_disjoint_covering_and_one_permutation_per_epoch():
    n, B, P = 1000, 200, 4
    ss = [EpochSampler(n, B, r, P, seed=7) for r in range(P)]
    for epoch in range(2):
        seen = []
        for t in range(epoch * 5, epoch * 5 + 5):
            parts = [s.indices(t) for s in ss]
            assert torch.equal(torch.cat(parts), ss[0].global_indices(t))  # split of one global batch
            seen += torch.cat(parts).tolist()
        assert sorted(seen) == list(range(n))  # each example once per epoch
    assert not torch.equal(ss[0].permutation(0), ss[0].permutation(1))
    # the global batch of step t does not depend on the number of processes
    assert torch.equal(EpochSampler(n, B, 0, 1, 7).indices(3), ss[0].global_indices(3))


def test_fashion_mnist_shapes_and_normalisation(fmnist):
    assert fmnist.x_train.shape == (60000, 1, 28, 28) and fmnist.x_test.shape == (10000, 1, 28, 28)
    assert fmnist.y_train.dtype == torch.int64 and set(fmnist.y_train.unique().tolist()) == set(range(10))
    assert abs(fmnist.x_train.mean().item()) < 0.01 and abs(fmnist.x_train.std().item() - 1) < 0.01


def test_subsets_nest(fmnist):
    a, b = subset(fmnist, 500), subset(fmnist, 1000)
    assert torch.equal(a.x_train, b.x_train[:500])


def test_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(str(tmp_path / "nowhere"))


def test_mnist1d_generated_locally():
    d = load_mnist1d(500)
    assert d.x_train.shape == (400, 1, 40) and d.x_test.shape == (100, 1, 40)


def test_imagenet_folder_path_trains(tmp_path):
    """The paper-scale folder path (lazy decoding, Goyal augmentation) runs end to end on tiny images."""
    from PIL import Image

    from largebatch.config import make_config
    from largebatch.trainer import train

    for split in ("train", "val"):
        for c in ("a", "b"):
            (tmp_path / split / c).mkdir(parents=True)
            for i in range(4):
                Image.new("RGB", (40, 30), (60 * i, 100, 200 if c == "a" else 0)).save(
                    tmp_path / split / c / f"{i}.png"
                )
    cfg = make_config(
        dataset="imagenet",
        data_dir=str(tmp_path),
        model="resnet_small",
        width=4,
        global_batch=4,
        per_worker_batch=2,
        max_steps=2,
        epochs=1,
        eval_batch=4,
        eval_train_examples=4,
        wandb="off",
        progress=False,
        out_dir=str(tmp_path / "runs"),
    )
    s = train(cfg)
    assert s["status"] == "complete" and s["steps"] == 2 and 0 <= s["final_test_acc"] <= 1


def test_stream_sampler_sees_every_example_once_per_epoch_of_examples():
    """equal_examples: a batch that crosses an epoch's end continues into the next permutation, so
    round(E N / B) steps see exactly E N examples, each example E times (E whole)."""
    n, B, P = 1000, 300, 2  # 1000 / 300: 3.33 steps an epoch; the plain sampler drops 100 an epoch
    ss = [EpochSampler(n, B, r, P, seed=3, stream=True) for r in range(P)]
    steps = round(3 * n / B)  # 3 epochs of examples: 10 steps
    seen = torch.cat([torch.cat([s.indices(t) for s in ss]) for t in range(steps)])
    assert len(seen) == 3000 and torch.bincount(seen, minlength=n).tolist() == [3] * n
    plain = EpochSampler(n, B, 0, 1, seed=3)
    # the first epoch's full batches are the plain sampler's, and the 4th batch spans epochs 0 and 1
    for t in range(3):
        assert torch.equal(ss[0].global_indices(t), plain.global_indices(t))
    g3 = ss[0].global_indices(3)
    assert torch.equal(g3[:100], plain.permutation(0)[900:]) and torch.equal(
        g3[100:], plain.permutation(1)[:200]
    )
    assert ss[0].state_dict(4) == {"seed": 3, "epoch": 1, "position": 200, "n": n, "global_batch": B}
