"""``openmaker keys`` and the stores behind the front end, on SQLite and the real PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from openmaker import db


@pytest.fixture
def migrated(database_url) -> str:
    db.migrate(database_url)
    return database_url


def test_a_key_is_created_listed_and_revoked(migrated):
    from openmaker.awsapi.keys import KeyStore, derive_secret

    store = KeyStore(migrated, b"server-key", ttl=0)
    key, secret = store.create("notebook", ["comprehendmedical", "rekognition"])
    assert key.access_key_id.startswith("OMAK") and len(key.access_key_id) == 20 and len(secret) == 40
    assert secret == derive_secret(b"server-key", key.access_key_id)
    found, same = store.lookup(key.access_key_id)
    assert same == secret and found.allows("rekognition") and not found.allows("sagemaker")
    assert [k.name for k in store.list()] == ["notebook"]
    store.revoke(key.access_key_id)
    assert store.lookup(key.access_key_id) is None
    assert store.list()[0].revoked


def test_bad_key_requests_say_what_is_wrong(migrated):
    from openmaker.awsapi.keys import KeyRequestError, KeyStore

    store = KeyStore(migrated, b"k")
    with pytest.raises(KeyRequestError, match="unknown service 's3'"):
        store.create("x", ["s3"])
    with pytest.raises(KeyRequestError, match="key name"):
        store.create("has spaces")
    with pytest.raises(KeyRequestError, match="no access key"):
        store.revoke("OMAKNOPE")


def test_resources_round_trip_with_datetimes(migrated):
    from openmaker.awsapi.context import ResourceStore

    store = ResourceStore(migrated)
    when = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    assert store.create("endpoint", "e", {"EndpointStatus": "Creating", "CreationTime": when})
    assert not store.create("endpoint", "e", {})
    assert store.update("endpoint", "e", EndpointStatus="InService")["CreationTime"] == when
    assert store.get("endpoint", "e") == {"EndpointStatus": "InService", "CreationTime": when}
    assert [r["EndpointStatus"] for r in store.list("endpoint")] == ["InService"]
    assert store.delete("endpoint", "e") and store.get("endpoint", "e") is None


def test_the_keys_command_creates_lists_and_revokes(openmaker_home):
    from openmaker.cli import app

    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "ci", "--service", "sagemaker-runtime"])
    assert created.exit_code == 0, created.output
    lines = dict(line.split(" = ") for line in created.stdout.splitlines() if " = " in line)
    access, secret = lines["aws_access_key_id"], lines["aws_secret_access_key"]
    assert (openmaker_home / "aws-keys.secret").stat().st_mode & 0o077 == 0
    listed = runner.invoke(app, ["keys", "list"])
    assert access in listed.stdout and "sagemaker-runtime" in listed.stdout and secret not in listed.stdout
    assert hashlib.sha256(secret.encode()).hexdigest() not in listed.stdout
    revoked = runner.invoke(app, ["keys", "revoke", access])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert "revoked" in runner.invoke(app, ["keys", "list"]).stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["keys", "create", "x", "--service", "s3"], "unknown service 's3'"),
        (["keys", "create", "bad name"], "key name"),
        (["keys", "revoke", "OMAKNOPE"], "no access key"),
    ],
)
def test_the_keys_command_refuses_bad_input_in_one_line(openmaker_home, args, words):
    from openmaker.cli import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert words in result.output and "Traceback" not in result.output
