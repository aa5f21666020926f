"""Bulk label QA report: the arithmetic (no SQL, no I/O; renderers live in :mod:`report_render`).

A model labelled each item with a class and a confidence 0-100; reviewers confirmed or
disconfirmed the label. This module turns the aggregated verdicts into the two tables of the
AWS "bulk label QA with SageMaker Ground Truth" post, plus a confidence threshold per class.

All the rules, in one place:

- **Buckets.** ``parse_buckets("80,85,90,95,100")`` gives the edges: at least two, each a number
  within 0..100, strictly ascending. Bucket *i* is ``[edges[i], edges[i+1])``, except the LAST,
  which is closed ``[edges[-2], edges[-1]]`` so a confidence of 100 falls in 95-100.
  :func:`bucket_index` is ``None`` below the first edge, above the last, or for NaN.
- **Verdict of one item** (:func:`verdict`), from its confirm/disconfirm vote counts; ``None``
  when nobody voted. ``unanimous``: all confirm -> confirmed, all disconfirm -> disconfirmed,
  mixed -> split. ``majority``: more confirms -> confirmed, more disconfirms -> disconfirmed,
  a tie -> split.
- **Per class** (and per bucket): Total = confirmed + disconfirmed + split (reviewed items only);
  Incorrect = disconfirmed + split (a split counts as incorrect); %Correct = confirmed / Total x 100,
  and 0.0 (not NaN) when Total is 0. Items with no votes yet are *pending*: shown, never counted
  in a Total or a percentage. A reviewed item whose confidence lies outside the edges (a cell
  whose bucket index is ``None``) counts in its class row but in no bucket.
- **TOTALS** pools every item of every class (it is not an average), with its own buckets and
  its own threshold by the same rule.
- **Class Average** is the plain mean of the classes' %Correct (full precision, not the rounded
  values), and per bucket the plain mean of the classes' bucket %Correct where an EMPTY bucket
  counts as 0%. Classes with no reviewed item at all (only pending items) are left out of the
  Class Average: they have no %Correct to average. With no such class it is 0.0.
- **Threshold** (per class and for TOTALS), for a cost ratio ``r > 0`` (a wrong auto-accepted
  label costs ``r`` times a needless review): walk the buckets from the highest confidence down.
  A bucket is acceptable when ``incorrect / correct <= 1 / r``, computed as
  ``incorrect * r <= correct`` (so an empty bucket is acceptable and one with no correct item but
  some incorrect is not). At the first unacceptable bucket stop: the threshold is ITS HIGH EDGE.
  If every bucket is acceptable the threshold is the lowest edge. A class with no reviewed item
  has no evidence, so no threshold (``None``, shown as "n/a"), not the lowest edge.
- Classes are sorted by label case-insensitively (ties by the exact label). ``Report.to_dict()``
  rounds percentages to 2 decimals; everything inside keeps full precision.
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

VERDICTS = ("confirmed", "disconfirmed", "split")
POLICIES = ("unanimous", "majority")
TOTALS_LABEL = "TOTALS"
CLASS_AVERAGE_LABEL = "Class Average"


class ReportError(ValueError):
    """Bad input to the report (edges, votes, cells, cost ratio, format): a one-line message."""


# ---------------------------------------------------------------------------------------------
# Buckets


def fmt_edge(value: float | None) -> str:
    """``80.0`` -> ``"80"``, ``85.5`` -> ``"85.5"``, no threshold -> ``"n/a"``: how edges and thresholds are written."""
    if value is None:
        return "n/a"
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def bucket_name(low: float, high: float) -> str:
    """``"80–85"`` (an en dash)."""
    return f"{fmt_edge(low)}\u2013{fmt_edge(high)}"


def _edge(piece: Any) -> float:
    if isinstance(piece, bool) or not isinstance(piece, (str, numbers.Real)):
        raise ReportError(f"bucket edge {piece!r} is not a number")
    text = piece.strip() if isinstance(piece, str) else piece
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ReportError(f"bucket edge {text!r} is not a number") from None
    if math.isnan(value):
        raise ReportError(f"bucket edge {text!r} is not a number")
    if not 0.0 <= value <= 100.0:
        raise ReportError(f"bucket edge {fmt_edge(value) if math.isfinite(value) else text!r} is outside 0..100")
    return value


def parse_buckets(text: str | Sequence[float]) -> tuple[float, ...]:
    """``"80,85,90,95,100"`` (or a sequence of numbers) -> ``(80.0, 85.0, 90.0, 95.0, 100.0)``.

    At least 2 edges, each a number within 0..100, strictly ascending; otherwise a
    :class:`ReportError` naming the bad piece.
    """
    if isinstance(text, str):
        pieces: list[Any] = [] if not text.strip() else text.split(",")
    else:
        try:
            pieces = list(text)
        except TypeError:
            raise ReportError(f"bucket edges must be a comma-separated string or a list of numbers, got {text!r}") from None
    edges = tuple(_edge(p) for p in pieces)
    if len(edges) < 2:
        got = ", ".join(fmt_edge(e) for e in edges) or "none"
        raise ReportError(f"need at least 2 bucket edges, got {got}")
    for low, high in zip(edges, edges[1:]):
        if not low < high:
            raise ReportError(f"bucket edges must be strictly ascending: {fmt_edge(low)} then {fmt_edge(high)}")
    return edges


@lru_cache(maxsize=128)
def _parse_cached(key: str | tuple[Any, ...]) -> tuple[float, ...]:
    return parse_buckets(key)


def _edges(edges: str | Sequence[float]) -> tuple[float, ...]:
    """Validated edges; cached so that calling :func:`bucket_index` per item stays cheap."""
    key = edges if isinstance(edges, (str, tuple)) else tuple(edges)
    try:
        return _parse_cached(key)
    except TypeError:  # unhashable pieces: parse_buckets says what is wrong
        return parse_buckets(key)


def bucket_index(confidence: float, edges: str | Sequence[float]) -> int | None:
    """The bucket a confidence falls in: ``[low, high)``, the last one ``[low, high]``; else ``None``."""
    e = _edges(edges)
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
        raise ReportError(f"confidence {confidence!r} is not a number")
    c = float(confidence)
    if c != c or c < e[0] or c > e[-1]:
        return None
    if c == e[-1]:
        return len(e) - 2
    return bisect_right(e, c) - 1


# ---------------------------------------------------------------------------------------------
# Verdicts


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ReportError(f"{what} must be a whole number, got {value!r}")
    if value < 0:
        raise ReportError(f"{what} must not be negative, got {value}")
    return int(value)


def verdict(confirm: int, disconfirm: int, policy: str) -> str | None:
    """One item's verdict from its vote counts under ``policy`` (see the module docstring)."""
    if policy not in POLICIES:
        raise ReportError(f"unknown policy {policy!r}: expected one of {', '.join(POLICIES)}")
    yes = _count(confirm, "confirm votes")
    no = _count(disconfirm, "disconfirm votes")
    if yes == 0 and no == 0:
        return None
    if policy == "unanimous":
        if no == 0:
            return "confirmed"
        if yes == 0:
            return "disconfirmed"
        return "split"
    if yes > no:
        return "confirmed"
    if no > yes:
        return "disconfirmed"
    return "split"


