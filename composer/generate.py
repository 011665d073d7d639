"""`composer generate`: pick a model, sample event sequences, write DAW-ready MIDI files.

Reads only the .keras file (weights with h5py, settings from its composer.json),
never TensorFlow, so a file is ready in well under a second.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from composer import artifacts
from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import PROGRAM, SHIFT, START, TEMPO, TIME_SIGNATURE, decode, encode, tempo_values, vocabulary
from composer.inference import NumpyLSTM
from composer.midi_io import read_score, write_score
from composer.sample import Constraints, SamplingOptions, generate
from composer.score import Score, TempoChange, TimeSignature


@dataclass(frozen=True)
class GenerateRequest:
    """Everything `composer generate` was asked to do (the model is passed beside it, already resolved)."""

    num_events: int = 200
    num_bars: int | None = None  # instead of num_events: stop on the bar line after this many bars
    num_files: int = 1
    out: Path = Path(".")
    seed: int = 0
    options: SamplingOptions = SamplingOptions()
    constraints: Constraints = Constraints()
    primer: Path | None = None
    include_primer: bool = True
    qpm: float | None = None
    time_signature: tuple[int, int] | None = None
    force: bool = False
    formats: tuple[str, ...] = ("mid",)  # also "musicxml" and "png" (a piano roll)


def generate_files(request: GenerateRequest, model_path: Path) -> list[Path]:
    """Sample ``num_files`` pieces in one batch and write each one; returns the paths written."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    paths = []
    for index, score in enumerate(generate_scores(request, model_path), start=1):
        paths += _write(score, _output_path(request, model_path, stamp, index), request)
    return paths


def generate_scores(request: GenerateRequest, model_path: Path) -> list[Score]:
    """Sample ``num_files`` pieces in one batch, as finished scores (primer, tempo and meter applied)."""
    metadata, config = artifacts.model_encoding(model_path)
    network = NumpyLSTM.load(model_path)
    if network.vocab_size != len(vocabulary(config)):
        raise ComposerError(f"{model_path}: the network's vocabulary does not match its encoding settings")
    primer, primer_steps = _primer_tokens(request, config)
    pieces = generate(
        network, config, num_events=None if request.num_bars else request.num_events, num_bars=request.num_bars,
        primer=primer, batch=request.num_files, options=request.options,
        constraints=_model_constraints(request, metadata), seed=request.seed,
    )  # fmt: skip
    scores = []
    for piece in pieces:
        score = decode(piece.tokens, config)
        if request.num_bars:
            score = _before(score, piece.end_step / config.steps_per_quarter)
        scores.append(_finish_score(score, request, primer_steps / config.steps_per_quarter))
    return scores


def _primer_tokens(request: GenerateRequest, config: EncodingConfig) -> tuple[list[int], int]:
    """The events the model continues from, and how many steps of music they hold."""
    ids = vocabulary(config).ids
    if request.primer is not None:
        tokens = encode(read_score(request.primer), config)[:-1]  # continue the piece: drop its End
        return tokens, _steps_in(tokens, config)
    tokens = [START]
    if request.time_signature and config.use_time_signatures:
        if (TIME_SIGNATURE, request.time_signature) not in ids:
            raise ComposerError(f"this model cannot write {request.time_signature[0]}/{request.time_signature[1]} time")
        tokens.append(ids[TIME_SIGNATURE, request.time_signature])
    if request.qpm and config.use_tempo:
        tokens.append(ids[TEMPO, min(tempo_values(config), key=lambda q: abs(q - request.qpm))])
    return tokens, 0


def _steps_in(tokens: list[int], config: EncodingConfig) -> int:
    vocab = vocabulary(config)
    return sum(vocab.values[t] for t in tokens if vocab.kinds[t] == SHIFT)


