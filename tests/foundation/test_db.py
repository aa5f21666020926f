"""openmaker.db on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from openmaker import db


HEAD = db.head_revision()  # the newest migration: every test expects a database migrated to it


def test_fresh_database_has_no_revision(database_url):
    assert db.current_revision(database_url) is None


def test_migrate_creates_the_serving_model_table(database_url):
    assert db.migrate(database_url) == HEAD
    assert db.current_revision(database_url) == HEAD
    inspector = inspect(db.get_engine(database_url))
    assert "serving_model" in inspector.get_table_names()
    columns = {c["name"] for c in inspector.get_columns("serving_model")}
    assert columns == {
        "id", "model_name", "model_version", "url", "handler", "batch_size", "max_batch_delay_ms",
        "min_workers", "max_workers", "response_timeout", "threads_per_worker", "is_default", "created_at", "updated_at",
    }  # fmt: skip


def test_migrate_twice_is_a_no_op(database_url):
    db.migrate(database_url)
    with db.session_scope(database_url) as session:
        db.save_registration(session, model_name="kept", model_version="1.0", url="/m/kept.mar")
    assert db.migrate(database_url) == HEAD
    with db.session_scope(database_url) as session:
        assert [r.model_name for r in db.list_registrations(session)] == ["kept"]


def test_schema_matches_the_models(database_url):
    # A model changed without a migration would show up here as a difference.
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db.migrate(database_url)
    with db.get_engine(database_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.Base.metadata) == []


def test_save_list_update_delete(database_url):
    db.migrate(database_url)
    with db.session_scope(database_url) as session:
        saved = db.save_registration(
            session, model_name="squeezenet", model_version="1.0", url="s3://models/squeezenet.mar"
        )
        db.save_registration(
            session,
            model_name="abalone",
            model_version="2",
            url="/store/abalone.mar",
            handler="sklearn",
            batch_size=8,
            max_batch_delay_ms=50.5,
            min_workers=2,
            max_workers=4,
            response_timeout=30.0,
            is_default=True,
        )
        assert saved.id is not None

    with db.session_scope(database_url) as session:
        rows = db.list_registrations(session)
        assert [(r.model_name, r.model_version) for r in rows] == [("abalone", "2"), ("squeezenet", "1.0")]
        abalone, squeezenet = rows
        assert (abalone.handler, abalone.batch_size, abalone.max_batch_delay_ms) == ("sklearn", 8, 50.5)
        assert (abalone.min_workers, abalone.max_workers, abalone.response_timeout) == (2, 4, 30.0)
        assert abalone.is_default is True
        # Defaults for what was not given.
        assert squeezenet.handler is None
        assert (squeezenet.batch_size, squeezenet.max_batch_delay_ms) == (1, 100.0)
        assert (squeezenet.min_workers, squeezenet.max_workers, squeezenet.response_timeout) == (1, 1, 120.0)
        assert squeezenet.is_default is False
        assert squeezenet.created_at is not None and squeezenet.updated_at is not None
        first_id, first_created = squeezenet.id, squeezenet.created_at

    # Saving the same name and version again updates that row, keeping the rest.
    with db.session_scope(database_url) as session:
        updated = db.save_registration(session, model_name="squeezenet", model_version="1.0", max_workers=3)
        assert updated.id == first_id
    with db.session_scope(database_url) as session:
        rows = db.list_registrations(session, model_name="squeezenet")
        assert len(rows) == 1
        assert (rows[0].id, rows[0].max_workers, rows[0].url) == (first_id, 3, "s3://models/squeezenet.mar")
        assert rows[0].created_at == first_created
        assert rows[0].updated_at >= rows[0].created_at

    with db.session_scope(database_url) as session:
        assert db.delete_registration(session, "squeezenet", "1.0") is True
        assert db.delete_registration(session, "squeezenet", "1.0") is False
    with db.session_scope(database_url) as session:
        assert [r.model_name for r in db.list_registrations(session)] == ["abalone"]


def test_one_default_version_per_model(database_url):
    db.migrate(database_url)
    with db.session_scope(database_url) as session:
        db.save_registration(session, model_name="m", model_version="1", url="/m1", is_default=True)
        db.save_registration(session, model_name="other", model_version="1", url="/o1", is_default=True)
    with db.session_scope(database_url) as session:
        db.save_registration(session, model_name="m", model_version="2", url="/m2", is_default=True)
    with db.session_scope(database_url) as session:
        defaults = {(r.model_name, r.model_version): r.is_default for r in db.list_registrations(session)}
    assert defaults == {("m", "1"): False, ("m", "2"): True, ("other", "1"): True}


def test_save_rejects_incomplete_or_unknown_fields(database_url):
    db.migrate(database_url)
    with db.session_scope(database_url) as session:
        with pytest.raises(TypeError, match="url"):
            db.save_registration(session, model_name="m", model_version="1")
        with pytest.raises(TypeError, match="model_version"):
            db.save_registration(session, model_name="m", url="/m")
        with pytest.raises(TypeError, match="batch_sise"):
            db.save_registration(session, model_name="m", model_version="1", url="/m", batch_sise=2)


def test_unique_name_and_version_is_enforced_by_the_database(database_url):
    db.migrate(database_url)
    with pytest.raises(IntegrityError):
        with db.session_scope(database_url) as session:
            session.add(db.ModelRegistration(model_name="m", model_version="1", url="/a"))
            session.add(db.ModelRegistration(model_name="m", model_version="1", url="/b"))
    # The failed block was rolled back: nothing of it is stored.
    with db.session_scope(database_url) as session:
        assert db.list_registrations(session) == []


def test_session_scope_rolls_back_on_error(database_url):
    db.migrate(database_url)
    with pytest.raises(RuntimeError):
        with db.session_scope(database_url) as session:
            db.save_registration(session, model_name="m", model_version="1", url="/m")
            raise RuntimeError("boom")
    with db.session_scope(database_url) as session:
        assert db.list_registrations(session) == []


def test_sessions_work_from_other_threads(database_url):
    db.migrate(database_url)
    errors: list[BaseException] = []

    def register(i: int) -> None:
        try:
            with db.session_scope(database_url) as session:
                db.save_registration(session, model_name=f"m{i}", model_version="1", url=f"/m{i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session_scope(database_url) as session:
        assert sorted(r.model_name for r in db.list_registrations(session)) == [f"m{i}" for i in range(8)]


def test_default_url_is_a_sqlite_file_in_the_home(openmaker_home):
    engine = db.get_engine()
    assert engine.dialect.name == "sqlite"
    assert engine.url.database == str(openmaker_home / "openmaker.db")
    assert db.migrate() == HEAD
    assert (openmaker_home / "openmaker.db").is_file()
    with db.session_scope() as session:
        db.save_registration(session, model_name="m", model_version="1", url="/m")
    db.dispose_engines()
    # Another engine on the same file (as after a server restart) sees the row.
    with db.session_scope() as session:
        assert [r.model_name for r in db.list_registrations(session)] == ["m"]


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path):
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'x.db'}"
    with db.get_engine(url).connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert (tmp_path / "nested" / "dir" / "x.db").is_file()
    db.dispose_engines()


def test_database_url_setting_is_used(tmp_path, monkeypatch):
    from openmaker import config

    target = tmp_path / "elsewhere.db"
    monkeypatch.setenv("OPENMAKER_DATABASE_URL", f"sqlite:///{target}")
    config.get_settings.cache_clear()
    db.migrate()
    assert db.current_revision(f"sqlite:///{target}") == HEAD
    db.dispose_engines()
