"""The note-event vocabulary and the pure ``encode``/``decode`` pair over it.

A piece becomes one stream of events in time order (TSD-style, as in MidiTok):

    Start TimeSig_4/4 Tempo_80 Program_40 Pitch_67 Velocity_95 Duration_12
    Program_41 Pitch_62 Velocity_95 Duration_12 Shift_12 ... End

Time moves only by ``Shift`` events counted in steps of 1/``steps_per_quarter``
beat, so every note sits on the grid a DAW shows. A note carries its own length
(``Duration``), so no sequence can leave a note hanging. ``Program`` switches the
instrument for the notes that follow. Token ids are laid out in contiguous blocks
derived from the config alone (magenta's note-seq style): nothing is learned or
pickled, and the same config always gives the same ids.

``decode(encode(s)) == quantize(s)`` holds for every score; ``decode`` accepts any
token sequence and skips what does not fit the grammar, because a sampler may
produce anything.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from composer.config import TIME_SIGNATURE_DENOMINATORS, EncodingConfig
from composer.score import DEFAULT_QPM, DEFAULT_TIME_SIGNATURE, Note, Score, TempoChange, TimeSignature, Track

ENCODING_VERSION = 2  # bump when encode() changes its output for an unchanged config

PAD, START, END = 0, 1, 2
DRUMS = 128  # the instrument number of drum tracks; pitched programs are 0..127

SHIFT, TEMPO, TIME_SIGNATURE = "Shift", "Tempo", "TimeSig"
PROGRAM, PITCH, VELOCITY, DURATION = "Program", "Pitch", "Velocity", "Duration"

# A grid note: (start, end, pitch, velocity) with times in integer steps.
GridNote = tuple[int, int, int, int]


@dataclass(frozen=True)
class Vocabulary:
    """Every token id of one config with its event kind and value."""

    kinds: tuple[str, ...]
    values: tuple[Any, ...]
    ids: dict[tuple[str, Any], int] = field(repr=False)

    def __len__(self) -> int:
        return len(self.kinds)

    def name(self, token: int) -> str:
        """Readable form such as ``Pitch_60`` or ``TimeSig_3/4``."""
        kind, value = self.kinds[token], self.values[token]
        if value is None:
            return kind
        if kind == PROGRAM and value == DRUMS:
            return f"{PROGRAM}_drums"
        if kind == TIME_SIGNATURE:
            return f"{kind}_{value[0]}/{value[1]}"
        return f"{kind}_{value}"


@functools.lru_cache(maxsize=32)
def vocabulary(config: EncodingConfig) -> Vocabulary:
    """The token ids of ``config``: special tokens first, then one block per event kind."""
    blocks: list[tuple[str, Iterable[Any]]] = [
        ("Pad", [None]),
        ("Start", [None]),
        ("End", [None]),
        (SHIFT, range(1, config.max_shift_steps + 1)),
    ]
    if config.use_tempo:
        blocks.append((TEMPO, tempo_values(config)))
    if config.use_time_signatures:
        blocks.append((TIME_SIGNATURE, time_signature_values(config)))
    if config.use_programs:
        blocks.append((PROGRAM, range(DRUMS + 1)))
    blocks.append((PITCH, range(config.min_pitch, config.max_pitch + 1)))
    if config.use_velocity:
        blocks.append((VELOCITY, velocity_values(config)))
    if config.use_duration:
        blocks.append((DURATION, range(1, config.max_duration_steps + 1)))
    pairs = [(kind, value) for kind, values in blocks for value in values]
    kinds, values = zip(*pairs)
    return Vocabulary(kinds, values, {pair: token for token, pair in enumerate(pairs)})


@functools.lru_cache(maxsize=32)
def tempo_values(config: EncodingConfig) -> tuple[int, ...]:
    return tuple(range(config.min_qpm, config.max_qpm + 1, config.qpm_step))


def time_signature_values(config: EncodingConfig) -> tuple[tuple[int, int], ...]:
    numerators = range(1, config.max_time_signature_numerator + 1)
    return tuple((n, d) for d in TIME_SIGNATURE_DENOMINATORS for n in numerators)


@functools.lru_cache(maxsize=32)
def velocity_values(config: EncodingConfig) -> tuple[int, ...]:
    """Levels spread evenly up to 127; for 32 levels they are 4, 8, ..., 124, 127, which include
    the velocities sequencers write most (64, 80, 96, 100, 127)."""
    bins = config.num_velocity_bins
    return tuple(sorted({min(127, round(128 * (i + 1) / bins)) for i in range(bins)}))


def token_names(tokens: Iterable[int], config: EncodingConfig) -> list[str]:
    vocab = vocabulary(config)
    return [vocab.name(t) if 0 <= t < len(vocab) else f"Unknown_{t}" for t in tokens]


def pitched_note_mask(tokens: np.ndarray, config: EncodingConfig) -> np.ndarray:
    """True at the Pitch events of pitched instruments: what transposition may move (never drums)."""
    vocab = vocabulary(config)
    kinds = np.array(vocab.kinds)[tokens]
    is_program = kinds == PROGRAM
    # the index of the latest Program event at each position (-1 before the first one)
    latest = np.maximum.accumulate(np.where(is_program, np.arange(len(tokens)), -1))
    under_drums = (latest >= 0) & (tokens[np.maximum(latest, 0)] == vocab.ids.get((PROGRAM, DRUMS), -1))
    return (kinds == PITCH) & ~under_drums


def quantize(score: Score, config: EncodingConfig) -> Score:
    """The score as the encoding sees it: on the step grid, binned, cleaned up."""
    return _grid_to_score(_normalize(_score_to_grid(score, config), config), config)


def encode(score: Score, config: EncodingConfig) -> list[int]:
    """Token ids of ``score``, from ``Start`` to ``End``."""
    grid = _normalize(_score_to_grid(score, config), config)
    return _grid_to_tokens(grid, config)


def decode(tokens: Iterable[int], config: EncodingConfig) -> Score:
    """A valid score from any token sequence; events that break the grammar are skipped."""
    decoder = _Decoder(config)
    vocab = vocabulary(config)
    for token in tokens:
        token = int(token)
        if token == END:
            break
        if 0 <= token < len(vocab):
            decoder.feed(vocab.kinds[token], vocab.values[token])
    return _grid_to_score(_normalize(decoder.finish(), config), config)


@dataclass
class _Grid:
    """A score in integer steps, notes grouped by instrument (program, or DRUMS)."""

    notes: dict[int, list[GridNote]] = field(default_factory=lambda: defaultdict(list))
    tempos: list[tuple[int, int]] = field(default_factory=list)  # (step, qpm)
    time_signatures: list[tuple[int, int, int]] = field(default_factory=list)  # (step, n, d)

    @property
    def end(self) -> int:
        return max((note[1] for notes in self.notes.values() for note in notes), default=0)


def _score_to_grid(score: Score, config: EncodingConfig) -> _Grid:
    grid = _Grid()
    spq = config.steps_per_quarter
    for track in score.tracks:
        instrument = _instrument(track, config)
        if instrument is not None:
            grid.notes[instrument] += [
                _grid_note(note, config)
                for note in track.notes
                if config.min_pitch <= note.pitch <= config.max_pitch
            ]
    if config.use_tempo:
        grid.tempos = [(round(t.beat * spq), _nearest(t.qpm, tempo_values(config))) for t in score.tempos]
    if config.use_time_signatures:
        allowed = set(time_signature_values(config))
        grid.time_signatures = [
            (round(ts.beat * spq), ts.numerator, ts.denominator)
            for ts in score.time_signatures
            if (ts.numerator, ts.denominator) in allowed
        ]
    return grid


def _instrument(track: Track, config: EncodingConfig) -> int | None:
    if track.is_drum:
        return DRUMS if config.use_programs else None
    return track.program if config.use_programs else 0


def _grid_note(note: Note, config: EncodingConfig) -> GridNote:
    start = max(0, round(note.start * config.steps_per_quarter))
    end = max(start + 1, round(note.end * config.steps_per_quarter))
    if config.use_duration:
        end = min(end, start + config.max_duration_steps)
    velocity = _nearest(note.velocity, velocity_values(config)) if config.use_velocity else config.default_velocity
    return start, end, note.pitch, velocity


@functools.lru_cache(maxsize=4096)  # called per note: a piece of 100,000 notes took seconds without it
def _nearest(value: float, choices: tuple[int, ...]) -> int:
    return min(choices, key=lambda choice: (abs(choice - value), choice))


def _normalize(grid: _Grid, config: EncodingConfig) -> _Grid:
    """Resolve what a player could not: same-pitch overlaps, redundant or trailing changes.

    MIDI's implicit 120 qpm and 4/4 become explicit, so every piece states its meter and tempo.
    """
    end = grid.end
    clean = _Grid()
    for instrument, notes in grid.notes.items():
        if notes:
            clean.notes[instrument] = _resolve_overlaps(notes) if config.use_duration else _legato(notes, end)
    end = clean.end  # cutting overlaps can end the piece earlier
    if config.use_tempo:
        clean.tempos = _clean_changes([(0, _nearest(DEFAULT_QPM, tempo_values(config)))] + grid.tempos, end)
    if config.use_time_signatures:
        default = [(0, *DEFAULT_TIME_SIGNATURE)] if DEFAULT_TIME_SIGNATURE in time_signature_values(config) else []
        clean.time_signatures = _clean_changes(default + grid.time_signatures, end)
    return clean


def _resolve_overlaps(notes: list[GridNote]) -> list[GridNote]:
    """One note per onset and pitch (the longest, then loudest); a repeat cuts the one before."""
    by_pitch: dict[int, list[GridNote]] = defaultdict(list)
    for note in sorted(notes, key=lambda n: (n[0], -n[1], -n[3])):
        same_pitch = by_pitch[note[2]]
        if same_pitch and same_pitch[-1][0] == note[0]:
            continue
        if same_pitch and same_pitch[-1][1] > note[0]:
            start, _, pitch, velocity = same_pitch[-1]
            same_pitch[-1] = (start, note[0], pitch, velocity)
        same_pitch.append(note)
    return sorted((note for group in by_pitch.values() for note in group), key=lambda n: (n[0], n[2]))


def _legato(notes: list[GridNote], end: int) -> list[GridNote]:
    """Without durations, a note lasts until its instrument's next onset (or the piece's end)."""
    onsets = sorted({note[0] for note in notes})
    next_onset = dict(zip(onsets, onsets[1:] + [end]))
    loudest: dict[tuple[int, int], int] = {}
    for start, _, pitch, velocity in notes:
        loudest[start, pitch] = max(velocity, loudest.get((start, pitch), 0))
    return [(start, next_onset[start], pitch, velocity) for (start, pitch), velocity in sorted(loudest.items())]


def _clean_changes(changes: list[tuple], end: int) -> list[tuple]:
    """Last change per step wins; drop changes that repeat the current value or follow the last note."""
    last_per_step = {change[0]: change for change in changes}
    clean: list[tuple] = []
    for step in sorted(last_per_step):
        change = last_per_step[step]
        if step < end and not (clean and clean[-1][1:] == change[1:]):
            clean.append(change)
    return clean


def _grid_to_score(grid: _Grid, config: EncodingConfig) -> Score:
    spq = config.steps_per_quarter
    tracks = tuple(
        Track(
            program=0 if instrument == DRUMS else instrument,
            is_drum=instrument == DRUMS,
            notes=tuple(Note(start / spq, end / spq, pitch, velocity) for start, end, pitch, velocity in notes),
        )
        for instrument, notes in sorted(grid.notes.items())
    )
    tempos = tuple(TempoChange(step / spq, float(qpm)) for step, qpm in grid.tempos)
    signatures = tuple(TimeSignature(step / spq, n, d) for step, n, d in grid.time_signatures)
    return Score(tracks, tempos, signatures)


def _grid_to_tokens(grid: _Grid, config: EncodingConfig) -> list[int]:
    ids = vocabulary(config).ids
    # (step, order, instrument, pitch, payload): signatures, then tempos, then notes by instrument and pitch
    timeline = sorted(
        [(step, 0, 0, 0, ids[TIME_SIGNATURE, (n, d)]) for step, n, d in grid.time_signatures]
        + [(step, 1, 0, 0, ids[TEMPO, qpm]) for step, qpm in grid.tempos]
        + [(note[0], 2, instrument, note[2], note) for instrument, notes in grid.notes.items() for note in notes]
    )
    tokens, now, current_instrument = [START], 0, None
    for step, order, instrument, _, payload in timeline:
        tokens += shift_tokens(step - now, config)
        now = step
        if order < 2:
            tokens.append(payload)
            continue
        if config.use_programs and instrument != current_instrument:
            current_instrument = instrument
            tokens.append(ids[PROGRAM, instrument])
        tokens += _note_tokens(payload, ids, config)
    if not config.use_duration:
        tokens += shift_tokens(grid.end - now, config)
    tokens.append(END)
    return tokens


def _note_tokens(note: GridNote, ids: dict, config: EncodingConfig) -> list[int]:
    start, end, pitch, velocity = note
    tokens = [ids[PITCH, pitch]]
    if config.use_velocity:
        tokens.append(ids[VELOCITY, velocity])
    if config.use_duration:
        tokens.append(ids[DURATION, end - start])
    return tokens


def shift_tokens(steps: int, config: EncodingConfig) -> list[int]:
    """The Shift events that move time on by ``steps`` (longest first)."""
    ids = vocabulary(config).ids
    full, rest = divmod(steps, config.max_shift_steps)
    return [ids[SHIFT, config.max_shift_steps]] * full + ([ids[SHIFT, rest]] if rest else [])


class _Decoder:
    """Reads events one at a time; a note is kept only once all its parts have arrived."""

    def __init__(self, config: EncodingConfig) -> None:
        self.config = config
        self.grid = _Grid()
        self.now = 0
        self.instrument = 0
        self.pitch: int | None = None  # a note that has begun but is not complete yet
        self.velocity: int | None = None
        self.sounding: dict[int, list[tuple[int, int, int]]] = defaultdict(list)  # use_duration off only

    def feed(self, kind: str, value: Any) -> None:
        pending_pitch, pending_velocity = self.pitch, self.velocity
        self.pitch = self.velocity = None  # anything unexpected drops an incomplete note
        if kind == SHIFT:
            self.now += value
        elif kind == TEMPO:
            self.grid.tempos.append((self.now, value))
        elif kind == TIME_SIGNATURE:
            self.grid.time_signatures.append((self.now, *value))
        elif kind == PROGRAM:
            self.instrument = value
        elif kind == PITCH:
            self._note_part(value, None if self.config.use_velocity else self.config.default_velocity)
        elif kind == VELOCITY and pending_pitch is not None and pending_velocity is None:
            self._note_part(pending_pitch, value)
        elif kind == DURATION and pending_pitch is not None and pending_velocity is not None:
            self.grid.notes[self.instrument].append((self.now, self.now + value, pending_pitch, pending_velocity))

    def _note_part(self, pitch: int, velocity: int | None) -> None:
        if velocity is not None and not self.config.use_duration:
            self._start_legato_note(pitch, velocity)
        else:
            self.pitch, self.velocity = pitch, velocity

    def _start_legato_note(self, pitch: int, velocity: int) -> None:
        sounding = self.sounding[self.instrument]
        for start, old_pitch, old_velocity in [n for n in sounding if n[0] < self.now]:
            self.grid.notes[self.instrument].append((start, self.now, old_pitch, old_velocity))
        sounding[:] = [n for n in sounding if n[0] == self.now] + [(self.now, pitch, velocity)]

    def finish(self) -> _Grid:
        for instrument, sounding in self.sounding.items():
            for start, pitch, velocity in sounding:
                self.grid.notes[instrument].append((start, max(self.now, start + 1), pitch, velocity))
        return self.grid
