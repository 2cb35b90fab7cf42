"""Models and ghost BatchNorm (per-worker BN statistics, Goyal et al. arXiv 1706.02677 §2.3).

Every BatchNorm in every model is a GhostBatchNorm: in training it normalises each consecutive
group of `group` examples with that group's own mean and variance, so one forward pass over a
process's v·n examples behaves like v workers with n examples each. Running averages are updated
once per optimizer step (`commit_bn_stats`) from the mean of all groups' statistics of that step,
so they do not depend on how a step is split into micro-batches or processes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .errors import ConfigError
from .registry import Registry


class GhostBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over groups of `group` examples (0 = the whole forward batch)."""

    def __init__(self, num_features: int, group: int = 0, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.group = group
        self._acc = None  # [sum of group means, sum of unbiased group vars, number of groups]

    def _check_input_dim(self, x):
        if x.dim() not in (2, 3, 4, 5):
            raise ValueError(f"GhostBatchNorm expects 2D-5D input, got {x.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
        n = x.shape[0]
        g = self.group if 0 < self.group < n else n
        if n % g:
            raise ValueError(f"batch of {n} is not a multiple of the BN group {g}")
        G, C = n // g, x.shape[1]
        xs = x.reshape(G, g, *x.shape[1:])
        dims = (1,) + tuple(range(3, xs.dim()))
        var, mean = torch.var_mean(xs, dim=dims, correction=0, keepdim=True)
        shape = (1, 1, C) + (1,) * (xs.dim() - 3)
        y = (xs - mean) * torch.rsqrt(var + self.eps)
        y = y * self.weight.view(shape) + self.bias.view(shape)
        with torch.no_grad():
            cnt = xs.numel() // (G * C)
            m, v = mean.reshape(G, C), var.reshape(G, C) * (cnt / max(cnt - 1, 1))
            if self._acc is None:
                self._acc = [m.sum(0), v.sum(0), G]
            else:
                self._acc[0] += m.sum(0)
                self._acc[1] += v.sum(0)
                self._acc[2] += G
        return y.reshape(x.shape)

    @torch.no_grad()
    def commit(self) -> None:
        """Fold this step's group statistics into the running averages (one momentum update)."""
        if self._acc is None:
            return
        commit_bn_stats([self])


def ghost_bns(model: nn.Module) -> list[GhostBatchNorm]:
    return [m for m in model.modules() if isinstance(m, GhostBatchNorm)]


@torch.no_grad()
def commit_bn_stats(model_or_bns) -> None:
    """`commit()` of every ghost BN of a model (or of a list of them), batched into a few foreach ops with
    the same arithmetic per element (the trainer calls this once per step: it keeps the step loop lean)."""
    bns = ghost_bns(model_or_bns) if isinstance(model_or_bns, nn.Module) else model_or_bns
    groups: dict[float, tuple[list, list]] = {}  # momentum -> (running tensors, this step's statistics)
    counters = []
    for bn in bns:
        if bn._acc is None:
            continue
        s_m, s_v, G = bn._acc
        if G != 1:  # s / 1 is exact: skipped
            s_m, s_v = s_m / G, s_v / G
        run, new = groups.setdefault(bn.momentum, ([], []))
        run += [bn.running_mean, bn.running_var]
        new += [s_m, s_v]
        counters.append(bn.num_batches_tracked)
        bn._acc = None
    for mom, (run, new) in groups.items():
        torch._foreach_mul_(run, 1 - mom)
        torch._foreach_add_(run, new, alpha=mom)
    if counters:
        torch._foreach_add_(counters, 1)


def convert_ghost_bn(module: nn.Module, group: int) -> nn.Module:
    """Replace every nn.BatchNorm* in `module` by a GhostBatchNorm with the same parameters."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, GhostBatchNorm):
            gbn = GhostBatchNorm(child.num_features, group, child.eps, child.momentum or 0.1)
            gbn.load_state_dict(child.state_dict())
            setattr(module, name, gbn)
        else:
            convert_ghost_bn(child, group)
    return module


def _flat(in_shape) -> int:
    out = 1
    for s in in_shape:
        out *= s
    return out


class MLP(nn.Sequential):
    """in -> [Linear (-> BN) -> ReLU] x depth -> Linear. The seed article's net is 784-100-100-10."""

    def __init__(self, in_shape, classes, width=100, depth=2, bn=False):
        layers, d = [nn.Flatten()], _flat(in_shape)
        for _ in range(depth):
            layers += [nn.Linear(d, width, bias=not bn)] + ([GhostBatchNorm(width)] if bn else [])
            layers += [nn.ReLU(inplace=True)]
            d = width
        super().__init__(*layers, nn.Linear(d, classes))


class ResBlockMLP(nn.Module):
    def __init__(self, w: int):
        super().__init__()
        self.f = nn.Sequential(
            nn.Linear(w, w, bias=False),
            GhostBatchNorm(w),
            nn.ReLU(inplace=True),
            nn.Linear(w, w, bias=False),
            GhostBatchNorm(w),
        )

    def forward(self, x):
        return F.relu(x + self.f(x))


class ResMLP(nn.Sequential):
    """MLP with BatchNorm and residual blocks (Goyal-style zero-gamma target on the last BN)."""

    def __init__(self, in_shape, classes, width=256, depth=2):
        super().__init__(
            nn.Flatten(),
            nn.Linear(_flat(in_shape), width, bias=False),
            GhostBatchNorm(width),
            nn.ReLU(inplace=True),
            *[ResBlockMLP(width) for _ in range(depth)],
            nn.Linear(width, classes),
        )


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = GhostBatchNorm(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = GhostBatchNorm(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), GhostBatchNorm(cout))

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (x if self.short is None else self.short(x)))


class ResNetSmall(nn.Module):
    """BN ResNet for small images: 3 stages (w, 2w, 4w) of `depth` basic blocks (depth 1 = ResNet-8)."""

    def __init__(self, in_shape, classes, width=16, depth=1):
        super().__init__()
        c = in_shape[0]
        self.stem = nn.Sequential(
            nn.Conv2d(c, width, 3, 1, 1, bias=False), GhostBatchNorm(width), nn.ReLU(inplace=True)
        )
        blocks, cin = [], width
        for i, w in enumerate((width, 2 * width, 4 * width)):
            for j in range(depth):
                blocks.append(BasicBlock(cin, w, 2 if (i > 0 and j == 0) else 1))
                cin = w
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def resnet50(classes: int = 1000) -> nn.Module:
    """torchvision ResNet-50 (stride on the 3x3 conv, as Goyal's fb.resnet.torch) with FC ~ N(0, 0.01^2)."""
    from torchvision.models import resnet50 as tv_resnet50

    m = tv_resnet50(num_classes=classes)
    nn.init.normal_(m.fc.weight, std=0.01)
    nn.init.zeros_(m.fc.bias)
    return m


def _last_bns(model: nn.Module) -> list:
    out = []
    for m in model.modules():
        if isinstance(m, (BasicBlock,)):
            out.append(m.b2)
        elif isinstance(m, ResBlockMLP):
            out.append(m.f[-1])
        elif type(m).__name__ == "Bottleneck":
            out.append(m.bn3)
        elif type(m).__name__ == "BasicBlock" and hasattr(m, "bn2"):
            out.append(m.bn2)
    return out


# name -> builder(in_shape, classes, width, depth); a study adds its own with @register_model in
# experiments/<study>/models.py (found on first lookup, largebatch.registry)
MODELS = Registry("model", "models")
register_model = MODELS.register
MODELS["mlp"] = lambda s, c, w, d: MLP(s, c, w or 100, d or 2)
MODELS["mlp_bn"] = lambda s, c, w, d: MLP(s, c, w or 100, d or 2, bn=True)
MODELS["resmlp_bn"] = lambda s, c, w, d: ResMLP(s, c, w or 256, d or 2)
MODELS["resnet_small"] = lambda s, c, w, d: ResNetSmall(s, c, w or 16, d or 1)
MODELS["resnet50"] = lambda s, c, w, d: resnet50(c)


def build_model(
    name: str,
    in_shape,
    classes: int,
    width: int = 0,
    depth: int = 0,
    zero_gamma: bool = False,
    bn_group: int = 0,
) -> nn.Module:
    """Build a model by name; every BN becomes ghost BN with groups of `bn_group` examples.

    Args:
        zero_gamma: gamma = 0 in the last BN of every residual block (Goyal §5.1); an error for
            models without residual BN blocks.
    """
    model = convert_ghost_bn(MODELS[name](tuple(in_shape), classes, width, depth), bn_group)
    for bn in ghost_bns(model):
        bn.group = bn_group
    if zero_gamma:
        last = _last_bns(model)
        if not last:
            raise ConfigError(f"zero_gamma=true: model={name!r} has no residual BN block")
        for bn in last:
            nn.init.zeros_(bn.weight)
    return model


def model_for(cfg, data, zero_gamma: bool | None = None) -> nn.Module:
    """The model a TrainConfig names, for `data` (its input shape; cfg.num_classes, else the data's classes),
    its BN ghost BN over cfg.per_worker_batch examples; `zero_gamma` (default: cfg's) as in build_model."""
    zg = cfg.zero_gamma if zero_gamma is None else zero_gamma
    classes = cfg.num_classes or data.num_classes
    return build_model(cfg.model, data.in_shape, classes, cfg.width, cfg.depth, zg, cfg.per_worker_batch)


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
