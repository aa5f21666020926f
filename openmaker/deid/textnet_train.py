"""Training the text-region network of ``textnet`` on synthetic images (needs torch).

    python -m openmaker.deid.textnet_train [--seed 101] [--images 360] [--steps 3000] [--out PATH]

Images come from ``openmaker deid synth`` with the given seed (never the
held-out evaluation seed, 20261124), read through the pipeline's own reader
(DICOM windowing included). The target of each quarter-resolution cell is
the share of its pixels inside a ground-truth word box -- every word, PHI,
technical or caption: this is a text detector, not a PHI detector. Crops of
256 px are drawn half around a word (faint and small words three times as
often) and half anywhere, so that texture, rulers and organ edges are seen
as the negatives they are. The model is written as ONNX by hand (``onnx``'s
helpers; no exporter), and checked against the torch model before it is
saved.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from openmaker.deid.errors import DeidError
from openmaker.deid.textnet import MODEL, STRIDE, features

CROP = 256
WIDTH = 32
DILATIONS = (1, 2, 4, 8, 1)


def _torch_model():
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, c: int, d: int) -> None:
            super().__init__()
            self.dw = nn.Conv2d(c, c, 3, padding=d, dilation=d, groups=c)
            self.pw = nn.Conv2d(c, c, 1)

        def forward(self, x):
            return x + self.pw(torch.relu(self.dw(x)))

    class TextNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(2, 16, 3, stride=2, padding=1)
            self.c2 = nn.Conv2d(16, WIDTH, 3, stride=2, padding=1)
            self.blocks = nn.ModuleList(Block(WIDTH, d) for d in DILATIONS)
            self.head = nn.Conv2d(WIDTH, 1, 1)

        def forward(self, x):
            x = torch.relu(self.c1(x))
            x = torch.relu(self.c2(x))
            for b in self.blocks:
                x = torch.relu(b(x))
            return self.head(x)

    return TextNet()


def _load(dataset: Path) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Features (float16), targets (float32, quarter resolution) and sampling weights per word box."""
    from openmaker.deid.images import load_image
    from openmaker.deid.textlike import luminance

    gt = json.loads((dataset / "ground_truth.json").read_text())
    # ``deid synth``'s per-word attributes weight faint and small words; any other labelled folder works without them.
    info_file = dataset / "dataset.json"
    meta = json.loads(info_file.read_text()).get("images", {}) if info_file.is_file() else {}
    xs, ys, words = [], [], []
    for name in sorted(gt):
        frame = load_image((dataset / "images" / name).read_bytes(), name).frames[0]
        gray = luminance(frame)
        h, w = gray.shape
        ph, pw = max(-(-h // STRIDE) * STRIDE, CROP), max(-(-w // STRIDE) * STRIDE, CROP)
        mask = np.zeros((ph, pw), np.float32)
        boxes = []
        attrs = meta.get(name, {}).get("words") or [{}] * len(gt[name])
        for entry, info in zip(gt[name], attrs):
            l, t, bw, bh = int(entry["left"]), int(entry["top"]), int(entry["width"]), int(entry["height"])
            mask[t : t + bh, l : l + bw] = 1.0
            weight = (3.0 if info.get("contrast", 1.0) < 0.2 else 1.0) * (3.0 if bh < 12 else 1.0)
            boxes.append((l + bw / 2, t + bh / 2, weight))
        x = features(gray)
        x = np.pad(x, ((0, 0), (0, ph - h), (0, pw - w)), mode="edge")
        xs.append(x.astype(np.float16))
        ys.append(mask.reshape(ph // STRIDE, STRIDE, pw // STRIDE, STRIDE).mean(axis=(1, 3)))
        words.append(np.array(boxes, np.float32).reshape(-1, 3))
    return xs, ys, words


def _batch(rng: np.random.Generator, xs, ys, words, size: int):
    bx = np.empty((size, 2, CROP, CROP), np.float32)
    by = np.empty((size, 1, CROP // STRIDE, CROP // STRIDE), np.float32)
    for k in range(size):
        i = int(rng.integers(len(xs)))
        _, h, w = xs[i].shape
        if rng.random() < 0.5 and len(words[i]):
            wb = words[i]
            cx, cy, _ = wb[rng.choice(len(wb), p=wb[:, 2] / wb[:, 2].sum())]
            x0 = int(cx + rng.uniform(-0.4, 0.4) * CROP - CROP / 2)
            y0 = int(cy + rng.uniform(-0.4, 0.4) * CROP - CROP / 2)
        else:
            x0, y0 = int(rng.integers(0, w - CROP + 1)), int(rng.integers(0, h - CROP + 1))
        x0 = min(max(x0 // STRIDE * STRIDE, 0), w - CROP)
        y0 = min(max(y0 // STRIDE * STRIDE, 0), h - CROP)
        bx[k] = xs[i][:, y0 : y0 + CROP, x0 : x0 + CROP]
        by[k, 0] = ys[i][y0 // STRIDE : (y0 + CROP) // STRIDE, x0 // STRIDE : (x0 + CROP) // STRIDE]
    return bx, by


def to_onnx(model, path: Path) -> None:
    """Write the torch ``model`` as an ONNX graph built node by node."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    inits, nodes = [], []

    def conv(inp: str, out: str, prefix: str, *, stride: int = 1, dilation: int = 1, group: int = 1) -> None:
        w = sd[f"{prefix}.weight"]
        k = w.shape[-1]
        pad = dilation * (k // 2)
        inits.append(numpy_helper.from_array(w, f"{prefix}.weight"))
        inits.append(numpy_helper.from_array(sd[f"{prefix}.bias"], f"{prefix}.bias"))
        nodes.append(
            helper.make_node(
                "Conv", [inp, f"{prefix}.weight", f"{prefix}.bias"], [out],
                strides=[stride, stride], dilations=[dilation, dilation], pads=[pad] * 4, group=group,
            )
        )  # fmt: skip

    def relu(inp: str, out: str) -> None:
        nodes.append(helper.make_node("Relu", [inp], [out]))

    conv("x", "c1", "c1", stride=2)
    relu("c1", "r1")
    conv("r1", "c2", "c2", stride=2)
    relu("c2", "h0")
    for i, d in enumerate(DILATIONS):
        conv(f"h{i}", f"b{i}dw", f"blocks.{i}.dw", dilation=d, group=WIDTH)
        relu(f"b{i}dw", f"b{i}r")
        conv(f"b{i}r", f"b{i}pw", f"blocks.{i}.pw")
        nodes.append(helper.make_node("Add", [f"h{i}", f"b{i}pw"], [f"b{i}sum"]))
        relu(f"b{i}sum", f"h{i + 1}")
    conv(f"h{len(DILATIONS)}", "logits", "head")
    graph = helper.make_graph(
        nodes, "textnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1, "h", "w"])],
        inits,
    )  # fmt: skip
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="openmaker.deid.textnet_train")
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(proto.SerializeToString())


def train(dataset: Path, out: Path, *, steps: int, batch: int = 16, lr: float = 2e-3, seed: int = 0, progress: bool = True) -> dict:
    """Train on ``dataset`` (a ``deid synth`` folder), write ONNX to ``out``; returns a summary."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    xs, ys, words = _load(dataset)
    if len(xs) < 2:
        raise ValueError(f"{len(xs)} labelled image(s): training needs at least 2 (one for validation)")
    n_val = max(1, len(xs) // 10)
    val = (xs[:n_val], ys[:n_val], words[:n_val])
    tr = (xs[n_val:], ys[n_val:], words[n_val:])
    model = _torch_model()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(2.0))
    started = time.time()
    history = []
    from rich.progress import Progress

    with Progress(disable=not progress) as bar:
        task = bar.add_task("Training the text-region network", total=steps)
        running = None
        for step in range(steps):
            bx, by = _batch(rng, *tr, batch)
            loss = loss_fn(model(torch.from_numpy(bx)), torch.from_numpy(by))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            if step % 100 == 0 or step == steps - 1:
                history.append((step, running))
                if not bar.console.is_terminal:
                    bar.console.print(f"step {step}/{steps} loss {running:.4f} ({time.time() - started:.0f} s)")
            bar.update(task, advance=1, description=f"Training the text-region network (loss {running:.4f})")
    model.eval()
    vrng = np.random.default_rng(12345)
    with torch.no_grad():
        bx, by = _batch(vrng, *val, 64)
        p = torch.sigmoid(model(torch.from_numpy(bx))).numpy()
    text = by >= 0.5
    recall = float((p[text] >= 0.5).mean()) if text.any() else math.nan
    false_pos = float((p[by == 0] >= 0.5).mean())
    to_onnx(model, out)
    import onnxruntime as ort

    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"x": bx[:4]})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(bx[:4])).numpy()
    if not np.allclose(got, want, atol=1e-3):
        raise RuntimeError(f"the ONNX model disagrees with torch (max diff {np.abs(got - want).max():.2e})")
    return {
        "images": len(xs), "validation_images": n_val, "steps": steps, "batch": batch, "seconds": round(time.time() - started, 1),
        "validation_cell_recall": round(recall, 4), "validation_false_positive_cells": round(false_pos, 5),
        "loss": [(s, round(v, 5)) for s, v in history],
        "parameters": sum(p.numel() for p in model.parameters()),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=101, help="synthetic data seed (not 20261124, the held-out one)")
    parser.add_argument("--images", type=int, default=360)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--data", type=Path, help="a deid synth folder to use (or to write) instead of a temporary one")
    parser.add_argument("--out", type=Path, default=MODEL)
    args = parser.parse_args(argv)
    if args.seed == 20261124:
        parser.error("seed 20261124 is the held-out evaluation seed: train on another")
    if args.images < 2 or args.steps < 1 or args.batch < 1:
        parser.error("--images must be at least 2 (one for validation), --steps and --batch at least 1")
    data = args.data
    if data is not None and data.exists() and not (data / "ground_truth.json").is_file() and any(data.iterdir()):
        parser.error(f"{data} is neither a labelled dataset (images/ and ground_truth.json) nor empty")
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    from openmaker.deid.synth import generate

    data = data or Path(tempfile.mkdtemp(prefix="textnet-")) / f"synth-{args.seed}"
    if not (data / "ground_truth.json").is_file():
        generate(data, args.images, seed=args.seed, size=1024, progress=True)
    try:
        summary = train(data, args.out, steps=args.steps, batch=args.batch)
    except (ValueError, OSError, KeyError, DeidError) as exc:
        parser.exit(2, f"textnet_train: error: {data}: {exc}\n")
    summary["seed"] = args.seed
    print(json.dumps(summary, indent=1))
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
