"""Ranking: a race's leaderboard from its evaluated submissions, and the season's points table.

Leaderboard rules (as AWS DeepRacer leaderboards):

- Only submissions that finished evaluation (``done``) with at least the race's minimum laps rank.
- A racer's best submission counts; the racer's row also shows how many submissions they made.
- The ranking score is the race's timing method, lower is better:
  ``TOTAL_TIME`` the sum of the completed laps' times (a racer with more completed laps ranks first,
  then the shorter total), ``AVG_LAP_TIME`` their mean, ``BEST_LAP_TIME`` the fastest one. Lap times
  include the off-track penalty seconds (the clock runs while the car is reset).
- Ties go to the earlier submission (then the lower submission id).

Season points: F1-style ``25, 18, 15, 12, 10, 8, 6, 4, 2, 1`` for ranks 1 to 10 of every race of the
season (races still open count with their current, provisional standings), summed per racer. Equal
points are broken by countback (more wins, then more second places, ...), then the alias.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

POINTS = (25, 18, 15, 12, 10, 8, 6, 4, 2, 1)


@dataclass(frozen=True)
class Entry:
    """One evaluated submission as the ranking sees it."""

    submission_id: int
    alias: str
    submitted_at: datetime
    completed_laps: int
    total_time: float
    avg_lap_time: float
    best_lap_time: float
    off_track: int


def score(entry: Entry, timing: str) -> float:
    """The ranking score (seconds) of ``entry`` under ``timing``."""
    if timing == "TOTAL_TIME":
        return entry.total_time
    if timing == "AVG_LAP_TIME":
        return entry.avg_lap_time
    if timing == "BEST_LAP_TIME":
        return entry.best_lap_time
    raise ValueError(f"unknown timing method {timing!r}")


def sort_key(entry: Entry, timing: str) -> tuple:
    laps_first = -entry.completed_laps if timing == "TOTAL_TIME" else 0
    return (laps_first, score(entry, timing), entry.submitted_at, entry.submission_id)


def qualifies(entry: Entry, min_laps: int) -> bool:
    return entry.completed_laps >= max(1, min_laps)


def rank(entries: list[Entry], *, timing: str, min_laps: int, submission_counts: dict[str, int] | None = None) -> list[dict]:
    """Leaderboard rows (AWS's column names; times in seconds, SubmissionTime ISO 8601 UTC), best first."""
    counts = submission_counts or {}
    best: dict[str, Entry] = {}
    for entry in entries:
        if not qualifies(entry, min_laps):
            continue
        held = best.get(entry.alias)
        if held is None or sort_key(entry, timing) < sort_key(held, timing):
            best[entry.alias] = entry
    ordered = sorted(best.values(), key=lambda entry: sort_key(entry, timing))
    rows = []
    for position, entry in enumerate(ordered, start=1):
        rows.append(
            {
                "Rank": position,
                "Alias": entry.alias,
                "LapCount": entry.completed_laps,
                "AvgLapTime": round(entry.avg_lap_time, 3),
                "BestLapTime": round(entry.best_lap_time, 3),
                "TotalLapTime": round(entry.total_time, 3),
                "OffTrackCount": entry.off_track,
                "SubmissionCount": counts.get(entry.alias, 1),
                "SubmissionTime": entry.submitted_at.isoformat(),
                "RankingScore": round(score(entry, timing), 3),
                "SubmissionId": entry.submission_id,
            }
        )
    return rows


def season_table(boards: list[tuple[str, list[dict]]]) -> list[dict]:
    """The points table from ``[(race name, leaderboard rows), ...]`` (rows as :func:`rank` makes them).

    Each row: Rank, Alias, Points, Wins, Races (points per race name, only races the racer ranked in).
    """
    points: dict[str, int] = {}
    places: dict[str, list[int]] = {}
    per_race: dict[str, dict[str, int]] = {}
    for race, rows in boards:
        for row in rows:
            alias, position = row["Alias"], row["Rank"]
            earned = POINTS[position - 1] if position <= len(POINTS) else 0
            points[alias] = points.get(alias, 0) + earned
            per_race.setdefault(alias, {})[race] = earned
            counts = places.setdefault(alias, [0] * len(POINTS))
            if position <= len(POINTS):
                counts[position - 1] += 1

    def key(alias: str) -> tuple:
        return (-points[alias], *(-n for n in places[alias]), alias)

    ordered = sorted(points, key=key)
    table = []
    previous: tuple | None = None
    for position, alias in enumerate(ordered, start=1):
        standing = key(alias)[:-1]
        shown = table[-1]["Rank"] if previous == standing else position
        previous = standing
        table.append({"Rank": shown, "Alias": alias, "Points": points[alias], "Wins": places[alias][0], "Races": per_race[alias]})
    return table
