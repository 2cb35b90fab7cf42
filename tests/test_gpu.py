"""CUDA checks (marked gpu; skipped without a GPU): the core on CUDA matches the CPU run, bf16 trains.

Run on a GPU machine: `pytest -m gpu tests` (scripts/gpu_check.sh does this).
"""

import pytest
import torch

from largebatch.config import make_config
from largebatch.trainer import train

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
KW = dict(
    model="mlp_bn",
    global_batch=256,
    per_worker_batch=32,
    max_steps=5,
    eval_train_examples=0,
    progress=False,
    wandb="off",
)


def test_cuda_matches_cpu(fmnist_small, tmp_path):
    _, cpu = train(
        make_config(**KW, device="cpu", out_dir=str(tmp_path / "c")), data=fmnist_small, return_model=True
    )
    _, gpu = train(
        make_config(**KW, device="cuda", out_dir=str(tmp_path / "g")), data=fmnist_small, return_model=True
    )
    a, b = cpu.state_dict(), gpu.state_dict()
    for k in a:
        torch.testing.assert_close(a[k].float(), b[k].float().cpu(), atol=1e-3, rtol=1e-3, msg=k)


def test_bf16_channels_last_resnet(tmp_path):
    s = train(
        make_config(
            model="resnet_small",
            dataset="synthetic",
            synthetic_examples=512,
            global_batch=128,
            per_worker_batch=32,
            max_steps=5,
            amp="bf16",
            channels_last=True,
            device="cuda",
            eval_train_examples=0,
            progress=False,
            wandb="off",
            out_dir=str(tmp_path),
        )
    )
    assert s["status"] == "complete"
