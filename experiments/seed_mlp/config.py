"""The seed article's 3-layer MLP (784-100-100-10) on Fashion-MNIST, 20 epochs, as Chainer's example.

The article times this network for 20 epochs (about 3 minutes on a Xeon E5-2667, 1 minute on a
P100, with Chainer's MNIST example: Adam, batch 100). Here it is trained with the shared core under
torchrun; wall time and accuracy come from the runs' summaries.
"""

from dataclasses import replace

from largebatch.config import TrainConfig

BASE = TrainConfig(
    study="seed_mlp",
    dataset="fashion_mnist",
    model="mlp",
    width=100,
    depth=2,
    optimizer="adam",
    lr_base=1e-3,
    lr_base_batch=100,
    lr_scaling="none",
    global_batch=100,
    per_worker_batch=50,
    epochs=20,
    eval_every_steps=600,
)
SEEDS = [0]
NPROC = 2  # processes per run in `make reproduce`: a 2-process torchrun checks the distributed path


def grid(scale: str = "cpu") -> list[TrainConfig]:
    if scale == "smoke":
        return [replace(BASE, epochs=1, max_steps=5, train_examples=1000)]
    return [replace(BASE, seed=s) for s in SEEDS]
