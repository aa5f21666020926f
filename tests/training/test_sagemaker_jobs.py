"""The SageMaker control plane's training and transform jobs, as the training room answers them.

Real things only: a migrated SQLite database, moto's S3 server on loopback, the built-in Linear
Learner on abalone rows, script-mode code shipped as sourcedir.tar.gz, batch transform in its
own process. Requests go through botocore's input validation first, as the front end sends them,
and every answer is checked against botocore's output shape.
"""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from openmaker import db, storage
from openmaker.awsapi.context import AwsContext, ResourceStore
from openmaker.awsapi.errors import AwsError
from openmaker.awsapi.shapes import check_output, validate_input
from openmaker.config import get_settings
from openmaker.training.aws_operations import (
    create_training_job,
    create_transform_job,
    describe_training_job,
    describe_transform_job,
)
from openmaker.training.jobs import PHASES, TrainingJob, job_log, run_training_job

ABALONE = Path(__file__).parent.parent.parent / "examples" / "abalone" / "data" / "abalone.data"
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
LL_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ARN = "arn:aws:sagemaker:us-east-1:000000000000"
LL_LOSS = {
    "Name": "validation:objective_loss",
    "Regex": r"#quality_metric: host=\S+, epoch=\d+, validation \S+_objective <loss>=(\S+)",
}

# Script mode as a scikit-learn user writes it: training under __main__, serving functions beside it.
TRAIN_PY = textwrap.dedent(
    """
    import argparse, json, os, sys

    def model_fn(model_dir):
        with open(os.path.join(model_dir, "model.json")) as f:
            return json.load(f)

    def input_fn(body, content_type):
        rows = [row for row in body.splitlines() if row.strip()]
        for row in rows:
            if "bad" in row:
                raise ValueError(f"cannot read row {row!r}")
        return rows

    def predict_fn(rows, model):
        extra = float(os.environ.get("EXTRA_SHIFT", "0"))  # the transform job's Environment
        return [model["mean"] + model["shift"] + extra for _ in rows]

    def output_fn(predictions, accept):
        return "".join(f"{p:g}\\n" for p in predictions), "text/csv"

    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        parser.add_argument("--shift", type=float, default=0.0)
        args = parser.parse_args()
        root = os.environ["SM_CHANNEL_TRAIN"]
        labels = [float(line.split(",")[0]) for name in sorted(os.listdir(root))
                  for line in open(os.path.join(root, name)) if line.strip()]
        mean = sum(labels) / len(labels)
        print("argv=" + json.dumps(sys.argv[1:]))
        print("greeting=" + os.environ["GREETING"])  # the training job's Environment
        print(f"train:mean={mean:.4f}")
        with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
            json.dump({"mean": mean, "shift": args.shift}, f)
    """
)

SLOW_PY = textwrap.dedent(
    """
    import os, time
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "partial.txt"), "w") as f:
        f.write("epoch 1")
    print("saved epoch 1", flush=True)
    time.sleep(60)
    """
)


# --- fixtures and helpers ---------------------------------------------------------


@pytest.fixture
def ctx(tmp_path, s3_endpoint) -> AwsContext:
    url = f"sqlite:///{tmp_path / 'aws.db'}"
    db.migrate(url)
    return AwsContext(settings=get_settings(), region="us-east-1", resources=ResourceStore(url))


def _csv(rows: list[list[str]]) -> str:
    return "".join(",".join(row) + "\n" for row in rows)


def _abalone(n: int) -> list[list[str]]:
    """Abalone rows for Linear Learner: rings first, the 7 measurements, sex one-hot (10 features)."""
    rows = []
    for line in ABALONE.read_text().splitlines()[:n]:
        sex, *measurements, rings = line.split(",")
        rows.append([rings, *measurements, *("1" if sex == s else "0" for s in "FIM")])
    return rows


@pytest.fixture
def abalone(s3_root) -> str:
    rows = _abalone(700)
    storage.write_text(f"{s3_root}/abalone/train/train.csv", _csv(rows[:600]))
    storage.write_text(f"{s3_root}/abalone/validation/validation.csv", _csv(rows[600:]))
    return f"{s3_root}/abalone"


