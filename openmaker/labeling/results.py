"""The results table and what is read out of it: the QA report, CSV, the output manifest, retraining labels.

The results table is ``label_item`` after consolidation: one row per (image, label) with the model's
confidence, ``WorkerConfirmCount``, ``WorkerDisconfirmCount`` and the verdict. The report is
aggregated in SQL (label × bucket × verdict), so it reads a million items in one grouped query.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from openmaker import storage
from openmaker.labeling.consolidate import payload, verdict_sql, worker_id  # noqa: F401  (worker_id re-exported)
from openmaker.labeling.hooks import bulkqa_post_hook, post_event
from openmaker.labeling.report import Report, build_report, parse_buckets
from openmaker.labeling.tables import Item, Job, Task, utcnow

RESULT_FIELDS = ("image", "label", "confidence", "WorkerConfirmCount", "WorkerDisconfirmCount", "verdict")


def _bucket_sql(edges: tuple[float, ...]):
    whens = [
        ((Item.confidence >= low) & ((Item.confidence < high) if i < len(edges) - 2 else (Item.confidence <= high)), i)
        for i, (low, high) in enumerate(zip(edges, edges[1:]))
    ]
    return case(*whens, else_=None)


def report(session: Session, job: Job, buckets="80,85,90,95,100", cost_ratio: float = 10.0, policy: str | None = None) -> Report:
    """The bulk-QA report of ``job`` (verdicts under ``policy``, default the job's)."""
    from openmaker.labeling.report import POLICIES, ReportError

    edges = parse_buckets(buckets)
    policy = policy or job.policy
    if policy not in POLICIES:
        raise ReportError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    verdict = verdict_sql(Item.confirm_count, Item.disconfirm_count, policy).label("verdict")
    bucket = _bucket_sql(edges).label("bucket")
    rows = session.execute(
        select(Item.label, bucket, verdict, func.count())
        .where(Item.job_id == job.id)
        .group_by(Item.label, bucket, verdict)
    ).all()
    cells = [(label, b, v, n) for label, b, v, n in rows if v is not None]
    pending: dict[str, int] = {}
    for label, _, v, n in rows:
        if v is None:
            pending[label] = pending.get(label, 0) + n
    return build_report(cells, edges, cost_ratio, pending=pending.items())


def result_rows(session: Session, job: Job) -> Iterator[tuple]:
    """(image, label, confidence, confirm, disconfirm, verdict) in task order."""
    query = (
        select(Item.image, Item.label, Item.confidence, Item.confirm_count, Item.disconfirm_count, Item.verdict)
        .join(Task, Task.id == Item.task_id)
        .where(Item.job_id == job.id)
        .order_by(Task.seq, Item.position)
    )
    yield from session.execute(query.execution_options(yield_per=10_000))


def results_csv(session: Session, job: Job) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RESULT_FIELDS)
    for image, label, confidence, confirm, disconfirm, verdict in result_rows(session, job):
        writer.writerow([image, label, f"{confidence:.10g}", confirm, disconfirm, verdict or "pending"])
    return out.getvalue()


def labels_csv(session: Session, job: Job, *, include_rejected: bool = False) -> str:
    """Labels for retraining, in the input's CSV format: the confirmed ones (and, asked, the rejected)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["image_local_path", "label", "confidence", "verdict"])
    for image, label, confidence, _, _, verdict in result_rows(session, job):
        if verdict == "confirmed" or (include_rejected and verdict in ("disconfirmed", "split")):
            writer.writerow([image, label, f"{confidence:.10g}", verdict])
    return out.getvalue()


def output_manifest(session: Session, job: Job, now: datetime | None = None) -> str:
    """Ground Truth's output manifest: each input line plus ``<attr>`` and ``<attr>-metadata``.

    The content is the job's post hook's (kept at consolidation) or, by default, the bulk-QA
    consolidation run now over the recorded answers. Tasks nobody answered are left out, as Ground
    Truth marks them failed.
    """
    attribute = job.label_attribute_name
    stored = dict(
        session.execute(select(Task.seq, Task.consolidated).where(Task.job_id == job.id, Task.consolidated.is_not(None))).all()
    )
    if job.post_hook:
        contents = {str(seq): json.loads(text) for seq, text in stored.items()}
    else:
        data = payload(session, job)
        event = post_event(job.name, attribute, [], "memory://payload")
        response = bulkqa_post_hook(event, read=lambda uri: json.dumps(data))
        contents = {entry["datasetObjectId"]: entry["consolidatedAnnotation"]["content"] for entry in response}
    created = (now or utcnow()).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    lines = []
    for seq, data_object in session.execute(select(Task.seq, Task.data_object).where(Task.job_id == job.id).order_by(Task.seq)):
        content = contents.get(str(seq))
        if content is None:
            continue
        line = json.loads(data_object)
        line[attribute] = content.get(attribute, content) if isinstance(content, dict) else content
        line[f"{attribute}-metadata"] = {
            "job_name": f"labeling-job/{job.name}",
            "type": "groundTruth/custom",
            "human-annotated": "yes",
            "creation_date": created,
        }
        lines.append(json.dumps(line))
    text = "".join(line + "\n" for line in lines)
    storage.write_text(storage.join(job.output_uri, "manifests", "output", "output.manifest"), text)
    return text
