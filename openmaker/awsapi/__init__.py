"""The AWS-compatible front end: boto3 code runs against openmaker with only ``endpoint_url`` changed.

It speaks the wire protocols botocore uses (JSON 1.1 with ``X-Amz-Target``, REST-JSON, Smithy
RPCv2 CBOR), checks AWS Signature Version 4 against keys openmaker issued, validates requests
against botocore's service models, and dispatches: data-plane operations to models on the
server through its handler registry, control-plane operations to the server itself or to the
operations rooms publish (``Room.aws_operations``). It imports no room.
"""

from openmaker.rooms import lazy_exports

__all__ = ["AwsContext", "AwsError", "ResourceStore", "create_aws_app", "available"]
__getattr__ = lazy_exports(
    __name__,
    {
        "AwsContext": "openmaker.awsapi.context",
        "ResourceStore": "openmaker.awsapi.context",
        "AwsError": "openmaker.awsapi.errors",
        "create_aws_app": "openmaker.awsapi.app",
    },
)


def available() -> str | None:
    """None when the front end can run, else what is missing (botocore's service models, cbor2)."""
    import importlib.util

    missing = [name for name in ("botocore", "cbor2") if importlib.util.find_spec(name) is None]
    return f"{', '.join(missing)} not installed; install it with: pip install 'openmaker[aws]'" if missing else None
