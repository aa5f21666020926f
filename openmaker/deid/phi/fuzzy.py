"""Bounded edit distance for matching OCR words against known values."""

from __future__ import annotations


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance between ``a`` and ``b``, or ``limit + 1`` as soon as it is
    known to exceed ``limit`` (banded dynamic programming, O(len * limit))."""
    if a == b:
        return 0
    la, lb = len(a), len(b)
    if abs(la - lb) > limit:
        return limit + 1
    if la == 0 or lb == 0:
        d = max(la, lb)
        return d if d <= limit else limit + 1
    big = limit + 1
    prev = [j if j <= limit else big for j in range(lb + 1)]
    for i in range(1, la + 1):
        lo = max(1, i - limit)
        hi = min(lb, i + limit)
        cur = [big] * (lb + 1)
        cur[0] = i if i <= limit else big
        ca = a[i - 1]
        best = cur[0]
        for j in range(lo, hi + 1):
            cost = 0 if ca == b[j - 1] else 1
            v = prev[j - 1] + cost
            if prev[j] + 1 < v:
                v = prev[j] + 1
            if cur[j - 1] + 1 < v:
                v = cur[j - 1] + 1
            cur[j] = v
            if v < best:
                best = v
        if best > limit:
            return big
        prev = cur
    return prev[lb] if prev[lb] <= limit else big


def allowed_distance(length: int) -> int:
    """Edits tolerated for a value of this length: exact up to 3 characters, 1 up to 7,
    2 from 8 on."""
    if length <= 3:
        return 0
    if length <= 7:
        return 1
    return 2


def prefix_distance(stem: str, value: str, limit: int) -> int:
    """Distance between ``stem`` (a truncated OCR word) and the best prefix of ``value``
    of about the same length."""
    best = limit + 1
    for n in (len(stem), len(stem) - 1, len(stem) + 1):
        if 0 < n <= len(value):
            best = min(best, edit_distance(stem, value[:n], limit))
    return best
