"""The labeling room's Python API: one object over the database and the artifact store.

::

    from openmaker.labeling import Labeling, JobSpec

    lab = Labeling()                                     # the settings' database and home
    lab.create_team("reviewers", members=["ana@example.org"])
    lab.create_job(JobSpec("smallsample", "smallsample.csv", teams=["reviewers"], reviewers=3))
    for task in lab.tasks("smallsample"): ...
    lab.submit_answer("smallsample", task_id, "ana@example.org", {"Beaver-0": {"Confirmed": True}, ...})
    lab.consolidate("smallsample")
    print(lab.report_text("smallsample", fmt="md"))

The CLI (``openmaker label``) and the worker portal are thin layers over these methods.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from openmaker import db
from openmaker.labeling import jobs, results, work, workforce
from openmaker.labeling.consolidate import consolidate
from openmaker.labeling.tables import PRIVATE, VENDOR

_migrated: set[str] = set()
_lock = threading.Lock()


class Labeling:
    def __init__(self, database_url: str | None = None, home: Path | None = None):
        from openmaker.config import get_settings

        settings = get_settings()
        self.url = database_url or settings.resolved_database_url
        self.home = Path(home or settings.home)
        with _lock:
            if self.url not in _migrated:
                db.migrate(self.url)
                _migrated.add(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with db.session_scope(self.url) as session:
            yield session

    # --- workforce ---------------------------------------------------------------

    def create_admin(self, email: str, password: str):
        with self.session() as s:
            return workforce.create_admin(s, email, password)

    def create_team(self, name: str, *, members=(), vendor: bool = False, admins=()):
        with self.session() as s:
            return workforce.create_team(s, name, kind=VENDOR if vendor else PRIVATE, members=members, admins=admins)

    def add_members(self, team: str, emails, *, team_admin: bool = False) -> None:
        with self.session() as s:
            record = workforce.get_team(s, team)
            for email in emails:
                workforce.add_member(s, record, email, team_admin=team_admin)

    def invite(self, team: str | None, email: str, *, role: str = "worker") -> workforce.InvitationLink:
        with self.session() as s:
            record = workforce.get_team(s, team) if team else None
            return workforce.invite(s, record, email, role=role)

    def teams(self) -> list[dict]:
        from sqlalchemy import select

        from openmaker.labeling.tables import Membership, Team, User

        with self.session() as s:
            out = []
            for team in s.scalars(select(Team).order_by(Team.name)):
                members = s.execute(
                    select(User.email, Membership.is_team_admin, User.password_hash.is_not(None))
                    .join(Membership, Membership.user_id == User.id)
                    .where(Membership.team_id == team.id)
                    .order_by(User.email)
                ).all()
                out.append(
                    {
                        "name": team.name,
                        "kind": team.kind,
                        "members": [{"email": e, "team_admin": a, "signed_up": bool(p)} for e, a, p in members],
                    }
                )
            return out

    # --- jobs -------------------------------------------------------------------

    def create_job(self, spec: jobs.JobSpec, progress: jobs.Progress | None = None):
        with self.session() as s:
            return jobs.create_job(s, spec, home=self.home, progress=progress)

    def jobs(self) -> list[dict]:
        with self.session() as s:
            return [self._job_summary(s, job) for job in jobs.list_jobs(s)]

    def job(self, name: str) -> dict:
        with self.session() as s:
            return self._job_summary(s, jobs.get_job(s, name))

    @staticmethod
    def _job_summary(s: Session, job) -> dict:
        from sqlalchemy import select

        from openmaker.labeling.tables import JobTeam, Team

        teams = s.scalars(select(Team.name).join(JobTeam, JobTeam.team_id == Team.id).where(JobTeam.job_id == job.id)).all()
        return {
            "name": job.name,
            "status": job.status,
            "input": job.input_uri,
            "output": job.output_uri,
            "manifest": job.manifest_uri,
            "teams": sorted(teams),
            "reviewers": job.reviewers,
            "batch_size": job.batch_size,
            "min_confidence": job.min_confidence,
            "policy": job.policy,
            "lease_seconds": job.lease_seconds,
            "pre_hook": job.pre_hook,
            "post_hook": job.post_hook,
            "consolidated_at": job.consolidated_at.isoformat() if job.consolidated_at else None,
            "progress": work.progress(s, job),
        }

    def tasks(self, name: str) -> list[dict]:
        with self.session() as s:
            return jobs.job_tasks(s, jobs.get_job(s, name))

    def share_job(self, name: str, team: str) -> None:
        with self.session() as s:
            jobs.share_job(s, jobs.get_job(s, name), team)

    # --- answers ------------------------------------------------------------------

    def submit_answer(self, name: str, task_id: int, worker: str, answer: Any) -> work.Submission:
        """Record ``worker``'s crowd-form answer for task ``task_id`` as the portal would (lease, then submit)."""
        with self.session() as s:
            job = jobs.get_job(s, name)
            user = workforce.get_user(s, worker)
            lease = work.lease_task(s, job, user, task_id)
            return work.submit(s, lease.assignment.token, user, answer)

    def consolidate(self, name: str) -> dict:
        with self.session() as s:
            return consolidate(s, jobs.get_job(s, name))

    # --- results ---------------------------------------------------------------------

    def report(self, name: str, buckets="80,85,90,95,100", cost_ratio: float = 10.0, policy: str | None = None):
        with self.session() as s:
            return results.report(s, jobs.get_job(s, name), buckets, cost_ratio, policy)

    def report_text(self, name: str, fmt: str = "md", **options) -> str:
        from openmaker.labeling.report_render import render

        return render(self.report(name, **options), fmt, title=name)

    def export(self, name: str, what: str = "results", *, include_rejected: bool = False) -> str:
        with self.session() as s:
            job = jobs.get_job(s, name)
            if what == "results":
                return results.results_csv(s, job)
            if what == "manifest":
                return results.output_manifest(s, job)
            if what == "labels":
                return results.labels_csv(s, job, include_rejected=include_rejected)
        from openmaker.labeling.errors import LabelingError

        raise LabelingError(f"export format must be results, manifest or labels, not {what!r}")
