"""The cpu-scale "AlexNet-like" networks of the LARS study, registered with largebatch.models.register_model.

AlexNet (Krizhevsky et al. 2012) is five convolutions followed by three fully connected layers fc6-fc8,
where the FC layers hold most of the weights; AlexNet-BN (You et al., arXiv 1708.03888 §3) replaces LRN by
BatchNorm after each convolution and FC layer. For 28x28 Fashion-MNIST on 2 CPU cores we keep the shape,
not the size: two strided convolutions and three FC layers, named like AlexNet's so the per-layer tables
read the same (conv1.weight ... fc8.bias).

    alexnet_fm     conv1 5x5/2 (c) - ReLU - conv2 3x3/2 (2c) - ReLU - fc6 (h) - ReLU - fc7 (h) - ReLU - fc8
    alexnet_bn_fm  the same with GhostBatchNorm after conv1, conv2, fc6, fc7 (those layers lose their bias)

width = h (default 128), depth = c (default 8). No dropout, no LRN, no max-pooling (strides instead):
deviations stated in the study README.

The paper scale adds `alexnet_bn`, BVLC AlexNet (torchvision's layer sizes, 224x224 ImageNet) with LRN
replaced by BatchNorm after conv1-conv5 and fc6-fc7 (You et al. §3: "AlexNet-BN"); dropout 0.5 before fc6
and fc7 is kept as in BVLC AlexNet. Importing this module registers every name below; the core imports it
on the first lookup of a name it lacks, so `python -m largebatch.train --model=alexnet_mlp` works too.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from largebatch.models import GhostBatchNorm, register_model


class AlexNetFM(nn.Sequential):
    """AlexNet-shaped net for (1, 28, 28) inputs; `bn` puts a GhostBatchNorm after conv1, conv2, fc6, fc7."""

    def __init__(self, in_shape, classes: int, hidden: int = 128, channels: int = 8, bn: bool = False):
        c, h, w = in_shape
        c1, c2 = channels, 2 * channels
        h1, w1 = (h + 4 - 5) // 2 + 1, (w + 4 - 5) // 2 + 1  # conv1: k5, s2, p2
        h2, w2 = (h1 + 2 - 3) // 2 + 1, (w1 + 2 - 3) // 2 + 1  # conv2: k3, s2, p1
        layers = OrderedDict()

        def block(i, layer, width):
            layers[f"{'conv' if i <= 2 else 'fc'}{i if i <= 2 else i + 3}"] = layer
            if bn:
                layers[f"bn{i}"] = GhostBatchNorm(width)
            layers[f"relu{i}"] = nn.ReLU(inplace=True)

        block(1, nn.Conv2d(c, c1, 5, 2, 2, bias=not bn), c1)
        block(2, nn.Conv2d(c1, c2, 3, 2, 1, bias=not bn), c2)
        layers["flatten"] = nn.Flatten()
        block(3, nn.Linear(c2 * h2 * w2, hidden, bias=not bn), hidden)  # fc6
        block(4, nn.Linear(hidden, hidden, bias=not bn), hidden)  # fc7
        layers["fc8"] = nn.Linear(hidden, classes)
        super().__init__(layers)


class AlexNetBN(nn.Module):
    """AlexNet-BN for ImageNet-sized inputs (any side >= 63 px: the adaptive pool restores 6x6)."""

    def __init__(self, in_shape, classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        convs = [
            (in_shape[0], 64, 11, 4, 2),
            (64, 192, 5, 1, 2),
            (192, 384, 3, 1, 1),
            (384, 256, 3, 1, 1),
            (256, 256, 3, 1, 1),
        ]
        f = OrderedDict()
        for i, (cin, cout, k, s, p) in enumerate(convs, 1):
            f[f"conv{i}"] = nn.Conv2d(cin, cout, k, s, p, bias=False)
            f[f"bn{i}"] = GhostBatchNorm(cout)
            f[f"relu{i}"] = nn.ReLU(inplace=True)
            if i in (1, 2, 5):
                f[f"pool{i}"] = nn.MaxPool2d(3, 2)
        self.features = nn.Sequential(f)
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            OrderedDict(
                [
                    ("drop6", nn.Dropout(dropout)),
                    ("fc6", nn.Linear(256 * 36, 4096, bias=False)),
                    ("bn6", GhostBatchNorm(4096)),
                    ("relu6", nn.ReLU(inplace=True)),
                    ("drop7", nn.Dropout(dropout)),
                    ("fc7", nn.Linear(4096, 4096, bias=False)),
                    ("bn7", GhostBatchNorm(4096)),
                    ("relu7", nn.ReLU(inplace=True)),
                    ("fc8", nn.Linear(4096, classes)),
                ]
            )
        )

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


class AlexNetMLP(nn.Sequential):
    """The MLP stand-in used at the cpu scale: fc1 (w) - fc2 (w) - fc3 (w/2) - fc4 (classes), ReLU between;
    `bn` puts a GhostBatchNorm after fc1-fc3 (those layers lose their bias)."""

    def __init__(self, in_shape, classes: int, width: int = 256, bn: bool = False):
        d_in = 1
        for s in in_shape:
            d_in *= s
        dims = [d_in, width, width, width // 2]
        layers = OrderedDict(flatten=nn.Flatten())
        for i in range(3):
            layers[f"fc{i + 1}"] = nn.Linear(dims[i], dims[i + 1], bias=not bn)
            if bn:
                layers[f"bn{i + 1}"] = GhostBatchNorm(dims[i + 1])
            layers[f"relu{i + 1}"] = nn.ReLU(inplace=True)
        layers["fc4"] = nn.Linear(dims[3], classes)
        super().__init__(layers)


@register_model()
def alexnet_mlp(in_shape, classes, width, depth):
    return AlexNetMLP(in_shape, classes, width or 256, bn=False)


@register_model()
def alexnet_mlp_bn(in_shape, classes, width, depth):
    return AlexNetMLP(in_shape, classes, width or 256, bn=True)


@register_model()
def alexnet_fm(in_shape, classes, width, depth):
    return AlexNetFM(in_shape, classes, width or 128, depth or 8, bn=False)


@register_model()
def alexnet_bn_fm(in_shape, classes, width, depth):
    return AlexNetFM(in_shape, classes, width or 128, depth or 8, bn=True)


@register_model()
def alexnet_bn(in_shape, classes, width, depth):
    return AlexNetBN(in_shape, classes)


def caffe_init(model: nn.Module) -> nn.Module:
    """BVLC AlexNet's Caffe Gaussian init mapped onto the MLP stand-in (You et al.'s Table 2 net): the first
    layer (conv1's role) and the classifier (fc8's) N(0, 0.01^2), the hidden layers fc2, fc3 (fc6, fc7's)
    N(0, 0.005^2); biases 0.1 on the hidden layers (BVLC's fc6/fc7), 0 on the first layer and the
    classifier; BN gamma = 1, beta = 0. PyTorch's default (Kaiming-uniform) sets other ||w||/||g|| ratios."""
    std = {"fc1": 0.01, "fc2": 0.005, "fc3": 0.005, "fc4": 0.01}
    bias = {"fc1": 0.0, "fc2": 0.1, "fc3": 0.1, "fc4": 0.0}
    for name, m in model.named_children():
        if name in std:
            nn.init.normal_(m.weight, 0.0, std[name])
            if m.bias is not None:
                nn.init.constant_(m.bias, bias[name])
    return model


# the same nets with the paper's (Caffe) initialisation: claim (e) of the second design, Table 2's ratios
@register_model()
def alexnet_mlp_caffe(in_shape, classes, width, depth):
    return caffe_init(alexnet_mlp(in_shape, classes, width, depth))


@register_model()
def alexnet_mlp_bn_caffe(in_shape, classes, width, depth):
    return caffe_init(alexnet_mlp_bn(in_shape, classes, width, depth))
