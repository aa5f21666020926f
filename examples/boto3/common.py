"""What the boto3 examples share: clients pointed at openmaker (only ``endpoint_url`` differs from AWS)."""

from __future__ import annotations

import os

import boto3

#: Where openmaker's AWS-compatible API listens (``openmaker up`` starts it on 4566).
ENDPOINT_URL = os.environ.get("OPENMAKER_AWS_URL", "http://127.0.0.1:4566")


def client(service: str):
    """A boto3 client for ``service`` on openmaker; credentials come from the usual AWS variables or profile
    (a key made by ``openmaker keys create NAME``)."""
    return boto3.client(service, endpoint_url=ENDPOINT_URL, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