# ---------------------------------------------------------------------------------------------
# Statistics


def percent(correct: int, total: int) -> float:
    """``correct / total * 100``, and 0.0 when ``total`` is 0."""
    return 100.0 * correct / total if total else 0.0


class _Tally:
    """Totals of a row or a bucket from its ``confirmed``/``disconfirmed``/``split`` counts."""

    confirmed: int
    disconfirmed: int
    split: int

    @property
    def total(self) -> int:
        return self.confirmed + self.disconfirmed + self.split

    @property
    def correct(self) -> int:
        return self.confirmed

    @property
    def incorrect(self) -> int:
        return self.disconfirmed + self.split

    @property
    def percent_correct(self) -> float:
        return percent(self.confirmed, self.total)


@dataclass(frozen=True)
class BucketStats(_Tally):
    """Reviewed items of one class (or TOTALS) whose confidence is in ``[low, high)``."""

    low: float
    high: float
    confirmed: int = 0
    disconfirmed: int = 0
    split: int = 0

    @property
    def name(self) -> str:
        return bucket_name(self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "high": self.high,
            "total": self.total,
            "incorrect": self.incorrect,
            "percent_correct": round(self.percent_correct, 2),
        }


@dataclass(frozen=True)
class ClassStats(_Tally):
    """One class row (or the TOTALS row): its counts, its buckets, its threshold."""

    label: str
    confirmed: int
    disconfirmed: int
    split: int
    buckets: tuple[BucketStats, ...]
    threshold: float | None  # None: nothing reviewed, no evidence for a threshold
    pending: int = 0

    @property
    def unbucketed(self) -> int:
        """Reviewed items whose confidence lies outside the edges (in the row, in no bucket)."""
        return self.total - sum(b.total for b in self.buckets)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "total": self.total,
            "confirmed": self.confirmed,
            "disconfirmed": self.disconfirmed,
            "split": self.split,
            "percent_correct": round(self.percent_correct, 2),
            "buckets": [b.to_dict() for b in self.buckets],
            "threshold": self.threshold,
            "pending": self.pending,
        }


@dataclass(frozen=True)
class ClassAverage:
    """Plain means over the classes with reviewed items (empty buckets count as 0%)."""

    percent_correct: float
    bucket_percents: tuple[float, ...]
    edges: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "percent_correct": round(self.percent_correct, 2),
            "buckets": [
                {"low": low, "high": high, "percent_correct": round(p, 2)}
                for low, high, p in zip(self.edges, self.edges[1:], self.bucket_percents)
            ],
        }


@dataclass(frozen=True)
class Report:
    classes: tuple[ClassStats, ...]
    totals: ClassStats
    class_average: ClassAverage
    edges: tuple[float, ...]
    cost_ratio: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": [c.to_dict() for c in self.classes],
            "totals": self.totals.to_dict(),
            "class_average": self.class_average.to_dict(),
            "edges": list(self.edges),
            "cost_ratio": self.cost_ratio,
        }


