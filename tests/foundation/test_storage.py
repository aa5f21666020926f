"""openmaker.storage against the local disk and a real S3 endpoint (moto on loopback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from openmaker import storage


@pytest.fixture(params=["path", "file", "s3"])
def root(request, tmp_path) -> str:
    """An empty place to store things, as each kind of URI."""
    if request.param == "path":
        return str(tmp_path / "store")
    if request.param == "file":
        return f"file://{tmp_path / 'store'}"
    return request.getfixturevalue("s3_root") + "/store"


def make_tree(base: Path) -> dict[str, bytes]:
    files = {
        "config.json": b'{"name": "abalone"}',
        "weights/model.onnx": bytes(range(256)) * 40,
        "weights/deep/notes.txt": "résumé\n".encode(),
    }
    for rel, data in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(data)
    return files


def test_bytes_and_text_round_trip(root):
    uri = storage.join(root, "a", "b.bin")
    payload = bytes(range(256))
    storage.write_bytes(uri, payload)
    assert storage.read_bytes(uri) == payload

    storage.write_bytes(uri, b"replaced")
    assert storage.read_bytes(uri) == b"replaced"

    text_uri = storage.join(root, "notes.txt")
    storage.write_text(text_uri, "naïve café ✓")
    assert storage.read_text(text_uri) == "naïve café ✓"


def test_exists_for_files_prefixes_and_missing(root):
    uri = storage.join(root, "models", "m.bin")
    assert not storage.exists(uri)
    storage.write_bytes(uri, b"x")
    assert storage.exists(uri)
    assert storage.exists(storage.join(root, "models"))
    assert not storage.exists(storage.join(root, "models", "other.bin"))


def test_list_uris_returns_full_uris_at_any_depth(root):
    for rel in ["b.txt", "a.json", "sub/c.json", "sub/deeper/d.txt"]:
        storage.write_text(storage.join(root, rel), rel)

    found = storage.list_uris(root)
    assert found == sorted(storage.join(root, rel) for rel in ["a.json", "b.txt", "sub/c.json", "sub/deeper/d.txt"])
    # Each listed URI reads back as what was written there.
    assert [storage.read_text(uri) for uri in found] == ["a.json", "b.txt", "sub/c.json", "sub/deeper/d.txt"]

    assert storage.list_uris(root, pattern="*.json") == [storage.join(root, "a.json"), storage.join(root, "sub/c.json")]
    assert storage.list_uris(storage.join(root, "sub")) == [
        storage.join(root, "sub/c.json"),
        storage.join(root, "sub/deeper/d.txt"),
    ]
    single = storage.join(root, "b.txt")
    assert storage.list_uris(single) == [single]
    assert storage.list_uris(storage.join(root, "nothing-here")) == []


def test_upload_and_download_a_folder(root, tmp_path):
    source = tmp_path / "model"
    source.mkdir()
    files = make_tree(source)

    destination = storage.join(root, "models", "abalone")
    assert storage.upload(source, destination) == destination
    assert storage.list_uris(destination) == sorted(storage.join(destination, rel) for rel in files)

    out = storage.download(destination, tmp_path / "fetched")
    assert out == tmp_path / "fetched"
    fetched = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert fetched == files


def test_upload_and_download_a_file(root, tmp_path):
    source = tmp_path / "model.onnx"
    source.write_bytes(b"onnx bytes")
    uri = storage.join(root, "m", "model.onnx")
    storage.upload(source, uri)
    assert storage.read_bytes(uri) == b"onnx bytes"

    # To an explicit file path ...
    target = storage.download(uri, tmp_path / "out" / "renamed.onnx")
    assert target == tmp_path / "out" / "renamed.onnx"
    assert target.read_bytes() == b"onnx bytes"
    # ... or into an existing folder, under its own name.
    folder = tmp_path / "into"
    folder.mkdir()
    assert storage.download(uri, folder).read_bytes() == b"onnx bytes"
    assert (folder / "model.onnx").is_file()
    # No temporary files are left behind.
    assert [p.name for p in folder.iterdir()] == ["model.onnx"]


def test_missing_object_names_the_uri(root, tmp_path):
    missing = storage.join(root, "no", "such.bin")
    with pytest.raises(FileNotFoundError, match="no/such.bin") as info:
        storage.read_bytes(missing)
    assert missing in str(info.value)
    with pytest.raises(FileNotFoundError) as info:
        storage.download(missing, tmp_path / "x")
    assert missing in str(info.value)
    assert not (tmp_path / "x").exists()


def test_upload_of_missing_local_path_fails(root, tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        storage.upload(tmp_path / "absent", storage.join(root, "x"))


def test_unsupported_scheme_is_a_clear_value_error():
    message = "unsupported storage scheme 'ftp' in 'ftp://host/x.bin'; use a local path, file:// or s3://"
    for call in (storage.read_bytes, storage.exists, storage.is_remote, storage.filesystem):
        with pytest.raises(ValueError) as info:
            call("ftp://host/x.bin")
        assert str(info.value) == message
    with pytest.raises(ValueError, match="'gs'"):
        storage.write_bytes("gs://bucket/key", b"x")


def test_join_and_is_remote():
    assert storage.join("s3://bucket/", "/models/", "abalone", "1.0") == "s3://bucket/models/abalone/1.0"
    assert storage.join("s3://bucket", "a/b") == "s3://bucket/a/b"
    assert storage.join("file:///", "tmp", "x") == "file:///tmp/x"
    assert storage.join("/data/models", "m.bin") == "/data/models/m.bin"
    assert storage.is_remote("s3://bucket/key")
    assert storage.is_remote("S3://bucket/key")
    assert not storage.is_remote("file:///tmp/x")
    assert not storage.is_remote("relative/path")
    assert not storage.is_remote(Path("/tmp/x"))


def test_local_paths_and_file_uris_name_the_same_files(tmp_path):
    storage.write_text(tmp_path / "same.txt", "one file")
    assert storage.read_text(f"file://{tmp_path}/same.txt") == "one file"
    fs, path = storage.filesystem(f"file://{tmp_path}/same.txt")
    assert path == str(tmp_path / "same.txt")
    assert fs.cat_file(path) == b"one file"


def test_s3_endpoint_comes_from_settings(s3_root, s3_endpoint):
    fs, path = storage.filesystem(f"{s3_root}/k")
    assert fs.endpoint_url == s3_endpoint
    assert path == f"{s3_root.removeprefix('s3://')}/k"


def test_standard_aws_endpoint_variable_is_the_fallback(s3_root, s3_endpoint, monkeypatch):
    from openmaker import config

    storage.write_text(f"{s3_root}/via-setting.txt", "hello")
    monkeypatch.delenv("OPENMAKER_S3_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    config.get_settings.cache_clear()
    assert storage.read_text(f"{s3_root}/via-setting.txt") == "hello"


def test_settings_changes_are_seen_without_restart(s3_root, s3_endpoint, monkeypatch):
    from openmaker import config

    storage.write_text(f"{s3_root}/k.txt", "v")
    # Point at a closed port: a cached client would still reach moto.
    monkeypatch.setenv("OPENMAKER_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    config.get_settings.cache_clear()
    fs, _ = storage.filesystem(f"{s3_root}/k.txt")
    assert fs.endpoint_url == "http://127.0.0.1:9"


def test_importing_storage_does_not_import_s3fs():
    code = "import sys, openmaker.storage; print('s3fs' in sys.modules, 'botocore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_missing_s3fs_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "s3fs", None)  # makes "import s3fs" fail
    with pytest.raises(ModuleNotFoundError, match=r"pip install openmaker\[s3\]"):
        storage.read_bytes("s3://bucket/key")
