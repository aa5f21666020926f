"""The abalone workflow through SageMaker's API, with boto3 against openmaker: train, transform, deploy, invoke.

As the SageMaker inference-pipeline notebook does it:

1. a script-mode training job fits the scikit-learn featurizer (examples/abalone/featurizer.py) on the raw CSV;
2. a batch transform job turns the raw data into label + 10 features with it;
3. the built-in Linear Learner trains a regressor on the transformed data;
4. a model of two containers (featurizer, Linear Learner) becomes an endpoint: an inference pipeline;
5. ``invoke_endpoint`` with a raw CSV row answers the predicted number of rings.

    python examples/boto3/abalone.py --root s3://my-bucket/abalone

``--root`` is where the data, the code and the models go: an ``s3://`` prefix (staged with boto3's S3
client, honouring ``AWS_ENDPOINT_URL_S3``) or a ``file://`` folder. openmaker loads the endpoint's models
only from its model store or from an ``allowed_urls`` prefix, so the default root is a folder in the
local server's model store. The last line printed is the prediction (the published run gave 9.53).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tarfile
import time
from pathlib import Path
from urllib.parse import urlparse

from common import client

HERE = Path(__file__).resolve().parent
ABALONE = HERE.parent / "abalone"
ROLE = "arn:aws:iam::000000000000:role/openmaker"  # required by the API; openmaker has no IAM
INSTANCE = {"InstanceType": "ml.m5.large", "InstanceCount": 1}
ROW = b"M, 0.44, 0.365, 0.125, 0.516, 0.2155, 0.114, 0.155"  # actual rings: 10


def default_root() -> str:
    home = Path(os.environ.get("OPENMAKER_HOME", Path.home() / ".openmaker"))
    return (home / "model-store" / "abalone-boto3").as_uri()


def put(root: str, key: str, data: bytes) -> str:
    """Stage a file under ``root`` (S3 with boto3, or a local folder); returns its URI."""
    uri = f"{root.rstrip('/')}/{key}"
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        import boto3

        boto3.client("s3").put_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"), Body=data)
    else:
        path = Path(parsed.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return uri


def sourcedir() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(ABALONE / "featurizer.py", arcname="featurizer.py")
    return buffer.getvalue()


def s3_input(name: str, uri: str, content_type: str = "text/csv") -> dict:
    source = {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}
    return {"ChannelName": name, "DataSource": source, "ContentType": content_type}


def finished(sm, waiter: str, describe: str, **name: str) -> dict:
    """Wait for a job or an endpoint, then describe it; stop the script, with the reason, if it failed."""
    from botocore.exceptions import WaiterError

    try:
        sm.get_waiter(waiter).wait(**name, WaiterConfig={"Delay": 1, "MaxAttempts": 1800})
    except WaiterError:
        pass  # the description below says why
    job = getattr(sm, describe)(**name)
    status = job.get("TrainingJobStatus") or job.get("TransformJobStatus") or job.get("EndpointStatus")
    if status not in ("Completed", "InService"):
        raise SystemExit(f"{next(iter(name.values()))}: {status}: {job.get('FailureReason', '')}")
    return job


def train(sm, name: str, image: str, channel: str, output: str, hyperparameters: dict[str, str]) -> str:
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE, HyperParameters=hyperparameters,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        InputDataConfig=[s3_input("train", channel)], OutputDataConfig={"S3OutputPath": output},
        ResourceConfig={**INSTANCE, "VolumeSizeInGB": 1}, StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )  # fmt: skip
    job = finished(sm, "training_job_completed_or_stopped", "describe_training_job", TrainingJobName=name)
    print(f"{name}: {job['TrainingJobStatus']} in {job.get('BillableTimeInSeconds', '?')} s -> {job['ModelArtifacts']['S3ModelArtifacts']}")
    return job["ModelArtifacts"]["S3ModelArtifacts"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=default_root(), help="s3:// or file:// prefix for data, code and models")
    parser.add_argument("--keep", action="store_true", help="leave the endpoint up afterwards")
    args = parser.parse_args()
    root = args.root.rstrip("/")
    if root.startswith("file://"):
        shutil.rmtree(urlparse(root).path, ignore_errors=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    sm, runtime = client("sagemaker"), client("sagemaker-runtime")

    raw = put(root, "raw/abalone.csv", (ABALONE / "data" / "abalone.data").read_bytes()).rsplit("/", 1)[0]
    code = put(root, "code/sourcedir.tar.gz", sourcedir())

    # 1. the featurizer, script mode (the SageMaker SDK passes the entry point and code this way, JSON-quoted)
    featurizer = train(
        sm, f"abalone-featurizer-{stamp}", "sklearn-featurizer:1.2-1", raw, f"{root}/output",
        {"sagemaker_program": '"featurizer.py"', "sagemaker_submit_directory": f'"{code}"'},
    )  # fmt: skip
    sm.create_model(ModelName=f"abalone-featurizer-{stamp}", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "sklearn-featurizer:1.2-1", "ModelDataUrl": featurizer})  # fmt: skip

    # 2. batch transform of the raw data: label first, then the 10 features
    transform = f"abalone-transform-{stamp}"
    sm.create_transform_job(
        TransformJobName=transform, ModelName=f"abalone-featurizer-{stamp}", TransformResources=INSTANCE,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": raw}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"{root}/transformed", "Accept": "text/csv", "AssembleWith": "Line"},
    )  # fmt: skip
    finished(sm, "transform_job_completed_or_stopped", "describe_transform_job", TransformJobName=transform)
    print(f"{transform}: Completed -> {root}/transformed")

    # 3. the built-in Linear Learner (any image whose repository is linear-learner)
    learner = train(
        sm, f"abalone-linear-learner-{stamp}", "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1",
        f"{root}/transformed", f"{root}/output",
        {"predictor_type": "regressor", "feature_dim": "10", "mini_batch_size": "32"},
    )  # fmt: skip

    # 4. one model, two containers: an inference pipeline endpoint
    name = f"abalone-{stamp}"
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, Containers=[
        {"Image": "sklearn-featurizer:1.2-1", "ModelDataUrl": featurizer, "ContainerHostname": "featurizer"},
        {"Image": "linear-learner:1", "ModelDataUrl": learner, "ContainerHostname": "linear-learner"},
    ])  # fmt: skip
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"},
    ])  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    finished(sm, "endpoint_in_service", "describe_endpoint", EndpointName=name)
    print(f"{name}: InService")

    # 5. a raw CSV row in, the predicted rings out
    answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Accept="application/json", Body=ROW)
    score = json.loads(answer["Body"].read())["predictions"][0]["score"]
    if not args.keep:
        sm.delete_endpoint(EndpointName=name)
    print(round(score, 2))


if __name__ == "__main__":
    main()
