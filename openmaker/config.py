"""Settings: environment variables ``OPENMAKER_*`` over an optional ``openmaker.toml``.

The toml file is looked for in the current directory, then in the home
directory (``$OPENMAKER_HOME``, default ``~/.openmaker``). Environment
variables win over the file; the file wins over the defaults.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def home_dir() -> Path:
    """The openmaker home directory (``$OPENMAKER_HOME`` or ``~/.openmaker``), created on demand."""
    home = Path(os.environ.get("OPENMAKER_HOME") or Path.home() / ".openmaker").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def _toml_files() -> list[Path]:
    candidates = [Path.cwd() / "openmaker.toml"]
    env_home = os.environ.get("OPENMAKER_HOME")
    candidates.append(Path(env_home or Path.home() / ".openmaker").expanduser() / "openmaker.toml")
    return [p for p in candidates if p.is_file()]


class Settings(BaseSettings):
    """Every knob of the platform; each can be set as ``OPENMAKER_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="OPENMAKER_", extra="ignore")

    home: Path = Field(default_factory=home_dir)
    database_url: str | None = None  # default: sqlite file in home
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"

    # model server
    bind_host: str = "127.0.0.1"
    inference_port: int = 8080
    management_port: int = 8081
    metrics_port: int = 8082
    console_port: int = 8090
    #: The labeling room's worker portal; ``portal_url`` is how reviewers reach it (invitation links).
    portal_port: int = 8091
    portal_url: str | None = None
    #: The racer league's leaderboard pages and JSON API (``openmaker up``; ``openmaker race league serve``).
    league_port: int = 8092
    #: The AWS-compatible API (boto3 with ``endpoint_url``): ``openmaker up``, ``openmaker serve --aws``.
    aws_port: int = 4566
    #: The key access-key secrets derive from; default: ``aws-keys.secret`` in the home (created once).
    aws_key_secret: str | None = None
    management_host: str = "127.0.0.1"
    model_store: Path | None = None  # default: home/model-store
    allowed_urls: list[str] = Field(default_factory=list)
    default_workers_per_model: int = 1
    default_threads_per_worker: int = 1
    job_queue_size: int = 100
    #: Requests sent ahead to a busy worker when batch_size is 1 (it runs them one by one).
    worker_pipeline_depth: int = 2
    default_response_timeout: float = 120.0
    default_startup_timeout: float = 120.0
    max_request_size: int = 6_553_500
    default_batch_size: int = 1
    default_max_batch_delay_ms: float = 100.0
    shutdown_timeout: float = 30.0

    @field_validator("home")
    @classmethod
    def _create_home(cls, value: Path) -> Path:
        # The default factory creates the home, but a value from the
        # environment or a toml file bypasses it.
        home = value.expanduser()
        home.mkdir(parents=True, exist_ok=True)
        return home

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        sources += [TomlConfigSettingsSource(settings_cls, toml_file=p) for p in _toml_files()]
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'openmaker.db'}"

    @property
    def resolved_model_store(self) -> Path:
        store = (self.model_store or self.home / "model-store").expanduser()
        store.mkdir(parents=True, exist_ok=True)
        return store


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call ``get_settings.cache_clear()``."""
    return Settings()
