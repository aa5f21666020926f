"""TorchServe's ``image_classifier``, answering in the MMS shape.

Each request body is one image (JPEG, PNG, ... anything PIL reads). It is
preprocessed as TorchServe's ImageClassifier does -- Resize(256) ->
CenterCrop(224) -> to [0, 1] -> Normalize(mean, std) -- with PIL and numpy,
all images of a batch run through the model together, and each request gets
the top-k classes::

    [{"probability": 0.71, "class": "n02123045 tabby, tabby cat"}, ...]

Archive files: ``model.onnx`` (run with onnxruntime) or else a TorchScript
``model.pt``, and ``index_to_name.json`` (``{"0": ["n01440764", "tench"]}`` or
``{"0": "tench"}``). Manifest keys under ``model``: ``normalize``
(``{"mean": [...], "std": [...]}`` on the [0, 1] scale, default ImageNet),
``topk`` (default 5), ``resize`` (256), ``crop`` (224).
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from openmaker.serving import codecs
from openmaker.serving.errors import ArchiveError, BadRequest, UnsupportedMediaType
from openmaker.serving.handlers.arrays import ArrayHandler, check_accept
from openmaker.serving.handlers.base import Context, Handler
from openmaker.serving.protocol import InferenceRequest, InferenceResponse

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# curl --data-binary labels raw bytes as form data, so that type is taken as a file too.
_BINARY_TYPES = ("", "application/octet-stream", "application/x-image", "application/x-www-form-urlencoded")


def resize_shorter_side(image, size: int):
    """torchvision ``Resize(size)`` on a PIL image: shorter side to ``size``, bilinear, antialiased."""
    from PIL import Image

    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    if short == size:
        return image
    # torchvision truncates the long side, it does not round it.
    new_short, new_long = size, int(size * long / short)
    new_size = (new_short, new_long) if width <= height else (new_long, new_short)
    return image.resize(new_size, Image.BILINEAR)


def center_crop(image, size: int):
    """torchvision ``CenterCrop(size)`` on a PIL image at least ``size`` on each side."""
    width, height = image.size
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def image_to_array(image, mean=IMAGENET_MEAN, std=IMAGENET_STD, resize: int = 256, crop: int = 224) -> np.ndarray:
    """A PIL image as the normalized float32 CHW array an ImageNet classifier takes."""
    image = center_crop(resize_shorter_side(image.convert("RGB"), resize), crop)
    array = np.asarray(image, dtype=np.float32) / 255.0
    array = (array - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def decode_image(body: bytes):
    """Open ``body`` with PIL, or raise ``BadRequest`` saying why it is not an image."""
    from PIL import Image, UnidentifiedImageError

    if not body:
        raise BadRequest("body is not an image: the body is empty")
    try:
        image = Image.open(io.BytesIO(body))
        image.load()  # decode now, so a truncated file fails here and not in the batch
    except UnidentifiedImageError as exc:
        # PIL's own message only names the BytesIO object; the first bytes say more.
        raise BadRequest(f"body is not an image: unknown format (starts with {bytes(body[:16])!r})") from exc
    except Exception as exc:  # truncated files (OSError), DecompressionBombError ...
        raise BadRequest(f"body is not an image: {exc}") from exc
    return image


def read_labels(path) -> dict[int, str]:
    """``index_to_name.json`` as {index: label}; ``["n02123045", "tabby"]`` becomes ``"n02123045 tabby"``."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"cannot read {path.name}: {exc}") from exc
    labels = {}
    for key, value in raw.items():
        labels[int(key)] = " ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
    return labels


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the max so large logits do not overflow."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


class ImageClassifierHandler(Handler):
    """Image in, top-k ``[{"probability", "class"}]`` out; one model run per batch."""

    platform = "image_classifier"

    def initialize(self, context: Context) -> None:
        super().initialize(context)
        settings = context.manifest.get("model", {})
        normalize = settings.get("normalize") or {}
        self.mean = tuple(float(v) for v in normalize.get("mean", IMAGENET_MEAN))
        self.std = tuple(float(v) for v in normalize.get("std", IMAGENET_STD))
        if len(self.mean) != 3 or len(self.std) != 3 or 0.0 in self.std:
            raise ArchiveError("manifest model.normalize needs three means and three non-zero stds")
        self.topk = int(settings.get("topk", 5))
        self.resize = int(settings.get("resize", 256))
        self.crop = int(settings.get("crop", 224))
        self.apply_softmax = bool(settings.get("softmax", True))
        self.preprocess_threads = max(1, context.threads)  # PIL decodes and resizes without the GIL
        self.model = self._load_model(context)
        self.platform = self.model.platform  # what actually runs: onnxruntime or TorchScript
        labels = context.model_dir / "index_to_name.json"
        self.labels = read_labels(labels) if labels.is_file() else {}

    @staticmethod
    def _load_model(context: Context) -> ArrayHandler:
        # The array handlers already know how to load and run both formats.
        from openmaker.serving.handlers.onnx import OnnxHandler
        from openmaker.serving.handlers.torchscript import SUFFIXES, TorchScriptHandler

        files = [p.name for p in context.model_dir.iterdir() if p.is_file()]
        if any(name.endswith(".onnx") for name in files):
            model: ArrayHandler = OnnxHandler()
        elif any(name.endswith(SUFFIXES) for name in files):
            model = TorchScriptHandler()
        else:
            raise ArchiveError(f"image classifier {context.model_name!r} needs a model.onnx or a TorchScript model.pt")
        model.initialize(context)
        if len(model.inputs) != 1:
            raise ArchiveError(f"an image classifier takes one input; the model has {len(model.inputs)}")
        return model

    def metadata(self) -> dict[str, Any]:
        return self.model.metadata()

    def preprocess(self, request: InferenceRequest) -> np.ndarray:
        if request.tensors is not None:
            raise BadRequest("image_classifier takes the image file as the request body, not tensors")
        ctype = codecs.media_type(request.content_type)
        if not (ctype in _BINARY_TYPES or ctype.startswith("image/")):
            raise UnsupportedMediaType(
                f"unsupported Content-Type {request.content_type!r}; send the image file as image/* "
                "or application/octet-stream"
            )
        check_accept(request.accept, (codecs.JSON,))
        image = decode_image(request.body)
        return image_to_array(image, self.mean, self.std, self.resize, self.crop)

    def inference(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        spec = self.model.inputs[0]
        if spec.batched:
            return list(self._logits(spec.conform(np.stack(inputs))))
        # A model exported with a fixed batch of one runs image by image.
        return [self._logits(spec.conform(array[np.newaxis]))[0] for array in inputs]

    def _logits(self, batch: np.ndarray) -> np.ndarray:
        outputs = self.model.run({self.model.inputs[0].name: batch})
        return np.asarray(next(iter(outputs.values())))  # a classifier's first output is its scores

    def postprocess(self, output: np.ndarray, request: InferenceRequest) -> InferenceResponse:
        scores = np.asarray(output, dtype=np.float64).reshape(-1)
        probabilities = softmax(scores) if self.apply_softmax else scores
        k = min(self.topk, probabilities.size)
        top = np.argsort(-probabilities, kind="stable")[:k]
        answer = [{"probability": float(probabilities[i]), "class": self.labels.get(int(i), str(int(i)))} for i in top]
        return InferenceResponse(body=json.dumps(answer).encode(), content_type=codecs.JSON)
