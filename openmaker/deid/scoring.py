"""Scoring a redaction against a labelled dataset (see :mod:`openmaker.deid.synth`).

The scorer knows nothing about how redaction was done: it takes, per image,
the pixel rectangles that were blacked out and compares them with the
rendered ground truth (never with OCR output, which would be circular).

``redactions`` maps each ground-truth file name (its path under ``images/``)
to a list of ``(left, top, width, height)`` rectangles in pixels of frame 0,
or to ``None`` when the image failed or produced no output. A file missing
from the mapping counts as failed too (fail closed); a name not in the ground
truth is a ``ValueError`` (it would otherwise pass unnoticed). Fractional
rectangles cover every pixel they touch; parts outside the image are clipped.

Rectangles are merged into one boolean mask per image, so overlapping
rectangles are not counted twice. The metrics:

* ``word_recall``: a PHI word is redacted only when >= 95 % of its GT box area
  is covered (:data:`WORD_COVERED`); tolerance-based matching would credit a
  box that does not cover the glyphs.
* ``pixel_recall``: covered PHI ink pixels / all PHI ink pixels (the masks).
* ``images_with_phi_left``: images (among those with PHI) where at least one
  PHI word is not redacted; the number that matters for release, with a
  Wilson 95 % interval.
* ``technical_kept``: TECHNICAL words with < 50 % of their box covered
  (:data:`TECHNICAL_REMOVED`); ``over_redaction`` = 1 - technical_kept.
* ``redacted_area_outside_phi``: redacted pixels outside every PHI GT box /
  all redacted pixels.
* recall per PHI label, per GT box height, and (when ``dataset.json`` has the
  word attributes) per contrast, border, rotation, background kind and format.

Failed images count as all PHI left (their PHI words and pixels are
uncovered) and are listed under ``failed_files``; technical and area metrics
are over the images that produced output, since a failed image has none.
LABEL words (field captions like ``DOB:``) count for nothing.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TECHNICAL_REMOVED", "WORD_COVERED", "format_markdown", "misses", "plot", "score", "wilson"]

WORD_COVERED = 0.95  # a PHI word is redacted when at least this fraction of its box is covered
TECHNICAL_REMOVED = 0.5  # a TECHNICAL word is removed when at least this fraction of its box is covered

PHI_LABELS = ("NAME", "DATE", "AGE", "ID", "ADDRESS", "GENDER", "CONTACT_POINT", "PROFESSION")
_NOT_PHI = ("TECHNICAL", "LABEL")
SIZE_BUCKETS: tuple[tuple[float, float, str], ...] = (
    (0, 10, "<10px"),
    (10, 15, "10-14px"),
    (15, 20, "15-19px"),
    (20, 30, "20-29px"),
    (30, math.inf, ">=30px"),
)
CONTRAST_BUCKETS: tuple[tuple[float, float, str], ...] = (
    (0.0, 0.15, "low <0.15"),
    (0.15, 0.4, "mid 0.15-0.4"),
    (0.4, math.inf, "high >=0.4"),
)

Rect = tuple[float, float, float, float]


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes out of ``n`` (95 % by default); (0, 1) when n == 0."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


# --------------------------------------------------------------------------- loading


def _load(dataset_dir: Path) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    d = Path(dataset_dir)
    gt = json.loads((d / "ground_truth.json").read_text())
    meta_path = d / "dataset.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return gt, meta.get("images", {})


def _mask(dataset_dir: Path, name: str, info: Mapping[str, Any]) -> np.ndarray:
    from PIL import Image

    rel = info.get("mask") or f"masks/{Path(name).with_suffix('.png').as_posix()}"
    with Image.open(Path(dataset_dir) / rel) as im:
        return np.asarray(im.convert("L")) > 0


def _union(rects: Sequence[Sequence[float]], h: int, w: int, name: str) -> np.ndarray:
    u = np.zeros((h, w), bool)
    for r in rects:
        if len(r) != 4:
            raise ValueError(f"{name}: a redaction must be (left, top, width, height), got {r!r}")
        left, top, width, height = (float(v) for v in r)
        if not all(math.isfinite(v) for v in (left, top, width, height)) or width < 0 or height < 0:
            raise ValueError(f"{name}: bad redaction rectangle {r!r}")
        x0, y0 = max(0, math.floor(left)), max(0, math.floor(top))
        x1, y1 = min(w, math.ceil(left + width)), min(h, math.ceil(top + height))
        if x1 > x0 and y1 > y0:
            u[y0:y1, x0:x1] = True
    return u


def _coverage(u: np.ndarray | None, e: Mapping[str, Any]) -> float:
    if u is None:
        return 0.0
    l, t, w, h = int(e["left"]), int(e["top"]), int(e["width"]), int(e["height"])
    if w <= 0 or h <= 0:
        return 1.0
    # the part of a box outside the image cannot hold ink; it counts as uncovered all the same
    return float(u[max(0, t) : t + h, max(0, l) : l + w].sum()) / (w * h)


def _evaluate(dataset_dir: Path, redactions: Mapping[str, Sequence[Sequence[float]] | None]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per-word and per-image records, shared by :func:`score` and :func:`misses`."""
    gt, images_meta = _load(dataset_dir)
    unknown = sorted(set(redactions) - set(gt))
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ValueError(f"{len(unknown)} redaction key(s) not in the ground truth (keys are paths under images/): {shown}")
    words: list[dict[str, Any]] = []
    per_image: list[dict[str, Any]] = []
    for name in sorted(gt):
        entries = gt[name]
        info = images_meta.get(name, {})
        attrs = info.get("words") or []
        mask = _mask(dataset_dir, name, info)
        h, w = mask.shape
        rects = redactions.get(name)
        failed = rects is None
        u = None if failed else _union(rects, h, w, name)
        phi_boxes = np.zeros((h, w), bool)
        left = 0
        n_phi = 0
        for i, e in enumerate(entries):
            label = e["label"]
            cov = _coverage(u, e)
            rec = {
                "file": name,
                "index": i,
                "label": label,
                "text": e["text"],
                "box": (int(e["left"]), int(e["top"]), int(e["width"]), int(e["height"])),
                "coverage": cov,
                "failed": failed,
                "attrs": attrs[i] if i < len(attrs) else {},
                "kind": info.get("kind"),
                "format": Path(name).suffix.lstrip(".").lower(),
            }
            if label in _NOT_PHI:
                rec["phi"] = False
                rec["ok"] = cov < TECHNICAL_REMOVED if label == "TECHNICAL" else None
            else:
                rec["phi"] = True
                rec["ok"] = cov >= WORD_COVERED
                n_phi += 1
                left += not rec["ok"]
                l_, t_, w_, h_ = rec["box"]
                phi_boxes[max(0, t_) : t_ + h_, max(0, l_) : l_ + w_] = True
            words.append(rec)
        ink = int(mask.sum())
        per_image.append(
            {
                "file": name,
                "failed": failed,
                "phi_words": n_phi,
                "phi_left": left,
                "ink": ink,
                "ink_covered": 0 if u is None else int((mask & u).sum()),
                "redacted": 0 if u is None else int(u.sum()),
                "redacted_outside_phi": 0 if u is None else int((u & ~phi_boxes).sum()),
            }
        )
    return words, per_image


