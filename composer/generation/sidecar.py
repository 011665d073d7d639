"""The JSON sidecar beside every generated file: everything needed to make that file again.

`composer generate --from-sidecar FILE.json` reads it back into the same request
and regenerates the piece byte for byte: same model (checked by its hash), same
options, same seed, same batch (a piece depends on the batch it was sampled in).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from composer import __version__
from composer.errors import ComposerError

SIDECAR_VERSION = 1


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sidecar(request, model_path: Path, index: int) -> dict[str, Any]:
    """The sidecar of piece ``index`` (from 1) of the batch ``request`` made with ``model_path``."""
    fields = {
        f.name: getattr(request, f.name) for f in dataclasses.fields(request) if f.name not in ("out", "force", "piece")
    }
    fields["options"] = dataclasses.asdict(request.options)
    fields["constraints"] = {
        key: sorted(value) if isinstance(value, frozenset) else value
        for key, value in dataclasses.asdict(request.constraints).items()
    }
    if request.primer is not None:
        fields["primer"] = {"path": str(Path(request.primer).resolve()), "sha256": file_digest(request.primer)}
    return {
        "sidecar_version": SIDECAR_VERSION,
        "composer": __version__,
        "model": {"path": str(Path(model_path).resolve()), "sha256": file_digest(model_path)},
        "piece": index,
        "request": fields,
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


def request_fields(data: dict[str, Any], model_path: Path) -> dict[str, Any]:
    """The request recorded in sidecar ``data`` as GenerateRequest keyword arguments, after checking that
    ``model_path`` and the primer are the very files it was made with."""
    from composer.generation.sample import Constraints, SamplingOptions

    if file_digest(model_path) != data["model"]["sha256"]:
        raise ComposerError(
            f"{model_path} is not the model this file was made with ({data['model']['path']}); "
            "pass that model with --model"
        )
    fields = dict(data["request"])
    fields["options"] = SamplingOptions(**fields["options"])
    fields["constraints"] = Constraints(
        **{key: frozenset(value) if isinstance(value, list) else value for key, value in fields["constraints"].items()}
    )
    if fields.get("primer") is not None:
        primer = Path(fields["primer"]["path"])
        if not primer.is_file() or file_digest(primer) != fields["primer"]["sha256"]:
            raise ComposerError(f"the primer {primer} is gone or has changed; the piece cannot be made again")
        fields["primer"] = primer
    for key in ("time_signature", "formats"):
        if fields.get(key) is not None:
            fields[key] = tuple(fields[key])
    return fields
