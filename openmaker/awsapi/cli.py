"""``openmaker keys``: access keys for the AWS-compatible API (boto3 with ``endpoint_url``)."""

from __future__ import annotations

from typing import Optional

import typer

from openmaker.clitools import bad_input, err, one_line

app = typer.Typer(no_args_is_help=True, help="Access keys for the AWS-compatible API (SigV4; shown once, stored hashed).")


def _store():
    from openmaker.awsapi.keys import key_store
    from openmaker.config import get_settings

    try:
        return key_store(get_settings())
    except Exception as exc:  # an unreachable database: one line, no traceback
        err.print(f"[red]error:[/red] cannot open the key store: {one_line(exc)}", soft_wrap=True, markup=True)
        raise typer.Exit(1)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Who or what the key is for, e.g. a notebook or a person."),
    service: Optional[list[str]] = typer.Option(
        None, "--service", "-s",
        help="Limit the key to a service (repeat): comprehendmedical, rekognition, sagemaker, sagemaker-runtime. Default: all.",
    ),  # fmt: skip
) -> None:
    """Issue an access key: prints the access key id and the secret (shown once)."""
    from openmaker.awsapi.keys import KeyRequestError

    store = _store()
    try:
        key, secret = store.create(name, service)
    except KeyRequestError as exc:
        bad_input(str(exc))
    typer.echo(f"aws_access_key_id = {key.access_key_id}")
    typer.echo(f"aws_secret_access_key = {secret}")
    typer.echo(f"# services: {', '.join(key.services) if key.services else 'all'}; the secret is not shown again", err=True)


@app.command("list")
def list_keys() -> None:
    """Keys issued: id, name, services, created, last used, state (never the secrets)."""
    for key in _store().list():
        used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
        services = ",".join(key.services) if key.services else "all"
        state = "revoked" if key.revoked else "active"
        typer.echo(f"{key.access_key_id}\t{key.name}\t{services}\t{key.created_at.isoformat(timespec='seconds')}\t{used}\t{state}")


@app.command("revoke")
def revoke(access_key_id: str = typer.Argument(..., help="The access key id (OMAK...).")) -> None:
    """Revoke a key: requests signed with it are refused within seconds."""
    from openmaker.awsapi.keys import KeyRequestError

    try:
        key = _store().revoke(access_key_id)
    except KeyRequestError as exc:
        bad_input(str(exc))
    typer.echo(f"{key.access_key_id} revoked")
