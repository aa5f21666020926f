"""``make demo``'s labeling sample and the room as the platform sees it."""

from __future__ import annotations

import stat

from openmaker.config import get_settings
from openmaker.labeling import Labeling, workforce
from openmaker.labeling.demo import DEMO_ADMIN, SAMPLE_JOB, ensure_demo
from openmaker.rooms import load_rooms


def test_the_demo_job_is_made_once_and_the_admin_can_sign_in(openmaker_home):
    settings = get_settings()
    assert ensure_demo(settings, "http://127.0.0.1:8091") == []
    assert ensure_demo(settings, "http://127.0.0.1:8091") == []  # again: nothing reset or duplicated
    lab = Labeling()
    job = lab.job(SAMPLE_JOB)
    assert job["progress"]["items"] == 189 and job["progress"]["tasks"] == 9 and job["teams"] == ["reviewers"]
    password_file = openmaker_home / "labeling-demo-admin.txt"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    with lab.session() as s:
        user = workforce.authenticate(s, DEMO_ADMIN, password_file.read_text().strip())
        assert user.role == "admin"
    assert (openmaker_home / "samples" / "bulkqa" / "beaver" / "image_0003.jpg").is_file()


def test_the_room_serves_its_portal_beside_the_model_server():
    room = next(r for r in load_rooms() if r.name == "labeling")
    assert [(name, port) for name, _, port in room.apps] == [("portal", "portal_port")]
    assert get_settings().portal_port == 8091
