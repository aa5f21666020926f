"""The league in a real browser (Playwright driving Debian's chromium) against a live server with its queue worker.

A racer signs in with alias and key, uploads a model archive through the race page, watches their
submission go from the queue to done and their row appear on the leaderboard (the page refreshes itself),
then reads the season table. A visitor sees the leaderboard but no submission form, and no racer sees
another's failure reasons.
"""

from __future__ import annotations

import json
import re

from tests.browser import browser, page  # noqa: F401  (pytest fixtures)
from tests.racer.test_league import (  # noqa: F401  (league, live: pytest fixtures)
    Racers,
    fake_model,
    league,
    live,
    model_files,
    open_race,
    tar_gz,
)


def _collect_errors(page):  # noqa: F811
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def _sign_in(page, url, alias, key):  # noqa: F811
    page.goto(f"{url}/signin")
    page.fill("input[name=alias]", alias)
    page.fill("input[name=key]", key)
    page.click("button[type=submit]")


def test_sign_in_upload_and_watch_the_leaderboard(live, page, tmp_path):  # noqa: F811
    league = live.league
    racers = Racers(league, "ana", "bo")
    open_race(league, "june-sprint", timing="AVG_LAP_TIME", laps=2, penalty=5)
    league.submit("june-sprint", fake_model(tmp_path, "bo", (9.5, 9.75)), racer=racers.bo)  # 9.625 s average
    errors = _collect_errors(page)

    _sign_in(page, live.url, "ana", "omr_wrong")
    assert page.get_by_role("alert").inner_text() == "the racer alias or API key is wrong"
    errors.clear()  # the refused sign-in was a 401, logged by the browser
    _sign_in(page, live.url, "ana", racers.keys["ana"])
    page.wait_for_url(f"{live.url}/")
    assert page.locator("nav .who").inner_text() == "ana"
    page.get_by_role("link", name="june-sprint").click()
    page.wait_for_url(f"{live.url}/races/june-sprint")
    assert "ranked by average lap time" in page.locator(".facts").inner_text()

    archive = tmp_path / "ana-model.tar.gz"
    files = model_files((9.0, 9.5))  # 9.25 s average
    files["model_config.json"] = json.dumps({"fake_laps": [9.0, 9.5], "off_track": 0, "delay": 1.5}).encode()  # a slow race
    archive.write_bytes(tar_gz({f"ana-model/{k}": v for k, v in files.items()}))
    page.set_input_files("input[name=model]", str(archive))
    page.get_by_role("button", name="Submit to the race").click()
    page.wait_for_url(re.compile(r"/races/june-sprint\?submitted=\d+$"))
    assert "is in the queue" in page.get_by_role("status").inner_text()
    assert page.locator("#mine .status").inner_text() in ("queued", "racing")
    assert page.locator("#leaderboard td.alias").all_inner_texts() == ["bo"]

    # No reload: league.js refreshes the leaderboard and the submissions once the worker has raced it.
    first = page.locator("#leaderboard tbody tr").first
    first.locator("td.alias", has_text="ana").wait_for(timeout=20_000)
    assert first.locator("td").all_inner_texts()[:6] == ["1", "ana", "2", "00:09.250", "00:09.000", "00:18.500"]
    assert "me" in (first.get_attribute("class") or "")
    second = page.locator("#leaderboard tbody tr").nth(1)
    assert second.locator("td").all_inner_texts()[:4] == ["2", "bo", "2", "00:09.625"]
    page.locator("#mine .status.done").wait_for(timeout=10_000)
    assert page.locator("#mine tbody tr").count() == 1

    page.get_by_role("link", name="Season").click()
    page.wait_for_url(f"{live.url}/season")
    rows = page.locator("table.season tbody tr")
    assert rows.nth(0).locator("td").all_inner_texts()[:4] == ["1", "ana", "25", "1"]
    assert rows.nth(1).locator("td").all_inner_texts()[:3] == ["2", "bo", "18"]

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live.url}/")
    assert page.get_by_role("link", name="Sign in").count() == 1
    assert not errors, errors
    assert not page.outside_requests


def test_visitors_see_the_board_but_not_the_form_or_anyones_reasons(live, page, tmp_path):  # noqa: F811
    league = live.league
    racers = Racers(league, "ana", "bo")
    open_race(league, "sprint")
    league.submit("sprint", fake_model(tmp_path, "good", (10.0,)), racer=racers.ana)
    league.submit("sprint", fake_model(tmp_path, "broken", **{"raise": "racer"}), racer=racers.ana)
    league.submit("sprint", fake_model(tmp_path, "bo", (11.0,)), racer=racers.bo)
    live.worker.wake()
    import time

    deadline = time.monotonic() + 10
    while league.queue_length() and time.monotonic() < deadline:
        time.sleep(0.05)
    errors = _collect_errors(page)

    page.goto(f"{live.url}/races/sprint")
    assert [r.locator("td.alias").inner_text() for r in page.locator("#leaderboard tbody tr").all()] == ["ana", "bo"]
    assert page.locator("input[type=file]").count() == 0 and page.locator("#mine").count() == 0
    assert "not a valid safetensors" not in page.content()

    _sign_in(page, live.url, "bo", racers.keys["bo"])
    page.goto(f"{live.url}/races/sprint")
    assert page.locator("#mine tbody tr").count() == 1
    assert "not a valid safetensors" not in page.content()

    other = page.context.browser.new_context().new_page()
    _sign_in(other, live.url, "ana", racers.keys["ana"])
    other.goto(f"{live.url}/races/sprint")
    failed = other.locator("#mine tr", has=other.locator(".status.failed"))
    assert "not a valid safetensors file" in failed.locator("td.reason").inner_text()
    other.context.close()
    assert not errors, errors
