"""Crash-safe file writes: a reader sees the old file or the new one, never half of one; and the JSON records
written that way read back with a clear error."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from composer.errors import ComposerError


def write_atomic(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder.

    Without ``overwrite`` an existing file is never replaced, even when another
    process creates it between our check and our write (the final step is a hard
    link, which fails atomically if the name is taken).
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise ComposerError(f"{path} already exists; pass --force to overwrite it")
    folder = path.parent
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", delete=False) as handle:
            tmp = Path(handle.name)
            os.chmod(tmp, _default_mode())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _publish(tmp, path, overwrite)
        _sync_folder(folder)
    except OSError as error:
        raise ComposerError(f"cannot write {path}: {error.strerror or error}") from error
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return path


def _publish(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ComposerError(f"{path} already exists; pass --force to overwrite it") from None
    except OSError:  # file systems without hard links: best effort
        if path.exists():
            raise ComposerError(f"{path} already exists; pass --force to overwrite it") from None
        os.replace(tmp, path)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself survive a power cut, not only the file's bytes (where the OS allows it)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows, where folders cannot be opened
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse fsync on a folder; the rename has happened
        pass
    finally:
        os.close(descriptor)


def _default_mode() -> int:
    """The permissions a plain open() would give (temporary files start private)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replaces ``path`` whole: for records the program owns (a run's state, a manifest)."""
    write_atomic(path, json.dumps(data, indent=2).encode(), overwrite=True)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ComposerError(f"{path}: cannot read ({error})") from None
