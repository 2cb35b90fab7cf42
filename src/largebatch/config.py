"""One frozen TrainConfig, its derived values (Resolved), override parsing and run ids.

Every quantity that depends on the world size is derived here, in `resolve`, and nowhere else:

    global batch B = processes P x virtual workers per process v x per-worker batch n   (k = P*v)
    lr_peak        = lr_base * rule(B / lr_base_batch)      (Goyal et al., arXiv 1706.02677, §2.1)

A *virtual worker* is an emulated data-parallel worker: its own n examples and its own BatchNorm
statistics (ghost BN, Goyal's per-worker BN). Bad input raises ConfigError with one line that names
the field and the fix; `largebatch.cli` prints it and exits 2 before anything is written.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields, replace

from .errors import ConfigError
from .runid import NOT_HASHED, run_id  # noqa: F401  (re-exported: the names predate runid.py)
from .validate import check_ranges

# Fixed choices; `model` and `dataset` are names in the registries (largebatch.models.MODELS,
# largebatch.data.DATASETS), which studies extend, and `optimizer` one of largebatch.optim.OPTIMIZERS.
CHOICES = {
    "lr_scaling": ("linear", "sqrt", "none"),
    "warmup": ("none", "constant", "gradual"),
    "decay": ("none", "step", "poly", "cosine", "piecewise"),
    "device": ("auto", "cpu", "cuda"),
    "bn_eval": ("running", "recomputed"),
    "comm_dtype": ("fp32", "fp16", "bf16"),
    "noise_estimator": ("two_batch", "per_example"),
    "lars_denom": ("paper", "sum_grad"),
    "amp": ("none", "bf16"),
    "staleness": ("none", "fixed", "uniform", "roundrobin", "replay"),
    "staleness_lr": ("none", "inverse"),
}
# NOT_HASHED (fields that do not enter a run id), run_id and ConfigError live in largebatch.runid and
# largebatch.errors (no import cycle); they stay importable from here.


@dataclass(frozen=True)
class TrainConfig:
    """One run's configuration: every field with its unit (`python -m largebatch.train --help` lists them)."""

    study: str = "demo"  # study name: runs go to out_dir/<study>/; W&B group <study>-<scale>
    tag: str = ""  # the arm / experiment within a study (W&B job_type); enters the run id
    dataset: str = "fashion_mnist"  # dataset name (largebatch.data.DATASETS)
    data_dir: str = ""  # dataset directory (path); "" = the default search path (largebatch.data)
    train_examples: int = 0  # N, training-set size in examples: 0 = all, else a fixed nested subset
    test_examples: int = 0  # test examples scored; 0 = the whole test set
    mnist1d_examples: int = 10000  # MNIST-1D examples generated (80/20 train/test split)
    model: str = "mlp"  # model name (largebatch.models.MODELS)
    width: int = 0  # hidden units per layer / base channels; 0 = the model's default
    depth: int = 0  # hidden layers / residual blocks per stage; 0 = the model's default
    zero_gamma: bool = False  # gamma = 0 in the last BN of each residual block (Goyal §5.1)
    per_worker_batch: int = 32  # n: examples per virtual worker = BN group size (Goyal n)
    global_batch: int = 256  # B = kn: examples per optimizer step, all workers together
    micro_batch: int = 0  # examples per forward/backward in a process (memory cap); 0 = all
    epochs: float = 10.0  # training length in epochs of the training set
    equal_examples: bool = False  # true: batches run across epoch ends, every B sees E·N examples
    max_steps: int = 0  # stop after this many steps (smoke runs); 0 = no cap
    lr_base: float = 0.1  # learning rate (per step, on the batch-mean loss) at lr_base_batch
    lr_base_batch: int = 256  # the reference batch of lr_base, in examples
    lr_scaling: str = "linear"  # lr_peak = lr_base * (B/lr_base_batch)^{1, 1/2, 0}: linear | sqrt | none
    warmup: str = "none"  # none | constant | gradual (per iteration, Goyal §2.2)
    warmup_epochs: float = 0.0  # warmup length in epochs
    warmup_lr_init: float = -1.0  # learning rate at warmup start; -1 = lr_base (Goyal: from eta to k*eta)
    decay: str = "none"  # none | step | poly | cosine | piecewise
    decay_milestones_epochs: tuple = ()  # step/piecewise boundaries in epochs, e.g. 30,60,80
    decay_factor: float = 0.1  # step: lr multiplied by this factor at each milestone
    decay_factors: tuple = ()  # piecewise: lr_peak multipliers (factors) after each milestone, e.g. 0.1,0.01
    decay_power: float = 2.0  # poly: lr = lr_peak * (1 - t/T)^power after warmup (exponent)
    optimizer: str = "sgd"  # optimizer name (largebatch.optim.OPTIMIZERS)
    momentum: float = 0.9  # m, momentum coefficient (dimensionless)
    nesterov: bool = False  # Nesterov momentum (Goyal uses it)
    weight_decay: float = 0.0  # lambda, L2 coefficient (dimensionless) in the update (Goyal Remark 1)
    wd_exclude_bn_bias: bool = True  # no weight decay on BN gamma/beta and biases
    adam_betas: tuple = (0.9, 0.999)  # Adam beta1,beta2 (decay rates)
    trust_coef: float = 0.001  # LARS eta, trust coefficient, dimensionless (You et al., arXiv 1708.03888)
    lars_denom: str = "paper"  # LARS trust-ratio denominator: paper |g|+b|w| or sum_grad |g+bw|
    lars_trust_clip: bool = False  # LARC clipping: local lr = min(lambda, global lr)
    lars_exclude_bn_bias: bool = True  # BN and bias tensors skip the trust ratio
    rms_lr: float = 3e-4  # RMSprop warm-up: learning rate of the RMSprop part (Akiba, arXiv 1711.04325)
    rms_decay: float = 0.99  # RMSprop warm-up: mu2, decay rate (per step) of the squared-gradient average
    rms_eps: float = 1e-8  # RMSprop warm-up: eps outside the square root (gradient units)
    rms_beta_center_epochs: float = 10.0  # RMSprop warm-up: epoch where alpha_sgd = 1/2
    rms_beta_period_epochs: float = 5.0  # RMSprop warm-up: width of the blend in epochs
    stop_at_train_loss: float = 0.0  # end the run once the logged train loss (nats) is below this; 0 = off
    bn_eval: str = "running"  # evaluation BN statistics: running averages or recomputed
    bn_recompute_batches: int = 8  # bn_eval=recomputed: last k training minibatches per worker
    comm_dtype: str = "fp32"  # gradient allreduce precision (DDP communication hook): fp32 | fp16 | bf16
    divergence_loss: float = 50.0  # train loss (nats) above this (or non-finite) ends the run: diverged
    eval_every_steps: int = 0  # evaluation interval in steps; 0 = once per epoch
    eval_train_examples: int = 10000  # training examples scored at each evaluation (0 = none)
    eval_batch: int = 2000  # examples per evaluation forward pass
    log_every_steps: int = 10  # train-loss reduction and divergence check interval, in steps
    checkpoint_every_steps: int = 0  # checkpoint interval in steps; 0 = at every evaluation
    noise_every_steps: int = 0  # gradient-noise measurement interval in steps; 0 = off
    noise_estimator: str = "two_batch"  # two_batch (any model) | per_example (BN-free)
    noise_ema: float = 0.0  # EMA decay rate (per measurement) for the noise tracker; 0 = no smoothing
    staleness: str = "none"  # gradient at step t taken at w_{t-tau}: none|fixed|uniform|roundrobin|replay
    staleness_max: int = 0  # s, steps: tau = s (fixed, roundrobin: s = P-1) or tau ~ Uniform{0..s} (uniform)
    staleness_replay: str = ""  # replay: CSV path[#name] with columns staleness,count (largebatch.staleness)
    staleness_lr: str = "none"  # none | inverse: lr / max(tau, 1) (Zhang et al., arXiv 1511.05950)
    log_coherence_every_steps: int = 0  # cosine of stale vs fresh gradient every k steps; 0 = off
    seed: int = 0  # random seed (integer) of the model init (same on all ranks) and data order
    device: str = "auto"  # auto | cpu | cuda; auto = cuda when available
    threads: int = 0  # torch intra-op threads per process; 0 = cores / local processes (not in the run id)
    nproc: int = 0  # processes the run needs (sweeps start a torchrun of this many); 0 = the sweep's --nproc
    exclusive: bool = False  # the run must run alone (its wall-clock time is a result): sweeps never pool it
    amp: str = "none"  # none | bf16 (autocast of forward/backward; the loss is taken in fp32)
    channels_last: bool = False  # NHWC memory format for conv nets on GPU (true/false)
    out_dir: str = "runs"  # directory (path): runs go to out_dir/<study>/<run_id>/
    wandb: str = "auto"  # auto | off; auto = W&B offline unless WANDB_MODE says otherwise
    progress: bool = True  # progress bar on rank 0 (true/false)
    synthetic_examples: int = 2048  # size of synthetic datasets, in examples
    image_size: int = 224  # synthetic_imagenet side length in pixels (smaller for CPU smoke runs)
    num_classes: int = 0  # number of classes; 0 = the dataset's own


