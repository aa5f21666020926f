"""Reviewers' work: leasing tasks, recording answers.

- A task goes to ``reviewers`` distinct workers. A lease lasts ``lease_seconds``; a task whose lease
  ran out without an answer goes back to the pool (an expired lease simply stops counting).
- Claiming a slot is one conditional statement (plus a row lock on the task on PostgreSQL), so two
  workers racing for the last slot cannot both get it; ``(task, worker)`` is unique, so nobody gets
  the same task twice.
- Each lease has a random token the task page carries. Submitting twice with the same answer (a retry
  after a lost connection) records it once; a different second answer, an answer after the lease
  expired, or from someone else is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openmaker.labeling.errors import Conflict, Forbidden, LabelingError, NotFound
from openmaker.labeling.hooks import parse_bulkqa_answer
from openmaker.labeling.signing import new_token
from openmaker.labeling.tables import LEASED, RELEASED, SUBMITTED, Assignment, Item, Job, Task, User, Vote, utcnow
from openmaker.labeling.workforce import _aware, require_job_access

MAX_ANSWER_BYTES = 1_000_000


def _active(now: datetime):
    """Assignments holding a slot: answered, or leased and not yet expired."""
    return or_(Assignment.state == SUBMITTED, and_(Assignment.state == LEASED, Assignment.expires_at > now))


def _slots_taken(task_id, now: datetime):
    return (
        select(func.count())
        .select_from(Assignment)
        .where(Assignment.task_id == task_id, _active(now))
        .scalar_subquery()
    )


@dataclass
class Lease:
    assignment: Assignment
    task: Task
    job: Job

    @property
    def task_input(self):
        return json.loads(self.task.task_input)


def _check_worker(session: Session, job: Job, worker: User) -> None:
    if not worker.active:
        raise Forbidden(f"{worker.email} is disabled")
    require_job_access(session, worker, job.id)


def _live_lease(session: Session, job: Job, worker: User, now: datetime) -> Assignment | None:
    return session.scalars(
        select(Assignment)
        .where(Assignment.job_id == job.id, Assignment.worker_id == worker.id, Assignment.state == LEASED, Assignment.expires_at > now)
        .order_by(Assignment.id)
        .limit(1)
    ).first()


def _claim(session: Session, job: Job, task_id: int, worker: User, now: datetime, *, wait: bool = True) -> Assignment | None:
    """Take one of ``task_id``'s free slots for ``worker``; None when none is free.

    On PostgreSQL the task's row is locked first; with ``wait=False`` a task another worker is
    claiming right now is passed over (None) instead of queued behind.
    """
    if session.get_bind().dialect.name == "postgresql":
        locked = session.execute(select(Task.id).where(Task.id == task_id).with_for_update(skip_locked=not wait)).first()
        if locked is None:
            return None
    expires = now + timedelta(seconds=job.lease_seconds)
    token = new_token()
    free = _slots_taken(task_id, now) < job.reviewers
    own = session.scalars(
        select(Assignment).where(Assignment.task_id == task_id, Assignment.worker_id == worker.id)
    ).one_or_none()
    if own is not None:
        if own.state == SUBMITTED or (own.state == LEASED and _aware(own.expires_at) > now):
            return own if own.state == LEASED else None
        result = session.execute(
            update(Assignment)
            .where(Assignment.id == own.id, Assignment.state != SUBMITTED, free)
            .values(state=LEASED, token=token, leased_at=now, expires_at=expires)
            .returning(Assignment.id)
            .execution_options(synchronize_session=False)
        ).first()
    else:
        values = select(
            literal(token), literal(job.id), literal(task_id), literal(worker.id), literal(LEASED), literal(now), literal(expires)
        ).where(free)
        try:
            result = session.execute(
                insert(Assignment)
                .from_select(["token", "job_id", "task_id", "worker_id", "state", "leased_at", "expires_at"], values)
                .returning(Assignment.id)
            ).first()
        except IntegrityError:  # the same worker in two tabs, racing with themselves: nothing was written yet
            session.rollback()
            return None
    # RETURNING, not rowcount: drivers disagree on rowcount for INSERT … SELECT.
    if result is None:
        return None
    return session.scalars(select(Assignment).where(Assignment.token == token)).one()


def next_task(session: Session, job: Job, worker: User, now: datetime | None = None) -> Lease | None:
    """The worker's current lease in ``job``, else a newly leased task; None when nothing is left for them."""
    now = now or utcnow()
    _check_worker(session, job, worker)
    if job.status != "active":
        raise Conflict(f"job {job.name!r} is {job.status}; it takes no more answers")
    assignment = _live_lease(session, job, worker, now)
    if assignment is None:
        mine = exists().where(
            Assignment.task_id == Task.id,
            Assignment.worker_id == worker.id,
            or_(Assignment.state.in_((SUBMITTED, RELEASED)), Assignment.expires_at > now),
        )
        rounds = 5
        for round_ in range(rounds):  # a few rounds: under contention a candidate may fill up before we claim it
            candidates = session.scalars(
                select(Task.id)
                .where(Task.job_id == job.id, Task.human_required.is_(True), ~mine, _slots_taken(Task.id, now) < job.reviewers)
                .order_by(Task.seq)
                .limit(10)
            ).all()
            if not candidates:
                return None
            for task_id in candidates:
                # Reviewers all see the same first candidates: skip the ones being claimed, but in the
                # last round wait for them, so nobody is told "all done" while a slot is still open.
                assignment = _claim(session, job, task_id, worker, now, wait=round_ == rounds - 1)
                if assignment is not None:
                    break
            if assignment is not None:
                break
        if assignment is None:
            return None
    return Lease(assignment, session.get(Task, assignment.task_id), job)


