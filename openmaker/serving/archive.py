"""Model archives: a directory, ``model.tar.gz`` or ``.mar`` (zip) in SageMaker's layout.

Artifacts sit at the top (``model.onnx``, ``model.joblib`` ...), user code in
``code/`` (``code/inference.py`` for script mode), and a small manifest in
``MAR-INF/MANIFEST.json`` as TorchServe writes it::

    {"runtime": "python", "createdOn": "...", "archiverVersion": "openmaker-0.1.0",
     "model": {"modelName": "abalone", "modelVersion": "1.0", "handler": "sagemaker"}}

An archive without a manifest still loads: its handler is inferred from what
it holds (``code/inference.py`` -> script mode, ``*.onnx`` -> onnx, ...).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from openmaker.serving.errors import ArchiveError

MANIFEST_PATH = "MAR-INF/MANIFEST.json"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".mar", ".zip")


@dataclass
class ModelArchive:
    """An unpacked archive: where it lives and what its manifest says."""

    path: Path
    name: str
    version: str
    handler: str
    runtime: str = "python"
    manifest: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | Path, unpack_root: Path, name: str | None = None) -> "ModelArchive":
        """Open a directory or unpack an archive file into ``unpack_root`` and read it."""
        path = Path(path)
        if not path.exists():
            raise ArchiveError(f"model archive {str(path)!r} does not exist")
        model_dir = path if path.is_dir() else _unpack(path, unpack_root)
        manifest = _read_manifest(model_dir)
        model = manifest.get("model", {})
        default_name = path.name
        for suffix in ARCHIVE_SUFFIXES:
            if default_name.endswith(suffix):
                default_name = default_name[: -len(suffix)]
        model_name = name or model.get("modelName") or default_name
        validate_name(model_name)
        handler = model.get("handler") or infer_handler(model_dir)
        return cls(
            path=model_dir,
            name=model_name,
            version=str(model.get("modelVersion") or "1.0"),
            handler=handler,
            runtime=manifest.get("runtime", "python"),
            manifest=manifest,
        )


def validate_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise ArchiveError(
            f"invalid model name {name!r}: it must start with a letter and hold only letters, digits, '_', '-' and '.'"
        )


def infer_handler(model_dir: Path) -> str:
    """Pick a built-in handler from the files an archive holds."""
    if (model_dir / "code" / "inference.py").is_file():
        return "sagemaker"
    files = {p.suffix for p in model_dir.iterdir() if p.is_file()}
    if ".onnx" in files:
        return "onnx"
    if ".pt" in files or ".torchscript" in files:
        return "torchscript"
    if files & {".joblib", ".pkl", ".pickle"}:
        return "sklearn"
    raise ArchiveError(
        f"cannot tell how to serve {model_dir.name!r}: add code/inference.py, a .onnx, .pt or .joblib file, "
        f"or name a handler in {MANIFEST_PATH}"
    )


def _read_manifest(model_dir: Path) -> dict[str, Any]:
    path = model_dir / MANIFEST_PATH
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise ArchiveError(f"{MANIFEST_PATH} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("model", {}), dict):
        raise ArchiveError(f"{MANIFEST_PATH} must be an object with a 'model' object")
    return manifest


def _safe_members(names: list[str], dest: Path) -> None:
    root = dest.resolve()
    for name in names:
        target = (dest / name).resolve()
        if target != root and root not in target.parents:
            raise ArchiveError(f"archive member {name!r} would be written outside the model directory")


def _unpack(path: Path, unpack_root: Path) -> Path:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    dest = unpack_root / f"{path.name}-{digest.hexdigest()[:16]}"
    if (dest / ".unpacked").exists():
        return _single_top_dir(dest)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    try:
        if tarfile.is_tarfile(path):
            with tarfile.open(path) as tar:
                members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
                _safe_members([m.name for m in members], dest)
                tar.extractall(dest, members=members, filter="data")
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                _safe_members(zf.namelist(), dest)
                zf.extractall(dest)
        else:
            raise ArchiveError(f"{path.name!r} is neither a directory, a tar.gz nor a zip (.mar) archive")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise ArchiveError(f"cannot unpack {path.name!r}: {exc}") from exc
    except ArchiveError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    (dest / ".unpacked").touch()
    return _single_top_dir(dest)


def _single_top_dir(dest: Path) -> Path:
    # TorchServe's tgz format nests everything under one <model_name>/ folder.
    entries = [p for p in dest.iterdir() if p.name != ".unpacked"]
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name not in ("code", "MAR-INF"):
        return entries[0]
    return dest


def build_archive(
    source: Path,
    name: str,
    output: Path,
    version: str = "1.0",
    handler: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``source`` (a directory of artifacts and ``code/``) as ``output`` (``.tar.gz`` or a directory)."""
    from openmaker import __version__

    validate_name(name)
    source = Path(source)
    if not source.is_dir():
        raise ArchiveError(f"archive source {str(source)!r} is not a directory")
    handler = handler or infer_handler(source)
    manifest = {
        "createdOn": datetime.now(timezone.utc).strftime("%d/%m/%Y %H:%M:%S"),
        "runtime": "python",
        "archiverVersion": f"openmaker-{__version__}",
        "model": {"modelName": name, "modelVersion": version, "handler": handler, **(extra or {})},
    }
    output = Path(output)
    skip = {"MAR-INF", "__pycache__", ".DS_Store", "__MACOSX"}
    if output.suffix in ("", "/") and not str(output).endswith(ARCHIVE_SUFFIXES):
        shutil.copytree(source, output, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*skip))
        (output / "MAR-INF").mkdir(exist_ok=True)
        (output / MANIFEST_PATH).write_text(json.dumps(manifest, indent=2))
        return output
    output.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(output, "w:gz") as tar:
        for item in sorted(source.iterdir()):
            if item.name not in skip:
                tar.add(item, arcname=item.name, filter=lambda ti: None if Path(ti.name).name in skip else ti)
        data = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo(MANIFEST_PATH)
        info.size = len(data)
        import io

        tar.addfile(info, io.BytesIO(data))
    return output
