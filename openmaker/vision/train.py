"""Training the SSD detector: augmentation, the optimiser and learning-rate schedule SageMaker names,
per-epoch validation mAP, early stopping and a time budget.

Images are decoded once into memory (downscaled so that the longer side is at most twice the input
size); each step crops, flips, jitters colour and resizes them to ``image_shape`` x ``image_shape``
(the aspect ratio is not kept, as the SageMaker algorithm and the edge device resize).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image, ImageEnhance

from openmaker.vision.boxes import postprocess
from openmaker.vision.dataset import decode_image
from openmaker.vision.edge import to_input as edge_input
from openmaker.vision.errors import DatasetError
from openmaker.vision.metrics import evaluate
from openmaker.vision.model import Detector, DetectorConfig
from openmaker.vision.params import ObjectDetectionParams

__all__ = ["Example", "load_examples", "to_input", "predict", "train_detector", "TrainResult", "WARMUP_ITERATIONS"]

WARMUP_ITERATIONS = 200
Log = Callable[[str], None]


@dataclass
class Example:
    name: str
    image: np.ndarray  # (H, W, 3) uint8 RGB
    boxes: np.ndarray  # (n, 5) float32: class_id, xmin, ymin, xmax, ymax (relative)


@dataclass
class TrainResult:
    model: Detector
    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_map: float | None = None
    seconds: float = 0.0
    stopped: str = "epochs"


def load_examples(samples: Sequence, image_size: int) -> list[Example]:
    """Decode each sample (``name``, ``image`` bytes, ``boxes``) once, downscaled to at most 2x the input size."""
    limit = 2 * image_size
    out = []
    for sample in samples:
        image = decode_image(sample.image, sample.name).convert("RGB")
        scale = limit / max(image.size)
        if scale < 1:
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR)
        out.append(Example(sample.name, np.asarray(image), np.asarray(sample.boxes, dtype=np.float32).reshape(-1, 5)))
    return out


def to_input(image: np.ndarray | Image.Image, size: int) -> np.ndarray:
    """(3, S, S) float32 in [0, 1]: the image resized to S x S (bilinear), exactly as the edge loop feeds it."""
    return edge_input(image, size)[0]


def _random_crop(image: np.ndarray, boxes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A crop of 50–100% of each side keeping the boxes whose centres fall inside (clipped); none kept → no crop."""
    h, w = image.shape[:2]
    for _ in range(10):
        cw, ch = rng.uniform(0.5, 1.0), rng.uniform(0.5, 1.0)
        if not 0.5 <= cw / ch <= 2.0:
            continue
        x0, y0 = rng.uniform(0, 1 - cw), rng.uniform(0, 1 - ch)
        cx, cy = (boxes[:, 1] + boxes[:, 3]) / 2, (boxes[:, 2] + boxes[:, 4]) / 2
        inside = (cx > x0) & (cx < x0 + cw) & (cy > y0) & (cy < y0 + ch)
        if len(boxes) and not inside.any():
            continue
        kept = boxes[inside].copy()
        kept[:, [1, 3]] = np.clip((kept[:, [1, 3]] - x0) / cw, 0, 1)
        kept[:, [2, 4]] = np.clip((kept[:, [2, 4]] - y0) / ch, 0, 1)
        kept = kept[(kept[:, 3] - kept[:, 1] > 1e-3) & (kept[:, 4] - kept[:, 2] > 1e-3)]
        if len(boxes) and not len(kept):
            continue
        px0, py0 = int(x0 * w), int(y0 * h)
        return image[py0 : py0 + max(1, int(ch * h)), px0 : px0 + max(1, int(cw * w))], kept
    return image, boxes


def augment(example: Example, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """SageMaker's "flip, rescale and jitter": random crop (p=0.5), horizontal flip, colour jitter, resize."""
    image, boxes = example.image, example.boxes
    if rng.random() < 0.5:
        image, boxes = _random_crop(image, boxes, rng)
    pil = Image.fromarray(np.ascontiguousarray(image))
    if rng.random() < 0.5:
        pil = pil.transpose(Image.FLIP_LEFT_RIGHT)
        boxes = boxes.copy()
        boxes[:, [1, 3]] = 1.0 - boxes[:, [3, 1]]
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        if rng.random() < 0.5:
            pil = enhancer(pil).enhance(rng.uniform(0.7, 1.3))
    return to_input(pil, size), boxes


def predict(model: Detector, images: Sequence[np.ndarray | Image.Image], *, score_threshold: float = 0.01,
            batch_size: int = 8) -> list[np.ndarray]:
    """Rows ``[class_id, score, xmin, ymin, xmax, ymax]`` per image (relative to the original image)."""
    config = model.config
    anchors = model.anchors_cxcywh()
    out: list[np.ndarray] = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = np.stack([to_input(image, config.image_size) for image in images[start : start + batch_size]])
            loc, logits = model(torch.from_numpy(batch))
            for one_loc, one_logits in zip(loc.numpy(), logits.numpy()):
                out.append(postprocess(one_loc, one_logits, anchors, score_threshold, config.nms_threshold, config.max_detections))
    return out


def validation_map(model: Detector, examples: Sequence[Example], classes: Sequence[str], overlap: float) -> dict:
    predictions = predict(model, [e.image for e in examples])
    return evaluate([e.boxes for e in examples], predictions, classes, overlap_threshold=overlap)


def _optimizer(params: ObjectDetectionParams, parameters) -> torch.optim.Optimizer:
    lr, wd = params.learning_rate, params.weight_decay
    if params.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=params.momentum, weight_decay=wd)
    if params.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=wd)
    if params.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr, momentum=params.momentum, weight_decay=wd)
    return torch.optim.Adadelta(parameters, lr=lr, weight_decay=wd)


