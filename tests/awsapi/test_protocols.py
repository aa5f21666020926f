"""Bad input on the wire: every protocol's errors in AWS's shape, never a 500 with a stack trace."""

from __future__ import annotations

import json
import threading

import cbor2
import pytest
from botocore.exceptions import ClientError

from tests.awsapi.conftest import signed_request, start_server
from tests.serving.conftest import model_source

CM = "ComprehendMedical_20181030"


def _json_error(r) -> tuple[int, str, str]:
    assert r.headers["content-type"] == "application/x-amz-json-1.1"
    body = r.json()
    return r.status_code, body["__type"], body["message"]


def test_malformed_json_is_a_serialization_exception(aws_server):
    r = signed_request(aws_server.url, "sagemaker", aws_server.key(), target="SageMaker.ListEndpoints", body=b"{not json")
    status, code, message = _json_error(r)
    assert (status, code) == (400, "SerializationException") and "not valid JSON" in message


def test_a_json_array_body_is_a_serialization_exception(aws_server):
    r = signed_request(aws_server.url, "sagemaker", aws_server.key(), target="SageMaker.ListEndpoints", body=b"[1]")
    assert _json_error(r)[1] == "SerializationException"


@pytest.mark.parametrize("target", ["Nope_2020.DetectPHI", "SageMaker.NoSuchOperation", "nodot"])
def test_an_unknown_target_is_an_unknown_operation(aws_server, target):
    r = signed_request(aws_server.url, "sagemaker", aws_server.key(), target=target)
    assert _json_error(r)[:2] == (400, "UnknownOperationException")


def test_an_operation_openmaker_does_not_implement_says_so_and_lists_what_it_does(aws_server):
    client = aws_server.client("sagemaker")
    with pytest.raises(ClientError) as info:
        client.list_notebook_instances()
    assert info.value.response["Error"]["Code"] == "UnknownOperationException"
    message = info.value.response["Error"]["Message"]
    assert "sagemaker:ListNotebookInstances" in message and "CreateEndpoint" in message


def test_a_missing_required_member_is_a_validation_exception(aws_server):
    body = json.dumps({}).encode()
    r = signed_request(aws_server.url, "comprehendmedical", aws_server.key(), target=f"{CM}.DetectEntitiesV2", body=body)
    status, code, message = _json_error(r)
    assert (status, code) == (400, "ValidationException")
    assert message == "1 validation error detected: Value null at 'text' failed to satisfy constraint: Member must not be null"


def test_a_member_of_the_wrong_type_is_a_validation_exception(aws_server):
    body = json.dumps({"EndpointName": 5}).encode()
    r = signed_request(aws_server.url, "sagemaker", aws_server.key(), target="SageMaker.DescribeEndpoint", body=body)
    status, code, message = _json_error(r)
    assert (status, code) == (400, "ValidationException")
    assert "'endpointName'" in message and "Member must be a string" in message


def test_an_unknown_member_is_a_validation_exception(aws_server):
    body = json.dumps({"EndpointName": "echo", "Extra": 1}).encode()
    r = signed_request(aws_server.url, "sagemaker", aws_server.key(), target="SageMaker.DescribeEndpoint", body=body)
    assert "'Extra' is not a member" in _json_error(r)[2]


def test_an_oversized_body_is_refused_before_it_is_read(aws_server):
    body = b"{" + b" " * (9 * 1024 * 1024) + b"}"
    r = signed_request(aws_server.url, "sagemaker", aws_server.key(), target="SageMaker.ListEndpoints", body=body)
    assert _json_error(r)[:2] == (413, "RequestEntityTooLargeException")


def test_comprehend_medical_over_json_1_1_too(aws_server):
    body = json.dumps({"Text": "x" * 10_001}).encode()
    r = signed_request(aws_server.url, "comprehendmedical", aws_server.key(), target=f"{CM}.InferICD10CM", body=body)
    status, code, message = _json_error(r)
    assert (status, code) == (400, "TextSizeLimitExceededException") and "10000" in message


def _cbor_request(server, operation: str, body: bytes, headers: dict | None = None):
    base = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"}
    return signed_request(
        server.url, "comprehendmedical", server.key(), path=f"/service/{CM}/operation/{operation}", body=body,
        headers={**base, **(headers or {})},
    )  # fmt: skip


def test_malformed_cbor_is_a_serialization_exception_in_cbor(aws_server):
    r = _cbor_request(aws_server, "DetectPHI", b"\xff\xff\x00")
    assert r.status_code == 400 and r.headers["smithy-protocol"] == "rpc-v2-cbor"
    body = cbor2.loads(r.content)
    assert body["__type"] == "com.amazonaws.comprehendmedical#SerializationException"


def test_an_rpcv2_request_without_its_protocol_header_is_refused(aws_server):
    r = _cbor_request(aws_server, "DetectPHI", cbor2.dumps({"Text": "x"}), headers={"smithy-protocol": "nope"})
    assert r.status_code == 400


def test_cbor_validation_errors_come_back_in_cbor_and_boto3_reads_them(aws_server):
    client = aws_server.client("comprehendmedical", parameter_validation=False)
    with pytest.raises(ClientError) as info:
        client.detect_entities_v2(Text="")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must have length greater than or equal to 1" in info.value.response["Error"]["Message"]


def test_an_unroutable_path_is_an_unknown_operation(aws_server):
    r = signed_request(aws_server.url, "sagemaker", aws_server.key(), path="/nothing/here")
    assert _json_error(r)[1] == "UnknownOperationException"


def test_a_full_model_queue_is_throttled(tmp_path_factory):
    """A model whose queue holds one request: the next one waiting gets ThrottlingException."""
    server, context = start_server(tmp_path_factory)
    try:
        server.server.settings.job_queue_size = 1
        server.server.settings.worker_pipeline_depth = 1
        server.register(model_source("testkit"), "slow")
        runtime = server.client("sagemaker-runtime")
        threads = [
            threading.Thread(target=lambda: runtime.invoke_endpoint(EndpointName="slow", Body=b"sleep:3")) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        import time

        time.sleep(1.0)  # one running in the worker, one waiting in the queue
        with pytest.raises(ClientError) as info:
            runtime.invoke_endpoint(EndpointName="slow", Body=b"now")
        assert info.value.response["Error"]["Code"] == "ThrottlingException"
        for thread in threads:
            thread.join(30)
    finally:
        server.stop()
        context.__exit__(None, None, None)
