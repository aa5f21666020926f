"""``openmaker serve --aws`` as an operator runs it: a key from ``openmaker keys create``, then boto3."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tests.serving.conftest import model_source
from tests.serving.test_lifecycle import free_port, wait_until_up


@pytest.mark.slow
def test_serve_with_aws_answers_boto3_with_a_key_from_the_cli(openmaker_home):
    import boto3
    from botocore.exceptions import ClientError

    from openmaker.cli import app

    created = CliRunner().invoke(app, ["keys", "create", "operator"])
    assert created.exit_code == 0, created.output
    key = dict(line.split(" = ") for line in created.stdout.splitlines() if " = " in line)
    ports = {name: free_port() for name in ("inference", "management", "metrics", "aws")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "openmaker.cli", "serve", f"echo={model_source('echo')}", "--no-restore",
         "--inference-port", str(ports["inference"]), "--management-port", str(ports["management"]),
         "--metrics-port", str(ports["metrics"]), "--aws", "--aws-port", str(ports["aws"])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "OPENMAKER_HOME": str(openmaker_home)},
    )  # fmt: skip
    url = f"http://127.0.0.1:{ports['aws']}"
    try:
        wait_until_up(f"http://127.0.0.1:{ports['inference']}/ping", proc)
        wait_until_up(url + "/ping", proc)
        runtime = boto3.client(
            "sagemaker-runtime", endpoint_url=url, region_name="eu-west-1",
            aws_access_key_id=key["aws_access_key_id"], aws_secret_access_key=key["aws_secret_access_key"],
        )  # fmt: skip
        answer = runtime.invoke_endpoint(EndpointName="echo", ContentType="text/plain", Body=b"from boto3")
        assert b"from boto3" in answer["Body"].read()
        stranger = boto3.client(
            "sagemaker-runtime", endpoint_url=url, region_name="eu-west-1",
            aws_access_key_id="OMAKXXXXXXXXXXXXXXXX", aws_secret_access_key="y" * 40,
        )  # fmt: skip
        with pytest.raises(ClientError) as info:
            stranger.invoke_endpoint(EndpointName="echo", Body=b"x")
        assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert "aws" in err and str(ports["aws"]) in err
