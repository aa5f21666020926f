"""``openmaker deid eval``: run the batch on a labelled dataset and score it.

A dataset is a folder with ``images/`` and ``ground_truth.json`` (file ->
``[{label, left, top, width, height}]``; ``openmaker deid synth`` writes
one, with ``masks/`` for pixel recall). The images go through exactly the
pipeline users run, then ``scoring`` compares the redacted boxes of the
report with the ground truth.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from openmaker.deid.batch import RunOptions, run


def redactions_by_file(report: dict[str, Any], images_dir: Path) -> dict[str, list[tuple[int, int, int, int]] | None]:
    """Report entries as ``{path under images/: [(left, top, width, height)] of frame 0, or None if failed}``."""
    root = os.path.abspath(images_dir)
    found: dict[str, list[tuple[int, int, int, int]] | None] = {}
    for record in report["images"]:
        rel = os.path.relpath(record["input"], root).replace(os.sep, "/")
        if record["status"] != "ok":
            found[rel] = None
            continue
        frame = record["frames"][0]
        found[rel] = [
            (r["box"]["left"], r["box"]["top"], r["box"]["width"], r["box"]["height"]) for r in frame["redactions"]
        ]
    return found


def evaluate(
    dataset: Path,
    output: Path | None = None,
    *,
    mode: str = "default",
    threshold: float = 0.0,
    workers: int | None = None,
    verify: bool = False,
    progress: bool = False,
    engines: tuple[str, ...] = ("rapidocr",),
    text_model: str | None = None,
) -> tuple[dict[str, Any], Path]:
    """Score de-identification on ``dataset``; returns the metrics and the folder holding the details."""
    from openmaker.deid.scoring import plot, score

    dataset = Path(dataset)
    images = dataset / "images"
    truth = dataset / "ground_truth.json"
    if not images.is_dir() or not truth.is_file():
        raise FileNotFoundError(f"{dataset} is not an evaluation dataset: it needs images/ and ground_truth.json")
    output = Path(output) if output else Path(tempfile.mkdtemp(prefix="openmaker-deid-eval-"))
    output.mkdir(parents=True, exist_ok=True)
    options = RunOptions(
        mode=mode, threshold=threshold, verify=verify, key=os.urandom(32), engines=tuple(engines), text_model=text_model
    )
    options.deid_options()  # bad options fail here, not in every worker
    result = run(
        [str(images)], str(output / "redacted"), options, workers=workers, force=True,
        report=str(output / "report.json"), progress=progress,
    )  # fmt: skip
    redactions = redactions_by_file(result.report, images)
    expected = json.loads(truth.read_text())
    # An image the run never reached counts as failed, not as skipped.
    for name in expected:
        redactions.setdefault(name, None)
    metrics = score(dataset, redactions, seconds=result.report["seconds"])
    metrics["workers"] = result.report.get("workers")
    (output / "eval.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot(metrics, output / "eval.png")
    return metrics, output
