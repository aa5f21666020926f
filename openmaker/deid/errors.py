"""What can go wrong while de-identifying one image, as errors a user can read.

Every error here is per file: the batch records it in the run report, writes no
output for that file, goes on, and exits non-zero at the end (fail closed).
"""

from __future__ import annotations


class DeidError(Exception):
    """Base class: the message names the problem and is safe to show (no PHI)."""

    stage = "deid"


class ImageReadError(DeidError):
    """The input is not a readable image: empty, truncated, corrupt, no pixel data,
    an unsupported transfer syntax or format."""

    stage = "read"


class OcrError(DeidError):
    """Text detection failed on an image."""

    stage = "ocr"


class DetectionError(DeidError):
    """PHI detection failed on the recognised text."""

    stage = "detect"


class WriteError(DeidError):
    """The redacted output could not be written."""

    stage = "write"
