"""The LARS study's cpu proxy (third design, v3, issue 28): each net's ladder placed against its B*.

Paper (You, Gitman & Ginsburg, arXiv 1708.03888): AlexNet and AlexNet-BN on ImageNet-1k (N = 1,281,167), 100
epochs at every batch, poly(2) decay, LARS warmup 2 epochs (AlexNet) / 5 epochs (AlexNet-BN), batches 512
(the baseline) to 32K (Table 3). Proxy: Fashion-MNIST (N = 60,000), the AlexNet-like MLPs of models.py with
the paper's Caffe Gaussian init. The second design's scale-model proxy (the ladder against the no-BN net's
B_simple) is in git history (README).
"""

from __future__ import annotations

from largebatch import bstar

IMAGENET_N, FMNIST_N = 1281167, 60000

# ---- third design (v3, issue 28): the ladder placed against each net's failure batch B* ------------------
# The second design placed its ladder against B_simple (334) and put the image of 4K at B = 160, where tuned
# SGD loses nothing (and trains with PyTorch's default init, whose ||w||/||g|| spread is 3.3x, not the
# paper's hundreds): LARS had no failure to fix there. v3 trains with the paper's Caffe Gaussian init and
# places each net's batches against the B* of tuned SGD (the paper's control) measured on that net
# (experiments/failure_batch, calibration seeds 100-102, E = 100/11): the batch where tuned SGD's error is
# 1 pt above the small batch's. By the same rule You et al.'s Table 1 gives ~0.74k for AlexNet (41.2 % at
# 512, +5.7 pt at 4K, +14.0 at 8K) and ~2.5k for AlexNet-BN (+1.3 at 4K, +2.2 at 8K); both are known only to
# lie between 512 and 4K (no batch in between was run). The images of the paper's 512 (the baseline), 4K,
# 8K, 16K keep the paper's B / B*; 32K is not run (its image exceeds a third of the training set on both
# nets: < 3 steps per epoch, ~20 steps in all). E = 100/11 epochs for every arm, as in v2 (the probe's
# budget).
B_STAR_V3 = {"nobn": 573.0, "bn": 2500.0}  # failure_batch.csv at E = 100/11, 3 significant digits
# You et al.'s Table 1, tuned SGD, top-1 error % at 512, 4K, 8K (AlexNet: 58.8, 53.1, 44.8 top-1 accuracy)
PAPER_SGD_ERR = {"nobn": {512: 41.2, 4096: 46.9, 8192: 55.2}, "bn": {512: 39.8, 4096: 41.1, 8192: 42.0}}
B_STAR_PAPER_V3 = {n: bstar.paper_b_star(e, baseline=512) for n, e in PAPER_SGD_ERR.items()}  # ~737, ~2,535
E_V3 = 100 / 11
PAPER_LADDER_V3 = {"nobn": (512, 4096, 8192, 16384), "bn": (512, 4096, 8192)}


def ladder_v3(net: str) -> tuple[int, ...]:
    """The images of the paper's baseline, 4K, 8K (and 16K, no BN) against the net's B*, multiples of 64."""
    k = B_STAR_V3[net] / B_STAR_PAPER_V3[net]
    return tuple(int(round(b * k / 64)) * 64 for b in PAPER_LADDER_V3[net])
