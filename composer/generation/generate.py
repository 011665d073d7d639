"""`composer generate`: sample event sequences from a model and finish them as scores (``output`` writes them).

Reads only the .keras file (weights with h5py, settings from its composer.json),
never TensorFlow, so a file is ready in well under a second.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from composer import artifacts
from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import (
    BAR,
    DRUMS,
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
from composer.generation.chords import ChordGuide, cadence_guide, parse_progression
from composer.generation.inference import NumpyLSTM
from composer.generation.melody import Melody, MelodyGuide, read_melody, with_melody_track
from composer.generation.openings import OpeningGuide
from composer.generation.parallels import ParallelsGuide
from composer.generation.request import GenerateRequest
from composer.generation.sample import Constraints, sample_pieces
from composer.midi_io import program_name, read_score
from composer.score import DEFAULT_TIME_SIGNATURE, Score, TimeSignature


def generate_scores(request: GenerateRequest, model_path: Path) -> list[Score]:
    """Sample ``num_files`` pieces in one batch, as finished scores (primer, tempo and meter applied)."""
    metadata, config = artifacts.model_encoding(model_path)
    melody = _melody(request, metadata, config) if request.melody is not None else None
    if request.chords is not None and request.time_signature is None:  # chords are counted in a known meter
        request = dataclasses.replace(request, time_signature=DEFAULT_TIME_SIGNATURE)
    if melody is not None:  # the piece takes the melody's meter and tempo and ends on the bar line after it
        request = dataclasses.replace(
            request, num_bars=melody.bars, time_signature=melody.meter, qpm=request.qpm or melody.qpm, loop=True
        )
    network = NumpyLSTM.load(model_path)
    if network.vocab_size != len(vocabulary(config)):
        raise ComposerError(f"{model_path}: the network's vocabulary does not match its encoding settings")
    prompt, primer = _prompt(request, config)
    constraints = _model_constraints(request, metadata, config)
    # a model without meter events is not told the meter: bars are counted, and written, in it from the start
    untold_meter = request.time_signature if not config.use_time_signatures else None
    pieces = sample_pieces(
        network,
        config,
        num_events=None if request.num_bars else request.num_events,
        num_bars=request.num_bars,
        primer=prompt,
        batch=request.num_files,
        options=request.options,
        constraints=constraints,
        seed=request.seed,
        meter=untold_meter or DEFAULT_TIME_SIGNATURE,
        guides=_guides(request, melody, config, _openings(metadata), constraints),
        ending_bars=request.ending_bars,
    )
    continuation = follow(prompt, config).now / config.steps_per_quarter
    scores = []
    for piece in pieces:
        score = decode(piece.tokens, config, untold_meter or DEFAULT_TIME_SIGNATURE)
        if untold_meter:
            score = dataclasses.replace(score, time_signatures=(TimeSignature(0.0, *untold_meter),))
        if (request.num_bars or request.ending_bars) and not piece.ended:  # on the bar line where it stopped
            score = score.before(piece.end_step / config.steps_per_quarter)
        if primer is not None and not request.include_primer:
            score = _without_primer(score, primer, continuation)
        if request.qpm:
            kept_primer = primer is not None and request.include_primer and config.use_tempo
            # the tempo given, exactly (the model's tempo events only approximate it), where the continuation starts
            score = score.with_tempo_from(continuation if kept_primer else 0.0, request.qpm)
        score = score if melody is None else with_melody_track(score, melody)
        scores.append(score.whole_bars() if request.loop else score)
    return scores


def _openings(metadata: dict) -> dict[str, int]:
    """How the model's training pieces open; models of composer 0.10 recorded their meters alone, older ones
    nothing."""
    return metadata["data"].get("openings", metadata["data"].get("opening_meters", {}))


def _guides(
    request: GenerateRequest, melody: Melody | None, config: EncodingConfig, openings: dict, constraints: Constraints
) -> list:
    """The rules beyond the grammar: the melody to keep, the chords to follow (the melody is exempt) or else the
    melody's closing cadence, then the voice leading; where no primer or melody sets them, each piece's meter and
    tempo drawn from the training pieces' openings."""
    guides: list = [] if melody is None else [MelodyGuide(melody, config)]
    if request.primer is None and melody is None:
        guides.append(OpeningGuide(openings, config, request.seed))
    pitch_range, ranges = (constraints.min_pitch, constraints.max_pitch), constraints.instrument_ranges
    if request.chords is not None:
        progression, exempt = parse_progression(request.chords), None if melody is None else melody.program
        guides.append(ChordGuide(progression, request.time_signature, config, exempt, pitch_range, 0, ranges))
    elif melody is not None and request.cadence:
        guides += [guide for guide in [cadence_guide(melody, config, pitch_range, ranges)] if guide is not None]
    if request.avoid_parallels:
        guides.append(ParallelsGuide(config))
    return guides


def _melody(request: GenerateRequest, metadata: dict, config: EncodingConfig) -> Melody:
    """The melody to harmonize, on an instrument the model played in training (it knows nothing of others)."""
    melody = read_melody(request.melody, request.melody_part, request.melody_program, config)
    counts, ids = metadata["event_counts"], vocabulary(config).ids
    if not counts[ids[PROGRAM, melody.program]]:
        known = [program_name(p) for p in range(DRUMS) if counts[ids[PROGRAM, p]]]
        raise ComposerError(
            f"the model never played a {program_name(melody.program)} in training; play the melody on one it "
            f"knows with --melody-program ({', '.join(known)})"
        )
    if request.constraints.programs is not None and not request.constraints.programs - {melody.program}:
        raise ComposerError("--program leaves no instrument but the melody's own to play the parts under it")
    return melody


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
    return score.before(lines[request.primer_bars]) if request.primer_bars < len(lines) else score


def _model_constraints(request: GenerateRequest, metadata: dict, config: EncodingConfig) -> Constraints:
    """The user's constraints, plus: keep the tempo and meter they set, leave out instruments, tempos and meters
    the model never saw in training (it cannot have learned them), unless asked for, and keep each instrument
    within the pitches it played there."""
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
        instrument_ranges=_instrument_ranges(metadata),
    )


def _instrument_ranges(metadata: dict) -> tuple[tuple[int, int, int], ...]:
    """Where each instrument played in training, widened by the transposition training applied; models of composer
    0.11 and before recorded nothing (their instruments play anywhere)."""
    spread = metadata["training"].get("transpose_semitones", 0)
    ranges = metadata["data"].get("pitch_ranges", {})
    return tuple((int(program), low - spread, high + spread) for program, (low, high) in sorted(ranges.items()))


def _without_primer(score: Score, primer: Score, beat: float) -> Score:
    """The continuation alone, from ``beat`` on, from the bar line at or before it. The primer's own notes go,
    also those of its last chord when it starts where the continuation does."""
    own = {(t.program, t.is_drum, n.start, n.pitch) for t in primer.tracks for n in t.notes}
    return score.from_bar_of(
        beat, lambda track, n: n.start >= beat and (track.program, track.is_drum, n.start, n.pitch) not in own
    )
