"""SageMaker's ``X-Amzn-SageMaker-Custom-Attributes`` header as handler options."""

from __future__ import annotations

from openmaker.serving.errors import BadRequest

HEADER = "x-amzn-sagemaker-custom-attributes"


def parse_custom_attributes(value: str, names) -> dict[str, str]:
    """``mode=strict,color=black`` (``,`` or ``;`` between pairs) as a dict; a name not in ``names`` is a 400.

    Names are matched in lower case with ``-`` read as ``_`` (``min-score`` = ``min_score``).
    """
    options: dict[str, str] = {}
    for part in value.replace(";", ",").split(","):
        if not part.strip():
            continue
        key, sep, item = part.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or key not in names:
            raise BadRequest(f"custom attribute {part.strip()!r} is not one of {', '.join(names)}=VALUE")
        options[key] = item.strip()
    return options
