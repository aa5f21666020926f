"""De-identify a DICOM's burned-in text with Rekognition DetectText and Comprehend Medical DetectPHI.

The flow of the published de-identification notebook, as a script, with boto3 against openmaker:
read the DICOM, convert its pixels to PNG, find the text (``detect_text``), find the PHI in it
(``detect_phi``), cover the PHI words with filled boxes and save ``de-id-<name>.png`` beside the input.

    python examples/boto3/deid_dicom.py examples/deid/images/us_greyscale_burned_in.dcm

Needs pydicom, numpy and Pillow on the client (``pip install 'openmaker[deid]'`` has them).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageDraw

from common import client


def dicom_to_png(path: Path) -> bytes:
    """The first frame as 8-bit PNG: window from the header if any, else min-max; MONOCHROME1 inverted."""
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array
    if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
        pixels = pixels[0]
    pixels = pixels.astype(np.float64)
    if pixels.ndim == 2:
        low, high = float(pixels.min()), float(pixels.max())
        center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
        if center is not None and width is not None:
            center = float(center[0] if isinstance(center, pydicom.multival.MultiValue) else center)
            width = float(width[0] if isinstance(width, pydicom.multival.MultiValue) else width)
            low, high = center - width / 2, center + width / 2
        pixels = np.clip((pixels - low) / max(high - low, 1e-6), 0, 1) * 255
        if ds.get("PhotometricInterpretation") == "MONOCHROME1":
            pixels = 255 - pixels
    image = Image.fromarray(pixels.astype(np.uint8)).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def phi_words(detections: list[dict], entities: list[dict], threshold: float) -> list[dict]:
    """The WORD detections any PHI entity (Score >= threshold) overlaps, the text being the words joined by spaces."""
    words = [d for d in detections if d["Type"] == "WORD"]
    spans, offset = [], 0
    for word in words:
        spans.append((offset, offset + len(word["DetectedText"])))
        offset += len(word["DetectedText"]) + 1
    hit = set()
    for entity in entities:
        if entity["Score"] < threshold:
            continue
        for i, (begin, end) in enumerate(spans):
            if begin < entity["EndOffset"] and entity["BeginOffset"] < end:
                hit.add(i)
    return [words[i] for i in sorted(hit)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dicom", type=Path)
    parser.add_argument("--color", default="red", help="fill of the redaction boxes")
    parser.add_argument("--dpi", type=int, default=72)
    parser.add_argument("--threshold", type=float, default=0.0, help="phi_detection_threshold: lowest Score redacted")
    parser.add_argument("--pad", type=int, default=2, help="pixels added around each box (glyph edges, anti-aliasing)")
    args = parser.parse_args()

    png = dicom_to_png(args.dicom)
    text = client("rekognition").detect_text(Image={"Bytes": png})["TextDetections"]
    words = [d["DetectedText"] for d in text if d["Type"] == "WORD"]
    entities = client("comprehendmedical").detect_phi(Text=" ".join(words))["Entities"]

    image = Image.open(io.BytesIO(png)).convert("RGB")
    draw = ImageDraw.Draw(image)
    width, height = image.size
    redacted = phi_words(text, entities, args.threshold)
    for word in redacted:
        box = word["Geometry"]["BoundingBox"]
        left, top = box["Left"] * width, box["Top"] * height
        right, bottom = left + box["Width"] * width, top + box["Height"] * height
        draw.rectangle([left - args.pad, top - args.pad, right + args.pad, bottom + args.pad], fill=args.color)
    out = args.dicom.with_name(f"de-id-{args.dicom.stem}.png")
    image.save(out, format="PNG", dpi=(args.dpi, args.dpi))
    types = sorted({e["Type"] for e in entities if e["Score"] >= args.threshold})
    print(f"{out}: {len(words)} words read, {len(redacted)} redacted ({', '.join(types) or 'no PHI found'})")


if __name__ == "__main__":
    main()
