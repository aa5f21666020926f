"""The serving room as the platform sees it: its commands, console links and samples."""

from __future__ import annotations

import shutil

from openmaker.rooms import Page, Room


def _commands():
    from openmaker.serving.bench_cli import bench_app
    from openmaker.serving.cli import app

    return [(None, app), ("bench", bench_app)]


def pages(server) -> list[Page]:
    inference = server.url("inference")
    return [
        Page("Inference API", f"{inference}/docs", "predictions, /invocations and the Open Inference Protocol"),
        Page("Management API", f"{server.url('management')}/docs", "register, scale and describe models"),
        Page("Metrics", f"{server.url('metrics')}/metrics", "Prometheus text format"),
    ]


async def samples(server) -> list[str]:
    """Put the kitten classifier in the model store (built offline) and serve it."""
    import asyncio

    from openmaker.serving.errors import InferenceError

    store = server.settings.resolved_model_store
    target = store / "efficientnet-lite0"
    if any(m.name == "efficientnet-lite0" for m in server.registry.all_versions()):
        return []
    try:
        from openmaker.serving.zoo import build_efficientnet_lite0, kitten_jpeg
    except ImportError as exc:
        return [f"kitten sample skipped ({exc}); install it with: pip install 'openmaker[kitten]'"]
    if not (target / "model.onnx").is_file():
        shutil.rmtree(target, ignore_errors=True)
        await asyncio.to_thread(build_efficientnet_lite0, target)
    kitten = server.settings.home / "samples" / "kitten.jpg"
    if not kitten.is_file():
        kitten.parent.mkdir(parents=True, exist_ok=True)
        kitten.write_bytes(await asyncio.to_thread(kitten_jpeg))
    try:
        await server.registry.register("efficientnet-lite0", initial_workers=1, synchronous=True)
    except InferenceError as exc:
        return [f"efficientnet-lite0: {exc.message}"]
    return []


class _LazyCommands(list):
    # Typer apps are built when the CLI asks, so that importing the room stays cheap.
    def __iter__(self):
        if not len(self):
            self.extend(_commands())
        return super().__iter__()


room = Room(
    name="serving",
    title="Model serving",
    description="Host models behind TorchServe/MMS, SageMaker and Open Inference Protocol APIs.",
    commands=_LazyCommands(),
    pages=pages,
    samples=samples,
)