# --------------------------------------------------------------------------- metrics


def _rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(k, n)
    return {"words": n, "redacted": k, "recall": (k / n) if n else None, "ci": [lo, hi]}


def _bucket(value: float, buckets: tuple[tuple[float, float, str], ...]) -> str:
    for lo, hi, name in buckets:
        if lo <= value < hi:
            return name
    return buckets[-1][2]


def _breakdown(words: list[dict[str, Any]], key: Any, order: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for r in words:
        k = key(r)
        if k is not None:
            groups[k].append(bool(r["ok"]))
    names = [n for n in order if n in groups] if order else []
    names += sorted(n for n in groups if n not in names)
    return {n: _rate(sum(groups[n]), len(groups[n])) for n in names}


def score(
    dataset_dir: Path,
    redactions: Mapping[str, Sequence[Sequence[float]] | None],
    *,
    seconds: float | None = None,
) -> dict[str, Any]:
    """The metrics of one redaction run over ``dataset_dir`` (see the module doc); JSON-serialisable."""
    words, images = _evaluate(Path(dataset_dir), redactions)
    phi = [r for r in words if r["phi"]]
    tech = [r for r in words if r["label"] == "TECHNICAL" and not r["failed"]]
    n_red = sum(r["ok"] for r in phi)
    with_phi = [im for im in images if im["phi_words"]]
    left = sum(1 for im in with_phi if im["phi_left"] or im["failed"])
    kept = sum(r["ok"] for r in tech)
    ink = sum(im["ink"] for im in images)
    ink_cov = sum(im["ink_covered"] for im in images)
    redacted = sum(im["redacted"] for im in images)
    outside = sum(im["redacted_outside_phi"] for im in images)
    failed = [im["file"] for im in images if im["failed"]]

    m: dict[str, Any] = {
        "images": len(images),
        "failed": len(failed),
        "failed_files": failed,
        "phi_words": len(phi),
        "phi_words_redacted": n_red,
        "word_recall": (n_red / len(phi)) if phi else None,
        "word_recall_ci": list(wilson(n_red, len(phi))),
        "phi_pixels": ink,
        "phi_pixels_covered": ink_cov,
        "pixel_recall": (ink_cov / ink) if ink else None,
        "images_with_phi": len(with_phi),
        "images_with_phi_left": left,
        "images_with_phi_left_fraction": (left / len(with_phi)) if with_phi else None,
        "images_with_phi_left_ci": list(wilson(left, len(with_phi))),
        "technical_words": len(tech),
        "technical_kept": (kept / len(tech)) if tech else None,
        "technical_kept_ci": list(wilson(kept, len(tech))),
        "over_redaction": (1 - kept / len(tech)) if tech else None,
        "redacted_pixels": redacted,
        "redacted_area_outside_phi": (outside / redacted) if redacted else None,
        "per_label": _breakdown(phi, lambda r: r["label"], PHI_LABELS),
        "per_size": _breakdown(phi, lambda r: _bucket(r["box"][3], SIZE_BUCKETS), [b[2] for b in SIZE_BUCKETS]),
        "per_contrast": _breakdown(
            phi,
            lambda r: _bucket(r["attrs"]["contrast"], CONTRAST_BUCKETS) if "contrast" in r["attrs"] else None,
            [b[2] for b in CONTRAST_BUCKETS],
        ),
        "per_border": _breakdown(phi, lambda r: ("at border" if r["attrs"]["border"] else "inside") if "border" in r["attrs"] else None),
        "per_rotation": _breakdown(phi, lambda r: ("rotated" if r["attrs"]["angle"] else "level") if "angle" in r["attrs"] else None),
        "per_kind": _breakdown(phi, lambda r: r["kind"]),
        "per_format": _breakdown(phi, lambda r: r["format"]),
        "per_header": _breakdown(  # DICOM images only: is the burned-in value also in the header?
            phi,
            lambda r: ("in header" if r["attrs"]["in_header"] else "not in header") if r["format"] == "dcm" and "in_header" in r["attrs"] else None,
        ),
        "thresholds": {"word_covered": WORD_COVERED, "technical_removed": TECHNICAL_REMOVED},
        "seconds": seconds,
        "images_per_second": (len(images) / seconds) if seconds else None,
    }
    return m


def misses(dataset_dir: Path, redactions: Mapping[str, Sequence[Sequence[float]] | None]) -> list[dict[str, Any]]:
    """The PHI words not redacted (coverage < :data:`WORD_COVERED`), for debugging.

    Each: file, label, text, coverage, box (left, top, width, height), failed.
    The texts are the dataset's PHI, synthetic here; do not feed real data
    through this and log it.
    """
    words, _ = _evaluate(Path(dataset_dir), redactions)
    out = [
        {"file": r["file"], "label": r["label"], "text": r["text"], "coverage": round(r["coverage"], 4), "box": list(r["box"]), "failed": r["failed"]}
        for r in words
        if r["phi"] and not r["ok"]
    ]
    out.sort(key=lambda d: (d["file"], d["coverage"]))
    return out


# --------------------------------------------------------------------------- reporting


def _f(v: Any, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _ci(ci: Sequence[float] | None) -> str:
    return "" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def format_markdown(metrics: Mapping[str, Any]) -> str:
    """The metrics as Markdown tables: a summary, then recall per label, size and condition."""
    m = metrics
    lines = [
        "| Metric | Value | 95% CI |",
        "|---|---|---|",
        f"| Images | {m['images']} (failed: {m['failed']}) | |",
        f"| PHI words | {m['phi_words']} | |",
        f"| Word recall (>= {m['thresholds']['word_covered']:.0%} of box covered) | {_f(m['word_recall'])} | {_ci(m['word_recall_ci'])} |",
        f"| Pixel recall (PHI ink) | {_f(m['pixel_recall'])} | |",
        f"| Images with PHI left | {m['images_with_phi_left']} / {m['images_with_phi']} = {_f(m['images_with_phi_left_fraction'])} | {_ci(m['images_with_phi_left_ci'])} |",
        f"| Technical words kept (< {m['thresholds']['technical_removed']:.0%} covered) | {_f(m['technical_kept'])} of {m['technical_words']} | {_ci(m['technical_kept_ci'])} |",
        f"| Over-redaction (technical words removed) | {_f(m['over_redaction'])} | |",
        f"| Redacted area outside PHI boxes | {_f(m['redacted_area_outside_phi'])} | |",
    ]
    if m.get("images_per_second") is not None:
        lines.append(f"| Images per second | {m['images_per_second']:.2f} ({m['seconds']:.1f} s) | |")
    for key, title in (
        ("per_label", "PHI label"),
        ("per_size", "Box height"),
        ("per_contrast", "Contrast"),
        ("per_border", "Position"),
        ("per_rotation", "Rotation"),
        ("per_kind", "Background"),
        ("per_format", "Format"),
        ("per_header", "Value in DICOM header"),
    ):
        rows = m.get(key) or {}
        if not rows:
            continue
        lines += ["", f"| {title} | Words | Redacted | Recall | 95% CI |", "|---|---|---|---|---|"]
        for name, r in rows.items():
            lines.append(f"| {name} | {r['words']} | {r['redacted']} | {_f(r['recall'])} | {_ci(r['ci'])} |")
    if m.get("failed_files"):
        lines += ["", "Failed: " + ", ".join(m["failed_files"][:20]) + (" ..." if len(m["failed_files"]) > 20 else "")]
    return "\n".join(lines) + "\n"


def plot(metrics: Mapping[str, Any], path: Path) -> Path:
    """A PNG at ``path``: recall per PHI label (with the technical-kept bar) and per box height, with 95% CIs."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def bars(ax: Any, rows: Mapping[str, Mapping[str, Any]], extra: tuple[str, float | None, Sequence[float]] | None, title: str) -> None:
        names = list(rows)
        vals = [rows[n]["recall"] or 0.0 for n in names]
        los = [max(0.0, v - rows[n]["ci"][0]) for n, v in zip(names, vals)]
        his = [max(0.0, rows[n]["ci"][1] - v) for n, v in zip(names, vals)]
        colors = ["#3b6ea8"] * len(names)
        labels = [f"{n}\n(n={rows[n]['words']})" for n in names]
        if extra is not None and extra[1] is not None:
            name, v, ci = extra
            labels.append(name)
            vals.append(v)
            los.append(max(0.0, v - ci[0]))
            his.append(max(0.0, ci[1] - v))
            colors.append("#e08a2c")
        x = np.arange(len(vals))
        ax.bar(x, vals, color=colors, yerr=[los, his], capsize=3)
        ax.set_xticks(x, labels, fontsize=7, rotation=30, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("recall (>= 95% of box covered)")
        ax.set_title(title, fontsize=10)
        ax.axhline(1.0, color="#999", lw=0.5)
        for xi, v in zip(x, vals):
            ax.text(xi, min(v, 1.0) + 0.01, f"{v:.2f}", ha="center", va="bottom", fontsize=7)

    fig = Figure(figsize=(11, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    tk = metrics.get("technical_kept")
    bars(ax1, metrics.get("per_label") or {}, ("TECHNICAL\nkept", tk, metrics.get("technical_kept_ci") or [0, 1]), "Recall per PHI label (orange: technical text kept)")
    bars(ax2, metrics.get("per_size") or {}, None, "Recall per box height")
    left = metrics.get("images_with_phi_left_fraction")
    fig.suptitle(
        f"word recall {_f(metrics.get('word_recall'))}  pixel recall {_f(metrics.get('pixel_recall'))}  "
        f"images with PHI left {_f(left)}  over-redaction {_f(metrics.get('over_redaction'))}",
        fontsize=10,
    )
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, format="png")
    return out
