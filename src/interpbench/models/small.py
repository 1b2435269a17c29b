"""Small models that train on a CPU: ``mlp``, ``mnist_cnn``, ``cnn_small`` and ``resnet_small``.

Every ReLU is its own module, used once and not in place: Captum's Guided Backprop, Deconvolution,
DeepLift and LRP hook ReLU modules and need that.
"""

from __future__ import annotations

from torch import nn

from .registry import register_model


def _hw(image_size: int | tuple[int, int]) -> tuple[int, int]:
    """``image_size`` as (height, width): an int is a square, a pair allows e.g. 56 x 28 BlockMNIST."""
    return (image_size, image_size) if isinstance(image_size, int) else (int(image_size[0]), int(image_size[1]))


@register_model("mlp", "Fully connected ReLU network on flattened pixels.")
def build_mlp(num_classes=10, in_channels=1, image_size=28, hidden=(256, 256)):
    h, w = _hw(image_size)
    return MLP(in_channels * h * w, num_classes, tuple(hidden))


class MLP(nn.Module):
    gradcam_layer_name = None

    def __init__(self, in_features: int, num_classes: int, hidden: tuple[int, ...]):
        super().__init__()
        self.flatten = nn.Flatten()
        layers, width = [], in_features
        for i, h in enumerate(hidden):
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.body = nn.Sequential(*layers)
        self.fc_out = nn.Linear(width, num_classes)
        linear = [f"body.{i}" for i, m in enumerate(self.body) if isinstance(m, nn.Linear)]
        self.block_names = ["fc_out", *reversed(linear)]

    def forward(self, x):
        return self.fc_out(self.body(self.flatten(x)))


@register_model("mnist_cnn", "Adebayo et al. 2018 CNN: conv5x5-32, pool, conv5x5-64, pool, fc1024, fc10.")
def build_mnist_cnn(num_classes=10, in_channels=1, image_size=28):
    return MnistCNN(num_classes, in_channels, image_size)


class MnistCNN(nn.Module):
    block_names = ["fc2", "fc1", "conv2", "conv1"]
    gradcam_layer_name = "conv2"

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int | tuple[int, int] = 28):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 5, padding=2)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        h, w = _hw(image_size)
        self.fc1 = nn.Linear(64 * (h // 4) * (w // 4), 1024)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc2(self.relu3(self.fc1(self.flatten(x))))


@register_model("cnn_small", "VGG-style CNN for 32-64 px colour images: 3 x (conv3x3, BN, ReLU, maxpool), fc, fc.")
def build_cnn_small(num_classes=10, in_channels=3, image_size=32, width=16, hidden=128):
    return CNNSmall(num_classes, in_channels, image_size, width, hidden)


class CNNSmall(nn.Module):
    """Three conv stages of widths ``width``, ``2 width``, ``4 width`` (each conv3x3, BatchNorm,
    ReLU, 2x2 max-pool), then fc ``hidden`` -> ReLU -> fc. A plain chain (no skip connections):
    several times cheaper per image than ``resnet_small`` at 32 px on a CPU, and every layer has an
    LRP rule in Captum (the flatten is a tensor op, not a module, for that reason)."""

    gradcam_layer_name = "conv3"
    block_names = ["fc2", "fc1", "conv3", "conv2", "conv1"]

    def __init__(self, num_classes=10, in_channels=3, image_size=32, width=16, hidden=128):
        super().__init__()
        h, w = _hw(image_size)
        cin = in_channels
        for i, cout in enumerate((width, 2 * width, 4 * width), start=1):
            setattr(self, f"conv{i}", nn.Conv2d(cin, cout, 3, padding=1))
            setattr(self, f"bn{i}", nn.BatchNorm2d(cout))
            setattr(self, f"relu{i}", nn.ReLU())
            setattr(self, f"pool{i}", nn.MaxPool2d(2))
            cin = cout
        self.fc1 = nn.Linear(cin * (h // 8) * (w // 8), hidden)
        self.relu4 = nn.ReLU()
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        for i in (1, 2, 3):
            x = getattr(self, f"pool{i}")(getattr(self, f"relu{i}")(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x))))
        return self.fc2(self.relu4(self.fc1(x.flatten(1))))


class BasicBlock(nn.Module):
    """ResNet basic block with two distinct ReLU modules (the second after the addition)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.relu2 = nn.ReLU()

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))


@register_model("resnet_small", "ResNet for 32-64 px colour images: stem + 3 stages of basic blocks.")
def build_resnet_small(num_classes=10, in_channels=3, image_size=32, width=16, blocks_per_stage=1):
    return ResNetSmall(num_classes, in_channels, width, blocks_per_stage)


class ResNetSmall(nn.Module):
    gradcam_layer_name = "stage3"

    def __init__(self, num_classes=10, in_channels=3, width=16, blocks_per_stage=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        stages, cin = [], width
        for i, mult in enumerate((1, 2, 4)):
            cout = width * mult
            units = [BasicBlock(cin if j == 0 else cout, cout, 1 if (i == 0 or j > 0) else 2)
                     for j in range(blocks_per_stage)]
            stages.append(nn.Sequential(*units))
            cin = cout
        self.stage1, self.stage2, self.stage3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(cin, num_classes)
        units = [f"stage{s}.{j}" for s in (1, 2, 3) for j in range(blocks_per_stage)]
        self.block_names = ["fc", *reversed(units), "bn1", "conv1"]

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.stage3(self.stage2(self.stage1(x)))
        return self.fc(self.flatten(self.pool(x)))
