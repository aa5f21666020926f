"""The racer room as the platform sees it: ``openmaker up`` serves the league with a sample race."""

from __future__ import annotations

from openmaker.config import get_settings
from openmaker.racer.league.api import League
from openmaker.racer.room import SAMPLE_RACE, _ensure_race, room


def test_the_sample_race_is_open_once(openmaker_home):
    _ensure_race(openmaker_home)
    _ensure_race(openmaker_home)  # again: not duplicated
    races = League(home=openmaker_home).races()
    assert [(r["name"], r["track"], r["timing"], r["laps"], r["status"]) for r in races] == [
        (SAMPLE_RACE, "reinvent_base", "TOTAL_TIME", 3, "open")
    ]


def test_the_league_is_a_listener_of_openmaker_up():
    assert [(name, port) for name, _, port in room.apps] == [("league", "league_port")]
    assert get_settings().league_port == 8092
