"""Scoring redactions against ground truth: coverage rules, failed images, union masks, intervals, reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from openmaker.deid.scoring import format_markdown, misses, plot, score, wilson

W, H = 100, 60

# a.png: two PHI words, one technical word, one caption; b.png: one PHI word, one technical word
TRUTH = {
    "a.png": [
        {"label": "NAME", "text": "DOE,", "left": 10, "top": 10, "width": 20, "height": 10},
        {"label": "DATE", "text": "03/14/1962", "left": 40, "top": 10, "width": 30, "height": 10},
        {"label": "TECHNICAL", "text": "kVp", "left": 10, "top": 40, "width": 20, "height": 10},
        {"label": "LABEL", "text": "DOB:", "left": 75, "top": 10, "width": 10, "height": 10},
    ],
    "b.png": [
        {"label": "ID", "text": "48213377", "left": 5, "top": 5, "width": 10, "height": 10},
        {"label": "TECHNICAL", "text": "W:400", "left": 50, "top": 30, "width": 20, "height": 10},
    ],
}
PHI = {name: [(e["left"], e["top"], e["width"], e["height"]) for e in v if e["label"] not in ("TECHNICAL", "LABEL")] for name, v in TRUTH.items()}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A hand-made dataset: ground truth plus masks whose ink is every other column of each PHI box."""
    d = tmp_path / "tiny"
    (d / "masks").mkdir(parents=True)
    (d / "ground_truth.json").write_text(json.dumps(TRUTH))
    for name, entries in TRUTH.items():
        mask = np.zeros((H, W), np.uint8)
        for e in entries:
            if e["label"] not in ("TECHNICAL", "LABEL"):
                mask[e["top"] + 2 : e["top"] + e["height"] - 2, e["left"] : e["left"] + e["width"] : 2] = 255
        Image.fromarray(mask).save(d / "masks" / f"{Path(name).stem}.png")
    return d


def test_perfect_redaction(tiny: Path) -> None:
    m = score(tiny, PHI)
    assert m["phi_words"] == 3 and m["phi_words_redacted"] == 3
    assert m["word_recall"] == 1.0 and m["pixel_recall"] == 1.0
    assert m["images_with_phi_left"] == 0 and m["images_with_phi_left_fraction"] == 0.0
    assert m["technical_words"] == 2 and m["technical_kept"] == 1.0 and m["over_redaction"] == 0.0
    assert m["redacted_area_outside_phi"] == 0.0
    assert m["failed"] == 0 and m["failed_files"] == []
    assert m["per_label"]["NAME"]["recall"] == 1.0 and m["per_label"]["ID"]["words"] == 1
    assert sum(r["words"] for r in m["per_size"].values()) == 3
    assert misses(tiny, PHI) == []
    json.dumps(m)  # serialisable as is


def test_no_redaction(tiny: Path) -> None:
    m = score(tiny, {"a.png": [], "b.png": []})
    assert m["word_recall"] == 0.0 and m["pixel_recall"] == 0.0
    assert m["images_with_phi_left"] == 2 and m["images_with_phi_left_fraction"] == 1.0
    assert m["technical_kept"] == 1.0
    assert m["redacted_pixels"] == 0 and m["redacted_area_outside_phi"] is None
    assert m["failed"] == 0
    assert [x["text"] for x in misses(tiny, {"a.png": [], "b.png": []})] == ["DOE,", "03/14/1962", "48213377"]


def test_half_a_word_is_not_redacted(tiny: Path) -> None:
    red = {"a.png": [(10, 10, 10, 10), (40, 10, 30, 10)], "b.png": PHI["b.png"]}  # left half of DOE,
    m = score(tiny, red)
    assert m["phi_words_redacted"] == 2 and m["word_recall"] == pytest.approx(2 / 3)
    assert m["per_label"]["NAME"]["recall"] == 0.0
    assert m["images_with_phi_left"] == 1
    assert 0 < m["pixel_recall"] < 1
    [miss] = misses(tiny, red)
    assert miss["file"] == "a.png" and miss["label"] == "NAME" and miss["text"] == "DOE,"
    assert miss["coverage"] == pytest.approx(0.5) and miss["box"] == [10, 10, 20, 10] and not miss["failed"]


def test_the_95_percent_line(tiny: Path) -> None:
    base = {"b.png": PHI["b.png"]}
    at_95 = score(tiny, {**base, "a.png": [(10, 10, 19, 10), (40, 10, 30, 10)]})  # 19 of 20 columns
    at_90 = score(tiny, {**base, "a.png": [(10, 10, 18, 10), (40, 10, 30, 10)]})
    assert at_95["word_recall"] == 1.0
    assert at_90["word_recall"] == pytest.approx(2 / 3)


