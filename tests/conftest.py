"""Shared fixtures: W&B off, deterministic CPU, a small real Fashion-MNIST subset; figures saved by any test
go to a temporary directory (LARGEBATCH_FIGURES), never over the committed paper_figures/."""

import os
import tempfile

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("LARGEBATCH_OFFLINE", "1")
os.environ["LARGEBATCH_FIGURES"] = tempfile.mkdtemp(prefix="largebatch-test-figures-")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def fmnist():
    from largebatch.data import load_fashion_mnist

    return load_fashion_mnist()


@pytest.fixture(scope="session")
def fmnist_small(fmnist):
    from largebatch.data import subset

    return subset(fmnist, 2048, 1000)
