"""`composer generate`: pick a model, sample event sequences, write DAW-ready MIDI files.

Reads only the .keras file (weights with h5py, settings from its composer.json),
never TensorFlow, so a file is ready in well under a second.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

from composer import __version__, artifacts
from composer.atomic import write_atomic
from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import (
    BAR,
    END,
    PART,
    POSITION,
    PROGRAM,
    START,
    TEMPO,
    TIME_SIGNATURE,
    decode,
    encode,
    follow,
    tempo_values,
    vocabulary,
)
from composer.generation.inference import NumpyLSTM
from composer.generation.sample import Constraints, SamplingOptions, generate
from composer.generation.sidecar import read_sidecar, request_fields, sidecar
from composer.midi_io import read_score, write_score
from composer.render.audio import find_renderer, render_wav
from composer.score import DEFAULT_TIME_SIGNATURE, Score, TempoChange, TimeSignature


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
    primer_bars: int | None = None  # use only the first bars of the primer
    include_primer: bool = True
    loop: bool = False  # end on the bar line after the last onset: the file fills whole bars, for a DAW clip
    qpm: float | None = None
    time_signature: tuple[int, int] | None = None
    force: bool = False
    formats: tuple[str, ...] = ("mid",)  # also "musicxml", "png" (a piano roll) and "wav" (FluidSynth audio)
    title: str | None = None  # of the MusicXML score; the file's name when None
    piece: int | None = None  # write only this piece (from 1) of the batch: remaking one file from its sidecar


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


def request_from_sidecar(path: Path, model_path: Path, **overrides) -> GenerateRequest:
    """The request that made the file ``path`` describes, for its piece only; ``overrides`` such as out, force."""
    data = read_sidecar(path)
    try:
        request = GenerateRequest(**request_fields(data, model_path), piece=data["piece"], **overrides)
    except TypeError as error:
        raise ComposerError(f"{path}: this sidecar's request does not fit this composer ({error})") from None
    if not isinstance(request.piece, int) or not 1 <= request.piece <= request.num_files:
        raise ComposerError(f"{path}: names piece {request.piece!r} of a batch of {request.num_files}")
    return request


def generate_scores(request: GenerateRequest, model_path: Path) -> list[Score]:
    """Sample ``num_files`` pieces in one batch, as finished scores (primer, tempo and meter applied)."""
    metadata, config = artifacts.model_encoding(model_path)
    network = NumpyLSTM.load(model_path)
    if network.vocab_size != len(vocabulary(config)):
        raise ComposerError(f"{model_path}: the network's vocabulary does not match its encoding settings")
    prompt, primer = _prompt(request, config)
    # a model without meter events is not told the meter: bars are counted, and written, in it from the start
    untold_meter = request.time_signature if not config.use_time_signatures else None
    pieces = generate(
        network,
        config,
        num_events=None if request.num_bars else request.num_events,
        num_bars=request.num_bars,
        primer=prompt,
        batch=request.num_files,
        options=request.options,
        constraints=_model_constraints(request, metadata, config),
        seed=request.seed,
        meter=untold_meter or DEFAULT_TIME_SIGNATURE,
    )
    continuation = follow(prompt, config).now / config.steps_per_quarter
    scores = []
    for piece in pieces:
        score = decode(piece.tokens, config, untold_meter or DEFAULT_TIME_SIGNATURE)
        if untold_meter:
            score = dataclasses.replace(score, time_signatures=(TimeSignature(0.0, *untold_meter),))
        if request.num_bars:
            score = _before(score, piece.end_step / config.steps_per_quarter)
        if primer is not None and not request.include_primer:
            score = _without_primer(score, primer, continuation)
        if request.qpm:
            kept_primer = primer is not None and request.include_primer and config.use_tempo
            score = _with_exact_tempo(score, request.qpm, continuation if kept_primer else 0.0)
        scores.append(_whole_bars(score) if request.loop else score)
    return scores


def _prompt(request: GenerateRequest, config: EncodingConfig) -> tuple[list[int], Score | None]:
    """The events the model continues from, and the primer as the model sees it. After a primer they end
    with the tempo and meter the user asked for, so that the model plays on in them; without one, the
    sampler opens the piece with them (see ``_model_constraints``)."""
    ids = vocabulary(config).ids
    if request.time_signature and config.use_time_signatures and (TIME_SIGNATURE, request.time_signature) not in ids:
        raise ComposerError(f"this model cannot write {request.time_signature[0]}/{request.time_signature[1]} time")
    if request.primer is None:
        return [START], None
    tokens = encode(_primer_score(request, config), config)[:-1]
    if request.time_signature and config.use_time_signatures:
        tokens += _to_bar_line_for(request.time_signature, tokens, config) + [
            ids[TIME_SIGNATURE, request.time_signature]
        ]
    if request.qpm and config.use_tempo:
        stream = follow(tokens, config)
        at_onset = [] if stream.in_frame else [ids[POSITION, stream.now - stream.clock.bar_start]]
        tokens += at_onset + [ids[TEMPO, _model_tempo(request.qpm, config)]]
    return tokens, decode(tokens + [END], config)


def _model_tempo(qpm: float, config: EncodingConfig) -> int:
    """The tempo the model knows nearest to ``qpm`` (the file gets ``qpm`` exactly)."""
    return min(tempo_values(config), key=lambda value: abs(value - qpm))


def _to_bar_line_for(meter: tuple[int, int], tokens: list[int], config: EncodingConfig) -> list[int]:
    """A Bar to the primer's next bar line when ``meter`` is new there: a meter changes on a bar line,
    not mid-bar, and the primer's last bar stays whole. Nothing when the primer ends on one, or
    when its meter is already ``meter`` (the continuation then fills its started bar)."""
    clock = follow(tokens, config).clock
    if clock.meter == meter or clock.now == clock.bar_start:
        return []
    return [vocabulary(config).ids[BAR, None]]


def _primer_score(request: GenerateRequest, config: EncodingConfig) -> Score:
    """The primer file, or its first --primer-bars bars."""
    score = read_score(request.primer, sustain_pedal=config.sustain_pedal)
    if request.primer_bars is None:
        return score
    lines = score.bar_lines(score.end_beat)
    return _before(score, lines[request.primer_bars]) if request.primer_bars < len(lines) else score


def _whole_bars(score: Score) -> Score:
    """The score ended on the first bar line after its last onset: notes still sounding there end on it,
    and a rest fills the bar, so a DAW loops it without a gap or an overhang."""
    last_onset = max(note.start for track in score.tracks for note in track.notes)
    return _before(score, score.bar_lines(last_onset + 1e-6)[-1])  # strictly after: a bar for the last note


def _model_constraints(request: GenerateRequest, metadata: dict, config: EncodingConfig) -> Constraints:
    """The user's constraints, plus: keep the tempo and meter they set, and leave out instruments,
    tempos and meters the model never saw in training (it cannot have learned them), unless asked for."""
    vocab = vocabulary(config)
    never_seen = frozenset(
        token
        for token, count in enumerate(metadata["event_counts"])
        if count == 0
        and vocab.kinds[token] in (PART, PROGRAM, TEMPO, TIME_SIGNATURE)
        and not (request.constraints.programs and vocab.kinds[token] in (PART, PROGRAM))
    )
    return dataclasses.replace(
        request.constraints,
        tempo=_model_tempo(request.qpm, config) if request.qpm and config.use_tempo else None,
        time_signature=request.time_signature if config.use_time_signatures else None,
        blocked_events=never_seen,
    )


def _with_exact_tempo(score: Score, qpm: float, start: float) -> Score:
    """The tempo the user gave, exactly (the model's tempo events only approximate --tempo), from
    ``start``, where the continuation begins: a primer kept in the file keeps its own tempo map before it.
    The meter needs no such step: the model was told it, and time-signature events stay blocked."""
    kept = tuple(change for change in score.tempos if change.beat < start)
    return dataclasses.replace(score, tempos=kept + (TempoChange(start, float(qpm)),))


def _without_primer(score: Score, primer: Score, beat: float) -> Score:
    """The continuation alone, from ``beat`` on. The primer's own notes go, also those of its last chord
    when it starts where the continuation does. The rest moves to start at the bar line at or before
    ``beat`` (so bar lines stay where the music has them), with the tempo and meter in force there."""
    origin = max(line for line in score.bar_lines(beat) if line <= beat)
    own = {(t.program, t.is_drum, n.start, n.pitch) for t in primer.tracks for n in t.notes}
    continuation = _map_tracks(
        score,
        lambda track: tuple(
            dataclasses.replace(n, start=n.start - origin, end=n.end - origin)
            for n in track.notes
            if n.start >= beat and (track.program, track.is_drum, n.start, n.pitch) not in own
        ),
    )
    return dataclasses.replace(
        continuation,
        tempos=_shift_changes(score.tempos, origin),
        time_signatures=_shift_changes(score.time_signatures, origin),
        length=max(0.0, score.length - origin),
    )


def _shift_changes(changes: tuple, beat: float) -> tuple:
    """A tempo or meter map from ``beat`` on, moved to start at 0 with the change in force at ``beat``."""
    in_force = [dataclasses.replace(c, beat=0.0) for c in changes if c.beat <= beat][-1:]
    return tuple(in_force + [dataclasses.replace(c, beat=c.beat - beat) for c in changes if c.beat > beat])


def _before(score: Score, beat: float) -> Score:
    """The part of ``score`` before ``beat``, lasting exactly to it: notes still sounding there end on it."""
    cut = _map_tracks(
        score, lambda track: tuple(dataclasses.replace(n, end=min(n.end, beat)) for n in track.notes if n.start < beat)
    )
    return dataclasses.replace(cut, length=beat)


def _map_tracks(score: Score, notes_of) -> Score:
    """Each track with the notes ``notes_of(track)`` gives; tracks left empty are dropped."""
    tracks = (dataclasses.replace(track, notes=notes_of(track)) for track in score.tracks)
    return dataclasses.replace(score, tracks=tuple(t for t in tracks if t.notes))


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
