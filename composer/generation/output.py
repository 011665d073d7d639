"""The files `composer generate` writes: their names, the MIDI file and what goes beside it (MusicXML, a piano
roll, WAV audio, the JSON sidecar), none of them replacing a file the user made without --force."""

from __future__ import annotations

import json
import time
from pathlib import Path

from composer import __version__, artifacts
from composer.atomic import write_atomic
from composer.errors import ComposerError
from composer.generation.generate import generate_scores
from composer.generation.request import GenerateRequest
from composer.generation.sidecar import sidecar
from composer.midi_io import write_score
from composer.render.audio import find_renderer, render_wav
from composer.score import Score


def generate_files(request: GenerateRequest, model_path: Path) -> list[Path]:
    """Sample ``num_files`` pieces in one batch and write each one; returns the paths written."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    paths = []
    for index, score in enumerate(generate_scores(request, model_path), start=1):
        if request.piece in (None, index):
            written = _write(score, _output_path(request, model_path, stamp, index), request, model_path)
            record = json.dumps(sidecar(request, model_path, index), indent=2).encode()
            paths += written + [write_atomic(written[0].with_suffix(".json"), record, overwrite=request.force)]
    return paths


def _output_path(request: GenerateRequest, model_path: Path, stamp: str, index: int) -> Path:
    """OUT.mid as given (numbered when several), or an informative unique name inside folder OUT."""
    out = request.out
    if out.suffix.lower() in (".mid", ".midi"):
        return out if request.num_files == 1 or request.piece else out.with_name(f"{out.stem}-{index}{out.suffix}")
    return out / f"{_model_name(model_path)}-{stamp}-seed{request.seed}-{index}.mid"


def _model_name(model_path: Path) -> str:
    """What a model is called: its run folder's name, or the file's own for a file named by hand."""
    return model_path.parent.name if model_path.name == artifacts.MODEL_FILE else model_path.stem


def _write_midi(score: Score, path: Path, request: GenerateRequest, companions: list[str]) -> Path:
    """A name the user gave is theirs: replaced only with --force (and it is checked, with the
    files that go beside it, before anything is written). A name we made up is never replaced: when
    another run took it (same seed, same second), the next variant free for every file is used."""
    if request.force or path.parent != request.out:
        for companion in (path.with_suffix(suffix) for suffix in companions):
            if not request.force and companion.exists():
                raise ComposerError(f"{companion} already exists; pass --force to overwrite it")
        return write_score(score, path, overwrite=request.force)
    for variant in range(1, 1000):
        candidate = path if variant == 1 else path.with_name(f"{path.stem}-v{variant}{path.suffix}")
        if not any(candidate.with_suffix(suffix).exists() for suffix in [path.suffix, *companions]):
            try:
                return write_score(score, candidate)
            except ComposerError:
                if not candidate.exists():
                    raise  # a real write error, not a name taken between the check and the write
    raise ComposerError(f"{path.parent}: too many files named like {path.name}; choose another --out")


def _write(score: Score, path: Path, request: GenerateRequest, model_path: Path) -> list[Path]:
    if not score.num_notes:
        raise ComposerError("the model generated no notes; try more events (--length) or another seed")
    renderer = find_renderer() if "wav" in request.formats else None
    path = _write_midi(score, path, request, [".json"] + [f".{f}" for f in request.formats if f != "mid"])
    written = [path]
    if "musicxml" in request.formats:
        from composer.render.notation import write_musicxml

        credit = f"composer {__version__}, model {_model_name(model_path)}"
        written.append(
            write_musicxml(
                score,
                path.with_suffix(".musicxml"),
                title=request.title or path.stem,
                credit=credit,
                overwrite=request.force,
            )
        )
    if "png" in request.formats:
        from composer.render.plot import plot_piano_roll

        written.append(plot_piano_roll(score, path.with_suffix(".png"), overwrite=request.force))
    if renderer is not None:
        written.append(render_wav(renderer, path, path.with_suffix(".wav"), overwrite=request.force))
    return written