def test_covering_everything(tiny: Path) -> None:
    whole = [(0, 0, W, H)]
    m = score(tiny, {"a.png": whole, "b.png": whole})
    assert m["word_recall"] == 1.0 and m["pixel_recall"] == 1.0
    assert m["technical_kept"] == 0.0 and m["over_redaction"] == 1.0
    phi_area = 20 * 10 + 30 * 10 + 10 * 10
    assert m["redacted_pixels"] == 2 * W * H
    assert m["redacted_area_outside_phi"] == pytest.approx(1 - phi_area / (2 * W * H))


def test_overlapping_rectangles_are_counted_once(tiny: Path) -> None:
    once = score(tiny, {"a.png": [(0, 0, 50, 30)], "b.png": []})
    twice = score(tiny, {"a.png": [(0, 0, 50, 30), (0, 0, 50, 30), (10, 10, 20, 10)], "b.png": []})
    assert once["redacted_pixels"] == twice["redacted_pixels"] == 50 * 30
    assert once["redacted_area_outside_phi"] == twice["redacted_area_outside_phi"]


def test_two_rectangles_together_cover_a_word(tiny: Path) -> None:
    m = score(tiny, {"a.png": [(10, 10, 10, 10), (20, 10, 10, 10), (40, 10, 30, 10)], "b.png": PHI["b.png"]})
    assert m["word_recall"] == 1.0


def test_failed_and_missing_images_leak(tiny: Path) -> None:
    m = score(tiny, {"a.png": None, "b.png": PHI["b.png"]})
    assert m["failed"] == 1 and m["failed_files"] == ["a.png"]
    assert m["images_with_phi_left"] == 1 and m["phi_words_redacted"] == 1
    assert m["technical_words"] == 1  # technical text of a failed image is neither kept nor removed
    assert all(x["failed"] and x["coverage"] == 0.0 for x in misses(tiny, {"a.png": None, "b.png": PHI["b.png"]}))
    missing = score(tiny, {"b.png": PHI["b.png"]})
    assert missing["failed_files"] == ["a.png"] and missing["images_with_phi_left"] == 1


def test_bad_input(tiny: Path) -> None:
    with pytest.raises(ValueError, match="not in the ground truth"):
        score(tiny, {"images/a.png": [], **PHI})
    with pytest.raises(ValueError):
        score(tiny, {"a.png": [(0, 0, -5, 5)], "b.png": []})
    with pytest.raises(ValueError):
        score(tiny, {"a.png": [(0, 0, 5)], "b.png": []})


def test_rectangles_are_clipped_and_fractions_cover_touched_pixels(tiny: Path) -> None:
    m = score(tiny, {"a.png": [(-50, -50, 500, 500)], "b.png": [(4.5, 4.5, 10.2, 10.2)]})
    assert m["redacted_pixels"] == W * H + 11 * 11
    assert m["word_recall"] == 1.0


def test_wilson() -> None:
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson(10, 10)
    assert lo == pytest.approx(0.7225, abs=1e-4) and hi == 1.0
    assert wilson(0, 0) == (0.0, 1.0)
    for k, n in ((1, 3), (7, 50), (999, 1000)):
        lo, hi = wilson(k, n)
        assert 0 <= lo < k / n < hi <= 1
    assert wilson(30, 1000)[1] - wilson(30, 1000)[0] < wilson(3, 100)[1] - wilson(3, 100)[0]
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_markdown_and_plot(tiny: Path, tmp_path: Path) -> None:
    m = score(tiny, {"a.png": [(10, 10, 10, 10)], "b.png": None}, seconds=4.0)
    md = format_markdown(m)
    assert "| Word recall" in md and "| NAME | 1 | 0 | 0.000 |" in md and "Failed: b.png" in md
    assert m["images_per_second"] == pytest.approx(0.5) and "Images per second | 0.50" in md
    out = plot(m, tmp_path / "eval.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_generated_dataset_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("faker")
    pytest.importorskip("pydicom")
    from openmaker.deid.synth import PHI_LABELS, generate

    d = generate(tmp_path / "set", 4, seed=11, size=384)
    truth = json.loads((d / "ground_truth.json").read_text())
    boxes = {k: [(e["left"], e["top"], e["width"], e["height"]) for e in v if e["label"] in PHI_LABELS] for k, v in truth.items()}
    m = score(d, boxes)
    assert m["word_recall"] == 1.0 and m["pixel_recall"] == 1.0 and m["images_with_phi_left"] == 0
    assert m["technical_kept"] == 1.0 and set(m["per_kind"]) and set(m["per_contrast"])
    # the boxes are tight: shaving one pixel off every side leaves every word uncovered
    shaved = {k: [(l + 1, t + 1, w - 2, h - 2) for l, t, w, h in v] for k, v in boxes.items()}
    s = score(d, shaved)
    assert s["phi_words_redacted"] < m["phi_words_redacted"] and s["pixel_recall"] < 1.0
    assert s["images_with_phi_left"] == 4
