"""A handler whose behaviour the request body picks, for testing the server.

``sleep:S`` sleeps S seconds, ``crash`` kills the worker process, ``raise``
raises, anything else is echoed back with the worker's pid and the size of
the batch it arrived in.
"""

import json
import os
import time

from openmaker.serving.handlers.base import Handler
from openmaker.serving.protocol import InferenceResponse


class TestKit(Handler):
    def preprocess(self, request):
        return request.body.decode()

    def inference(self, inputs):
        for text in inputs:
            if text == "crash":
                os._exit(3)
            if text == "raise":
                raise ValueError("the model refused this input")
            if text.startswith("sleep:"):
                time.sleep(float(text.split(":", 1)[1]))
        return [{"pid": os.getpid(), "batch": len(inputs), "body": text} for text in inputs]

    def postprocess(self, output, request):
        return InferenceResponse(body=json.dumps(output).encode(), content_type="application/json")
