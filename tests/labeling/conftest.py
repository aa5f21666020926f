"""Fixtures of the labeling tests: a Labeling API on a real database, a job from the published sample, a live portal."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLE_CSV = Path(__file__).resolve().parents[2] / "openmaker" / "labeling" / "data" / "bulkqa" / "smallsample.csv"
PASSWORD = "correct horse battery"


@pytest.fixture
def lab(openmaker_home):
    from openmaker.labeling import Labeling

    return Labeling()


@pytest.fixture
def any_lab(database_url, openmaker_home):
    """A Labeling API on SQLite and on a fresh PostgreSQL database."""
    from openmaker.labeling import Labeling

    return Labeling(database_url)


def make_job(lab, name="qa", *, team="reviewers", members=("ana@example.org", "bo@example.org", "cy@example.org"), **spec):
    from openmaker.labeling import JobSpec

    if team not in {t["name"] for t in lab.teams()}:
        lab.create_team(team, members=members)
    lab.create_job(JobSpec(name, str(SAMPLE_CSV), teams=[team], **spec))
    return lab.tasks(name)


def bulkqa_answer(task: dict, untick=()) -> dict:
    """The crowd form's output for a bulk-QA task with the items at ``untick`` unticked."""
    return {f"{item['label']}-{i}": {"Confirmed": i not in untick} for i, item in enumerate(task["items"])}


class LivePortal:
    def __init__(self, url: str, lab):
        self.url = url
        self.lab = lab


@pytest.fixture
def portal(lab) -> Iterator[LivePortal]:
    """The portal app for ``lab`` served by uvicorn on a loopback port, in a thread."""
    import uvicorn

    from openmaker.labeling.portal import create_portal_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_portal_app(lab), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield LivePortal(f"http://127.0.0.1:{port}", lab)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