def _freeze(model: Detector, pattern: str, log: Log) -> None:
    if not pattern:
        return
    regex = re.compile(pattern)
    frozen = [name for name, p in model.named_parameters() if regex.search(name) and not p.requires_grad_(False).requires_grad]
    if not frozen:
        raise DatasetError(f"freeze_layer_pattern {pattern!r} matches no layer (names look like ssd.backbone.base.blocks.3.*)")
    log(f"#object_detection: froze {len(frozen)} parameter tensors matching {pattern!r}")


def _check_labels(examples: Sequence[Example], params: ObjectDetectionParams, channel: str) -> None:
    most = (params.label_width - 2) // 5
    for example in examples:
        if len(example.boxes) and int(example.boxes[:, 0].max()) >= params.num_classes:
            raise DatasetError(f"{channel} channel, {example.name}: class id {int(example.boxes[:, 0].max())} is out of "
                               f"range for num_classes={params.num_classes}")
        if len(example.boxes) > most:
            raise DatasetError(f"{channel} channel, {example.name}: {len(example.boxes)} objects do not fit "
                               f"label_width={params.label_width} (at most {most}); raise label_width")


def _schedule(params: ObjectDetectionParams, epochs: int) -> tuple[int, ...]:
    """lr_scheduler_step, scaled to the epochs a time budget allows."""
    if epochs == params.epochs:
        return params.lr_scheduler_step
    return tuple(sorted({max(1, round(s * epochs / params.epochs)) for s in params.lr_scheduler_step}))


def train_detector(
    params: ObjectDetectionParams,
    classes: Sequence[str],
    train: Sequence[Example],
    validation: Sequence[Example] = (),
    *,
    log: Log = print,
    on_epoch: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train an SSD per ``params``; log ``validation mAP <score>=(x)`` each epoch as SageMaker does."""
    _check_labels(train, params, "train")
    _check_labels(validation, params, "validation")
    if not train:
        raise DatasetError("the train channel holds no images")
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    config = DetectorConfig(classes=list(classes), base_network=params.base_network, image_size=params.image_shape,
                            nms_threshold=params.nms_threshold)
    weights = params.pretrained_weights or None
    model = Detector(config, pretrained=params.use_pretrained_model, weights=weights)
    _freeze(model, params.freeze_layer_pattern, log)
    optimizer = _optimizer(params, [p for p in model.parameters() if p.requires_grad])
    batch = min(params.mini_batch_size, len(train))
    iterations = math.ceil(len(train) / batch)
    warmup = min(WARMUP_ITERATIONS, 2 * iterations)
    result = TrainResult(model)
    epochs, steps = params.epochs, params.lr_scheduler_step
    budget = params.max_minutes * 60.0
    best_state, stale, started, step = None, 0, time.monotonic(), 0
    for epoch in range(params.epochs):
        if epoch >= epochs:
            break
        epoch_started = time.monotonic()
        lr = params.learning_rate * params.lr_scheduler_factor ** sum(epoch >= s for s in steps)
        model.train()
        order = rng.permutation(len(train))
        losses = []
        for start in range(0, len(order), batch):
            chosen = [train[i] for i in order[start : start + batch]]
            pairs = [augment(e, config.image_size, rng) for e in chosen]
            images = torch.from_numpy(np.stack([p[0] for p in pairs]))
            boxes = [torch.from_numpy(p[1]) for p in pairs]
            for group in optimizer.param_groups:
                group["lr"] = lr * min(1.0, (step + 1) / warmup)
            loss = model.loss(images, boxes)
            total = loss["bbox_regression"] + loss["classification"]
            if not torch.isfinite(total):
                raise FloatingPointError(f"the loss became {float(total)} at epoch {epoch}; lower learning_rate")
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            losses.append(float(total.detach()))
            step += 1
        row = {"epoch": epoch, "learning_rate": lr, "train_loss": float(np.mean(losses)), "seconds": 0.0}
        if validation:
            metrics = validation_map(model, validation, classes, params.overlap_threshold)
            row["validation_map"] = metrics["map50"]
            log(f"#quality_metric: host=algo-1, epoch={epoch}, validation mAP <score>=({metrics['map50']:.6f})")
            if result.best_map is None or metrics["map50"] > result.best_map * (1 + params.early_stopping_tolerance):
                result.best_map, result.best_epoch, stale = metrics["map50"], epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
        log(f"#progress_metric: host=algo-1, completed {100 * (epoch + 1) / epochs:.0f} % of epochs")
        log(f"#object_detection: epoch {epoch} train loss {row['train_loss']:.4f}, lr {lr:.6g}, "
            f"{time.monotonic() - epoch_started:.1f} s")
        row["seconds"] = time.monotonic() - started
        result.history.append(row)
        if on_epoch:
            on_epoch(row)
        if budget and epoch == 0:
            per_epoch = time.monotonic() - started
            epochs = max(1, min(params.epochs, int(budget // per_epoch)))
            steps = _schedule(params, epochs)
            log(f"#object_detection: time budget {params.max_minutes:g} min: {epochs} epochs, lr steps at {list(steps)}")
        if budget and time.monotonic() - started + (time.monotonic() - epoch_started) > budget:
            result.stopped = "time budget"
            break
        if params.early_stopping and epoch + 1 >= params.early_stopping_min_epochs and stale >= params.early_stopping_patience:
            log(f"#object_detection: early stopping after epoch {epoch} (no improvement for {stale} epochs)")
            result.stopped = "early stopping"
            break
    if best_state is not None:
        model.load_state_dict(best_state)
        log(f"#object_detection: kept the model of epoch {result.best_epoch} (validation mAP {result.best_map:.4f})")
    result.seconds = time.monotonic() - started
    model.eval()
    return result
