"""The SSD detector: torchvision's ``SSD`` (default boxes, matching, hard-negative mining, loss) on a
chosen base network, wrapped so that the network maps images in [0, 1] to raw ``(loc, logits)``.

Decoding and NMS happen outside the network (:func:`openmaker.vision.boxes.postprocess`), the same
code on the server, in evaluation and on the edge device. A model directory holds ``model.json``
(the configuration and class names) and ``model.safetensors`` (the weights; no pickle).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from openmaker.vision.backbones import build_backbone
from openmaker.vision.errors import ModelError

__all__ = ["DetectorConfig", "Detector", "save_model", "load_model", "MODEL_JSON", "WEIGHTS"]

MODEL_JSON = "model.json"
WEIGHTS = "model.safetensors"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BOX_CODER_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def _levels(image_size: int) -> int:
    """Feature levels from stride 8 while the map is at least 2 cells wide (6 at 320, 7 at 512)."""
    levels, stride = 0, 8
    while math.ceil(image_size / stride) >= 2 and levels < 7:
        levels += 1
        stride *= 2
    return levels


def default_scales(levels: int, smallest: float = 0.04, largest: float = 0.95) -> list[float]:
    """Default-box scales per level and one past the last: a small first level (as SSD512's 0.04), then
    growing from 0.1 to ``largest`` faster towards the top, so small and medium objects get more levels."""
    rest = [0.1 + (largest - 0.1) * (k / (levels - 1)) ** 1.5 for k in range(levels)]
    return [smallest] + [round(s, 4) for s in rest]


@dataclass
class DetectorConfig:
    classes: list[str]
    base_network: str = "efficientnet-lite0"
    image_size: int = 320
    nms_threshold: float = 0.45
    score_threshold: float = 0.01
    max_detections: int = 200
    scales: list[float] = field(default_factory=list)
    version: int = 1

    def __post_init__(self) -> None:
        if not self.scales:
            self.scales = default_scales(_levels(self.image_size))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def levels(self) -> int:
        return len(self.scales) - 1

    def to_json(self) -> dict:
        return {"format": "openmaker-ssd", **asdict(self)}

    @classmethod
    def from_json(cls, data: dict) -> "DetectorConfig":
        if data.get("format") != "openmaker-ssd":
            raise ModelError("not an openmaker SSD model configuration (format is not 'openmaker-ssd')")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Detector(nn.Module):
    """``forward(images)`` with images float (N, 3, S, S) in [0, 1] → ``(loc (N, A, 4), logits (N, A, C+1))``."""

    def __init__(self, config: DetectorConfig, *, pretrained: bool = False, weights: Path | None = None) -> None:
        super().__init__()
        from openmaker.vision.tvops import import_torchvision

        tv = import_torchvision()
        from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
        from torchvision.models.detection.ssd import SSD, SSDHead

        self.config = config
        levels = config.levels
        backbone = build_backbone(config.base_network, pretrained=pretrained, weights=weights, extra_levels=levels - 3)
        ratios = [[2]] + [[2, 3]] * (levels - 3) + [[2]] * 2
        anchors = DefaultBoxGenerator(ratios, scales=config.scales)
        head = SSDHead(backbone.out_channels, anchors.num_anchors_per_location(), config.num_classes + 1)
        size = (config.image_size, config.image_size)
        self.ssd = SSD(
            backbone, anchors, size, config.num_classes + 1, image_mean=list(IMAGENET_MEAN), image_std=list(IMAGENET_STD),
            head=head, score_thresh=config.score_threshold, nms_thresh=config.nms_threshold,
            detections_per_img=config.max_detections,
        )  # fmt: skip
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._anchors: torch.Tensor | None = None
        self._tv = tv

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        return list(self.ssd.backbone((images - self.mean) / self.std).values())

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.ssd.head(self.features(images))
        return out["bbox_regression"], out["cls_logits"]

    def anchors_xyxy(self) -> torch.Tensor:
        """The default boxes (A, 4) in pixels of the S x S input."""
        if self._anchors is None:
            from torchvision.models.detection.image_list import ImageList

            s = self.config.image_size
            probe = torch.zeros(1, 3, s, s)
            with torch.no_grad():
                maps = self.features(probe)
            self._anchors = self.ssd.anchor_generator(ImageList(probe, [(s, s)]), maps)[0]
        return self._anchors

    def anchors_cxcywh(self) -> np.ndarray:
        """The default boxes (A, 4) as (cx, cy, w, h) relative to the input, as the ONNX metadata holds them."""
        a = self.anchors_xyxy().numpy().astype(np.float64) / self.config.image_size
        return np.stack([(a[:, 0] + a[:, 2]) / 2, (a[:, 1] + a[:, 3]) / 2, a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]], 1).astype(np.float32)

    def loss(self, images: torch.Tensor, boxes: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """SSD's loss for a batch; ``boxes[i]`` is (n, 5) ``[class_id, xmin, ymin, xmax, ymax]`` relative."""
        from torchvision.ops import box_iou

        loc, logits = self(images)
        anchors = self.anchors_xyxy()
        s = float(self.config.image_size)
        targets, matched = [], []
        for rows in boxes:
            target = {"boxes": rows[:, 1:5] * s, "labels": rows[:, 0].long() + 1}
            targets.append(target)
            if rows.numel() == 0:
                matched.append(torch.full((anchors.shape[0],), -1, dtype=torch.int64))
            else:
                matched.append(self.ssd.proposal_matcher(box_iou(target["boxes"], anchors)))
        head = {"bbox_regression": loc, "cls_logits": logits}
        return self.ssd.compute_loss(targets, head, [anchors] * len(boxes), matched)


def save_model(model: Detector, directory: Path, extra: dict | None = None) -> Path:
    """``model.json`` and ``model.safetensors`` in ``directory``."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / WEIGHTS))
    (directory / MODEL_JSON).write_text(json.dumps({**model.config.to_json(), **(extra or {})}, indent=2) + "\n")
    return directory


def load_model(directory: Path) -> Detector:
    """The detector saved in ``directory`` (or a ``model.tar.gz`` already unpacked there), in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    config_path, weights_path = directory / MODEL_JSON, directory / WEIGHTS
    if not config_path.is_file() or not weights_path.is_file():
        raise ModelError(f"{directory}: not an openmaker detector (needs {MODEL_JSON} and {WEIGHTS})")
    try:
        config = DetectorConfig.from_json(json.loads(config_path.read_text()))
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{config_path}: {exc}") from None
    model = Detector(config)
    try:
        state = load_file(str(weights_path))
        model.load_state_dict(state)
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise ModelError(f"{weights_path}: cannot load the weights: {str(exc).splitlines()[0]}") from None
    return model.eval()