def _sourcedir(tmp_path: Path, s3_root: str, name: str, source: str) -> str:
    """``source`` as ``train.py`` in a sourcedir.tar.gz on S3, as the SageMaker SDK uploads it."""
    archive = tmp_path / f"{name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = source.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return storage.upload(archive, f"{s3_root}/code/{name}/sourcedir.tar.gz")


def _channel(name: str, uri: str) -> dict:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
        },
        "ContentType": "text/csv",
        "CompressionType": "None",
    }


def _training_request(name: str, image: str, output: str, channels: dict[str, str] | None = None,
                      hyperparameters: dict[str, str] | None = None, **extra) -> dict:  # fmt: skip
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": hyperparameters or {},
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        **extra,
    }
    if channels:  # InputDataConfig, when given, holds at least one channel
        request["InputDataConfig"] = [_channel(c, uri) for c, uri in channels.items()]
    return request


def _script_hyperparameters(name: str, submit_directory: str, **user: str) -> dict[str, str]:
    """What the SageMaker Python SDK's framework estimators send: every value JSON-encoded."""
    return {
        **{k: json.dumps(v) for k, v in user.items()},
        "sagemaker_program": json.dumps("train.py"),
        "sagemaker_submit_directory": json.dumps(submit_directory),
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": json.dumps(name),
        "sagemaker_region": json.dumps("us-east-1"),
    }


def _call(fn, operation: str, request: dict, ctx: AwsContext) -> dict:
    """``fn`` as the front end calls it: on the validated request; its answer must fit botocore's shape."""
    out = fn(validate_input("sagemaker", operation, request), ctx)
    assert check_output("sagemaker", operation, out) == []
    return out


