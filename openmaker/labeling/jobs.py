"""Creating a review job: input → batches → manifest and task inputs in the artifact store → tasks in the database.

Follows the published bulk-QA launcher: the model's items with confidence ≥ ``min_confidence`` are
grouped by label (labels in first-seen order, items in input order) into batches of ``batch_size``;
each batch is a JSON array ``[{"s3_image_url", "label", "confidence"}]`` written to
``<output>/custom-labeling-inputs/<N>.json`` and one manifest line ``{"source-ref": <that URI>}``.
Each manifest line goes through the pre-labeling hook (default: read the batch) and the
``taskInput`` it returns is what the template sees. A manifest given as input is used as it is when
its lines are tasks, or batched like a CSV when every ``source-ref`` is an image.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from openmaker import storage
from openmaker.labeling.errors import Conflict, LabelingError, NotFound
from openmaker.labeling.hooks import check_hook, run_pre_hook
from openmaker.labeling.inputs import InputItem, check_image, is_image_ref, manifest_items, read_csv, read_manifest
from openmaker.labeling.tables import Item, Job, JobTeam, Task
from openmaker.labeling.templates import TemplateRenderer, default_template
from openmaker.labeling.workforce import get_team

_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # SageMaker's LabelingJobName pattern
POLICIES = ("unanimous", "majority")
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class JobSpec:
    """What ``openmaker label job create`` asks for. Validated by :func:`create_job`."""

    name: str
    input: str
    teams: list[str] = field(default_factory=list)
    min_confidence: float = 80.0
    batch_size: int = 25
    reviewers: int = 1
    template: str | None = None  # a file's URI; default: the published bulk-QA template
    pre_hook: str | None = None
    post_hook: str | None = None
    lease_seconds: int = 1800
    policy: str = "unanimous"
    output: str | None = None  # default: <home>/artifacts/labeling/<name>
    label_attribute_name: str | None = None  # default: the job name
    check_images: bool = True


def _validate(spec: JobSpec) -> None:
    if not _JOB_NAME.match(spec.name or ""):
        raise LabelingError(f"job name {spec.name!r}: 1–63 letters, digits and hyphens, starting with a letter or digit")
    if not 0 <= spec.min_confidence <= 100:
        raise LabelingError(f"--min-confidence must be within 0..100, not {spec.min_confidence}")
    if not 1 <= spec.batch_size <= 1000:
        raise LabelingError(f"--batch-size must be within 1..1000, not {spec.batch_size}")
    if not 1 <= spec.reviewers <= 100:
        raise LabelingError(f"--reviewers must be within 1..100, not {spec.reviewers}")
    if spec.lease_seconds < 30:
        raise LabelingError(f"--lease-seconds must be at least 30, not {spec.lease_seconds}")
    if spec.policy not in POLICIES:
        raise LabelingError(f"--policy must be one of {', '.join(POLICIES)}, not {spec.policy!r}")
    attribute = spec.label_attribute_name or spec.name
    if attribute.endswith("-metadata") or "-metadata" in attribute:
        raise LabelingError("a label attribute name cannot contain '-metadata'")


def _batches(items: list[InputItem], batch_size: int) -> list[list[InputItem]]:
    by_label: OrderedDict[str, list[InputItem]] = OrderedDict()
    for item in items:
        by_label.setdefault(item.label, []).append(item)
    return [group[i : i + batch_size] for group in by_label.values() for i in range(0, len(group), batch_size)]


def _check_duplicates(items: list[InputItem], where: str) -> None:
    seen: dict[tuple[str, str], int] = {}
    for item in items:
        key = (item.image, item.label)
        if key in seen:
            raise LabelingError(f"{where} line {item.line}: {item.image} is labelled {item.label!r} again (line {seen[key]})")
        seen[key] = item.line


def _check_images(uris: list[str], where: dict[str, str], progress: Progress | None) -> None:
    unique = list(dict.fromkeys(uris))
    done = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in pool.map(lambda uri: check_image(uri, where.get(uri, "input")), unique):
            done += 1
            if progress:
                progress("checking images", done, len(unique))


def _items_of(task_input, where: str) -> list[tuple[str, str, float]]:
    """(image, label, confidence) of each entry of ``taskInput.sourceRef`` (bulk-QA tasks)."""
    entries = task_input.get("sourceRef") if isinstance(task_input, dict) else None
    if not isinstance(entries, list):
        return []
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "s3_image_url" not in entry or "label" not in entry:
            raise LabelingError(f"{where}: sourceRef[{i}] needs 's3_image_url' and 'label'")
        try:
            confidence = float(entry.get("confidence", 100))
        except (TypeError, ValueError):
            raise LabelingError(f"{where}: sourceRef[{i}].confidence {entry.get('confidence')!r} is not a number") from None
        out.append((str(entry["s3_image_url"]), str(entry["label"]), confidence))
    return out


def create_job(session: Session, spec: JobSpec, *, home, progress: Progress | None = None) -> Job:
    """Validate ``spec``, write the manifest and task inputs, and record the job, its tasks and items."""
    _validate(spec)
    if session.scalars(select(Job.id).where(Job.name == spec.name)).first() is not None:
        raise Conflict(f"job {spec.name!r} already exists")
    teams = [get_team(session, name) for name in spec.teams]
    if not teams:
        raise LabelingError("a job needs at least one team (--team) whose members review it")
    check_hook(spec.pre_hook)
    check_hook(spec.post_hook)
    template = default_template() if spec.template is None else _read_template(spec.template)
    renderer = TemplateRenderer(lambda uri: "#")
    renderer.check(template, spec.template or "template")

    output = spec.output or str(home / "artifacts" / "labeling" / spec.name)
    written: dict[str, str] = {}
    lines: dict[str, str] = {}  # image -> "<input> line N", for error messages
    lower = spec.input.lower()
    if lower.endswith((".csv", ".tsv", ".txt")):
        items = read_csv(spec.input)
        lines = {item.image: f"{spec.input} line {item.line}" for item in items}
        data_objects = _write_batches(items, spec, output, written, progress)
    else:
        objects = read_manifest(spec.input)
        if all(is_image_ref(str(obj.get("source-ref", ""))) and "source-ref" in obj for obj in objects):
            items = manifest_items(spec.input, objects)
            lines = {item.image: f"{spec.input} line {item.line}" for item in items}
            data_objects = _write_batches(items, spec, output, written, progress)
        else:
            data_objects = [{k: v for k, v in obj.items() if k != "__line__"} for obj in objects]
    if not data_objects:
        raise LabelingError(f"{spec.input}: no item has confidence >= {spec.min_confidence:g}; nothing to review")

    if spec.pre_hook:  # a custom pre hook reads the task inputs from the store; the default one from memory
        _flush(written)
    tasks = []
    for seq, data_object in enumerate(data_objects):
        task_input, required = run_pre_hook(spec.pre_hook, spec.name, data_object, read=lambda uri: written[uri] if uri in written else storage.read_text(uri))
        tasks.append((seq, data_object, task_input, required, _items_of(task_input, f"task {seq}")))
        if progress:
            progress("preparing tasks", seq + 1, len(data_objects))
    renderer.render(template, tasks[0][2], spec.template or "template")
    if spec.check_images:
        _check_images([image for task in tasks for image, _, _ in task[4]], lines, progress)

    _flush(written)
    manifest_uri = storage.join(output, "manifests", "input", "manifest.json")
    storage.write_text(manifest_uri, "".join(json.dumps(obj) + "\n" for obj in data_objects))
    job = Job(
        name=spec.name, input_uri=spec.input, output_uri=output, manifest_uri=manifest_uri, template=template,
        pre_hook=spec.pre_hook, post_hook=spec.post_hook, label_attribute_name=spec.label_attribute_name or spec.name,
        reviewers=spec.reviewers, batch_size=spec.batch_size, min_confidence=spec.min_confidence,
        lease_seconds=spec.lease_seconds, policy=spec.policy,
    )  # fmt: skip
    session.add(job)
    session.flush()
    session.execute(insert(JobTeam), [{"job_id": job.id, "team_id": team.id} for team in teams])
    session.execute(
        insert(Task),
        [
            {"job_id": job.id, "seq": seq, "data_object": json.dumps(obj), "task_input": json.dumps(task_input), "human_required": required}
            for seq, obj, task_input, required, _ in tasks
        ],
    )
    ids = dict(session.execute(select(Task.seq, Task.id).where(Task.job_id == job.id)).all())
    rows, seen = [], {}
    for seq, _, _, _, entries in tasks:
        for position, (image, label, confidence) in enumerate(entries):
            if (image, label) in seen:
                raise LabelingError(f"{image} is labelled {label!r} twice (tasks {seen[image, label]} and {seq})")
            seen[image, label] = seq
            rows.append({"job_id": job.id, "task_id": ids[seq], "position": position, "image": image, "label": label, "confidence": confidence})
    for start in range(0, len(rows), 5000):
        session.execute(insert(Item), rows[start : start + 5000])
    return job


def _flush(written: dict[str, str]) -> None:
    for uri, text in written.items():
        storage.write_text(uri, text)
    written.clear()


def _read_template(uri: str) -> str:
    try:
        return storage.read_text(uri)
    except FileNotFoundError:
        raise LabelingError(f"template {uri} does not exist") from None
    except UnicodeDecodeError:
        raise LabelingError(f"template {uri} is not UTF-8 text") from None


def _write_batches(items, spec: JobSpec, output: str, written: dict[str, str], progress) -> list[dict]:
    _check_duplicates(items, spec.input)
    kept = [item for item in items if item.confidence >= spec.min_confidence]
    objects = []
    for number, batch in enumerate(_batches(kept, spec.batch_size)):
        uri = storage.join(output, "custom-labeling-inputs", f"{number}.json")
        text = json.dumps([{"s3_image_url": i.image, "label": i.label, "confidence": repr(i.confidence)} for i in batch])
        written[uri] = text  # written to the store once every check has passed
        objects.append({"source-ref": uri})
        if progress:
            progress("writing task inputs", number + 1, -1)
    return objects


# --- reading jobs ---------------------------------------------------------------------------


def get_job(session: Session, name: str) -> Job:
    job = session.scalars(select(Job).where(Job.name == name)).one_or_none()
    if job is None:
        raise NotFound(f"no labeling job {name!r}")
    return job


def list_jobs(session: Session, visible: set[int] | None = None) -> list[Job]:
    query = select(Job).order_by(Job.created_at.desc(), Job.id.desc())
    if visible is not None:
        query = query.where(Job.id.in_(visible or {-1}))
    return list(session.scalars(query))


def job_tasks(session: Session, job: Job) -> list[dict]:
    """Each task with its id, seq, data object and items in order (the task input as the template sees it)."""
    out = []
    for task in session.scalars(select(Task).where(Task.job_id == job.id).order_by(Task.seq)):
        task_input = json.loads(task.task_input)
        items = task_input.get("sourceRef", []) if isinstance(task_input, dict) else []
        out.append(
            {
                "id": task.id,
                "seq": task.seq,
                "dataObject": json.loads(task.data_object),
                "humanAnnotationRequired": task.human_required,
                "input": task_input,
                "items": items,
            }
        )
    return out


def task_count(session: Session, job: Job) -> int:
    return session.scalar(select(func.count()).select_from(Task).where(Task.job_id == job.id)) or 0


def share_job(session: Session, job: Job, team_name: str) -> None:
    team = get_team(session, team_name)
    if session.get(JobTeam, (job.id, team.id)) is None:
        session.add(JobTeam(job_id=job.id, team_id=team.id))
