"""The ``openmaker`` command: the platform's own commands plus each installed room's."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from openmaker import __version__
from openmaker.rooms import load_rooms

console = Console(stderr=True)
app = typer.Typer(
    name="openmaker",
    no_args_is_help=True,
    help="openmaker: train, label, serve and run medical AI on your own machines, offline.",
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(no_args_is_help=True, help="The platform database (SQLite by default, PostgreSQL by URL).")
app.add_typer(db_app, name="db")


def _keys_app() -> typer.Typer:
    from openmaker.awsapi.cli import app as keys_app

    return keys_app


app.add_typer(_keys_app(), name="keys")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@db_app.command("upgrade")
def db_upgrade(url: Optional[str] = typer.Option(None, help="Database URL (default: OPENMAKER_DATABASE_URL or SQLite in the home).")) -> None:
    """Create or migrate the platform's tables."""
    from openmaker import db
    from openmaker.config import get_settings

    target = url or get_settings().resolved_database_url
    try:
        revision = db.migrate(target)
    except Exception as exc:  # a bad URL or an unreachable server: say which, no traceback
        console.print(f"[red]error:[/red] cannot migrate {escape(target)}: {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1)
    typer.echo(f"{target} is at revision {revision}")


@app.command()
def up(
    inference_port: Optional[int] = typer.Option(None, help="Default 8080."),
    management_port: Optional[int] = typer.Option(None, help="Default 8081."),
    metrics_port: Optional[int] = typer.Option(None, help="Default 8082."),
    console_port: Optional[int] = typer.Option(None, help="Default 8090."),
    portal_port: Optional[int] = typer.Option(None, help="The labeling portal's port. Default 8091."),
    league_port: Optional[int] = typer.Option(None, help="The racer league's port. Default 8092."),
    aws_port: Optional[int] = typer.Option(None, help="The AWS-compatible API (boto3 endpoint_url). Default 4566."),
    samples: bool = typer.Option(True, help="Start each room's sample workloads."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve the management API without a token."),
) -> None:
    """Bring the platform up: model server, metrics, console and the rooms' sample workloads."""
    from openmaker.console import create_console_app
    from openmaker.serving.cli import run_server, settings_from_options

    settings = settings_from_options(
        inference_port=inference_port, management_port=management_port,
        metrics_port=metrics_port, console_port=console_port, portal_port=portal_port, league_port=league_port,
        aws_port=aws_port,
    )  # fmt: skip
    rooms = load_rooms()

    def console_app(server):
        return create_console_app(server, rooms)

    def aws_app(server):
        from openmaker.awsapi.app import create_aws_app

        return create_aws_app(server, rooms)

    async def start_samples(server) -> None:
        if not samples:
            return
        for room in rooms:
            if room.samples is not None:
                for problem in await room.samples(server):
                    console.print(f"[yellow]warning:[/yellow] {room.name}: {escape(problem)}")

    from openmaker.awsapi import available

    factories = [("console", console_app, settings.bind_host, settings.console_port)]
    missing = available()
    if missing:
        console.print(f"[yellow]warning:[/yellow] the AWS-compatible API is off: {escape(missing)}")
    else:
        factories.append(("aws", aws_app, settings.bind_host, settings.aws_port))
    run_server(
        settings, [], {}, no_auth=no_auth,
        app_factories=factories
        + [(name, factory, settings.bind_host, getattr(settings, port)) for room in rooms for name, factory, port in room.apps],
        on_ready=start_samples,
    )  # fmt: skip


def _mount_rooms() -> None:
    for room in load_rooms():
        for name, sub in room.commands:
            if name is None:
                for command in sub.registered_commands:
                    app.registered_commands.append(command)
                for group in sub.registered_groups:
                    app.registered_groups.append(group)
            else:
                app.add_typer(sub, name=name)


_mount_rooms()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
