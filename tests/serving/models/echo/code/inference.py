"""Pipeline test stage: answers what it was sent, as JSON (for checking content types)."""

import json


def model_fn(model_dir):
    return None


def transform_fn(model, body, content_type, accept):
    text = body if isinstance(body, str) else body.decode("utf-8", "replace")
    return json.dumps({"content_type": content_type, "accept": accept, "body": text}), "application/json"