@dataclass(frozen=True)
class Resolved:
    """Derived quantities; logged next to the config in config.json."""

    world_size: int  # P, processes
    workers_per_process: int  # v, virtual workers in each process
    workers: int  # k = P*v
    per_process_batch: int  # v*n
    micro_batch: int  # examples per forward/backward
    accum_steps: int  # micro-steps per optimizer step in each process
    lr_peak: float  # lr after scaling, reached at the end of warmup
    train_examples: int  # N actually used
    steps_per_epoch: int | float  # floor(N / B), the last partial batch dropped; N / B with equal_examples
    total_steps: int
    warmup_steps: int
    eval_every_steps: int
    checkpoint_every_steps: int


_FIELDS = {f.name: f for f in fields(TrainConfig)}


def _parse_value(name: str, text: str):
    default = _FIELDS[name].default
    try:
        if isinstance(default, bool):
            low = text.lower()
            if low not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError
            return low in ("1", "true", "yes")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple):
            return tuple(float(v) for v in text.replace("(", "").replace(")", "").split(",") if v)
    except ValueError:
        kind = type(default).__name__
        raise ConfigError(f"--{name}={text!r}: expected a {kind}") from None
    return text


def parse_overrides(argv: list[str]) -> dict:
    """Parse `--key=value` arguments into typed TrainConfig overrides (unknown keys raise)."""
    out = {}
    for arg in argv:
        if not arg.startswith("--") or "=" not in arg:
            raise ConfigError(f"argument {arg!r}: expected --key=value (a TrainConfig field)")
        key, text = arg[2:].split("=", 1)
        key = key.replace("-", "_")
        if key not in _FIELDS:
            near = [f for f in _FIELDS if key[:4] in f]
            hint = f"; did you mean {', '.join(near[:3])}?" if near else ""
            raise ConfigError(f"unknown config key {key!r}{hint} (see largebatch/config.py)")
        out[key] = _parse_value(key, text)
    return out


