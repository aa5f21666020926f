"""The vision room as the platform sees it: its commands (``openmaker vision``)."""

from __future__ import annotations

from openmaker.rooms import LazyCommands, Room

room = Room(
    name="vision",
    title="Vision",
    description="Object detection: datasets (CUB, VOC, COCO, manifests, RecordIO), the object-detection algorithm, "
    "mAP evaluation, a SageMaker-shaped endpoint, ONNX export and an edge loop.",
    commands=LazyCommands("openmaker.vision.cli"),
)
