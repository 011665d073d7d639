"""A melody kept note for note while the model writes the parts under it (`composer harmonize`).

The melody's events are forced into the stream at their times, as BachBot harmonized: the
model lists each onset's notes highest first, so at every onset where the melody sounds its
note comes first (``Program Velocity Pitch Duration`` where it starts, ``Program Hold`` where
it is held) and the model chooses the parts under it knowing it. Everything else is sampled
with the usual options; no other part may play the melody's instrument, no bar may repeat an
earlier one (its melody would be the earlier bar's), and the stream may not move past a
melody onset without listing it. A one-key model writes the piece in the key that puts the
melody in C major or A minor (its ``Key`` event is forced too), and decoding moves it back.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import (
    DURATION,
    HOLD,
    KEY,
    PART,
    PITCH,
    POSITION,
    PROGRAM,
    REPEAT,
    VELOCITY,
    GridNote,
    StreamState,
    bar_steps,
    holds_notes,
    key_shift,
    quantize,
    vocabulary,
)
from composer.generation.sample import require_onset_at
from composer.midi_io import program_name, read_score
from composer.score import DEFAULT_TIME_SIGNATURE, Score, Track


@dataclass(frozen=True)
class Melody:
    """The part to keep: its notes on the model's grid (start, end, pitch, velocity in steps), the instrument
    it is played on, and the meter, tempo and length in bars of the piece it makes."""

    program: int
    notes: tuple[GridNote, ...]
    meter: tuple[int, int]
    qpm: float
    bars: int
    track: Track  # as read, written back unchanged
    key: int = 0  # the semitones a one-key model moves it by (to C major or A minor), where the parts are written


def read_melody(path: Path, part: str | None, program: int | None, config: EncodingConfig) -> Melody:
    """The melody of ``path``: the part named or numbered ``part`` (from 1), or its highest pitched part;
    refused in one line when the model could not keep it exactly."""
    score = read_score(path, sustain_pedal=config.sustain_pedal)
    track = _chosen_part(score, part, path)
    _check_model(config)
    _check_one_voice(track, path)
    meter = _one_meter(score, path)
    alone = Score(tracks=(track,), time_signatures=score.time_signatures)
    key = key_shift(alone, config)
    _check_kept(track, key, config, path)
    heard = quantize(alone, config).tracks[0].notes
    spq = config.steps_per_quarter
    notes = tuple((round(n.start * spq), round(n.end * spq), n.pitch, n.velocity) for n in heard)
    bar = bar_steps(meter, config)
    return Melody(
        program=track.program if program is None else program,
        notes=notes,
        meter=meter,
        qpm=score.tempos[0].qpm if score.tempos else 120.0,
        bars=max(1, math.ceil(track.notes[-1].end * spq / bar - 1e-9)),  # all of its last note, as written
        track=track,
        key=key,
    )


def _chosen_part(score: Score, part: str | None, path: Path) -> Track:
    if part is None:
        pitched = [track for track in score.tracks if not track.is_drum and track.notes]
        if not pitched:
            raise ComposerError(f"{path}: no pitched part to harmonize")
        return max(pitched, key=lambda track: float(np.mean([note.pitch for note in track.notes])))
    names = [track.name or program_name(track.program, track.is_drum) for track in score.tracks]
    if part.isdigit() and 1 <= int(part) <= len(score.tracks):
        matching = [score.tracks[int(part) - 1]]
    else:
        matching = [
            track
            for track, name in zip(score.tracks, names)
            if part.lower() in (name.lower(), program_name(track.program, track.is_drum).lower())
        ]
    if len(matching) != 1 or matching[0].is_drum or not matching[0].notes:
        listed = ", ".join(f"{index}: {name}" for index, name in enumerate(names, 1))
        raise ComposerError(f"{path}: --part {part!r} names no single part with pitched notes; its parts are {listed}")
    return matching[0]


def _check_model(config: EncodingConfig) -> None:
    if not (config.use_programs and config.use_duration and config.highest_first):
        raise ComposerError(
            "this model cannot harmonize: it needs instruments, note lengths and each onset listed highest first "
            "(models of composer 0.8 and later, trained with the default encoding)"
        )


def _check_one_voice(track: Track, path: Path) -> None:
    for before, note in zip(track.notes, track.notes[1:]):
        if note.start < before.end:
            raise ComposerError(
                f"{path}: the melody plays two notes at once at beat {note.start:g}; choose a one-voice --part"
            )


def _one_meter(score: Score, path: Path) -> tuple[int, int]:
    meters = {(ts.numerator, ts.denominator) for ts in score.time_signatures}
    if len(meters) > 1:
        raise ComposerError(f"{path}: the melody changes meter; harmonize keeps one meter throughout")
    return meters.pop() if meters else DEFAULT_TIME_SIGNATURE


def _check_kept(track: Track, key: int, config: EncodingConfig, path: Path) -> None:
    """Refuses a melody the model's vocabulary would change: off its grid or out of its range, where a one-key model
    hears it (``key`` semitones up). (A note longer than the model's longest is heard by the model at that length, as
    it heard such notes in training, and written out whole.)"""
    steps = config.steps_per_quarter
    for note in track.notes:
        if not config.min_pitch <= note.pitch + key <= config.max_pitch:
            raise ComposerError(
                f"{path}: the melody's pitch {note.pitch} at beat {note.start:g} is outside the model's range "
                f"{config.min_pitch}-{config.max_pitch}"
            )
        if any(not math.isclose(beat * steps, round(beat * steps), abs_tol=1e-6) for beat in (note.start, note.end)):
            raise ComposerError(
                f"{path}: the melody's note at beat {note.start:g} falls between the model's grid steps "
                f"(1/{steps} beat); quantize it in your DAW first"
            )


class MelodyGuide:
    """Narrows the sampler's mask so that the stream plays ``melody`` exactly, on top of the parts it adds."""

    def __init__(self, melody: Melody, config: EncodingConfig) -> None:
        self.melody, self.config = melody, config
        self.reserved_program = melody.program  # the grammar never offers its notes: they come from here
        vocab = vocabulary(config)
        self.ids = vocab.ids
        self.starts = [note[0] for note in melody.notes]
        kinds = np.array(vocab.kinds)
        self.repeats = kinds == REPEAT
        self.own_program = self.ids[PROGRAM, melody.program]
        self.parts_after = np.array(
            [kind == PART and value > melody.program for kind, value in zip(vocab.kinds, vocab.values)]
        )
        self.positions = vocab.block(POSITION)
        self.parts = vocab.block(PART)
        self.key = self.ids.get((KEY, melody.key))  # a one-key model writes the parts in the melody's key

    def restrict(self, stream: StreamState, allowed: np.ndarray) -> np.ndarray:
        """``allowed``, the mask of a grammar that reserves the melody's instrument for it, narrowed to what
        keeps the melody; only the melody's own event where one is due."""
        key_due = self.key is not None and stream.awaits_key() and allowed[self.key]
        forced = self.key if key_due else self._forced(stream)
        if forced is not None:
            only = np.zeros_like(allowed)
            only[forced] = True
            return only
        mask = allowed & ~self.repeats
        mask[self.own_program] = False  # the melody's instrument plays the melody alone
        if stream.declaring() and mask[self.parts].any():  # once the grammar asks for parts (after the meter)
            self._declare_the_melody(stream, mask)
        self._keep_the_next_onset(stream, mask)
        return mask

    def _declare_the_melody(self, stream: StreamState, mask: np.ndarray) -> None:
        """The piece declares the melody's instrument in its ascending place, and another to play under it."""
        if self.melody.program not in stream.parts:
            mask &= ~self.parts_after
            mask[self.ids[PART, self.melody.program]] = True
            mask[self.positions] = False
        elif len(stream.parts) == 1:
            mask[self.positions] = False

    def _forced(self, stream: StreamState) -> int | None:
        """The event the melody needs next, at an onset where it sounds and is not yet listed (in the stream's
        key)."""
        if not stream.in_frame or (self.config.use_tempo and not stream.tempo_given):
            return None
        note = self._sounding_at(stream.now)
        if note is None:
            return None
        start, end, pitch, velocity = note
        pitch += stream.key
        if stream.pitch is not None:
            new_melody_note = stream.instrument == self.melody.program and start == stream.now
            return self.ids[DURATION, end - start] if new_melody_note else None
        if stream.listed is not None or (start < stream.now and not holds_notes(self.config)):
            return None
        if stream.instrument != self.melody.program or not stream.program_given:
            return self.own_program
        if start < stream.now:
            return self.ids[HOLD, pitch]
        if self.config.use_velocity and stream.velocity != velocity:
            return self.ids[VELOCITY, velocity]
        return self.ids[PITCH, pitch]

    def _sounding_at(self, step: int) -> GridNote | None:
        index = bisect.bisect_right(self.starts, step) - 1
        if index >= 0 and self.melody.notes[index][1] > step:
            return self.melody.notes[index]
        return None

    def _keep_the_next_onset(self, stream: StreamState, mask: np.ndarray) -> None:
        """No position or bar line beyond the melody's next onset."""
        # in an onset, the melody's note there is listed already
        index = (bisect.bisect_right if stream.in_frame else bisect.bisect_left)(self.starts, stream.now)
        if index < len(self.starts):
            require_onset_at(self.starts[index], stream, mask)


def with_melody_track(score: Score, melody: Melody) -> Score:
    """``score`` with the melody's part replaced by the notes as read (their velocities too), named as it was."""
    tracks = tuple(
        dataclasses.replace(track, notes=melody.track.notes, name=melody.track.name or track.name)
        if track.program == melody.program and not track.is_drum
        else track
        for track in score.tracks
    )
    return dataclasses.replace(score, tracks=tracks)
