"""Object detection from dataset to edge device: the room's public Python API.

Datasets in many formats (CUB-200-2011, Pascal VOC, COCO, SageMaker manifests and JSON annotations,
im2rec .lst, MXNet RecordIO) imported to one folder format; the SageMaker ``object-detection``
built-in algorithm (SSD from torchvision); mAP evaluation; a model-server handler answering
``{"prediction": [...]}``; ONNX export, int8 quantisation and a torch-free edge loop.
"""

from __future__ import annotations

from openmaker.rooms import lazy_exports

__all__ = [
    "DatasetError", "HyperparameterError", "ModelError", "load_dataset", "write_dataset", "read_channel",
    "train_model", "evaluate_model", "Predictor", "export_onnx", "quantize_int8", "EdgeDetector", "run_edge",
    "evaluate", "postprocess", "RecordReader", "RecordWriter",
]  # fmt: skip

_EXPORTS = {
    "DatasetError": "openmaker.vision.errors",
    "HyperparameterError": "openmaker.vision.errors",
    "ModelError": "openmaker.vision.errors",
    "load_dataset": "openmaker.vision.dataset",
    "write_dataset": "openmaker.vision.dataset",
    "read_channel": "openmaker.vision.channels",
    "train_model": "openmaker.vision.api",
    "evaluate_model": "openmaker.vision.api",
    "Predictor": "openmaker.vision.predictor",
    "export_onnx": "openmaker.vision.export",
    "quantize_int8": "openmaker.vision.quantize",
    "EdgeDetector": "openmaker.vision.edge",
    "run_edge": "openmaker.vision.edge",
    "evaluate": "openmaker.vision.metrics",
    "postprocess": "openmaker.vision.boxes",
    "RecordReader": "openmaker.vision.recordio",
    "RecordWriter": "openmaker.vision.recordio",
}

__getattr__ = lazy_exports("openmaker.vision", _EXPORTS)
