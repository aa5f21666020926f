"""openmaker.config: environment over openmaker.toml over defaults."""

from __future__ import annotations

from pathlib import Path

from openmaker import config


def settings() -> config.Settings:
    config.get_settings.cache_clear()
    return config.get_settings()


def test_defaults(openmaker_home):
    s = settings()
    assert (s.inference_port, s.management_port, s.metrics_port) == (8080, 8081, 8082)
    assert s.s3_endpoint_url is None
    assert s.s3_region == "us-east-1"
    assert s.resolved_database_url == f"sqlite:///{openmaker_home / 'openmaker.db'}"


def test_environment_variables_override_defaults(monkeypatch):
    monkeypatch.setenv("OPENMAKER_INFERENCE_PORT", "9080")
    monkeypatch.setenv("OPENMAKER_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("OPENMAKER_DATABASE_URL", "postgresql+psycopg://u@db/openmaker")
    monkeypatch.setenv("OPENMAKER_ALLOWED_URLS", '["file://.*", "s3://models/.*"]')
    s = settings()
    assert s.inference_port == 9080
    assert s.s3_endpoint_url == "http://127.0.0.1:9000"
    assert s.resolved_database_url == "postgresql+psycopg://u@db/openmaker"
    assert s.allowed_urls == ["file://.*", "s3://models/.*"]


def test_toml_in_the_working_directory_is_read():
    Path("openmaker.toml").write_text('inference_port = 7080\ns3_region = "eu-west-1"\n')
    s = settings()
    assert s.inference_port == 7080
    assert s.s3_region == "eu-west-1"


def test_toml_in_the_home_is_read(openmaker_home):
    openmaker_home.mkdir(parents=True, exist_ok=True)
    (openmaker_home / "openmaker.toml").write_text("management_port = 7081\n")
    assert settings().management_port == 7081


def test_working_directory_toml_beats_the_home_one(openmaker_home):
    openmaker_home.mkdir(parents=True, exist_ok=True)
    (openmaker_home / "openmaker.toml").write_text("management_port = 7081\nmetrics_port = 7082\n")
    Path("openmaker.toml").write_text("management_port = 6081\n")
    s = settings()
    assert s.management_port == 6081
    assert s.metrics_port == 7082


def test_environment_beats_toml(monkeypatch):
    Path("openmaker.toml").write_text("inference_port = 7080\nmetrics_port = 7082\n")
    monkeypatch.setenv("OPENMAKER_INFERENCE_PORT", "9080")
    s = settings()
    assert s.inference_port == 9080
    assert s.metrics_port == 7082


def test_openmaker_home_is_respected_and_created(tmp_path, monkeypatch):
    home = tmp_path / "somewhere" / "new-home"
    monkeypatch.setenv("OPENMAKER_HOME", str(home))
    s = settings()
    assert s.home == home
    assert home.is_dir()
    assert s.resolved_database_url == f"sqlite:///{home / 'openmaker.db'}"
    assert s.resolved_model_store == home / "model-store"
    assert (home / "model-store").is_dir()


def test_settings_are_read_once_until_the_cache_is_cleared(monkeypatch):
    first = settings()
    monkeypatch.setenv("OPENMAKER_INFERENCE_PORT", "9999")
    assert config.get_settings() is first
    assert settings().inference_port == 9999