def make_config(base: TrainConfig | None = None, **overrides) -> TrainConfig:
    """`dataclasses.replace` with unknown-key checking."""
    for key in overrides:
        if key not in _FIELDS:
            raise ConfigError(f"unknown config key {key!r} (see largebatch/config.py)")
    return replace(base or TrainConfig(), **overrides)


def dataset_size(cfg: TrainConfig) -> int:
    """Training-set size (after the train_examples subset), without loading the data."""
    from .data import DATASETS

    full = DATASETS[cfg.dataset].train_size(cfg)
    return min(cfg.train_examples, full) if cfg.train_examples > 0 else full


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


def _check_ranges(cfg: TrainConfig) -> None:
    """Every numeric field: of its type, finite, inside its documented range (largebatch.validate.RANGES,
    the table `--help` prints), then the rules that tie fields together. Catches values that pass the type
    check but would crash, hang or silently do nothing later (epochs=inf, log_every_steps=0, ...)."""
    check_ranges(cfg)
    _check(
        len(cfg.adam_betas) == 2 and all(0 <= b < 1 for b in cfg.adam_betas),
        f"adam_betas={cfg.adam_betas}: give two numbers in [0, 1), e.g. --adam_betas=0.9,0.999",
    )
    _check(
        bool(cfg.study) and cfg.study not in (".", "..") and "/" not in cfg.study and "\\" not in cfg.study,
        f"study={cfg.study!r}: must be a plain directory name",
    )
    _check(
        cfg.bn_eval != "recomputed" or cfg.bn_recompute_batches > 0,
        f"bn_recompute_batches={cfg.bn_recompute_batches}: must be > 0 with bn_eval=recomputed",
    )


def validate(cfg: TrainConfig, world_size: int = 1) -> Resolved:
    """The one validation pass before anything is written: every field (resolve), the model and optimizer
    names, and that the requested device exists here.

    Raises:
        ConfigError: one line naming the field and the fix.
    """
    res = resolve(cfg, world_size)
    _check(
        cfg.nproc in (0, world_size),
        f"nproc={cfg.nproc}: this run is defined for {cfg.nproc} processes but runs on {world_size}; launch "
        f"it with torchrun --nproc_per_node={cfg.nproc} (a sweep does so itself), or set --nproc=0",
    )
    from .models import MODELS
    from .optim import OPTIMIZERS

    MODELS[cfg.model]  # an unknown name raises ConfigError with the choices (studies' models included)
    _check(cfg.optimizer in OPTIMIZERS, f"optimizer={cfg.optimizer!r}: choose one of {tuple(OPTIMIZERS)}")
    if cfg.device == "cuda":
        import torch

        _check(
            torch.cuda.is_available(),
            "device='cuda': no CUDA GPU is available here; use --device=cpu (or auto)",
        )
    return res


