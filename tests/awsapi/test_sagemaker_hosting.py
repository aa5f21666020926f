"""SageMaker's hosting control plane and InvokeEndpoint with boto3: models, configs, endpoints, pipelines."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from botocore.exceptions import ClientError, WaiterError

from openmaker.awsapi.shapes import check_output
from tests.serving.conftest import model_source

ROLE = "arn:aws:iam::000000000000:role/ignored"


def _upload_archive(s3_endpoint, name: str) -> str:
    """``model.tar.gz`` of a test model (script mode: code/inference.py) in the moto bucket."""
    import boto3

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(model_source(name), arcname=".")
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.put_object(Bucket="openmaker-test", Key=f"models/{name}/model.tar.gz", Body=buffer.getvalue())
    return f"s3://openmaker-test/models/{name}/model.tar.gz"


def _wait(client, name: str) -> dict:
    client.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
    return client.describe_endpoint(EndpointName=name)


def _code(info) -> str:
    return info.value.response["Error"]["Code"]


def test_a_model_deployed_from_s3_answers_invoke_endpoint_and_is_deleted(aws_server, s3_endpoint):
    sm = aws_server.client("sagemaker")
    url = _upload_archive(s3_endpoint, "echo")
    arn = sm.create_model(ModelName="echo-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "any", "ModelDataUrl": url})["ModelArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:000000000000:model/echo-model"
    assert sm.describe_model(ModelName="echo-model")["PrimaryContainer"]["ModelDataUrl"] == url
    sm.create_endpoint_config(
        EndpointConfigName="echo-config",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "echo-model", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    )
    sm.create_endpoint(EndpointName="echo-endpoint", EndpointConfigName="echo-config")
    assert sm.describe_endpoint(EndpointName="echo-endpoint")["EndpointStatus"] in ("Creating", "InService")
    described = _wait(sm, "echo-endpoint")
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    assert "echo-endpoint" in [e["EndpointName"] for e in sm.list_endpoints(NameContains="echo-end")["Endpoints"]]

    runtime = aws_server.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(EndpointName="echo-endpoint", ContentType="text/csv", Accept="application/json", Body=b"1,2,3")
    assert answer["ContentType"] == "application/json"
    assert json.loads(answer["Body"].read()) == {"content_type": "text/csv", "accept": "application/json", "body": "1,2,3"}

    sm.delete_endpoint(EndpointName="echo-endpoint")
    with pytest.raises(ClientError) as info:
        sm.describe_endpoint(EndpointName="echo-endpoint")
    assert _code(info) == "ValidationException"
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName="echo-endpoint", ContentType="text/csv", Body=b"1")
    assert _code(info) == "ValidationError"
    sm.delete_endpoint_config(EndpointConfigName="echo-config")
    sm.delete_model(ModelName="echo-model")


def test_a_containers_model_becomes_an_inference_pipeline(aws_server, s3_endpoint):
    sm = aws_server.client("sagemaker")
    url = _upload_archive(s3_endpoint, "echo")
    sm.create_model(
        ModelName="two-echoes", ExecutionRoleArn=ROLE,
        Containers=[{"Image": "a", "ModelDataUrl": url, "ContainerHostname": "first"}, {"Image": "b", "ModelDataUrl": url}],
    )  # fmt: skip
    sm.create_endpoint_config(EndpointConfigName="two-echoes", ProductionVariants=[{"VariantName": "v", "ModelName": "two-echoes"}])
    sm.create_endpoint(EndpointName="two-echoes", EndpointConfigName="two-echoes")
    assert _wait(sm, "two-echoes")["EndpointStatus"] == "InService"
    body = aws_server.client("sagemaker-runtime").invoke_endpoint(EndpointName="two-echoes", ContentType="text/plain", Body=b"hi")["Body"].read()
    outer = json.loads(body)
    assert outer["content_type"] == "application/json"  # the second stage got the first one's JSON
    assert json.loads(outer["body"])["body"] == "hi"
    listed = [e["EndpointName"] for e in sm.list_endpoints(MaxResults=100)["Endpoints"]]
    assert "two-echoes" in listed and not any(name.startswith("two-echoes-") for name in listed)
    sm.delete_endpoint(EndpointName="two-echoes")
    assert "two-echoes-first" not in aws_server.server.registry.names()


def test_an_endpoint_whose_model_cannot_load_fails_with_the_reason(aws_server, s3_endpoint):
    sm = aws_server.client("sagemaker")
    sm.create_model(ModelName="missing", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "x", "ModelDataUrl": "s3://openmaker-test/models/nothing/model.tar.gz"})
    sm.create_endpoint_config(EndpointConfigName="missing", ProductionVariants=[{"VariantName": "v", "ModelName": "missing"}])
    sm.create_endpoint(EndpointName="missing", EndpointConfigName="missing")
    with pytest.raises(WaiterError):
        _wait(sm, "missing")
    described = sm.describe_endpoint(EndpointName="missing")
    assert described["EndpointStatus"] == "Failed"
    assert "models/nothing/model.tar.gz" in described["FailureReason"]
    sm.delete_endpoint(EndpointName="missing")


def test_control_plane_bad_requests_get_sagemakers_errors(aws_server):
    sm = aws_server.client("sagemaker")
    with pytest.raises(ClientError) as info:
        sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[{"VariantName": "v", "ModelName": "no-such-model"}])
    assert _code(info) == "ValidationException" and 'Could not find model "arn:aws:sagemaker:' in str(info.value)
    with pytest.raises(ClientError) as info:
        sm.create_endpoint(EndpointName="e", EndpointConfigName="no-such-config")
    assert _code(info) == "ValidationException" and "Could not find endpoint configuration" in str(info.value)
    with pytest.raises(ClientError) as info:
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "only-an-image"})
    assert _code(info) == "ValidationException" and "ModelDataUrl" in str(info.value)
    sm.create_model(ModelName="dup", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i", "ModelDataUrl": "s3://b/k"})
    with pytest.raises(ClientError) as info:
        sm.create_model(ModelName="dup", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i", "ModelDataUrl": "s3://b/k"})
    assert _code(info) == "ValidationException" and "Cannot create already existing model" in str(info.value)
    with pytest.raises(ClientError) as info:
        sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[{"VariantName": "v", "ModelName": "dup"}, {"VariantName": "w", "ModelName": "dup"}])
    assert "one production variant" in str(info.value)
    with pytest.raises(ClientError) as info:  # the model server's own model already has that name
        sm.create_endpoint_config(EndpointConfigName="to-echo", ProductionVariants=[{"VariantName": "v", "ModelName": "dup"}])
        sm.create_endpoint(EndpointName="echo", EndpointConfigName="to-echo")
    assert "Cannot create already existing endpoint" in str(info.value)
    sm.delete_model(ModelName="dup")


def test_list_endpoints_pages_sorts_and_filters(aws_server):
    sm = aws_server.client("sagemaker")
    first = sm.list_endpoints(MaxResults=1, SortBy="Name", SortOrder="Ascending")
    assert len(first["Endpoints"]) == 1
    everything = sm.list_endpoints(MaxResults=100)["Endpoints"]
    if len(everything) > 1:
        assert "NextToken" in first
    assert sm.list_endpoints(StatusEquals="Failed", NameContains="zzz-none")["Endpoints"] == []
    pages = list(sm.get_paginator("list_endpoints").paginate(PaginationConfig={"PageSize": 1}))
    assert sum(len(p["Endpoints"]) for p in pages) == len(everything)
    raw = {k: v for k, v in first.items() if k != "ResponseMetadata"}
    assert check_output("sagemaker", "ListEndpoints", raw) == []


def test_invoke_endpoint_passes_custom_attributes_and_model_errors_come_back_as_model_error(aws_server):
    runtime = aws_server.client("sagemaker-runtime")
    if "testkit" not in aws_server.server.registry.names():
        aws_server.register(model_source("testkit"), "testkit")
    ok = runtime.invoke_endpoint(EndpointName="testkit", ContentType="text/plain", Body=b"hello", CustomAttributes="a=1")
    assert json.loads(ok["Body"].read())["body"] == "hello"
    assert ok["InvokedProductionVariant"] == "AllTraffic"
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName="testkit", ContentType="text/plain", Body=b"raise")
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 500
    assert "the model refused this input" in error["OriginalMessage"]
    target = runtime.invoke_endpoint(EndpointName="anything", TargetModel="echo.tar.gz", ContentType="text/plain", Body=b"t")
    assert json.loads(target["Body"].read())["body"] == "t"


def test_invoke_endpoint_bad_requests(aws_server):
    runtime = aws_server.client("sagemaker-runtime")
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName="echo", ContentType="text/plain", Body=b"x" * (6 * 1024 * 1024 + 1))
    assert _code(info) == "ValidationError" and "6 MB" in str(info.value)
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"x")
    assert _code(info) == "ValidationError"
    assert "Endpoint no-such-endpoint of account 000000000000 not found." in str(info.value)
