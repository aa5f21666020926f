"""A submitted model: the files the league keeps, safe unpacking of an uploaded archive, packing a directory.

A submission is a model directory as ``openmaker race train`` writes it. The league keeps only the files a
model is made of (:data:`KEPT`: the DeepRacer ``model_metadata.json``, the policy weights as safetensors,
the model config, the reward function, ``hyperparameters.json``, ``training_metrics.*``); anything else
(checkpoints, plots, editor files) is left out and listed as ignored. ``model_metadata.json`` and the
weights are required.

Archives (``.tar.gz``, ``.tar`` or ``.zip``, told apart by their first bytes) are checked before anything is
written: a member with an absolute path, a ``..`` part, a link or a device file rejects the whole archive,
as do more than :data:`MAX_MEMBERS` members, a duplicate kept name or more than ``max_unpacked`` bytes
unpacked (counted while reading, so a lying header cannot inflate past it). One top-level folder
(``tar czf model.tar.gz model/``) is looked through.
"""

from __future__ import annotations

import fnmatch
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from openmaker.racer.league.errors import LeagueError, TooLarge

KEPT = (
    "model_metadata.json",
    "model_config.json",
    "policy.safetensors",
    "reward_function.py",
    "hyperparameters.json",
    "training_metrics.*",
)
REQUIRED = ("model_metadata.json", "model_config.json", "policy.safetensors")
MAX_MEMBERS = 200
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
_CHUNK = 1 << 16


def kept(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in KEPT)


def _parts(name: str, archive: str) -> tuple[str, ...]:
    """The path parts of an archive member, refusing absolute paths and ``..``."""
    raw = name.replace("\\", "/")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise LeagueError(f"{archive}: member {name!r} has an absolute path; the archive was rejected")
    parts = tuple(p for p in PurePosixPath(raw).parts if p not in ("", "."))
    if ".." in parts:
        raise LeagueError(f"{archive}: member {name!r} points outside the model folder (..); the archive was rejected")
    return parts


def _plan(entries: list[tuple[tuple[str, ...], object]], archive: str) -> tuple[dict[str, object], list[str]]:
    """Which members to keep under which name: looks through one common top-level folder."""
    tops = {parts[0] for parts, _ in entries if parts}
    strip = len(tops) == 1 and all(len(parts) > 1 for parts, _ in entries)
    keep: dict[str, object] = {}
    ignored: list[str] = []
    for parts, member in entries:
        rel = parts[1:] if strip else parts
        name = "/".join(rel)
        if len(rel) == 1 and kept(rel[0]):
            if rel[0] in keep:
                raise LeagueError(f"{archive}: {rel[0]} appears twice; the archive was rejected")
            keep[rel[0]] = member
        else:
            ignored.append(name)
    missing = [name for name in REQUIRED if name not in keep]
    if missing:
        raise LeagueError(f"{archive}: no {', '.join(missing)} at the top of the model folder; a model directory needs {', '.join(REQUIRED)}")
    return keep, sorted(ignored)


def _copy_bounded(source, target: Path, budget: list[int], archive: str) -> None:
    with open(target, "wb") as out:
        while True:
            chunk = source.read(_CHUNK)
            if not chunk:
                break
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise TooLarge(f"{archive}: more than {_mib(budget[1])} unpacked; the archive was rejected")
            out.write(chunk)


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def extract(data: bytes, dest: Path, *, archive: str = "the archive", max_unpacked: int = MAX_UNPACKED_BYTES) -> tuple[list[str], list[str]]:
    """Unpack the kept files of ``data`` (tar.gz, tar or zip bytes) flat into ``dest``; returns (kept, ignored)."""
    dest.mkdir(parents=True, exist_ok=True)
    budget = [max_unpacked, max_unpacked]
    if data[:2] == b"\x1f\x8b" or data[257:262] == b"ustar":
        return _extract_tar(data, dest, archive, budget)
    if data[:4] == b"PK\x03\x04":
        return _extract_zip(data, dest, archive, budget)
    raise LeagueError(f"{archive} is not a .tar.gz, .tar or .zip archive")


def _extract_tar(data: bytes, dest: Path, archive: str, budget: list[int]) -> tuple[list[str], list[str]]:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            entries = []
            for count, member in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise LeagueError(f"{archive}: more than {MAX_MEMBERS} members; the archive was rejected")
                parts = _parts(member.name, archive)
                if member.issym() or member.islnk():
                    raise LeagueError(f"{archive}: member {member.name!r} is a link; the archive was rejected")
                if member.isdir():
                    continue
                if not member.isfile():
                    raise LeagueError(f"{archive}: member {member.name!r} is not a regular file; the archive was rejected")
                if parts:
                    entries.append((parts, member))
            keep, ignored = _plan(entries, archive)
            for name, member in keep.items():
                source = tar.extractfile(member)
                assert source is not None  # a regular file
                _copy_bounded(source, dest / name, budget, archive)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise LeagueError(f"{archive} is not a readable tar archive: {exc}") from None
    return sorted(keep), ignored


def _extract_zip(data: bytes, dest: Path, archive: str, budget: list[int]) -> tuple[list[str], list[str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise LeagueError(f"{archive}: more than {MAX_MEMBERS} members; the archive was rejected")
            entries = []
            for info in infos:
                parts = _parts(info.filename, archive)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise LeagueError(f"{archive}: member {info.filename!r} is a link; the archive was rejected")
                if info.is_dir() or not parts:
                    continue
                entries.append((parts, info))
            keep, ignored = _plan(entries, archive)
            for name, info in keep.items():
                with zf.open(info) as source:
                    _copy_bounded(source, dest / name, budget, archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise LeagueError(f"{archive} is not a readable zip archive: {exc}") from None
    return sorted(keep), ignored


def copy_directory(source: Path, dest: Path, *, max_unpacked: int = MAX_UNPACKED_BYTES) -> tuple[list[str], list[str]]:
    """Copy the kept files of the model directory ``source`` into ``dest``; returns (kept, ignored)."""
    source = Path(source)
    if not source.is_dir():
        raise LeagueError(f"{source}: not a model directory")
    entries = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_symlink():
            if len(rel.parts) == 1 and kept(rel.name):
                raise LeagueError(f"{path}: is a symbolic link; submit the file itself")
            continue
        if path.is_file():
            entries.append((rel.parts, path))
    keep, ignored = _plan([(("model", *parts), path) for parts, path in entries], str(source))
    dest.mkdir(parents=True, exist_ok=True)
    budget = [max_unpacked, max_unpacked]
    for name, path in keep.items():
        with open(path, "rb") as handle:
            _copy_bounded(handle, dest / name, budget, str(source))
    return sorted(keep), ignored


def pack_directory(source: Path) -> bytes:
    """A .tar.gz of the kept files of the model directory ``source`` (what ``submit --server`` uploads)."""
    source = Path(source)
    if not source.is_dir():
        raise LeagueError(f"{source}: not a model directory")
    names = sorted(p.name for p in source.iterdir() if p.is_file() and not p.is_symlink() and kept(p.name))
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise LeagueError(f"{source}: no {', '.join(missing)}; a model directory needs {', '.join(REQUIRED)}")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in names:
            tar.add(os.fspath(source / name), arcname=name, recursive=False)
    return buffer.getvalue()
