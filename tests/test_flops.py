"""Checks of `largebatch.flops` (FLOP counting with torch's FlopCounterMode) on CPU, ~5 s in all.

What is checked: the 784-100-100-10 MLP has 89,610 parameters and sum(in*out) = 89,400 forward MACs per
sample (178,800 FLOPs, torch counts a multiply-add as 2 FLOPs), expected values computed from the layer
sizes; its training count is weight gradients for every layer plus input gradients for all but the first,
so train/forward is 2.12 (between 2 and 3.5, below the usual 3x); torchvision resnet50's forward count at
224x224 is within 2% of the measured 4,089,184,256 MACs (4.09 G, not He et al.'s 3.8 G: torchvision is
ResNet v1.5 with the stride-2 in the 3x3 conv, 0.23 G more than the original layout's 3.86 G as torch
counts it; torch counts convolutions and the FC, not batch norm, ReLU, pooling or residual adds).

Run: cd /work/main && OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python -m pytest -q tests/test_flops.py
"""

import itertools

import pytest
import torch
from torch import nn

from largebatch.flops import count_flops, param_count

SIZES = [784, 100, 100, 10]
PAIRS = list(itertools.pairwise(SIZES))
RESNET50_MEASURED_MACS = 4_089_184_256  # torch 2.14.1 / torchvision 0.29.1, 1x3x224x224, forward


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10)
    )


def test_mlp_param_count():
    expected = sum(i * o + o for i, o in PAIRS)
    assert expected == 89_610
    assert param_count(mlp()) == expected
    assert param_count(mlp(), trainable_only=True) == expected


@pytest.mark.parametrize("batch", [1, 8])
def test_mlp_forward_and_train_flops(batch):
    macs = sum(i * o for i, o in PAIRS)
    assert macs == 784 * 100 + 100 * 100 + 100 * 10 == 89_400
    model = mlp()
    r = count_flops(model, (batch, 1, 28, 28), train=True)
    assert r["forward_macs"] == macs * batch
    assert r["forward_flops"] == 2 * macs * batch  # torch convention: multiply-add = 2 FLOPs
    assert r["forward_flops_per_sample"] == 178_800
    # forward + backward (weight gradients of all layers, input gradients of all layers but the first)
    train_macs = macs + macs + sum(i * o for i, o in PAIRS[1:])
    assert train_macs == 189_800
    assert r["train_macs"] == train_macs * batch
    assert 2.0 < r["train_to_forward"] < 3.5
    assert r["train_to_forward"] == pytest.approx(189_800 / 89_400)
    assert r["flops"] == r["train_flops"] and r["macs"] == r["train_macs"]
    assert all(p.grad is None for p in model.parameters())  # counting leaves .grad alone


def test_forward_only_keys():
    r = count_flops(mlp(), (2, 1, 28, 28))
    assert "train_flops" not in r and r["flops"] == r["forward_flops"]
    assert r["by_op"] == {"aten.addmm": r["forward_flops"]}


def test_resnet50_forward_macs():
    torchvision = pytest.importorskip("torchvision")
    r = count_flops(torchvision.models.resnet50().eval(), (1, 3, 224, 224))
    assert r["forward_macs"] == pytest.approx(RESNET50_MEASURED_MACS, rel=0.02)
    assert 4.0e9 < r["forward_macs"] < 4.2e9  # above He et al.'s 3.8 G: see module docstring
    assert r["by_op"]["aten.addmm"] == 2 * 2048 * 1000  # the FC layer
