"""``make demo``'s labeling sample: the published ``smallsample`` job, a team, and an admin to sign in with."""

from __future__ import annotations

import os
import secrets
import shutil
from importlib.resources import as_file, files
from pathlib import Path

from openmaker.labeling.errors import NotFound

DEMO_ADMIN = "admin@openmaker.local"
SAMPLE_JOB = "smallsample"
SAMPLE_TEAM = "reviewers"


def copy_sample(home: Path) -> Path:
    """The bulk-QA sample (CSV beside its images) in ``<home>/samples/bulkqa``; returns the CSV."""
    target = Path(home) / "samples" / "bulkqa"
    csv = target / "smallsample.csv"
    if not csv.is_file():
        with as_file(files("openmaker.labeling").joinpath("data", "bulkqa")) as source:
            shutil.copytree(source, target, dirs_exist_ok=True)
    return csv


def _admin_password(home: Path) -> tuple[str, bool]:
    path = Path(home) / "labeling-demo-admin.txt"
    if path.is_file():
        return path.read_text().strip(), False
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password, True


def ensure_demo(settings, portal_url: str) -> list[str]:
    """Create what is missing (never resets a password or a job); prints where to sign in."""
    from rich.console import Console

    from openmaker.labeling.api import Labeling
    from openmaker.labeling.jobs import JobSpec

    lab = Labeling(home=settings.home)
    csv = copy_sample(settings.home)
    password, new = _admin_password(settings.home)
    with lab.session() as s:
        from openmaker.labeling import workforce

        try:
            workforce.get_user(s, DEMO_ADMIN)
        except NotFound:
            workforce.create_admin(s, DEMO_ADMIN, password)
            new = True
    if SAMPLE_TEAM not in {t["name"] for t in lab.teams()}:
        lab.create_team(SAMPLE_TEAM, members=[DEMO_ADMIN])
    if SAMPLE_JOB not in {j["name"] for j in lab.jobs()}:
        lab.create_job(JobSpec(SAMPLE_JOB, str(csv), teams=[SAMPLE_TEAM], reviewers=1))
    console = Console(stderr=True, highlight=False)
    console.print(
        f"Labeling portal: {portal_url}  (sign in as {DEMO_ADMIN}, password in "
        f"{Path(settings.home) / 'labeling-demo-admin.txt'})"
        + (f"\n  password: {password}" if new else "")
    )
    return []
