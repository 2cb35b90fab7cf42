"""What studies' grids share at their paper and smoke scales (big_vision's configs/common.py).

The paper scale reruns a study on ImageNet with Goyal et al.'s ResNet-50 setup (arXiv 1706.02677 §5.1:
8 workers x 32 per worker at kn = 256, eta = 0.1 kn / 256, Nesterov momentum 0.9, weight decay 1e-4, 90
epochs, gradual warmup over 5, lr / 10 at 30, 60 and 80), evaluated once at the end, 250 images per
evaluation batch.
The smoke scale shrinks such a config to two steps on 64x64 synthetic ImageNet (10 classes): the code path of
a paper run in seconds. A study adds only what is its own (its tag, its batches, its hooks).
"""

from __future__ import annotations

from dataclasses import replace

from .config import TrainConfig

IMAGENET_PAPER = {
    "tag": "paper",
    "dataset": "imagenet",
    "model": "resnet50",
    "width": 0,
    "depth": 0,
    "per_worker_batch": 32,
    "lr_base": 0.1,
    "lr_base_batch": 256,
    "lr_scaling": "linear",
    "momentum": 0.9,
    "nesterov": True,
    "weight_decay": 1e-4,
    "epochs": 90,
    "warmup": "gradual",
    "warmup_epochs": 5,
    "decay": "step",
    "decay_milestones_epochs": (30, 60, 80),
    "eval_every_steps": 0,
    "eval_batch": 250,
}


def by_scale(scale: str, *, cpu, smoke, paper) -> list[TrainConfig]:
    """The grid of `scale` ("cpu", "smoke" or "paper"; anything else: cpu), each argument a function of no
    arguments that builds its scale's grid, called only for the scale asked for."""
    return {"smoke": smoke, "paper": paper}.get(scale, cpu)()


def imagenet_paper(base: TrainConfig, **over) -> TrainConfig:
    """`base` at the paper scale: ResNet-50 on ImageNet with Goyal's setup (IMAGENET_PAPER), then `over`."""
    return replace(base, **{**IMAGENET_PAPER, **over})


def smoke_imagenet(
    cfg: TrainConfig, batch: int, per_worker: int, examples: int, test_examples: int, eval_batch: int, **over
) -> TrainConfig:
    """Two steps of the ImageNet config `cfg` on `examples` synthetic 64x64 images of 10 classes, at global
    batch `batch` (`per_worker` per worker), evaluated on `test_examples`; then `over`."""
    return replace(
        cfg,
        dataset="synthetic_imagenet",
        synthetic_examples=examples,
        image_size=64,
        num_classes=10,
        global_batch=batch,
        per_worker_batch=per_worker,
        max_steps=2,
        test_examples=test_examples,
        eval_batch=eval_batch,
        **over,
    )


__all__ = ["IMAGENET_PAPER", "imagenet_paper", "smoke_imagenet"]
