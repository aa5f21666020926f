"""Human review jobs (bulk label QA) with a worker portal: the room's public Python API.

A model's labels are grouped into batches, reviewers confirm or untick them in the portal (Ground
Truth custom-workflow templates with crowd elements), answers are consolidated into
``WorkerConfirmCount``/``WorkerDisconfirmCount`` per (image, label), and a report chooses a
confidence threshold per class. See :class:`openmaker.labeling.api.Labeling`.
"""

from __future__ import annotations

from openmaker.rooms import lazy_exports

__all__ = ["Conflict", "Forbidden", "JobSpec", "Labeling", "LabelingError", "NotFound", "TemplateRenderer"]

_EXPORTS = {
    "Labeling": "openmaker.labeling.api",
    "JobSpec": "openmaker.labeling.jobs",
    "LabelingError": "openmaker.labeling.errors",
    "NotFound": "openmaker.labeling.errors",
    "Forbidden": "openmaker.labeling.errors",
    "Conflict": "openmaker.labeling.errors",
    "TemplateRenderer": "openmaker.labeling.templates",
}


__getattr__ = lazy_exports("openmaker.labeling", _EXPORTS)