def _wait(fn, operation: str, request: dict, ctx: AwsContext, key: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        out = _call(fn, operation, request, ctx)
        if out[key] != "InProgress":
            return out
        assert time.monotonic() < deadline, f"still in progress after {timeout} s: {out}"
        time.sleep(0.2)


def _train(request: dict, ctx: AwsContext) -> dict:
    out = _call(create_training_job, "CreateTrainingJob", request, ctx)
    assert out == {"TrainingJobArn": f"{ARN}:training-job/{request['TrainingJobName'].lower()}"}
    return _wait_training(request["TrainingJobName"], ctx)


def _wait_training(name: str, ctx: AwsContext) -> dict:
    return _wait(describe_training_job, "DescribeTrainingJob", {"TrainingJobName": name}, ctx, "TrainingJobStatus")


def _wait_transform(name: str, ctx: AwsContext) -> dict:
    return _wait(describe_transform_job, "DescribeTransformJob", {"TransformJobName": name}, ctx, "TransformJobStatus")


def _model(ctx: AwsContext, name: str, model_data: str, image: str, environment: dict[str, str] | None = None) -> None:
    """A model as the front end keeps a CreateModel request."""
    request = {"ModelName": name, "ExecutionRoleArn": ROLE,
               "PrimaryContainer": {"Image": image, "ModelDataUrl": model_data, "Environment": environment or {}}}  # fmt: skip
    assert ctx.resources.create("model", name, validate_input("sagemaker", "CreateModel", request))


def _transform_request(name: str, model: str, input_uri: str, output_uri: str, **options) -> dict:
    transform_input = {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
                       "ContentType": "text/csv", "SplitType": "Line", "CompressionType": "None"}  # fmt: skip
    transform_input.update(options.pop("transform_input", {}))
    return {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": transform_input,
        "TransformOutput": {"S3OutputPath": output_uri, "AssembleWith": "Line", **options.pop("transform_output", {})},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **options,
    }


def _transform(request: dict, ctx: AwsContext) -> dict:
    out = _call(create_transform_job, "CreateTransformJob", request, ctx)
    assert out == {"TransformJobArn": f"{ARN}:transform-job/{request['TransformJobName'].lower()}"}
    return _wait_transform(request["TransformJobName"], ctx)


def _error(fn, operation: str, request: dict, ctx: AwsContext) -> AwsError:
    with pytest.raises(AwsError) as caught:
        fn(validate_input("sagemaker", operation, request), ctx)
    return caught.value


# --- training jobs -------------------------------------------------------------------


def test_linear_learner_job_then_batch_transform_with_its_model(ctx, abalone, s3_root):
    request = _training_request(
        "abalone-ll", LL_IMAGE, f"{s3_root}/output",
        channels={"train": f"{abalone}/train", "validation": f"{abalone}/validation"},
        hyperparameters={"predictor_type": "regressor", "feature_dim": "10", "epochs": "3", "mini_batch_size": "100"},
    )  # fmt: skip
    request["AlgorithmSpecification"]["MetricDefinitions"] = [LL_LOSS]
    described = _train(request, ctx)

    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["SecondaryStatus"] == "Completed"
    model_uri = f"{s3_root}/output/abalone-ll/output/model.tar.gz"
    assert described["ModelArtifacts"] == {"S3ModelArtifacts": model_uri}
    with tarfile.open(fileobj=io.BytesIO(storage.read_bytes(model_uri))) as tar:
        assert {"model.json", "MAR-INF/MANIFEST.json"} <= set(tar.getnames())
    statuses = [t["Status"] for t in described["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", *PHASES, "Completed"]
    assert all("EndTime" in t for t in described["SecondaryStatusTransitions"])
    (loss,) = described["FinalMetricDataList"]
    assert loss["MetricName"] == "validation:objective_loss" and 0 < loss["Value"] < 30
    assert described["HyperParameters"] == request["HyperParameters"]
    assert described["InputDataConfig"] == request["InputDataConfig"]
    assert described["RoleArn"] == ROLE and described["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    assert described["CreationTime"] <= described["TrainingStartTime"] <= described["TrainingEndTime"]
    assert described["BillableTimeInSeconds"] >= 1
    # the job saw the channels' ContentType, as SageMaker writes it into inputdataconfig.json
    job_dir = get_settings().home / "jobs" / "abalone-ll"
    config = json.loads((job_dir / "input" / "config" / "inputdataconfig.json").read_text())
    assert config["train"]["ContentType"] == "text/csv" and config["validation"]["TrainingInputMode"] == "File"

    # the trained model, registered by CreateModel, in a batch transform over a CSV prefix
    _model(ctx, "abalone-model", model_uri, LL_IMAGE)
    features = [row[1:] for row in _abalone(5)]
    storage.write_text(f"{s3_root}/batch/part-1.csv", _csv(features[:3]))
    storage.write_text(f"{s3_root}/batch/more/part-2.csv", _csv(features[3:]))
    transform = _transform_request(
        "abalone-batch", "abalone-model", f"{s3_root}/batch", f"{s3_root}/predictions",
        BatchStrategy="MultiRecord", MaxPayloadInMB=6, MaxConcurrentTransforms=2,
        transform_output={"Accept": "application/jsonlines"},
    )  # fmt: skip
    done = _transform(transform, ctx)
    assert done["TransformJobStatus"] == "Completed", done.get("FailureReason")
    assert done["CreationTime"] <= done["TransformStartTime"] <= done["TransformEndTime"]
    assert done["ModelName"] == "abalone-model" and done["BatchStrategy"] == "MultiRecord"
    assert done["TransformOutput"] == transform["TransformOutput"]
    first = storage.read_text(f"{s3_root}/predictions/part-1.csv.out").splitlines()
    second = storage.read_text(f"{s3_root}/predictions/more/part-2.csv.out").splitlines()
    assert len(first) == 3 and len(second) == 2
    rings = [json.loads(line)["score"] for line in first + second]
    assert all(3 < r < 20 for r in rings), rings


def test_script_mode_job_then_its_model_in_batch_transform(ctx, s3_root, tmp_path):
    storage.write_text(f"{s3_root}/data/train/a.csv", "10,1,2\n20,3,4\n")
    storage.write_text(f"{s3_root}/data/train/b.csv", "30,5,6\n")
    submit = _sourcedir(tmp_path, s3_root, "mean", TRAIN_PY)
    hyperparameters = _script_hyperparameters("mean-job", submit, shift=1.5)
    request = _training_request(
        "mean-job", SKLEARN_IMAGE, f"{s3_root}/output", channels={"train": f"{s3_root}/data/train"},
        hyperparameters=hyperparameters, Environment={"GREETING": "hello"},
    )  # fmt: skip
    request["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "train:mean", "Regex": r"train:mean=([0-9.]+)"}]
    described = _train(request, ctx)

    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["HyperParameters"] == hyperparameters  # as sent, sagemaker_* included
    assert described["FinalMetricDataList"][0]["MetricName"] == "train:mean"
    assert described["FinalMetricDataList"][0]["Value"] == 20.0
    # the script got its own hyperparameters only, as the SDK's containers pass them
    log = job_log("mean-job", database_url=ctx.resources.url)
    assert 'argv=["--shift", "1.5"]' in log and "greeting=hello" in log
    assert described["Environment"] == {"GREETING": "hello"}
    model_uri = f"{s3_root}/output/mean-job/output/model.tar.gz"
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == model_uri
    with tarfile.open(fileobj=io.BytesIO(storage.read_bytes(model_uri))) as tar:
        assert json.load(tar.extractfile("model.json")) == {"mean": 20.0, "shift": 1.5}

    # the SDK's framework model: code beside the artifacts, named by SAGEMAKER_PROGRAM/SAGEMAKER_SUBMIT_DIRECTORY
    _model(ctx, "mean-model", model_uri, SKLEARN_IMAGE,
           {"SAGEMAKER_PROGRAM": "train.py", "SAGEMAKER_SUBMIT_DIRECTORY": submit})  # fmt: skip
    storage.write_text(f"{s3_root}/rows/x.csv", "1,2\n3,4\n\n5,6\n")
    request = _transform_request("mean-batch", "mean-model", f"{s3_root}/rows", f"{s3_root}/scored",
                                 Environment={"EXTRA_SHIFT": "0.25"})  # fmt: skip
    done = _transform(request, ctx)
    assert done["TransformJobStatus"] == "Completed", done.get("FailureReason")
    assert done["Environment"] == {"EXTRA_SHIFT": "0.25"}
    assert storage.read_text(f"{s3_root}/scored/x.csv.out") == "21.75\n21.75\n21.75\n"

    # a record the model refuses fails the job, naming the object and the line
    storage.write_text(f"{s3_root}/bad/y.csv", "1,2\nbad,row\n")
    failed = _transform(
        _transform_request("mean-bad", "mean-model", f"{s3_root}/bad", f"{s3_root}/bad-out", BatchStrategy="SingleRecord"),
        ctx,
    )
    assert failed["TransformJobStatus"] == "Failed"
    assert failed["FailureReason"].startswith("ClientError: ") and "y.csv line 2" in failed["FailureReason"]
    assert "cannot read row 'bad,row'" in failed["FailureReason"]
    assert not storage.exists(f"{s3_root}/bad-out/y.csv.out")


def test_failing_algorithm_fails_the_job_with_its_reason(ctx, abalone, s3_root):
    request = _training_request("no-predictor", LL_IMAGE, f"{s3_root}/output", channels={"train": f"{abalone}/train"},
                                hyperparameters={"feature_dim": "10"})  # fmt: skip
    described = _train(request, ctx)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["SecondaryStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: predictor_type is required")
    assert described["SecondaryStatusTransitions"][-1]["Status"] == "Failed"
    assert not storage.exists(f"{s3_root}/output/no-predictor/output/model.tar.gz")


def test_missing_submit_directory_fails_the_job_before_it_starts(ctx, s3_root):
    missing = f"{s3_root}/code/nothing/sourcedir.tar.gz"
    request = _training_request("no-code", SKLEARN_IMAGE, f"{s3_root}/output",
                                hyperparameters=_script_hyperparameters("no-code", missing))  # fmt: skip
    described = _train(request, ctx)
    assert described["TrainingJobStatus"] == "Failed" and described["SecondaryStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: ") and missing in described["FailureReason"]
    assert "TrainingEndTime" in described and "TrainingStartTime" not in described


def test_max_runtime_stops_the_job_and_keeps_its_model(ctx, s3_root, tmp_path):
    submit = tmp_path / "slow-code"  # a local folder, as the SDK's local mode passes it
    submit.mkdir()
    (submit / "train.py").write_text(SLOW_PY)
    request = _training_request("slow-job", SKLEARN_IMAGE, f"{s3_root}/output",
                                hyperparameters=_script_hyperparameters("slow-job", f"file://{submit}"),
                                StoppingCondition={"MaxRuntimeInSeconds": 1})  # fmt: skip
    started = time.monotonic()
    described = _train(request, ctx)
    assert time.monotonic() - started < 30
    assert described["TrainingJobStatus"] == "Stopped"
    assert described["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert "MaxRuntimeExceeded" in described["FailureReason"]
    model_uri = described["ModelArtifacts"]["S3ModelArtifacts"]
    with tarfile.open(fileobj=io.BytesIO(storage.read_bytes(model_uri))) as tar:
        assert tar.extractfile("partial.txt").read() == b"epoch 1"


def test_duplicate_names_are_refused(ctx, abalone, s3_root, tmp_path):
    request = _training_request("twice", LL_IMAGE, f"{s3_root}/output", channels={"train": f"{abalone}/train"},
                                hyperparameters={"feature_dim": "10"})  # fmt: skip
    _call(create_training_job, "CreateTrainingJob", request, ctx)
    error = _error(create_training_job, "CreateTrainingJob", request, ctx)
    assert (error.code, error.message) == (
        "ResourceInUse",
        "Training job names must be unique within an AWS account and region, and a training job with this name "
        f"already exists ({ARN}:training-job/twice)",
    )
    _wait_training("twice", ctx)

    # a job of that name started by `openmaker train` counts too
    script = tmp_path / "ok.py"
    script.write_text("print('ok')\n")
    run_training_job(TrainingJob(entry_point=str(script), name="from-cli"), progress=False, database_url=ctx.resources.url)
    request["TrainingJobName"] = "from-cli"
    assert _error(create_training_job, "CreateTrainingJob", request, ctx).code == "ResourceInUse"


def test_a_job_started_by_openmaker_train_is_described(ctx, tmp_path):
    script = tmp_path / "fit.py"
    script.write_text("print('loss=0.25')\n")
    run_training_job(
        TrainingJob(
            entry_point=str(script), name="cli-job", metric_definitions=[{"Name": "loss", "Regex": r"loss=([0-9.]+)"}]
        ),
        progress=False,
        database_url=ctx.resources.url,
    )
    described = _call(describe_training_job, "DescribeTrainingJob", {"TrainingJobName": "cli-job"}, ctx)
    assert described["TrainingJobStatus"] == "Completed" and described["SecondaryStatus"] == "Completed"
    assert described["TrainingJobArn"] == f"{ARN}:training-job/cli-job"
    assert described["HyperParameters"] == {"sagemaker_program": "fit.py"}
    assert described["FinalMetricDataList"][0]["Value"] == 0.25
    assert described["ModelArtifacts"]["S3ModelArtifacts"].endswith("/cli-job/output/model.tar.gz")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"AlgorithmSpecification": {"TrainingImage": "123.dkr.ecr.us-east-1.amazonaws.com/my-own:7",
                                     "TrainingInputMode": "File"}},
         "TrainingImage '123.dkr.ecr.us-east-1.amazonaws.com/my-own:7' is not supported"),
        ({"AlgorithmSpecification": {"AlgorithmName": "xgboost", "TrainingInputMode": "File"}},
         "AlgorithmName 'xgboost' is not an algorithm openmaker has"),
        ({"AlgorithmSpecification": {"TrainingInputMode": "File"}}, "needs a TrainingImage or an AlgorithmName"),
        ({"AlgorithmSpecification": {"TrainingImage": LL_IMAGE, "TrainingInputMode": "Pipe"},
          "InputDataConfig": [_channel("train", "s3://openmaker-test/train")]}, "Pipe input mode"),
        ({"AlgorithmSpecification": {"TrainingImage": LL_IMAGE, "TrainingInputMode": "File",
                                     "MetricDefinitions": [{"Name": "loss", "Regex": "loss=[0-9]+"}]}},
         "needs a group that captures the value"),
        ({"ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 10}},
         "InstanceCount 2"),
        ({"HyperParameters": {"sagemaker_program": '"train.py"'},
          "AlgorithmSpecification": {"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"}},
         "needs the hyperparameter sagemaker_submit_directory"),
        ({"InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "ManifestFile", "S3Uri": "s3://openmaker-test/manifest"}}}]},
         "S3DataType ManifestFile is not supported"),
        ({"CheckpointConfig": {"S3Uri": "s3://openmaker-test/checkpoints"}}, "CheckpointConfig is not supported"),
    ],
)  # fmt: skip
def test_requests_openmaker_cannot_run_are_refused(ctx, s3_root, change, message):
    request = {**_training_request("refused", LL_IMAGE, f"{s3_root}/output"), **change}
    error = _error(create_training_job, "CreateTrainingJob", request, ctx)
    assert error.code == "ValidationException"
    assert message in error.message
    assert ctx.resources.get("training-job", "refused") is None


def test_unknown_image_names_what_is_supported(ctx, s3_root):
    request = _training_request("custom", "123.dkr.ecr.us-east-1.amazonaws.com/my-own:7", f"{s3_root}/output")
    message = _error(create_training_job, "CreateTrainingJob", request, ctx).message
    assert "linear-learner" in message and "sagemaker_program" in message and "sagemaker_submit_directory" in message


def test_built_in_algorithm_by_name(ctx, abalone, s3_root):
    request = _training_request("by-name", LL_IMAGE, f"{s3_root}/output", channels={"train": f"{abalone}/train"},
                                hyperparameters={"feature_dim": "10"})  # fmt: skip
    request["AlgorithmSpecification"] = {"AlgorithmName": f"{ARN}:algorithm/linear-learner", "TrainingInputMode": "File"}
    described = _train(request, ctx)
    # Linear Learner ran (and refused the missing predictor_type), so the name found it
    assert "predictor_type is required" in described["FailureReason"]
    assert described["AlgorithmSpecification"]["AlgorithmName"] == f"{ARN}:algorithm/linear-learner"


# --- transform jobs and lookups ------------------------------------------------------


def test_transform_job_refusals(ctx, s3_root):
    request = _transform_request("t1", "nope", f"{s3_root}/in", f"{s3_root}/out")
    error = _error(create_transform_job, "CreateTransformJob", request, ctx)
    assert (error.code, error.message) == ("ValidationException", f'Could not find model "{ARN}:model/nope".')

    _model(ctx, "m", f"{s3_root}/models/model.tar.gz", LL_IMAGE)
    for change, message in [
        ({"transform_input": {"CompressionType": "Gzip"}}, "CompressionType Gzip is not supported"),
        ({"transform_input": {"SplitType": "RecordIO"}}, "RecordIO"),
        ({"MaxPayloadInMB": 0}, "MaxPayloadInMB 0"),
        ({"MaxPayloadInMB": 20, "MaxConcurrentTransforms": 8}, "must not exceed 100 MB"),
        ({"DataProcessing": {"JoinSource": "Input"}}, "DataProcessing"),
    ]:
        request = _transform_request("t2", "m", f"{s3_root}/in", f"{s3_root}/out", **change)
        error = _error(create_transform_job, "CreateTransformJob", request, ctx)
        assert error.code == "ValidationException" and message in error.message, (change, error.message)
    assert ctx.resources.get("transform-job", "t2") is None


def test_transform_failures_and_duplicates(ctx, s3_root):
    _model(ctx, "gone", f"{s3_root}/models/missing.tar.gz", LL_IMAGE)
    storage.write_text(f"{s3_root}/in/a.csv", "1,2\n")
    request = _transform_request("no-model-data", "gone", f"{s3_root}/in", f"{s3_root}/out")
    _call(create_transform_job, "CreateTransformJob", request, ctx)
    error = _error(create_transform_job, "CreateTransformJob", request, ctx)
    assert (error.code, error.message) == (
        "ResourceInUse",
        "Transform job names must be unique within an AWS account and region, and a transform job with this name "
        f"already exists ({ARN}:transform-job/no-model-data)",
    )
    failed = _wait_transform("no-model-data", ctx)
    assert failed["TransformJobStatus"] == "Failed"
    assert "missing.tar.gz" in failed["FailureReason"] and "does not exist" in failed["FailureReason"]


@pytest.mark.parametrize(
    "fn, operation, request_",
    [
        (describe_training_job, "DescribeTrainingJob", {"TrainingJobName": "never-made"}),
        (describe_transform_job, "DescribeTransformJob", {"TransformJobName": "never-made"}),
    ],
)
def test_describe_unknown_is_resource_not_found(ctx, fn, operation, request_):
    error = _error(fn, operation, request_, ctx)
    assert (error.code, error.message, error.status) == ("ResourceNotFound", "Requested resource not found.", 400)


def test_the_room_publishes_the_operations():
    from openmaker.training.room import room

    published = room.aws_operations()
    assert published == {
        "sagemaker:CreateTrainingJob": create_training_job,
        "sagemaker:DescribeTrainingJob": describe_training_job,
        "sagemaker:CreateTransformJob": create_transform_job,
        "sagemaker:DescribeTransformJob": describe_transform_job,
    }


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _left_by_a_stopped_server(ctx: AwsContext, kind: str, name: str, body: dict, runner_pid: int) -> None:
    """What a server that stopped mid-job leaves behind: the description, ``InProgress``, run by a process now gone."""
    import socket

    ctx.resources.create(kind, name, {**body, "Runner": {"Host": socket.gethostname(), "Pid": runner_pid, "Token": "earlier"}})


def test_jobs_whose_server_stopped_are_failed_when_described(ctx, s3_root):
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    request = _training_request("orphan", "linear-learner:1", f"{s3_root}/out", {"train": f"{s3_root}/train"})
    training = {**validate_input("sagemaker", "CreateTrainingJob", request), "TrainingJobArn": f"{ARN}:training-job/orphan",
                "CreationTime": now, "LastModifiedTime": now,
                "SecondaryStatusTransitions": [{"Status": "Training", "StartTime": now, "StatusMessage": "Training"}]}  # fmt: skip
    _left_by_a_stopped_server(ctx, "training-job", "orphan", training, _dead_pid())
    out = _call(describe_training_job, "DescribeTrainingJob", {"TrainingJobName": "orphan"}, ctx)
    assert (out["TrainingJobStatus"], out["SecondaryStatus"]) == ("Failed", "Failed")
    assert "stopped before the job ended" in out["FailureReason"]

    transform = {"TransformJobName": "orphan-t", "ModelName": "m", "TransformJobStatus": "InProgress", "CreationTime": now,
                 "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{s3_root}/in"}}},
                 "TransformOutput": {"S3OutputPath": f"{s3_root}/o"},
                 "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
                 "TransformJobArn": f"{ARN}:transform-job/orphan-t"}  # fmt: skip
    _left_by_a_stopped_server(ctx, "transform-job", "orphan-t", transform, _dead_pid())
    out = _call(describe_transform_job, "DescribeTransformJob", {"TransformJobName": "orphan-t"}, ctx)
    assert out["TransformJobStatus"] == "Failed" and "stopped before the job ended" in out["FailureReason"]

    # a job run by a live process on this host (another server sharing the database) is left alone
    import os

    _left_by_a_stopped_server(ctx, "transform-job", "alive", {**transform, "TransformJobName": "alive"}, os.getppid())
    out = _call(describe_transform_job, "DescribeTransformJob", {"TransformJobName": "alive"}, ctx)
    assert out["TransformJobStatus"] == "InProgress"
