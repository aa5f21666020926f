"""A model that does nothing: the server's own overhead, measured with ``openmaker bench``."""


def model_fn(model_dir):
    return None


def transform_fn(model, body, content_type, accept):
    return b'{"ok": true}', "application/json"
