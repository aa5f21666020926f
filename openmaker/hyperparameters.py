"""Hyperparameter values as SageMaker passes them (strings such as ``"auto"``, ``"true"``, ``"0.01"``)
or as native Python values; each parser raises :class:`HyperparameterError` naming the hyperparameter
and what it accepts. Shared by the built-in algorithms.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["HyperparameterError", "is_auto", "parse_bool", "parse_int", "parse_float", "parse_choice", "auto_or"]


class HyperparameterError(ValueError):
    """A hyperparameter with a bad value; the message names it."""


def is_auto(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() == "auto")


def _clean(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def parse_bool(name: str, value: Any) -> bool:
    value = _clean(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise HyperparameterError(f"{name} must be true or false, got {value!r}")


def parse_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    value = _clean(value)
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError
            number = int(value)
        else:
            number = int(str(value))
    except (ValueError, TypeError):
        raise HyperparameterError(f"{name} must be an integer, got {value!r}") from None
    _check_range(name, number, low, high)
    return number


def parse_float(name: str, value: Any, low: float | None = None, high: float | None = None,
                low_open: bool = False) -> float:
    value = _clean(value)
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (ValueError, TypeError):
        raise HyperparameterError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise HyperparameterError(f"{name} must be a finite number, got {value!r}")
    if low_open and low is not None and number <= low:
        raise HyperparameterError(f"{name} must be > {low}, got {number:g}")
    _check_range(name, number, None if low_open else low, high)
    return number


def _check_range(name: str, number: float, low: float | None, high: float | None) -> None:
    if low is not None and number < low:
        raise HyperparameterError(f"{name} must be >= {low}, got {number:g}")
    if high is not None and number > high:
        raise HyperparameterError(f"{name} must be <= {high}, got {number:g}")


def parse_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    text = str(_clean(value)).lower() if value is not None else ""
    if text not in choices:
        raise HyperparameterError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return text


def auto_or(parse, name: str, value: Any, *args, **kwargs):
    """``None`` for ``auto``, else ``parse(name, value, ...)``."""
    return None if is_auto(value) else parse(name, value, *args, **kwargs)
