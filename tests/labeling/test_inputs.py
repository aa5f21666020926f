"""Job inputs: CSV columns by name, manifests, the confidence filter, batching, images local or on S3, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openmaker.labeling import JobSpec, LabelingError
from tests.conftest import S3_BUCKET
from tests.labeling.conftest import SAMPLE_CSV, bulkqa_answer

DATA = Path(__file__).parent / "data"


@pytest.fixture
def team(lab):
    lab.create_team("reviewers", members=["ana@example.org"])
    return lab


def test_columns_by_name_in_any_order_and_the_confidence_filter(team):
    """shellfish.csv is label,confidence,image_local_path; 245 of its 367 rows reach 80."""
    team.create_job(JobSpec("shellfish", str(DATA / "shellfish.csv"), teams=["reviewers"], check_images=False))
    tasks = team.tasks("shellfish")
    items = [item for t in tasks for item in t["items"]]
    assert len(items) == 245 and all(float(i["confidence"]) >= 80 for i in items)
    # Batches never mix labels; 25 per batch but the last of each label.
    by_label: dict[str, list[int]] = {}
    for t in tasks:
        assert len({i["label"] for i in t["items"]}) == 1
        by_label.setdefault(t["items"][0]["label"], []).append(len(t["items"]))
    assert all(all(n == 25 for n in sizes[:-1]) and 0 < sizes[-1] <= 25 for sizes in by_label.values())
    # One image may carry several labels: results are keyed by (image, label).
    keys = [(i["s3_image_url"], i["label"]) for i in items]
    assert len(set(keys)) == len(keys) and len({k[0] for k in keys}) < len(keys)
    manifest = Path(team.job("shellfish")["manifest"]).read_text().splitlines()
    assert len(manifest) == len(tasks) and json.loads(manifest[0])["source-ref"].endswith("custom-labeling-inputs/0.json")


def test_a_manifest_of_images_is_batched_like_a_csv(team, tmp_path):
    images = SAMPLE_CSV.parent
    lines = [
        {"source-ref": str(images / "beaver" / "image_0003.jpg"), "label": "Beaver", "confidence": 97.7},
        {"source-ref": str(images / "beaver" / "image_0022.jpg"), "label": "Beaver", "confidence": 60},
        {"source-ref": str(images / "crayfish" / "image_0002.jpg"), "label": "Crawdad", "confidence": 99},
    ]
    manifest = tmp_path / "in.manifest"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    team.create_job(JobSpec("m", str(manifest), teams=["reviewers"]))
    assert [[i["label"] for i in t["items"]] for t in team.tasks("m")] == [["Beaver"], ["Crawdad"]]


@pytest.mark.parametrize(
    "text, message",
    [
        ("image,label,confidence\nbeaver/image_0003.jpg,Beaver,97\n", "no column 'image_local_path'"),
        ("image_local_path,label,confidence\nbeaver/image_0003.jpg,Beaver,high\n", "line 2: confidence 'high' is not a number"),
        ("image_local_path,label,confidence\nbeaver/image_0003.jpg,Beaver,170\n", "line 2: confidence '170' is not between 0 and 100"),
        ("image_local_path,label,confidence\nbeaver/no_such.jpg,Beaver,97\n", "image .*no_such.jpg does not exist"),
        ("image_local_path,label,confidence\nsmallsample.csv,Beaver,97\n", "smallsample.csv is not an image"),
        ("image_local_path,label,confidence\nbeaver/image_0003.jpg,Beaver,97\nbeaver/image_0003.jpg,Beaver,91\n", "line 3: .* labelled 'Beaver' again"),
        ("image_local_path,label,confidence\n", "no rows under the header"),
        ("image_local_path,label,confidence\nbeaver/image_0003.jpg,Beaver,50\n", "no item has confidence >= 80"),
    ],
)
def test_bad_inputs_name_the_problem_and_write_nothing(team, tmp_path, text, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(text.replace("beaver/", f"{SAMPLE_CSV.parent}/beaver/").replace("\nsmallsample.csv", f"\n{SAMPLE_CSV}"))
    with pytest.raises(LabelingError, match=message):
        team.create_job(JobSpec("bad", str(bad), teams=["reviewers"]))
    assert team.jobs() == []


def test_other_bad_job_specs(team, tmp_path):
    template = tmp_path / "t.html"
    template.write_text("<crowd-form>{% if %}</crowd-form>")
    for spec, message in (
        (JobSpec("x", str(SAMPLE_CSV), teams=["nobody"]), "no team 'nobody'"),
        (JobSpec("x", str(SAMPLE_CSV), teams=[]), "at least one team"),
        (JobSpec("x", str(SAMPLE_CSV), teams=["reviewers"], template=str(template)), r"t\.html: Liquid error at line 1"),
        (JobSpec("x", str(SAMPLE_CSV), teams=["reviewers"], pre_hook="nomodule_here:f"), "cannot import"),
        (JobSpec("x", str(SAMPLE_CSV), teams=["reviewers"], post_hook="not a hook"), "neither module:function"),
        (JobSpec("bad name!", str(SAMPLE_CSV), teams=["reviewers"]), "job name"),
        (JobSpec("x", str(SAMPLE_CSV), teams=["reviewers"], batch_size=0), "--batch-size"),
        (JobSpec("x", str(tmp_path / "missing.csv"), teams=["reviewers"]), "does not exist"),
    ):
        with pytest.raises(LabelingError, match=message):
            team.create_job(spec)
    team.create_job(JobSpec("x", str(SAMPLE_CSV), teams=["reviewers"]))
    with pytest.raises(LabelingError, match="already exists"):
        team.create_job(JobSpec("x", str(SAMPLE_CSV), teams=["reviewers"]))


def test_images_and_input_on_s3(team, s3_root, portal):
    """A CSV in a bucket with relative image paths; the manifest and task inputs written to S3; the portal serves them."""
    import httpx

    from openmaker import storage
    from openmaker.labeling import workforce
    from tests.labeling.conftest import PASSWORD
    from tests.labeling.test_portal import sign_in

    rows = ["label,confidence,image_local_path"]
    for name in ("image_0003.jpg", "image_0022.jpg"):
        storage.write_bytes(f"{s3_root}/caltech/beaver/{name}", (SAMPLE_CSV.parent / "beaver" / name).read_bytes())
        rows.append(f"Beaver,95.5,beaver/{name}")
    storage.write_text(f"{s3_root}/caltech/input.csv", "\r\n".join(rows) + "\r\n")
    team.create_job(JobSpec("s3job", f"{s3_root}/caltech/input.csv", teams=["reviewers"], output=f"{s3_root}/out/s3job"))
    task = team.tasks("s3job")[0]
    assert [i["s3_image_url"] for i in task["items"]] == [f"s3://{S3_BUCKET}/caltech/beaver/image_0003.jpg", f"s3://{S3_BUCKET}/caltech/beaver/image_0022.jpg"]
    assert storage.exists(f"{s3_root}/out/s3job/manifests/input/manifest.json")
    with team.session() as s:
        workforce.set_password(workforce.get_user(s, "ana@example.org"), PASSWORD)
    ana = sign_in(portal.url, "ana@example.org")
    html = ana.get("/jobs/s3job/work").text
    src = html.split('<crowd-card image="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert httpx.get(portal.url + src).content == (SAMPLE_CSV.parent / "beaver" / "image_0003.jpg").read_bytes()
    team.submit_answer("s3job", task["id"], "ana@example.org", bulkqa_answer(task, untick={1}))
    team.consolidate("s3job")
    team.export("s3job", "manifest")
    assert storage.exists(f"{s3_root}/out/s3job/manifests/output/output.manifest")
