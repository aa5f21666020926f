"""A worker: one OS process that loads a model and answers batches.

Started by the frontend as ``python -m openmaker.serving.worker --socket PATH
...``. It sets the thread counts before any numerical library is imported,
loads the handler, connects to the frontend's socket and says ``Ready`` (or
``LoadFailed`` with the reason), then answers ``Batch`` messages until
``Stop`` or until the frontend goes away. A model that crashes takes down only
this process.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import traceback
from pathlib import Path


def _set_threads(threads: int) -> None:
    # Must happen before numpy/torch/onnxruntime start their thread pools.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def serve(args: argparse.Namespace) -> int:
    _set_threads(args.threads)
    from openmaker.serving.handlers.base import Context, error_response, load_handler_class
    from openmaker.serving.protocol import Batch, BatchResult, LoadFailed, Ready, Stop, recv_message, send_message

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(args.socket)
    model_dir = Path(args.model_dir)
    manifest = json.loads(args.manifest) if args.manifest else {}
    context = Context(
        model_dir=model_dir,
        model_name=args.model_name,
        model_version=args.model_version,
        manifest=manifest,
        batch_size=args.batch_size,
        threads=args.threads,
        worker_id=args.worker_id,
    )
    os.chdir(model_dir)
    try:
        handler = load_handler_class(args.handler, context.code_dir)()
        handler.initialize(context)
        if "torch" in sys.modules:  # the handler may have imported torch
            sys.modules["torch"].set_num_threads(args.threads)
        metadata = handler.metadata()
    except BaseException as exc:  # report every load failure, then exit
        traceback.print_exc()
        send_message(sock, LoadFailed(error=f"{type(exc).__name__}: {exc}"))
        return 1
    send_message(sock, Ready(pid=os.getpid(), metadata=metadata))
    while True:
        try:
            message = recv_message(sock)
        except (EOFError, ConnectionError):
            return 0
        if isinstance(message, Stop):
            return 0
        if isinstance(message, Batch):
            try:
                responses = handler.handle(message.requests)
            except Exception as exc:  # a handler bug answers the batch, the worker lives on
                responses = [error_response(exc)] * len(message.requests)
            send_message(sock, BatchResult(batch_id=message.batch_id, responses=responses))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="openmaker-worker")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--model-version", default="1.0")
    parser.add_argument("--handler", required=True)
    parser.add_argument("--manifest", default="")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker-id", type=int, default=0)
    args = parser.parse_args(argv)
    # The frontend handles Ctrl-C for the whole process group: it drains, then stops workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
