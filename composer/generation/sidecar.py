"""The JSON sidecar beside every generated file: everything needed to make that file again.

`composer generate --from-sidecar FILE.json` reads it back into the same request
and regenerates the piece byte for byte: same model (checked by its hash), same
options, same seed, same batch (a piece depends on the batch it was sampled in).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from composer import __version__
from composer.errors import ComposerError
from composer.generation.request import INPUT_FILES, GenerateRequest

SIDECAR_VERSION = 1


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sidecar(request: GenerateRequest, model_path: Path, index: int) -> dict[str, Any]:
    """The sidecar of piece ``index`` (from 1) of the batch ``request`` made with ``model_path``."""
    record = request.to_record()
    for name in INPUT_FILES:
        if getattr(request, name) is not None:
            record[name] = {"path": record[name], "sha256": file_digest(getattr(request, name))}
    return {
        "sidecar_version": SIDECAR_VERSION,
        "composer": __version__,
        "model": {"path": str(Path(model_path).resolve()), "sha256": file_digest(model_path)},
        "piece": index,
        "request": record,
    }


def read_sidecar(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ComposerError(f"{path}: cannot read this sidecar ({error})") from None
    if not isinstance(data, dict) or data.get("sidecar_version") != SIDECAR_VERSION:
        raise ComposerError(
            f"{path}: not a composer sidecar this version can read (sidecar_version "
            f"{data.get('sidecar_version') if isinstance(data, dict) else None!r})"
        )
    model, request = data.get("model"), data.get("request")
    if not (
        isinstance(model, dict)
        and {"path", "sha256"} <= model.keys()
        and isinstance(request, dict)
        and isinstance(request.get("options"), dict)
        and isinstance(request.get("constraints"), dict)
    ):
        raise ComposerError(f"{path}: this sidecar lacks the model or the request it records")
    if data.get("composer") != __version__:
        raise ComposerError(
            f"{path}: made by composer {data.get('composer')}, this is {__version__}; the sampler "
            "may differ, so the file cannot be promised again byte for byte: use that version"
        )
    return data


def request_from_sidecar(path: Path, model_path: Path, **where) -> GenerateRequest:
    """The request that made the file sidecar ``path`` describes, for its piece only, once ``model_path`` and the
    primer or melody are checked to be the very files it was made with; ``where`` its files go now (out, force)."""
    data = read_sidecar(path)
    if file_digest(model_path) != data["model"]["sha256"]:
        raise ComposerError(
            f"{model_path} is not the model this file was made with ({data['model']['path']}); "
            "pass that model with --model"
        )
    record = dict(data["request"])
    for name in INPUT_FILES:
        if record.get(name) is not None:
            source = Path(record[name]["path"])
            if not source.is_file() or file_digest(source) != record[name]["sha256"]:
                raise ComposerError(f"the {name} {source} is gone or has changed; the piece cannot be made again")
            record[name] = source
    try:
        request = GenerateRequest.from_record(record, piece=data["piece"], **where)
    except TypeError as error:
        raise ComposerError(f"{path}: this sidecar's request does not fit this composer ({error})") from None
    if not isinstance(request.piece, int) or not 1 <= request.piece <= request.num_files:
        raise ComposerError(f"{path}: names piece {request.piece!r} of a batch of {request.num_files}")
    return request
