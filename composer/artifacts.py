"""The model directory: what `composer train` leaves behind and everything else reads.

    OUT/model.keras             the best model; its zip also holds composer.json (all configs,
                                vocabulary, data summary, metrics, versions): enough to generate
    OUT/metadata.json           the same metadata, for people and scripts
    OUT/state.json              where training stands, for --resume
    OUT/checkpoints/last.keras  weights and optimizer state after the latest epoch
    OUT/checkpoints/best.keras  the epoch with the lowest validation loss so far
    OUT/logs/                   TensorBoard
    OUT/loss.png                the loss curves

Reading metadata needs no TensorFlow: a .keras file is a zip.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import zipfile
from importlib import metadata as package_metadata
from importlib import resources
from pathlib import Path
from typing import Any

from composer import __version__
from composer.atomic import _default_mode, write_atomic
from composer.errors import ComposerError

DEFAULT_MODEL_DIR = Path("composer-model")
BUNDLED_MODEL = "default.keras"
METADATA_VERSION = 1
METADATA_ENTRY = "composer.json"
MODEL_FILE = "model.keras"
STATE_FILE = "state.json"
LAST_CHECKPOINT = Path("checkpoints") / "last.keras"
BEST_CHECKPOINT = Path("checkpoints") / "best.keras"
_OWN_ENTRIES = [MODEL_FILE, "metadata.json", STATE_FILE, "checkpoints", "logs", "loss.png"]


def prepare_output_dir(out: Path, *, force: bool, resume: bool) -> None:
    """Make ``out`` ready for a new run, or check it holds one to resume; never clobber silently."""
    has_run = (out / STATE_FILE).exists() or (out / MODEL_FILE).exists()
    if resume:
        if not (out / STATE_FILE).exists():
            raise ComposerError(f"{out}: no training to resume here (no {STATE_FILE})")
        return
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ComposerError(f"{out} already exists; pass --resume to continue it or --force to replace it")
        if not has_run:
            raise ComposerError(f"{out} is not a composer model directory; refusing to replace it, choose another --out")
        for name in _OWN_ENTRIES:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def resolve_model(model: Path | None) -> tuple[Path, str]:
    """The model to use and where it came from: --model, else `composer train`'s default output, else bundled."""
    if model is not None:
        path = model / MODEL_FILE if model.is_dir() else model
        if not path.exists():
            raise ComposerError(f"{path}: no such model file")
        return path, "given"
    trained = DEFAULT_MODEL_DIR / MODEL_FILE
    if trained.exists():
        return trained, "trained by `composer train`"
    bundled = resources.files("composer") / "models" / BUNDLED_MODEL
    return Path(str(bundled)), "bundled default"


def save_model(model, path: Path, metadata: dict[str, Any] | None = None) -> None:
    """Save a Keras model atomically, with ``metadata`` inside the .keras zip when given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".keras")
    os.close(handle)
    try:
        model.save(tmp)
        if metadata is not None:
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(METADATA_ENTRY, json.dumps(metadata, indent=2))
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The composer metadata inside a .keras file, checked for a version this code understands."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read(METADATA_ENTRY))
    except FileNotFoundError:
        raise ComposerError(f"{path}: no such model file") from None
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError):
        raise ComposerError(f"{path}: not a composer model (no readable {METADATA_ENTRY} inside)") from None
    version = data.get("metadata_version")
    if version != METADATA_VERSION:
        raise ComposerError(
            f"{path}: model metadata version {version!r}, this composer reads {METADATA_VERSION}; "
            "use the composer version that trained it"
        )
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data, indent=2).encode(), overwrite=True)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ComposerError(f"{path}: cannot read ({error})") from None


def package_versions() -> dict[str, str]:
    """Versions that decide whether a model can be reproduced."""
    versions = {"composer": __version__, "python": platform.python_version()}
    for package in ("tensorflow", "keras", "numpy", "pretty_midi", "mido"):
        try:
            versions[package] = package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
