"""Signature Version 4 and keys: real boto3 clients and botocore-signed requests against a real server."""

from __future__ import annotations

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from tests.awsapi.conftest import signed_request

TARGET = "SageMaker.ListEndpoints"


def _error(response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["__type"], body["message"]


def test_a_signed_request_with_an_issued_key_is_answered(aws_server):
    answer = aws_server.client("sagemaker").list_endpoints()
    assert [e["EndpointName"] for e in answer["Endpoints"]] == ["echo"]


def test_an_unsigned_request_is_refused(aws_server):
    import httpx

    r = httpx.post(aws_server.url, headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"}, content=b"{}")
    assert (r.status_code, r.json()["__type"]) == (403, "MissingAuthenticationTokenException")


def test_an_unknown_access_key_is_unrecognized(aws_server):
    client = aws_server.client("sagemaker", key=("OMAKAAAAAAAAAAAAAAAA", "x" * 40))
    with pytest.raises(ClientError) as info:
        client.list_endpoints()
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_wrong_secret_is_an_invalid_signature(aws_server):
    access, secret = aws_server.key()
    client = aws_server.client("sagemaker", key=(access, secret[:-1] + ("A" if secret[-1] != "A" else "B")))
    with pytest.raises(ClientError) as info:
        client.list_endpoints()
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert "signature we calculated does not match" in info.value.response["Error"]["Message"]


def test_a_body_changed_after_signing_is_an_invalid_signature(aws_server):
    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key = aws_server.key()
    request = AWSRequest(method="POST", url=aws_server.url + "/", data=b"{}", headers={"X-Amz-Target": TARGET})
    SigV4Auth(Credentials(*key), "sagemaker", "us-east-1").add_auth(request)
    prepared = request.prepare()
    headers = {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}
    r = httpx.post(prepared.url, content=b'{"MaxResults": 1}', headers=headers)
    assert _error(r)[:2] == (400, "InvalidSignatureException")


@pytest.mark.parametrize("minutes, words", [(-16, "Signature expired"), (16, "Signature not yet current")])
def test_a_clock_more_than_15_minutes_off_is_refused(aws_server, minutes, words):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    r = signed_request(aws_server.url, "sagemaker", aws_server.key(), target=TARGET, when=when)
    status, code, message = _error(r)
    assert (status, code) == (400, "InvalidSignatureException")
    assert message.startswith(words)


def test_a_clock_within_15_minutes_is_accepted(aws_server):
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=14)
    r = signed_request(aws_server.url, "sagemaker", aws_server.key(), target=TARGET, when=when)
    assert r.status_code == 200, r.text


def test_a_signature_scoped_to_another_service_is_refused(aws_server):
    r = signed_request(aws_server.url, "rekognition", aws_server.key(), target=TARGET)
    status, code, message = _error(r)
    assert (status, code) == (400, "InvalidSignatureException")
    assert "'sagemaker'" in message


def test_a_revoked_key_is_refused(aws_server):
    key = aws_server.key("to-revoke")
    client = aws_server.client("sagemaker", key=key)
    client.list_endpoints()
    aws_server.frontend.keys.revoke(key[0])
    with pytest.raises(ClientError) as info:
        client.list_endpoints()
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_a_key_limited_to_services_is_denied_the_others(aws_server):
    key = aws_server.key("runtime-only", ["sagemaker-runtime"])
    runtime = aws_server.client("sagemaker-runtime", key=key)
    assert runtime.invoke_endpoint(EndpointName="echo", ContentType="text/plain", Body=b"hi")["Body"].read()
    with pytest.raises(ClientError) as info:
        aws_server.client("sagemaker", key=key).list_endpoints()
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "sagemaker:ListEndpoints" in info.value.response["Error"]["Message"]


def test_the_database_holds_only_hashes_of_the_secrets(aws_server):
    from sqlalchemy import select

    from openmaker import db
    from openmaker.awsapi.tables import AccessKey

    access, secret = aws_server.key("hashed")
    with db.session_scope(aws_server.frontend.keys.url) as session:
        row = session.scalar(select(AccessKey).where(AccessKey.access_key_id == access))
        stored = [str(getattr(row, column.name)) for column in AccessKey.__table__.columns]
    assert not any(secret in value for value in stored)
    assert row.secret_hash == __import__("hashlib").sha256(secret.encode()).hexdigest()


def test_a_key_made_under_another_server_key_is_unrecognized(aws_server):
    from openmaker.awsapi.keys import KeyStore

    other = KeyStore(aws_server.frontend.keys.url, b"another-server-key")
    key, secret = other.create("elsewhere")
    with pytest.raises(ClientError) as info:
        aws_server.client("sagemaker", key=(key.access_key_id, secret)).list_endpoints()
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_a_malformed_authorization_header_is_an_incomplete_signature(aws_server):
    import httpx

    headers = {"X-Amz-Target": TARGET, "Authorization": "AWS4-HMAC-SHA256 Credential=OMAK/20260101/us-east-1"}
    r = httpx.post(aws_server.url, headers=headers, content=b"{}")
    assert _error(r)[:2] == (400, "IncompleteSignatureException")
    r = httpx.post(aws_server.url, headers={"X-Amz-Target": TARGET, "Authorization": "Basic dXNlcjpwdw=="}, content=b"{}")
    assert _error(r)[:2] == (400, "IncompleteSignatureException")
    assert json.loads(r.content)["message"].startswith("Unsupported AWS 'algorithm'")
