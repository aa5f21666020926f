"""The learned text-region detector (``textnet``): the shipped model, its input, and retraining it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openmaker.deid import textnet

from tests.deid.conftest import FONT, PHI_LINES, encode, render
from tests.deid.test_textlike import _covered, _scan


def test_the_model_ships_with_the_package():
    assert textnet.available()
    assert textnet.MODEL.stat().st_size < 1_000_000


def test_features_are_the_luminance_and_its_local_contrast():
    gray = np.full((64, 96), 200, np.uint8)
    gray[30:34, 40:60] = 215  # a faint bright bar
    x = textnet.features(gray)
    assert x.shape == (2, 64, 96) and x.dtype == np.float32
    assert x[0, 0, 0] == pytest.approx(200 / 255 - 0.5)
    # Flat background is 0 in the contrast channel; the faint bar stands out (bounded to [-1, 1]).
    assert abs(x[1, 5, 5]) < 1e-3
    assert x[1, 32, 50] > 0.3
    assert np.abs(x[1]).max() <= 1.0


@pytest.mark.parametrize("shape", [(97, 130), (64, 64), (1, 5)])
def test_probabilities_cover_the_frame_on_a_quarter_grid(shape):
    frame = np.zeros((*shape, 3), np.uint8)
    p = textnet.probabilities(frame)
    assert p.shape == (-(-shape[0] // 4), -(-shape[1] // 4))
    assert np.all((p >= 0) & (p <= 1))


@pytest.mark.skipif(not FONT.is_file(), reason="needs DejaVu Sans")
@pytest.mark.parametrize("delta", [40.0, 28.0, 20.0])
def test_faint_small_text_is_found(delta):
    frame, box = _scan("SMITH, JOHN 0012345", delta=delta)
    assert box[3] - box[1] < 10  # glyphs under 10 px high, at contrasts down to 0.08 on grain of 4 levels
    regions = textnet.text_regions(frame)
    # Unpadded, on a 4 px grid: most of the ink's box, and the whole row from end to end.
    assert _covered([r.box for r in regions], box) > 0.7
    assert min(r.box[0] for r in regions) <= box[0] + 4 and max(r.box[2] for r in regions) >= box[2] - 8
    for region in regions:  # nothing far from the text
        x0, y0, x1, y1 = region.box
        assert box[0] - 12 <= x0 and x1 <= box[2] + 12 and box[1] - 12 <= y0 and y1 <= box[3] + 12


def test_a_faint_line_under_a_read_line_is_unexplained():
    frame, box = _scan("SMITH, JOHN 0012345", delta=28.0)
    x0, y0, x1, y1 = box
    # A read word covering the row explains it ...
    assert textnet.unexplained_regions(frame, [(x0 - 2, y0 - 3, x1 + 2, y1 + 3)]) == []
    # ... one on the line above (its box reaching a little into this row) does not.
    above = textnet.unexplained_regions(frame, [(x0, y0 - 14, x1, y0 + 1)])
    assert _covered([r.box for r in above], box) > 0.5
    # A box far taller than a line of text (an outlined ultrasound sector) explains nothing.
    assert textnet.unexplained_regions(frame, [(0, 0, 480, 320)])


def test_no_text_no_regions():
    frame, _ = _scan(None)
    assert textnet.text_regions(frame) == []
    assert textnet.text_regions(np.full((256, 256, 3), 30, np.uint8)) == []


def test_a_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="text-region model"):
        textnet.probabilities(np.zeros((8, 8), np.uint8), model=tmp_path / "gone.onnx")


def test_retraining_writes_a_model_that_matches_torch(tmp_path):
    pytest.importorskip("torch")
    from openmaker.deid.synth import generate
    from openmaker.deid.textnet_train import train

    data = generate(tmp_path / "synth", 3, seed=5, size=256)
    out = tmp_path / "textnet.onnx"
    summary = train(data, out, steps=3, batch=2, progress=False)  # raises if ONNX and torch disagree
    assert summary["steps"] == 3 and summary["images"] == 3 and summary["parameters"] > 10_000
    p = textnet.probabilities(np.zeros((40, 40), np.uint8), model=out)
    assert p.shape == (10, 10)
    # The pipeline takes the retrained model in place of the shipped one.
    from openmaker.deid.process import DeidOptions, deidentify_image

    options = DeidOptions(text_model=str(out))
    result = deidentify_image(encode(render(PHI_LINES)), "scan.png", options)
    assert result.frames[0].redactions


def test_a_model_that_is_not_one_is_refused_up_front(tmp_path):
    from openmaker.deid.process import DeidOptions

    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="text-region model .*junk.onnx cannot be run"):
        DeidOptions(text_model=str(junk))
    with pytest.raises(ValueError, match="not found"):
        DeidOptions(text_model=str(tmp_path / "missing.onnx"))


def test_a_failing_text_region_detector_fails_the_image_closed(monkeypatch):
    from openmaker.deid.errors import DetectionError
    from openmaker.deid.process import deidentify_image

    def broken(*args, **kwargs):
        raise RuntimeError("onnxruntime: out of memory")

    monkeypatch.setattr(textnet, "unexplained_regions", broken)
    with pytest.raises(DetectionError, match="text-region detection failed: RuntimeError: onnxruntime: out of memory"):
        deidentify_image(encode(render(PHI_LINES)), "scan.png")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--images", "1"], "--images must be at least 2"),
        (["--steps", "0"], "--steps and --batch at least 1"),
    ],
)
def test_training_bad_options_exit_2(capsys, args, message):
    from openmaker.deid.textnet_train import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_training_refuses_a_folder_that_is_no_dataset(tmp_path, capsys):
    from openmaker.deid.textnet_train import main

    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SystemExit) as exc:
        main(["--data", str(tmp_path)])
    assert exc.value.code == 2
    assert "neither a labelled dataset" in capsys.readouterr().err


def test_training_on_a_broken_dataset_is_one_clear_line(tmp_path, capsys):
    pytest.importorskip("torch")
    from openmaker.deid.textnet_train import main

    (tmp_path / "images").mkdir()
    (tmp_path / "ground_truth.json").write_text("{}")
    with pytest.raises(SystemExit) as exc:
        main(["--data", str(tmp_path), "--out", str(tmp_path / "m.onnx")])
    assert exc.value.code == 2
    assert "0 labelled image(s): training needs at least 2" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_training_refuses_the_held_out_seed(capsys):
    from openmaker.deid.textnet_train import main

    with pytest.raises(SystemExit) as exc:
        main(["--seed", "20261124"])
    assert exc.value.code == 2
    assert "held-out" in capsys.readouterr().err


def test_a_redacted_box_explains_only_the_cells_it_covers():
    frame, box = _scan("SMITH, JOHN 0012345", delta=40.0)
    x0, y0, x1, y1 = box
    mid = (x0 + x1) // 2
    half = (x0 - 3, y0 - 3, mid, y1 + 3)  # a redaction over the first half of the line
    # As a read word it would explain glyphs beyond its end (its box may stop short of them) ...
    loose = textnet.unexplained_regions(frame, [half])
    # ... as a redaction it takes only its own cells: the rest of the line stays to be redacted.
    tight = textnet.unexplained_regions(frame, [], covered=[half])
    assert min(r.box[0] for r in tight) <= mid + 4
    assert _covered([r.box for r in tight], (mid + 4, y0, x1, y1)) > 0.6
    assert _covered([r.box for r in tight], (x0 + 4, y0, mid - 4, y1)) == 0.0
    assert sum(r.box[2] - r.box[0] for r in tight) > sum(r.box[2] - r.box[0] for r in loose)


def test_dark_text_on_a_dark_background_is_found_in_the_dark_view():
    from openmaker.deid.process import _faint_text, dark_view
    from tests.deid.conftest import render

    # Text a dozen levels under a dark grey, grainy background, as where a text line leaves a bright
    # ring for the black around it.
    # Without the dark view about 0.83 of the ink is covered.
    clean = render([("0887 Williamson Ford Apt. 337", (40, 40))], size=(640, 200), fg=(12, 12, 12), bg=(23, 23, 23), font_size=18)
    ink = clean[..., 0] < 18
    noise = np.random.default_rng(0).normal(0, 2, clean.shape[:2])[..., None]
    frame = np.clip(clean + noise, 0, 255).astype(np.uint8)
    stretched = dark_view(frame)
    assert stretched is not None and int(stretched.max()) > 80
    faint, to_read = _faint_text(frame, [], [], 640, 200)
    boxes = [r.box for r in faint]
    assert len(to_read) == 1 and np.array_equal(to_read[0], stretched)  # found on the dark view only: to be read
    covered = np.zeros((200, 640), bool)
    for x0, y0, x1, y1 in boxes:
        covered[y0:y1, x0:x1] = True
    assert covered[ink].mean() > 0.95
    assert dark_view(np.full((100, 100, 3), 200, np.uint8)) is None  # little of it dark: no second look


def _words_left(tmp_path, seed: int, index: int) -> list[tuple[str, float]]:
    """(label, coverage) of the PHI words left on image ``index`` of synthetic set ``seed``, run alone."""
    pytest.importorskip("faker")
    from openmaker.deid.evaluate import evaluate, redactions_by_file
    from openmaker.deid.scoring import misses
    from openmaker.deid.synth import generate

    dataset = generate(tmp_path / "set", 200, seed=seed, size=1024, only=[index])
    metrics, where = evaluate(dataset, tmp_path / "eval", workers=1)
    assert metrics["images"] == 1 and metrics["failed"] == 0
    report = json.loads((where / "report.json").read_text())
    return [(m["label"], m["coverage"]) for m in misses(dataset, redactions_by_file(report, dataset / "images"))]


def test_pale_text_on_a_white_background_is_found_in_the_bright_view(tmp_path):
    """Image 44 of synthetic seed 33: an institution and a name, 8 px tall, grey 232 on an X-ray's
    saturated white (255), blurred. No OCR view reads them and neither detector finds them on the
    frame; stretched on the bright view they are plain. Without it all six words stay."""
    from openmaker.deid.process import bright_view

    assert _words_left(tmp_path, seed=33, index=44) == []
    assert bright_view(np.full((100, 100, 3), 100, np.uint8)) is None  # little of it bright: no second look
    stretched = bright_view(np.full((100, 100, 3), 232, np.uint8))
    assert stretched is not None and int(stretched.max()) < 180  # 232 of 255 stretched to a mid grey


def test_a_date_half_read_on_the_frame_is_read_again_on_the_dark_view(tmp_path):
    """Image 147 of synthetic seed 27: "4 Sep 2009", its day a few levels above the background, 7 px tall.

    The frame's OCR reads "Sep 2009" and its line box stops short of the "4"; the learned detector
    finds the "4" on the dark view only, and reading that view reads "4 Sep 2009" whole. Without
    reading it half of the "4" stays.
    """
    assert _words_left(tmp_path, seed=27, index=147) == []


def test_a_faint_line_is_covered_to_its_last_letter(tmp_path):
    """Image 158 of synthetic seed 36: "Debbie Shelton", blurred, a few levels over flat grey. No OCR
    view reads it, and the network is less sure of its last letters than of the rest: its region
    stopped short of the final "n" (a sixth of "Shelton" stayed) until long runs of sure cells
    took in the less sure ones after them on their row."""
    assert _words_left(tmp_path, seed=36, index=158) == []


def test_runs_of_sure_cells_grow_along_their_row_only():
    strong = np.zeros((5, 40), bool)
    strong[2, 5:20] = True  # a line, 15 cells
    strong[4, 30:33] = True  # an icon, 3 cells
    weak = strong.copy()
    weak[2, 20:26] = True  # the line's faint end
    weak[1, 5:20] = True  # the row above: not taken
    weak[4, 33:36] = True  # beside the icon: not taken (a short run does not grow)
    grown = textnet._along_rows(strong, weak)
    assert grown[2, 5:26].all() and not grown[2, 26:].any()
    assert not grown[1].any() and grown[4].sum() == 3
