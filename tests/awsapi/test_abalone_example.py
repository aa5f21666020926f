"""The abalone workflow through SageMaker's control plane, run as the user runs examples/boto3/abalone.py.

A script-mode training job, a batch transform job, a Linear Learner job, a two-container model, an endpoint
and ``invoke_endpoint``: every call a boto3 call against a real server with the training room's operations.
"""

from __future__ import annotations

import pytest

from tests.awsapi.conftest import start_server
from tests.awsapi.test_dataplane import _run_example

pytest.importorskip("sklearn")
pytest.importorskip("torch")


@pytest.fixture(scope="module")
def jobs_server(tmp_path_factory):
    from openmaker.training.room import room

    server, context = start_server(tmp_path_factory, rooms=[room])
    yield server
    server.stop()
    context.__exit__(None, None, None)


def test_the_training_rooms_operations_are_published(jobs_server):
    supported = jobs_server.frontend.supported()["sagemaker"]
    assert {"CreateTrainingJob", "DescribeTrainingJob", "CreateTransformJob", "DescribeTransformJob"} <= set(supported)


def test_the_abalone_example_trains_transforms_deploys_and_predicts(jobs_server, tmp_path):
    root = (jobs_server.server.settings.resolved_model_store / "abalone-boto3").as_uri()
    done = _run_example(jobs_server, "abalone.py", "--root", root, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert any("abalone-featurizer-" in line and "Completed" in line for line in lines)
    assert any("InService" in line for line in lines)
    rings = float(lines[-1])
    assert 6.0 < rings < 14.0  # actual: 10; the published pipeline predicted 9.53


def test_a_local_root_outside_the_store_and_allow_list_fails_the_endpoint_with_the_reason(jobs_server, tmp_path):
    root = (tmp_path / "elsewhere").as_uri()
    done = _run_example(jobs_server, "abalone.py", "--root", root, cwd=tmp_path)
    assert done.returncode != 0
    assert "not allowed" in done.stdout + done.stderr