def lease_task(session: Session, job: Job, worker: User, task_id: int, now: datetime | None = None) -> Lease:
    """Lease one given task to ``worker`` (scripts and bulk imports name the task)."""
    now = now or utcnow()
    _check_worker(session, job, worker)
    task = session.get(Task, task_id)
    if task is None or task.job_id != job.id:
        raise NotFound(f"job {job.name!r} has no task {task_id}")
    assignment = _claim(session, job, task_id, worker, now)
    if assignment is None:
        own = session.scalars(
            select(Assignment).where(Assignment.task_id == task_id, Assignment.worker_id == worker.id)
        ).one_or_none()
        if own is not None and own.state == SUBMITTED:
            return Lease(own, task, job)
        raise Conflict(f"task {task_id} already has its {job.reviewers} reviewer(s)")
    return Lease(assignment, task, job)


def get_lease(session: Session, token: str, worker: User) -> Lease:
    assignment = session.scalars(select(Assignment).where(Assignment.token == token)).one_or_none()
    if assignment is None:
        raise NotFound("unknown task: it may have been reassigned; start working again")
    if assignment.worker_id != worker.id:
        raise Forbidden("this task is leased to someone else")
    return Lease(assignment, session.get(Task, assignment.task_id), session.get(Job, assignment.job_id))


def release(session: Session, token: str, worker: User) -> None:
    """Give a leased task back to the pool (the worker skips it)."""
    lease = get_lease(session, token, worker)
    if lease.assignment.state == LEASED:
        lease.assignment.state = RELEASED


@dataclass
class Submission:
    assignment: Assignment
    duplicate: bool  # True: this exact answer was already recorded


def submit(session: Session, token: str, worker: User, answer, now: datetime | None = None) -> Submission:
    """Record ``worker``'s crowd-form ``answer`` for the task their lease ``token`` is for."""
    now = now or utcnow()
    lease = get_lease(session, token, worker)
    assignment, job = lease.assignment, lease.job
    _check_worker(session, job, worker)
    text = json.dumps(answer, sort_keys=True, separators=(",", ":"))
    if len(text) > MAX_ANSWER_BYTES:
        raise LabelingError(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
    if assignment.state == SUBMITTED:
        if assignment.answer == text:
            return Submission(assignment, True)
        raise Conflict(f"this task was already submitted at {_aware(assignment.submitted_at):%Y-%m-%d %H:%M:%S} UTC; a second answer is not recorded")
    if assignment.state == RELEASED:
        raise Conflict("this task was given back to the pool; its answer is not recorded")
    if _aware(assignment.expires_at) <= now:
        raise Conflict(
            f"the lease on this task expired at {_aware(assignment.expires_at):%H:%M:%S} UTC and the task went back "
            "to the pool; the answer is not recorded"
        )
    items = session.execute(
        select(Item.id, Item.label).where(Item.task_id == lease.task.id).order_by(Item.position)
    ).all()
    votes: dict[int, bool] = {}
    if items:
        try:
            votes = parse_bulkqa_answer(answer, [label for _, label in items])
        except LabelingError:
            if job.post_hook is None:  # the default consolidation counts checkboxes: the answer must have them
                raise
    result = session.execute(
        update(Assignment)
        .where(Assignment.id == assignment.id, Assignment.state == LEASED)
        .values(state=SUBMITTED, answer=text, submitted_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # a concurrent copy of this request won
        session.refresh(assignment)
        if assignment.answer == text:
            return Submission(assignment, True)
        raise Conflict("this task was already submitted; a second answer is not recorded")
    if votes:
        session.execute(
            insert(Vote),
            [{"assignment_id": assignment.id, "item_id": items[i][0], "job_id": job.id, "confirmed": ok} for i, ok in votes.items()],
        )
    session.refresh(assignment)
    return Submission(assignment, False)


def progress(session: Session, job: Job, now: datetime | None = None) -> dict:
    """Counts for the admin pages: tasks, answers needed and received, live leases, items."""
    now = now or utcnow()
    tasks = session.scalar(select(func.count()).select_from(Task).where(Task.job_id == job.id, Task.human_required.is_(True))) or 0
    submitted = session.scalar(
        select(func.count()).select_from(Assignment).where(Assignment.job_id == job.id, Assignment.state == SUBMITTED)
    ) or 0
    leased = session.scalar(
        select(func.count())
        .select_from(Assignment)
        .where(Assignment.job_id == job.id, Assignment.state == LEASED, Assignment.expires_at > now)
    ) or 0
    answered = (
        select(func.count())
        .select_from(Assignment)
        .where(Assignment.task_id == Task.id, Assignment.state == SUBMITTED)
        .scalar_subquery()
    )
    done_tasks = session.scalar(
        select(func.count()).select_from(Task).where(Task.job_id == job.id, answered >= job.reviewers)
    ) or 0
    items = session.scalar(select(func.count()).select_from(Item).where(Item.job_id == job.id)) or 0
    workers = session.scalar(
        select(func.count(func.distinct(Assignment.worker_id))).where(Assignment.job_id == job.id, Assignment.state == SUBMITTED)
    ) or 0
    needed = tasks * job.reviewers
    return {
        "tasks": tasks,
        "items": items,
        "answers_needed": needed,
        "answers": submitted,
        "leased": leased,
        "tasks_complete": done_tasks,
        "workers": workers,
        "percent": round(100.0 * submitted / needed, 1) if needed else 100.0,
    }
