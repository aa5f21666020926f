"""Artifacts by URI: local paths, ``file://`` and ``s3://``, over fsspec.

Every room reads and writes models, datasets and reports through these
functions, so that pointing a job at S3 instead of a local folder is a matter
of the URI alone::

    write_text("s3://models/abalone/config.json", "{}")
    download("s3://models/abalone/", "/tmp/abalone")

S3 goes through s3fs, imported only when an ``s3://`` URI is used, so that
``import openmaker.storage`` stays cheap and s3fs stays an optional extra
(``pip install openmaker[s3]``). The endpoint comes from the setting
``OPENMAKER_S3_ENDPOINT_URL`` (MinIO, Ceph, moto ...) or, failing that, from
the standard ``AWS_ENDPOINT_URL``; credentials come from the usual AWS
environment variables and files.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = [
    "download",
    "exists",
    "filesystem",
    "is_remote",
    "join",
    "list_uris",
    "read_bytes",
    "read_text",
    "upload",
    "write_bytes",
    "write_text",
]

SUPPORTED_SCHEMES = ("file", "s3")

# A scheme is letters followed by "://"; anything else is a local path. One
# letter is a Windows drive ("C://..."), not a scheme.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")


def _split(uri: str | os.PathLike[str]) -> tuple[str, str]:
    """``(scheme, rest)``; scheme is ``""`` for a plain local path."""
    text = os.fspath(uri)
    match = _SCHEME.match(text)
    if not match:
        return "", text
    scheme = match.group(1).lower()
    if scheme not in SUPPORTED_SCHEMES:
        raise ValueError(
            f"unsupported storage scheme '{scheme}' in '{text}'; "
            "use a local path, file:// or s3://"
        )
    return scheme, text[match.end() :]


def _local_path(scheme: str, rest: str) -> str:
    if scheme == "file" and rest.startswith("localhost/"):
        rest = rest[len("localhost") :]
    return os.path.abspath(os.path.expanduser(rest))


def is_remote(uri: str | os.PathLike[str]) -> bool:
    """True when ``uri`` names an object store (``s3://``), False for local paths and ``file://``.

    Raises ``ValueError`` for a scheme openmaker does not support.
    """
    scheme, _ = _split(uri)
    return scheme not in ("", "file")


# Where boto finds credentials; a change to any of them must give a new client.
_AWS_CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
)
_s3_lock = threading.Lock()
_s3_current: tuple[tuple[Any, ...], AbstractFileSystem] | None = None


def _s3_filesystem() -> AbstractFileSystem:
    global _s3_current
    try:
        import s3fs
    except ImportError as exc:
        raise ModuleNotFoundError(
            "s3:// URIs need the s3fs package: pip install openmaker[s3]"
        ) from exc
    from openmaker.config import get_settings

    settings = get_settings()
    endpoint = settings.s3_endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    # A client costs ~150 ms to set up, so one is kept, but only for exactly
    # this endpoint, region, credentials and process: after the settings
    # change (or a fork) the next call builds a fresh one. fsspec's own
    # instance cache is skipped because it does not see credential variables.
    key = (endpoint, settings.s3_region, os.getpid(), *(os.environ.get(v) for v in _AWS_CREDENTIAL_ENV))
    with _s3_lock:
        if _s3_current is not None and _s3_current[0] == key:
            return _s3_current[1]
        fs = s3fs.S3FileSystem(
            endpoint_url=endpoint,
            client_kwargs={"region_name": settings.s3_region},
            skip_instance_cache=True,
            # Listings are not cached: exists() and list_uris() must see what
            # another process wrote a moment ago.
            use_listings_cache=False,
        )
        _s3_current = (key, fs)
        return fs


def filesystem(uri: str | os.PathLike[str]) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem that holds ``uri`` and the path of ``uri`` on it.

    Local paths and ``file://`` URIs give a ``LocalFileSystem`` and an
    absolute path; ``s3://bucket/key`` gives an ``S3FileSystem`` (endpoint and
    region from the settings) and ``"bucket/key"``. Use it for what the
    functions of this module do not cover (``fs.open`` for streaming, say).
    """
    scheme, rest = _split(uri)
    if scheme == "s3":
        return _s3_filesystem(), rest.rstrip("/")
    from fsspec.implementations.local import LocalFileSystem

    return LocalFileSystem(auto_mkdir=True), _local_path(scheme, rest)


def join(uri: str | os.PathLike[str], *parts: str) -> str:
    """``uri`` with ``parts`` appended as path segments, in the same style as ``uri``.

    ``join("s3://b/models", "abalone", "1.0")`` is ``"s3://b/models/abalone/1.0"``;
    a local path stays a local path. Slashes at the seams are collapsed.
    """
    scheme, rest = _split(uri)
    segments = [p.strip("/") for p in parts if p.strip("/")]
    if not scheme:
        return os.path.join(rest, *segments)
    return f"{scheme}://" + "/".join([rest.rstrip("/"), *segments])


def _missing(uri: str | os.PathLike[str]) -> FileNotFoundError:
    error = FileNotFoundError(f"no such file or object: {os.fspath(uri)}")
    error.filename = os.fspath(uri)
    return error


def read_bytes(uri: str | os.PathLike[str]) -> bytes:
    """The content of the file or object at ``uri``.

    Raises ``FileNotFoundError`` naming ``uri`` when there is none.
    """
    fs, path = filesystem(uri)
    try:
        return fs.cat_file(path)
    except FileNotFoundError as exc:
        raise _missing(uri) from exc
    except IsADirectoryError as exc:
        raise IsADirectoryError(f"{os.fspath(uri)} is a directory, not a file") from exc


def _write_local_atomically(path: str, data: bytes | Path) -> None:
    """Write ``data`` (bytes, or the content of a local file) to ``path``.

    Written next to the target and renamed into place, so a reader (or a
    crash) never sees a half-written model or config.
    """
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    # Not mkstemp: its files are private (0600); this one keeps the umask.
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.part")
    try:
        with open(tmp, "xb") as handle:
            if isinstance(data, Path):
                with data.open("rb") as source:
                    shutil.copyfileobj(source, handle, 1 << 20)
            else:
                handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_bytes(uri: str | os.PathLike[str], data: bytes) -> None:
    """Store ``data`` at ``uri``, replacing what was there.

    Missing parent folders are created; local writes are atomic.
    """
    fs, path = filesystem(uri)
    if is_remote(uri):
        fs.pipe_file(path, bytes(data))
    else:
        _write_local_atomically(path, bytes(data))


def read_text(uri: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """The content of ``uri`` decoded as text (UTF-8 unless told otherwise)."""
    return read_bytes(uri).decode(encoding)


def write_text(uri: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Store ``text`` at ``uri`` encoded as UTF-8 (unless told otherwise)."""
    write_bytes(uri, text.encode(encoding))


def exists(uri: str | os.PathLike[str]) -> bool:
    """True when ``uri`` is a file or object, or a folder or prefix that holds some."""
    fs, path = filesystem(uri)
    return bool(fs.exists(path))


def _files_under(fs: AbstractFileSystem, path: str) -> list[str]:
    """Relative paths of the files at or under ``path`` ("" for ``path`` itself)."""
    found: dict[str, Any] = fs.find(path, detail=True)
    relative = []
    for name, info in found.items():
        # Zero-byte "folder/" marker objects made by S3 consoles are not files.
        if info.get("type") != "file" or name.endswith("/"):
            continue
        name = name.rstrip("/")
        if name == path:
            relative.append("")
        elif name.startswith(path.rstrip("/") + "/"):
            relative.append(name[len(path.rstrip("/")) + 1 :])
    return sorted(relative)


def list_uris(uri: str | os.PathLike[str], pattern: str | None = None) -> list[str]:
    """The files under the folder or prefix ``uri``, at any depth, as full URIs, sorted.

    ``pattern`` is an fnmatch glob matched against each file's path relative to
    ``uri`` (``*`` also crosses ``/``, so ``"*.json"`` finds JSON files at any
    depth). A ``uri`` that is itself a file lists as itself. A folder or prefix
    that holds nothing gives ``[]``: S3 cannot tell an empty prefix from a
    missing one, so local paths behave the same way.
    """
    fs, path = filesystem(uri)
    text = os.fspath(uri)
    out = []
    for rel in _files_under(fs, path):
        if pattern is not None and not fnmatch.fnmatchcase(rel or os.path.basename(path), pattern):
            continue
        out.append(join(text, rel) if rel else text)
    return out


def _download_file(fs: AbstractFileSystem, remote: str, local: Path) -> None:
    local.parent.mkdir(parents=True, exist_ok=True)
    # Fetch under a temporary name: an interrupted download must not leave a
    # truncated file that a later run takes for a complete one.
    tmp = local.with_name(f".{local.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        fs.get_file(remote, str(tmp))
        os.replace(tmp, local)
    finally:
        if tmp.exists():
            tmp.unlink()


def download(uri: str | os.PathLike[str], local_dir_or_path: str | os.PathLike[str]) -> Path:
    """Copy the file or the whole folder/prefix at ``uri`` to the local disk; returns where it went.

    A file goes to ``local_dir_or_path`` itself, or inside it under its own
    name when that is an existing folder (or ends with ``/``). A folder or
    prefix lands with its contents directly in ``local_dir_or_path``, layout
    kept. Raises ``FileNotFoundError`` naming ``uri`` when there is nothing there.
    """
    fs, path = filesystem(uri)
    target = Path(local_dir_or_path).expanduser()
    try:
        files = _files_under(fs, path)
    except FileNotFoundError as exc:
        raise _missing(uri) from exc
    if not files:
        raise _missing(uri)
    if files == [""]:
        if target.is_dir() or os.fspath(local_dir_or_path).endswith(("/", os.sep)):
            target = target / os.path.basename(path)
        _download_file(fs, path, target)
        return target
    target.mkdir(parents=True, exist_ok=True)
    for rel in files:
        _download_file(fs, f"{path.rstrip('/')}/{rel}", target.joinpath(*rel.split("/")))
    return target


def upload(local_path: str | os.PathLike[str], uri: str | os.PathLike[str]) -> str:
    """Copy a local file to ``uri``, or a local folder's files under the prefix ``uri``; returns ``uri``.

    A folder's layout is kept: ``upload("model/", "s3://b/m")`` stores
    ``model/a/b.bin`` as ``s3://b/m/a/b.bin``. Raises ``FileNotFoundError``
    when ``local_path`` does not exist.
    """
    source = Path(local_path).expanduser()
    if not source.exists():
        raise _missing(local_path)
    fs, path = filesystem(uri)
    remote = is_remote(uri)
    if source.is_file():
        pairs = [(source, path)]
    else:
        pairs = [
            (file, f"{path.rstrip('/')}/{file.relative_to(source).as_posix()}")
            for file in sorted(source.rglob("*"))
            if file.is_file()
        ]
    for file, destination in pairs:
        if remote:
            fs.put_file(str(file), destination)
        else:
            _write_local_atomically(destination, file)
    return os.fspath(uri)