def resolve(cfg: TrainConfig, world_size: int = 1, n_train: int | None = None) -> Resolved:
    """Validate `cfg` for `world_size` processes and derive every batch/lr/step quantity.

    Raises:
        ConfigError: one line naming the field and the fix.
    """
    for name, allowed in CHOICES.items():
        _check(getattr(cfg, name) in allowed, f"{name}={getattr(cfg, name)!r}: choose one of {allowed}")
    from .data import DATASETS

    DATASETS[cfg.dataset]  # an unknown name raises ConfigError with the choices (studies' datasets included)
    _check_ranges(cfg)
    n, B, P = cfg.per_worker_batch, cfg.global_batch, world_size
    _check(
        B % (P * n) == 0,
        f"global_batch={B} is not divisible by processes x per_worker_batch = {P} x {n} = {P * n}; "
        f"choose global_batch as a multiple of {P * n} (or change per_worker_batch / nproc)",
    )
    v = B // (P * n)
    per_proc = v * n
    micro = cfg.micro_batch or per_proc
    _check(
        micro % n == 0 and per_proc % micro == 0,
        f"micro_batch={cfg.micro_batch}: must be a multiple of per_worker_batch={n} that divides "
        f"the per-process batch {per_proc}",
    )
    N = n_train if n_train is not None else dataset_size(cfg)
    _check(B <= N, f"global_batch={B} exceeds the training set (N={N}); lower global_batch")
    # equal_examples: the batch stream runs across epoch ends, so an "epoch" is N/B steps (fractional) and
    # every batch size sees E·N examples; otherwise an epoch is floor(N/B) steps (the partial batch dropped)
    spe = N / B if cfg.equal_examples else N // B
    total = int(round(cfg.epochs * spe))
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    _check(total > 0, f"epochs={cfg.epochs}: gives 0 steps at {spe} steps/epoch; raise epochs")
    rule = {"linear": 1.0, "sqrt": 0.5, "none": 0.0}[cfg.lr_scaling]
    lr_peak = cfg.lr_base * (B / cfg.lr_base_batch) ** rule
    warm = int(round(cfg.warmup_epochs * spe)) if cfg.warmup != "none" else 0
    _check(cfg.warmup == "none" or cfg.warmup_epochs > 0, f"warmup={cfg.warmup!r} needs warmup_epochs > 0")
    if cfg.decay in ("step", "piecewise"):
        _check(
            len(cfg.decay_milestones_epochs) > 0,
            f"decay={cfg.decay!r} needs decay_milestones_epochs, e.g. --decay_milestones_epochs=30,60,80",
        )
        ms = list(cfg.decay_milestones_epochs)
        _check(ms == sorted(ms), f"decay_milestones_epochs={cfg.decay_milestones_epochs}: must increase")
    if cfg.decay == "piecewise":
        _check(
            len(cfg.decay_factors) == len(cfg.decay_milestones_epochs),
            "decay_factors: give one factor per entry of decay_milestones_epochs",
        )
    _check(
        cfg.noise_estimator != "two_batch" or cfg.noise_every_steps == 0 or P * v > 1,
        "noise_every_steps with noise_estimator=two_batch needs >1 worker (B_small < B_big): "
        "raise global_batch/per_worker_batch or use noise_estimator=per_example",
    )
    _check(
        cfg.staleness != "replay" or bool(cfg.staleness_replay),
        "staleness=replay needs --staleness_replay=PATH.csv[#name] (columns staleness,count)",
    )
    every = cfg.eval_every_steps or max(1, int(spe))
    return Resolved(
        world_size=P,
        workers_per_process=v,
        workers=P * v,
        per_process_batch=per_proc,
        micro_batch=micro,
        accum_steps=per_proc // micro,
        lr_peak=lr_peak,
        train_examples=N,
        steps_per_epoch=spe,
        total_steps=total,
        warmup_steps=warm,
        eval_every_steps=every,
        checkpoint_every_steps=cfg.checkpoint_every_steps or every,
    )


def to_dict(obj) -> dict:
    return dataclasses.asdict(obj)


def from_dict(d: dict) -> TrainConfig:
    """Inverse of to_dict (lists back to tuples), for config.json round trips."""
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in _FIELDS}
    return TrainConfig(**kw)


__all__ = [
    "TrainConfig",
    "Resolved",
    "ConfigError",
    "resolve",
    "validate",
    "parse_overrides",
    "make_config",
    "run_id",
    "to_dict",
    "from_dict",
    "dataset_size",
]