def _cost_ratio(cost_ratio: Any) -> float:
    if isinstance(cost_ratio, bool) or not isinstance(cost_ratio, numbers.Real):
        raise ReportError(f"cost ratio must be a number, got {cost_ratio!r}")
    value = float(cost_ratio)
    if not (math.isfinite(value) and value > 0):
        raise ReportError(f"cost ratio must be a finite number > 0, got {cost_ratio!r}")
    return value


def threshold(buckets: Sequence[BucketStats], edges: str | Sequence[float], cost_ratio: float) -> float:
    """The lowest confidence worth auto-accepting (rule in the module docstring).

    ``buckets`` are in ascending order, one per pair of adjacent ``edges``.
    """
    e = _edges(edges)
    r = _cost_ratio(cost_ratio)
    if len(buckets) != len(e) - 1:
        raise ReportError(f"{len(buckets)} buckets do not match {len(e)} edges (need {len(e) - 1})")
    for i in range(len(buckets) - 1, -1, -1):
        b = buckets[i]
        if not b.incorrect * r <= b.correct:
            return e[i + 1]
    return e[0]


def _class_stats(label: str, counts: list[list[int]], row: list[int], pending: int, edges: tuple[float, ...], r: float) -> ClassStats:
    buckets = tuple(BucketStats(edges[i], edges[i + 1], *counts[i]) for i in range(len(edges) - 1))
    reviewed = sum(row) > 0
    return ClassStats(label, row[0], row[1], row[2], buckets, threshold(buckets, edges, r) if reviewed else None, pending)


def build_report(
    cells: Iterable[tuple[str, int | None, str, int]],
    edges: str | Sequence[float],
    cost_ratio: float = 10.0,
    *,
    pending: Iterable[tuple[str, int]] = (),
) -> Report:
    """The report from aggregated ``(label, bucket_index, verdict, count)`` cells.

    A (label, bucket, verdict) may repeat: the counts add up. ``bucket_index`` ``None`` means the
    confidence was outside the edges (counted in the class row, in no bucket). ``pending`` holds
    ``(label, count)`` items with no votes yet: shown, not counted.
    """
    e = _edges(edges)
    r = _cost_ratio(cost_ratio)
    n = len(e) - 1
    vi = {v: k for k, v in enumerate(VERDICTS)}
    per_bucket: dict[str, list[list[int]]] = {}
    per_row: dict[str, list[int]] = {}
    waiting: dict[str, int] = {}

    for cell in cells:
        try:
            label, index, verdict_, count = cell
        except (TypeError, ValueError):
            raise ReportError(f"cell {cell!r} is not a (label, bucket_index, verdict, count) tuple") from None
        if not isinstance(label, str):
            raise ReportError(f"cell {cell!r}: label must be text, got {label!r}")
        k = vi.get(verdict_) if isinstance(verdict_, str) else None
        if k is None:
            raise ReportError(
                f"cell {cell!r}: verdict {verdict_!r} is not one of {', '.join(VERDICTS)} (pass items with no votes as pending)"
            )
        if index is not None and (isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index < n):
            raise ReportError(f"cell {cell!r}: bucket index {index!r} is outside 0..{n - 1} (or None)")
        count = _count(count, f"cell {cell!r}: count")
        row = per_row.get(label)
        if row is None:
            row = per_row[label] = [0, 0, 0]
            per_bucket[label] = [[0, 0, 0] for _ in range(n)]
        row[k] += count
        if index is not None:
            per_bucket[label][int(index)][k] += count

    for item in pending:
        try:
            label, count = item
        except (TypeError, ValueError):
            raise ReportError(f"pending {item!r} is not a (label, count) pair") from None
        if not isinstance(label, str):
            raise ReportError(f"pending {item!r}: label must be text, got {label!r}")
        waiting[label] = waiting.get(label, 0) + _count(count, f"pending {item!r}: count")
        if label not in per_row:
            per_row[label] = [0, 0, 0]
            per_bucket[label] = [[0, 0, 0] for _ in range(n)]

    labels = sorted(per_row, key=lambda s: (s.casefold(), s))
    classes = tuple(_class_stats(lb, per_bucket[lb], per_row[lb], waiting.get(lb, 0), e, r) for lb in labels)

    pooled_rows = [sum(per_row[lb][k] for lb in labels) for k in range(3)]
    pooled_buckets = [[sum(per_bucket[lb][i][k] for lb in labels) for k in range(3)] for i in range(n)]
    totals = _class_stats(TOTALS_LABEL, pooled_buckets, pooled_rows, sum(waiting.values()), e, r)

    reviewed = [c for c in classes if c.total > 0]
    if reviewed:
        avg = sum(c.percent_correct for c in reviewed) / len(reviewed)
        avg_buckets = tuple(sum(c.buckets[i].percent_correct for c in reviewed) / len(reviewed) for i in range(n))
    else:
        avg, avg_buckets = 0.0, (0.0,) * n
    return Report(classes, totals, ClassAverage(avg, avg_buckets, e), e, r)
