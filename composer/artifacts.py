"""The model directory: what `composer train` leaves behind and everything else reads.

    OUT/model.keras             the best model; its zip also holds composer.json (all configs,
                                vocabulary, data summary, metrics, versions): enough to generate
    OUT/metadata.json           the same metadata, for people and scripts
    OUT/state.json              where training stands, for --resume
    OUT/checkpoints/epoch-N.keras  weights and optimizer state after the latest epoch, and the
                                epoch with the lowest validation loss so far (state.json names both)
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
from composer.atomic import write_atomic
from composer.config import EncodingConfig
from composer.errors import ComposerError

DEFAULT_MODEL_DIR = Path("composer-model")
BUNDLED_MODEL = "default.keras"
METADATA_VERSION = 1
METADATA_ENTRY = "composer.json"
MODEL_FILE = "model.keras"
STATE_FILE = "state.json"
CHECKPOINT_DIR = Path("checkpoints")
_OWN_ENTRIES = [MODEL_FILE, "metadata.json", STATE_FILE, "checkpoints", "logs", "loss.png"]


def check_output_dir(out: Path, *, force: bool, resume: bool) -> None:
    """Refuse early, before any work, when ``out`` cannot take this run."""
    if out.exists() and not out.is_dir():
        raise ComposerError(f"{out} is a file; give --out a folder for the model")
    if resume:
        if not (out / STATE_FILE).exists():
            raise ComposerError(f"{out}: no training to resume here (no {STATE_FILE})")
        return
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ComposerError(f"{out} already exists; pass --resume to continue it or --force to replace it")
        if not ((out / STATE_FILE).exists() or (out / MODEL_FILE).exists()):
            raise ComposerError(
                f"{out} is not a composer model directory; refusing to replace it, choose another --out"
            )


def prepare_output_dir(out: Path, *, force: bool, resume: bool) -> None:
    """Make ``out`` ready for a new run (removing only what an earlier run wrote), or check it holds one to resume."""
    check_output_dir(out, force=force, resume=resume)
    if resume:
        return
    try:
        for name in _OWN_ENTRIES:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ComposerError(f"cannot prepare {out}: {error.strerror or error}") from None


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
    bundled = resources.files("composer") / "bundled" / BUNDLED_MODEL
    return Path(str(bundled)), "bundled default"


def save_model(model, path: Path, metadata: dict[str, Any] | None = None) -> None:
    """Save a Keras model atomically, with ``metadata`` inside the .keras zip when given."""
    with tempfile.TemporaryDirectory() as folder:
        staged = Path(folder) / "model.keras"
        model.save(staged)
        if metadata is not None:
            with zipfile.ZipFile(staged, "a") as archive:
                archive.writestr(METADATA_ENTRY, json.dumps(metadata, indent=2))
        write_atomic(path, staged.read_bytes(), overwrite=True)


def remove_stale_checkpoints(out: Path, keep: set[str]) -> None:
    """Delete the checkpoints state.json no longer names, and half-written ones a kill left behind."""
    for path in (out / CHECKPOINT_DIR).iterdir():
        if str(path.relative_to(out)) not in keep:
            path.unlink(missing_ok=True)


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


def model_encoding(path: str | os.PathLike) -> tuple[dict[str, Any], EncodingConfig]:
    """A model's metadata and encoding, refused when this composer would read its events differently."""
    from composer.events import token_names, vocabulary  # numpy: kept out of `composer --help`

    metadata = read_metadata(path)
    if "max_shift_quarters" in metadata.get("encoding", {}):  # the time-shift encoding of composer 0.1-0.2
        raise ComposerError(
            f"{path}: made with composer {metadata.get('versions', {}).get('composer', '< 0.3')}'s "
            "time-shift encoding, which this composer no longer reads; train the model again "
            "(or generate with composer 0.2)"
        )
    try:
        # models saved before pedal folding existed were trained on the written key-up times, and before
        # composer 0.4 no piece declared its instruments
        config = EncodingConfig.from_dict({"sustain_pedal": False, "declare_parts": False, **metadata["encoding"]})
    except (KeyError, TypeError):
        raise ComposerError(f"{path}: the model's metadata has no usable encoding settings") from None
    if metadata.get("vocabulary") != token_names(range(len(vocabulary(config))), config):
        trained_with = metadata.get("versions", {}).get("composer", "an unknown version")
        raise ComposerError(
            f"{path}: this composer builds a different event vocabulary for the model's settings than the one it "
            f"was trained with (composer {trained_with}); use that composer version, or train the model again"
        )
    return metadata, config


def package_versions() -> dict[str, str]:
    """Versions that decide whether a model can be reproduced."""
    versions = {"composer": __version__, "python": platform.python_version()}
    for package in ("tensorflow", "keras", "numpy", "pretty_midi", "mido"):
        try:
            versions[package] = package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
