"""torchvision ImageNet architectures, with weights from a local file only (never a hub).

Each is wrapped as ``Normalized(net)`` so inputs stay in [0, 1] pixel space (attributions and
attacks need that) and the ImageNet mean/std normalisation happens inside the model. A weights
file holds the *torchvision* state_dict (the inner ``net``), e.g. ``resnet50-0676ba61.pth``.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from .registry import register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Normalized(nn.Module):
    """``net((x - mean) / std)``; block and GradCAM names point into ``net``."""

    def __init__(self, net: nn.Module, block_names, gradcam_layer_name, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        self.block_names = [f"net.{b}" for b in block_names]
        self.gradcam_layer_name = f"net.{gradcam_layer_name}"

    @property
    def weights_target(self) -> nn.Module:
        return self.net

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def _no_inplace_relu(net: nn.Module) -> nn.Module:
    # Captum's gradient-modifying methods hook ReLUs; in-place ReLUs break those hooks.
    for m in net.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    return net


def _resnet_blocks(net) -> list[str]:
    units = [f"{stage}.{i}" for stage in ("layer1", "layer2", "layer3", "layer4")
             for i in range(len(getattr(net, stage)))]
    return ["fc", *reversed(units), "bn1", "conv1"]


@register_model("resnet18", "torchvision ResNet-18 (ImageNet); weights from a local file.")
def build_resnet18(num_classes=1000, in_channels=3, image_size=224):
    net = _no_inplace_relu(torchvision.models.resnet18(weights=None, num_classes=num_classes))
    return Normalized(net, _resnet_blocks(net), "layer4")


@register_model("resnet50", "torchvision ResNet-50 (ImageNet); weights from a local file.")
def build_resnet50(num_classes=1000, in_channels=3, image_size=224):
    net = _no_inplace_relu(torchvision.models.resnet50(weights=None, num_classes=num_classes))
    return Normalized(net, _resnet_blocks(net), "layer4")


@register_model("vgg16", "torchvision VGG-16 (ImageNet); weights from a local file.")
def build_vgg16(num_classes=1000, in_channels=3, image_size=224):
    net = _no_inplace_relu(torchvision.models.vgg16(weights=None, num_classes=num_classes))
    convs = [f"features.{i}" for i, m in enumerate(net.features) if isinstance(m, nn.Conv2d)]
    fcs = [f"classifier.{i}" for i, m in enumerate(net.classifier) if isinstance(m, nn.Linear)]
    return Normalized(net, [*reversed(fcs), *reversed(convs)], convs[-1])


INCEPTION_ORDER = [
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
    "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
    "Mixed_7a", "Mixed_7b", "Mixed_7c", "fc",
]


@register_model("inception_v3", "torchvision Inception v3 (ImageNet, 299 px); weights from a local file.")
def build_inception_v3(num_classes=1000, in_channels=3, image_size=299, transform_input=True):
    # aux_logits=True keeps the state_dict compatible with torchvision's weight files; in eval mode
    # the model returns the main logits only. transform_input=True matches torchvision's weights.
    net = torchvision.models.inception_v3(
        weights=None, num_classes=num_classes, aux_logits=True, init_weights=False,
        transform_input=transform_input,
    )
    model = Normalized(_no_inplace_relu(net), list(reversed(INCEPTION_ORDER)), "Mixed_7c")
    return model