def _model_constraints(request: GenerateRequest, metadata: dict) -> Constraints:
    """The user's constraints, plus: keep the tempo and meter they set, and leave out instruments,
    tempos and meters the model never saw in training (it cannot have learned them), unless asked for."""
    config = EncodingConfig.from_dict(metadata["encoding"])
    vocab = vocabulary(config)
    never_seen = frozenset(
        token for token, count in enumerate(metadata["event_counts"])
        if count == 0 and vocab.kinds[token] in (PROGRAM, TEMPO, TIME_SIGNATURE)
        and not (request.constraints.programs and vocab.kinds[token] == PROGRAM)
    )  # fmt: skip
    return dataclasses.replace(
        request.constraints,
        fixed_tempo=request.qpm is not None,
        fixed_time_signature=request.time_signature is not None,
        blocked_events=never_seen,
    )


def _finish_score(score: Score, request: GenerateRequest, primer_beats: float) -> Score:
    """Drop the primer if asked, and put the exact tempo and meter the user gave."""
    if not request.include_primer and primer_beats:
        score = _after(score, primer_beats)
    if request.qpm:
        score = dataclasses.replace(score, tempos=(TempoChange(0.0, float(request.qpm)),))
    if request.time_signature:
        score = dataclasses.replace(score, time_signatures=(TimeSignature(0.0, *request.time_signature),))
    return score


def _after(score: Score, beat: float) -> Score:
    """The part of ``score`` from ``beat`` on, moved to start at 0."""
    return _map_notes(score, lambda n: dataclasses.replace(n, start=n.start - beat, end=n.end - beat)
                      if n.start >= beat else None)  # fmt: skip


def _before(score: Score, beat: float) -> Score:
    """The part of ``score`` before ``beat``: notes still sounding there are ended on it."""
    return _map_notes(score, lambda n: dataclasses.replace(n, end=min(n.end, beat)) if n.start < beat else None)


def _map_notes(score: Score, change) -> Score:
    """Apply ``change`` to every note (None drops it); tracks left empty are dropped."""
    tracks = tuple(
        dataclasses.replace(track, notes=tuple(n for n in map(change, track.notes) if n is not None))
        for track in score.tracks
    )
    return dataclasses.replace(score, tracks=tuple(t for t in tracks if t.notes))


def _output_path(request: GenerateRequest, model_path: Path, stamp: str, index: int) -> Path:
    """OUT.mid as given (numbered when several), or an informative unique name inside folder OUT."""
    out = request.out
    if out.suffix.lower() in (".mid", ".midi"):
        return out if request.num_files == 1 else out.with_name(f"{out.stem}-{index}{out.suffix}")
    name = model_path.parent.name if model_path.name == artifacts.MODEL_FILE else model_path.stem
    return out / f"{name}-{stamp}-seed{request.seed}-{index}.mid"


def _write_midi(score: Score, path: Path, request: GenerateRequest) -> Path:
    """A name the user gave is theirs: replaced only with --force. A name we made up is
    never replaced: when another run took it (same seed, same second), the next free variant is used."""
    if request.force or path.parent != request.out:
        return write_score(score, path, overwrite=request.force)
    for variant in range(1, 1000):
        candidate = path if variant == 1 else path.with_name(f"{path.stem}-v{variant}{path.suffix}")
        if not candidate.exists():
            try:
                return write_score(score, candidate)
            except ComposerError:
                if not candidate.exists():
                    raise  # a real write error, not a name taken between the check and the write
    raise ComposerError(f"{path.parent}: too many files named like {path.name}; choose another --out")


def _write(score: Score, path: Path, request: GenerateRequest) -> list[Path]:
    if not score.num_notes:
        raise ComposerError("the model generated no notes; try more events (--length) or another seed")
    path = _write_midi(score, path, request)
    written = [path]
    if "musicxml" in request.formats:
        from composer.midi_io import write_musicxml

        written.append(write_musicxml(score, path.with_suffix(".musicxml"), overwrite=request.force))
    if "png" in request.formats:
        from composer.plot import plot_piano_roll

        written.append(plot_piano_roll(score, path.with_suffix(".png"), overwrite=request.force))
    return written
