"""Consolidation: from the recorded answers to per-item counts and per-task consolidated annotations.

Counts are recomputed from every recorded vote in one ``UPDATE … FROM (SELECT … GROUP BY)``, never
incremented, so consolidating twice (or after a retry) gives the same table. A custom post-labeling
hook is called with Ground Truth's request (the payload file in the job's folder) and its
``consolidatedAnnotation`` per data object is kept for the output manifest; the default bulk-QA
hook runs when the output manifest is written.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from openmaker import storage
from openmaker.labeling.hooks import call_hook, check_post_response, post_event
from openmaker.labeling.tables import SUBMITTED, Assignment, Item, Job, Task, Vote, utcnow


def verdict_sql(confirm, disconfirm, policy: str):
    """The consolidated verdict of an item as SQL (NULL without votes); split counts as incorrect."""
    if policy == "majority":
        decided = [(confirm > disconfirm, "confirmed"), (disconfirm > confirm, "disconfirmed")]
    else:
        decided = [(disconfirm == 0, "confirmed"), (confirm == 0, "disconfirmed")]
    return case((confirm + disconfirm == 0, None), *decided, else_="split")


def consolidate(session: Session, job: Job, now: datetime | None = None) -> dict:
    """Recompute every item's WorkerConfirmCount/WorkerDisconfirmCount/verdict; run a custom post hook."""
    counts = (
        select(
            Vote.item_id.label("item_id"),
            func.sum(case((Vote.confirmed.is_(True), 1), else_=0)).label("confirm"),
            func.sum(case((Vote.confirmed.is_(True), 0), else_=1)).label("disconfirm"),
        )
        .where(Vote.job_id == job.id)
        .group_by(Vote.item_id)
        .subquery()
    )
    verdict = verdict_sql(counts.c.confirm, counts.c.disconfirm, job.policy)
    session.execute(
        update(Item)
        .where(
            Item.id == counts.c.item_id,
            # Only rows whose counts changed are written: consolidating again is a read.
            or_(
                Item.confirm_count != counts.c.confirm,
                Item.disconfirm_count != counts.c.disconfirm,
                Item.verdict.is_distinct_from(verdict),
            ),
        )
        .values(confirm_count=counts.c.confirm, disconfirm_count=counts.c.disconfirm, verdict=verdict)
        .execution_options(synchronize_session=False)
    )
    answered = session.scalar(select(func.count(func.distinct(Vote.item_id))).where(Vote.job_id == job.id)) or 0
    hooked = 0
    if job.post_hook:
        hooked = _run_post_hook(session, job)
    job.consolidated_at = now or utcnow()
    return {"items_with_answers": answered, "tasks_consolidated_by_hook": hooked}


def worker_id(user_id: int) -> str:
    return f"private.local.{user_id}"


def payload(session: Session, job: Job) -> list[dict]:
    """Ground Truth's annotation payload: each task with answers, its data object and every worker's answer."""
    rows = session.execute(
        select(Task.seq, Task.data_object, Task.task_input, Assignment.worker_id, Assignment.answer)
        .join(Assignment, Assignment.task_id == Task.id)
        .where(Task.job_id == job.id, Assignment.state == SUBMITTED)
        .order_by(Task.seq, Assignment.submitted_at, Assignment.id)
    ).all()
    out: dict[int, dict] = {}
    for seq, data_object, task_input, user_id, answer in rows:
        entry = out.get(seq)
        if entry is None:
            obj = json.loads(data_object)
            if "source-ref" in obj:
                reference = {"s3Uri": obj["source-ref"]}
            else:
                reference = {"content": obj.get("source", "")}
            # The batch as the pre hook produced it, so consolidation never re-reads the input.
            source = json.loads(task_input).get("sourceRef") if task_input.startswith("{") else None
            if isinstance(source, list):
                reference = {**reference, "content": json.dumps(source)}
            entry = out[seq] = {"datasetObjectId": str(seq), "dataObject": reference, "annotations": []}
        entry["annotations"].append({"workerId": worker_id(user_id), "annotationData": {"content": answer}})
    return list(out.values())


def labels(session: Session, job: Job) -> list[str]:
    return list(session.scalars(select(Item.label).where(Item.job_id == job.id).distinct().order_by(Item.label)))


def write_payload(session: Session, job: Job, iteration: str = "iteration-1") -> tuple[str, list[dict]]:
    data = payload(session, job)
    uri = storage.join(job.output_uri, "annotations", "consolidation-request", f"{iteration}.json")
    storage.write_text(uri, json.dumps(data))
    return uri, data


def _run_post_hook(session: Session, job: Job) -> int:
    uri, data = write_payload(session, job)
    if not data:
        return 0
    response = call_hook(job.post_hook, post_event(job.name, job.label_attribute_name, labels(session, job), uri))
    contents = check_post_response(job.post_hook, response, {entry["datasetObjectId"] for entry in data})
    for seq, content in contents.items():
        session.execute(
            update(Task)
            .where(Task.job_id == job.id, Task.seq == int(seq))
            .values(consolidated=json.dumps(content))
            .execution_options(synchronize_session=False)
        )
    return len(contents)
