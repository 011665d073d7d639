"""The note-event vocabulary and the pure ``encode``/``decode`` pair over it.

A piece becomes one stream of events in time order, bar by bar (REMI-style, as in
MidiTok), and at every onset it lists all the notes sounding then, highest first:

    Start Bar TimeSig_4/4 Key_2 Part_40 Part_41 Part_42 Pos_0 Tempo_80
    Program_40 Velocity_96 Pitch_72 Duration_6  Program_41 Pitch_64 Duration_24  Program_42 Pitch_48 Duration_12
    Pos_6 Program_40 Pitch_74 Duration_6  Program_41 Hold_64  Program_42 Hold_48
    Bar ...

The piece's instruments are declared once, before its first onset (``Part_p``, in
ascending order): a stream plays only the instruments it declared, so a sampled
piece chooses its instrumentation once, as a real one has it, instead of picking
up a stray horn at any onset.

In the one-key encoding (``one_key``, the default since composer 0.13) every piece is moved to C major or A
minor, the nearest of them that fits its notes, and ``Key_k`` after the first meter says it was moved k semitones
(-5..6): the network learns one scale and where a piece's notes lie in it, instead of twelve transposed copies of
it, and ``decode`` moves the notes back by k, so a sampled ``Key`` chooses the key the piece is written out in.

``Bar`` starts the next bar and ``Pos_k`` places the following events k steps
(of 1/``steps_per_quarter`` beat) into the current bar, so the model always sees
where the beat is instead of adding up time shifts. A ``TimeSig`` right after
``Bar`` sets that bar's meter; one after ``Pos`` starts a new bar there (a meter
change mid-bar, as ``Score.bar_lines`` places bar lines).

At each onset the sounding notes come in descending pitch order (drums last; models
of composer 0.7 and before list them ascending, ``highest_first`` off): the melody
comes first and each part below it is chosen knowing the notes above, as BachBot
orders its frames, so a given melody can be harmonized. A note that starts here is
``Pitch`` and ``Duration``; one still held from before is restated as ``Hold_p``
(BachBot restates held notes the same way), so the model sees the chord it adds to
and the note each voice is holding. ``Program`` and
``Velocity`` are states: they are written only when they change. ``encode``
restates every held note; a held note that an onset's listing passes over ends
there, which is how a sampled stream lets a note go early.

A bar whose events are exactly those of a bar up to ``repeat_bars`` back is written
``Bar Repeat_k`` (k: how many bars back), and decoding plays that bar's events again:
a returning phrase, which a chorale's repeated opening or a song's second verse is,
costs two events a bar instead of eighty, so the network can write one, where a
64-event window could never hold the bar it should copy. The bar must not be the
first (it declares the piece) nor change the meter; the k of the bar before is kept
when it fits, so a repeated phrase reads as one k.

Token ids are laid out in contiguous blocks derived from the config alone
(magenta's note-seq style): the same config always gives the same ids.
``decode(encode(s)) == quantize(s)`` holds for every score; ``decode`` accepts any
token sequence and skips what does not fit the grammar, because a sampler may
produce anything. ``StreamState`` is that grammar, stepped one event at a time,
and both ``decode`` and the sampler walk through it.
"""

from __future__ import annotations

import bisect
import functools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from composer.config import TIME_SIGNATURE_DENOMINATORS, EncodingConfig
from composer.scales import ONE_KEY_SHIFTS, shift_to_one_key
from composer.score import DEFAULT_QPM, DEFAULT_TIME_SIGNATURE, Note, Score, TempoChange, TimeSignature, Track

ENCODING_VERSION = 6  # bump when encode() changes its output for an unchanged config

PAD, START, END = 0, 1, 2
DRUMS = 128  # the instrument number of drum tracks; pitched programs are 0..127

BAR, REPEAT, POSITION, TEMPO, TIME_SIGNATURE, KEY = "Bar", "Repeat", "Pos", "Tempo", "TimeSig", "Key"
PART, PROGRAM, VELOCITY, PITCH, HOLD, DURATION = "Part", "Program", "Velocity", "Pitch", "Hold", "Duration"

# A grid note: (start, end, pitch, velocity) with times in integer steps.
GridNote = tuple[int, int, int, int]


class ListingKey(NamedTuple):
    """Where a note stands in an onset's listing: pitched notes by pitch (highest or lowest first, as the
    config says), then drums; the instrument breaks ties. Keys compare as tuples, in this field order."""

    drums: bool
    rank: int  # the pitch, negated when the highest comes first
    instrument: int

    @property
    def pitch(self) -> int:
        return abs(self.rank)


@dataclass(frozen=True)
class Vocabulary:
    """Every token id of one config with its event kind and value."""

    kinds: tuple[str, ...]
    values: tuple[Any, ...]
    ids: dict[tuple[str, Any], int] = field(repr=False)
    _blocks: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.kinds)

    def name(self, token: int) -> str:
        """Readable form such as ``Pitch_60`` or ``TimeSig_3/4``."""
        kind, value = self.kinds[token], self.values[token]
        if value is None:
            return kind
        if kind in (PART, PROGRAM) and value == DRUMS:
            return f"{kind}_drums"
        if kind == TIME_SIGNATURE:
            return f"{kind}_{value[0]}/{value[1]}"
        return f"{kind}_{value}"

    def block(self, kind: str) -> np.ndarray:
        """The token ids of one kind of event, in order of value (read-only: worked out once, since the sampler's
        guides ask for them at every step)."""
        if kind not in self._blocks:
            block = np.array([token for token, k in enumerate(self.kinds) if k == kind], dtype=np.int64)
            block.setflags(write=False)
            self._blocks[kind] = block
        return self._blocks[kind]


@functools.lru_cache(maxsize=32)
def vocabulary(config: EncodingConfig) -> Vocabulary:
    """The token ids of ``config``: special tokens first, then one block per event kind."""
    blocks: list[tuple[str, Iterable[Any]]] = [
        ("Pad", [None]),
        ("Start", [None]),
        ("End", [None]),
        (BAR, [None]),
        (REPEAT, range(1, config.repeat_bars + 1)),
        (POSITION, range(config.max_bar_steps)),
    ]
    if config.use_tempo:
        blocks.append((TEMPO, tempo_values(config)))
    if config.use_time_signatures:
        blocks.append((TIME_SIGNATURE, time_signature_values(config)))
    if config.one_key:
        blocks.append((KEY, ONE_KEY_SHIFTS))
    if declares_parts(config):
        blocks.append((PART, range(DRUMS + 1)))
    if config.use_programs:
        blocks.append((PROGRAM, range(DRUMS + 1)))
    if config.use_velocity:
        blocks.append((VELOCITY, velocity_values(config)))
    blocks.append((PITCH, range(config.min_pitch, config.max_pitch + 1)))
    if holds_notes(config):
        blocks.append((HOLD, range(config.min_pitch, config.max_pitch + 1)))
    if config.use_duration:
        blocks.append((DURATION, range(1, config.max_duration_steps + 1)))
    pairs = [(kind, value) for kind, values in blocks for value in values]
    kinds, values = zip(*pairs)
    return Vocabulary(kinds, values, {pair: token for token, pair in enumerate(pairs)})


def declares_parts(config: EncodingConfig) -> bool:
    """Instruments are declared where there are several to choose from."""
    return config.declare_parts and config.use_programs


def holds_notes(config: EncodingConfig) -> bool:
    """Held notes are restated only where notes have lengths: without them a note lasts to its next onset."""
    return config.held_notes and config.use_duration


@functools.lru_cache(maxsize=32)
def tempo_values(config: EncodingConfig) -> tuple[int, ...]:
    return tuple(range(config.min_qpm, config.max_qpm + 1, config.qpm_step))


@functools.lru_cache(maxsize=32)
def time_signature_values(config: EncodingConfig) -> tuple[tuple[int, int], ...]:
    """The meters whose bars are a whole number of grid steps (at 12 steps a beat: all of them)."""
    numerators = range(1, config.max_time_signature_numerator + 1)
    return tuple(
        (n, d) for d in TIME_SIGNATURE_DENOMINATORS for n in numerators if (n * 4 * config.steps_per_quarter) % d == 0
    )


def bar_steps(meter: tuple[int, int], config: EncodingConfig) -> int:
    """The length of one bar of ``meter`` in grid steps."""
    return max(1, meter[0] * 4 * config.steps_per_quarter // meter[1])


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
    """True at the Pitch and Hold events of pitched instruments: what transposition may move (never drums)."""
    vocab = vocabulary(config)
    kinds = np.array(vocab.kinds)[tokens]
    is_program = kinds == PROGRAM
    # the index of the latest Program event at each position (-1 before the first one)
    latest = np.maximum.accumulate(np.where(is_program, np.arange(len(tokens)), -1))
    under_drums = (latest >= 0) & (tokens[np.maximum(latest, 0)] == vocab.ids.get((PROGRAM, DRUMS), -1))
    return ((kinds == PITCH) | (kinds == HOLD)) & ~under_drums


def quantize(score: Score, config: EncodingConfig) -> Score:
    """The score as the encoding sees it: on the step grid, binned, cleaned up (and, in one key, moved there and
    back: a note moved past the pitch range comes back an octave in)."""
    grid, shift = _in_one_key(_score_to_grid(score, config), config)
    return _grid_to_score(_moved(grid, -shift, config), config)


def encode(score: Score, config: EncodingConfig) -> list[int]:
    """Token ids of ``score``, from ``Start`` to ``End``."""
    grid, shift = _in_one_key(_score_to_grid(score, config), config)
    return _with_repeats(_grid_to_tokens(grid, shift, config), config)


def decode(tokens: Iterable[int], config: EncodingConfig, meter: tuple[int, int] = DEFAULT_TIME_SIGNATURE) -> Score:
    """A valid score from any token sequence; events that break the grammar are skipped. ``meter`` is the
    one bars are counted in until a time signature says otherwise (for models without meter events)."""
    stream = follow(tokens, config, meter)
    return _grid_to_score(_moved(_normalize(stream.finish(), config), -stream.key, config), config)


def key_shift(score: Score, config: EncodingConfig) -> int:
    """The semitones ``encode`` moves ``score`` by to put it in C major or A minor (0 for an encoding that keeps
    each piece in its own key)."""
    return _in_one_key(_score_to_grid(score, config), config)[1]


def _in_one_key(grid: _Grid, config: EncodingConfig) -> tuple[_Grid, int]:
    """The grid cleaned up and, for a one-key encoding, moved to C major or A minor by the notes' time in each
    pitch class; with the semitones it moved."""
    grid = _normalize(grid, config)
    if not config.one_key:
        return grid, 0
    counts = [0] * 12
    for instrument, notes in grid.notes.items():
        for start, end, pitch, _ in notes if instrument != DRUMS else ():
            counts[pitch % 12] += end - start
    shift = shift_to_one_key(counts) if any(counts) else 0
    return _moved(grid, shift, config), shift


def _moved(grid: _Grid, semitones: int, config: EncodingConfig) -> _Grid:
    """The pitched notes ``semitones`` up, cleaned up; a note pushed past the encoding's pitch range comes back an
    octave (drums stay)."""
    if not semitones:
        return grid
    moved = _Grid(tempos=grid.tempos, time_signatures=grid.time_signatures)
    for instrument, notes in grid.notes.items():
        moved.notes[instrument] = (
            notes
            if instrument == DRUMS
            else [(start, end, _folded(pitch + semitones, config), velocity) for start, end, pitch, velocity in notes]
        )
    return _normalize(moved, config)


def _folded(pitch: int, config: EncodingConfig) -> int:
    """``pitch`` moved by whole octaves into the pitch range (to its edge, for a range narrower than an octave)."""
    if pitch > config.max_pitch:
        pitch -= 12 * -(-(pitch - config.max_pitch) // 12)
    elif pitch < config.min_pitch:
        pitch += 12 * -(-(config.min_pitch - pitch) // 12)
    return min(max(pitch, config.min_pitch), config.max_pitch)


def follow(
    tokens: Iterable[int], config: EncodingConfig, meter: tuple[int, int] = DEFAULT_TIME_SIGNATURE
) -> StreamState:
    """The grammar's state after ``tokens`` (up to an End); unknown ids are skipped."""
    stream = StreamState(config, meter)
    for token in tokens:
        token = int(token)
        if token == END:
            break
        if 0 <= token < len(stream.vocab):
            stream.feed(token)
    return stream


def opening(tokens: Iterable[int], config: EncodingConfig) -> tuple[tuple[int, int], int | None]:
    """(the meter a piece's first onset is in, the first tempo it states, before its first note; None for an
    encoding without tempo events)."""
    stream, meter = StreamState(config), None
    for token in map(int, tokens):
        kind = stream.vocab.kinds[token]
        if kind in (PITCH, HOLD) or token == END or stream.tempo_given:
            break
        if kind == POSITION and meter is None:
            meter = stream.clock.meter
        stream.feed(token)
    return meter or stream.clock.meter, stream.tempo


def opening_key(meter: tuple[int, int], qpm: int | None) -> str:
    """How an opening is written in a model's metadata: "3/4 q=80", or "3/4" for an encoding without tempo (and
    for models of composer 0.10, which recorded the meter alone)."""
    return f"{meter[0]}/{meter[1]}" + ("" if qpm is None else f" q={qpm}")


def parse_opening_key(key: str) -> tuple[tuple[int, int], int | None]:
    meter, _, qpm = key.partition(" q=")
    numerator, denominator = meter.split("/")
    return (int(numerator), int(denominator)), int(qpm) if qpm else None


def openings(pieces: Iterable[Iterable[int]], config: EncodingConfig) -> dict[str, int]:
    """How many of ``pieces`` open in each meter and tempo (``{"3/4 q=80": 12}``): what a model records of its
    training pieces for generate to draw a piece's opening from (the network alone, from a zero state, keeps
    its first training's)."""
    return dict(Counter(opening_key(*opening(piece, config)) for piece in pieces))


def pitch_ranges(pieces: Iterable[Iterable[int]], config: EncodingConfig) -> dict[str, list[int]]:
    """The lowest and the highest note each pitched instrument plays in ``pieces`` (``{"40": [57, 81]}``): what a
    model records of its training music so that generate keeps each part where an instrument of it can play. The
    network alone, a note at a time, now and then puts a violin far below its lowest string."""
    ranges: dict[str, list[int]] = {}
    for piece in pieces:
        stream = StreamState(config)
        for token in map(int, piece):
            stream.feed(token)
            if stream.vocab.kinds[token] == PITCH and stream.instrument != DRUMS:
                pitch = stream.vocab.values[token] - stream.key  # as played
                low, high = ranges.setdefault(str(stream.instrument), [pitch, pitch])
                ranges[str(stream.instrument)] = [min(low, pitch), max(high, pitch)]
    return ranges


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
                _grid_note(note, config) for note in track.notes if config.min_pitch <= note.pitch <= config.max_pitch
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


def listing_key(pitch: int, instrument: int, config: EncodingConfig) -> ListingKey:
    """The order of the notes listed at one onset: highest pitch first (each note is predicted knowing the
    notes above it, the melody first) or lowest first, drums after every pitched note."""
    return ListingKey(instrument == DRUMS, -pitch if config.highest_first else pitch, instrument)


def _grid_to_tokens(grid: _Grid, shift: int, config: EncodingConfig) -> list[int]:
    """Walks the steps where something happens, through the same StreamState that decoding uses, so that
    the bars and positions written are exactly those the decoder will count."""
    writer = _Writer(config)
    onsets: dict[int, list[tuple[int, GridNote]]] = defaultdict(list)
    for instrument, notes in grid.notes.items():
        for note in notes:
            onsets[note[0]].append((instrument, note))
    tempos, meters = dict(grid.tempos), {step: (n, d) for step, n, d in grid.time_signatures}
    instruments = sorted(instrument for instrument, notes in grid.notes.items() if notes)
    writer.open_piece(meters.pop(0, None), shift, instruments)
    for step in sorted(set(onsets) | set(tempos) | set(meters)):
        writer.move_to(step, meters.get(step), opens=step in tempos or bool(onsets[step]))
        if step in tempos:
            writer.emit(TEMPO, tempos[step])
        if onsets[step]:
            writer.list_notes(onsets[step])
    if not config.use_duration and grid.end:  # the last notes last until the piece's end: time must get there
        writer.move_to(grid.end, None, opens=True)
    return writer.tokens + [END]


def _with_repeats(tokens: list[int], config: EncodingConfig) -> list[int]:
    """``tokens`` (Start to End) with each bar that may be a Repeat written as one (see the module's doc)."""
    if not config.repeat_bars:
        return tokens
    stream, ids = StreamState(config), vocabulary(config).ids
    written, k_before = [], None
    for segment in _bar_segments(tokens[:-1], ids[BAR, None]):
        k = None
        if segment[0] == ids[BAR, None] and len(segment) > 1:
            stream.feed(segment[0])
            matches = [
                back
                for back in range(1, config.repeat_bars + 1)
                if stream.repeatable(back) and stream.bar_events[-1 - back] == segment[1:]
            ]
            k = k_before if k_before in matches else next(iter(matches), None)
            segment = segment[1:] if k is None else [ids[REPEAT, k]]
            written.append(ids[BAR, None])
        for token in segment:
            stream.feed(token)
        written += segment
        k_before = k
    return written + [END]


def _bar_segments(tokens: list[int], bar: int) -> list[list[int]]:
    """``tokens`` cut before every Bar."""
    cuts = [0] + [i for i, token in enumerate(tokens) if token == bar and i > 0] + [len(tokens)]
    return [tokens[start:end] for start, end in zip(cuts, cuts[1:])]


class _Writer:
    """Builds the token list of ``encode`` while a StreamState follows it."""

    def __init__(self, config: EncodingConfig) -> None:
        self.config, self.stream = config, StreamState(config)
        self.ids = self.stream.vocab.ids
        self.tokens = [START]

    def emit(self, kind: str, value: Any = None) -> None:
        token = self.ids[kind, value]
        self.tokens.append(token)
        self.stream.feed(token)

    def open_piece(self, meter: tuple[int, int] | None, shift: int, instruments: list[int]) -> None:
        """The first bar, its meter, how far the piece was moved to its one key, and the instruments it declares."""
        self.emit(BAR)
        if meter is not None:
            self.emit(TIME_SIGNATURE, meter)
        if self.config.one_key:
            self.emit(KEY, shift)
        for instrument in instruments if declares_parts(self.config) else []:
            self.emit(PART, instrument)

    def move_to(self, step: int, meter: tuple[int, int] | None, opens: bool) -> None:
        """Bars up to ``step``, the meter that starts there, and a position when events follow (``opens``)
        and no position has reached the step yet."""
        clock = self.stream.clock
        while clock.next_bar_line() <= step:
            self.emit(BAR)
        reached = False
        if meter is not None:
            if step > clock.bar_start:  # a meter change mid-bar: it starts a new bar right there
                self.emit(POSITION, step - clock.bar_start)
                reached = True
            self.emit(TIME_SIGNATURE, meter)
        if opens and not reached:
            self.emit(POSITION, step - clock.bar_start)

    def list_notes(self, new: list[tuple[int, GridNote]]) -> None:
        """Every note sounding at this onset, in listing order: the new ones in full, the held ones restated."""
        held = [(key, None) for key in self.stream.held]  # empty without restatements
        started = [(listing_key(note[2], instrument, self.config), note) for instrument, note in new]
        for key, note in sorted(held + started, key=lambda item: item[0]):
            pitch, instrument = key.pitch, key.instrument
            if self.config.use_programs and (instrument != self.stream.instrument or not self.stream.program_given):
                self.emit(PROGRAM, instrument)
            if note is None:
                self.emit(HOLD, pitch)
                continue
            if self.config.use_velocity and note[3] != self.stream.velocity:
                self.emit(VELOCITY, note[3])
            self.emit(PITCH, pitch)
            if self.config.use_duration:
                self.emit(DURATION, note[1] - note[0])


@dataclass
class Clock:
    """Where a stream stands in time: the step of its latest onset, the bar it lies in, and the meter."""

    config: EncodingConfig
    meter: tuple[int, int] = DEFAULT_TIME_SIGNATURE
    now: int = 0
    bar_start: int = 0
    bars: int = 0  # Bar events so far; the first one starts bar 1 at step 0

    @property
    def bar_length(self) -> int:
        return bar_steps(self.meter, self.config)

    def next_bar_line(self) -> int:
        return self.bar_start + self.bar_length if self.bars else 0

    def bar(self) -> None:
        self.now = self.bar_start = self.next_bar_line()
        self.bars += 1

    def reaches(self, steps: int) -> bool:
        """Whether ``steps`` into the bar lies within it and not in the past."""
        return steps < self.bar_length and self.bar_start + steps >= self.now

    def position(self, steps: int) -> None:
        self.now = self.bar_start + steps

    def time_signature(self, meter: tuple[int, int]) -> None:
        """A meter from here on; mid-bar it also starts a new bar there."""
        self.meter, self.bar_start = meter, self.now


class StreamState:
    """The event grammar, one event at a time: time, instrument, velocity, the notes sounding, and where
    the current onset's listing stands. ``decode`` collects the notes it completes; the sampler asks it
    what may come next."""

    def __init__(self, config: EncodingConfig, meter: tuple[int, int] = DEFAULT_TIME_SIGNATURE) -> None:
        self.config, self.vocab = config, vocabulary(config)
        self.clock = Clock(config, meter)
        self.grid = _Grid()
        self.instrument = 0  # encode names the instrument before the first note; decode assumes piano if not
        self.program_given = not config.use_programs
        self.velocity: int | None = None if config.use_velocity else config.default_velocity
        # what a note gets when no velocity was given (only a sampler's or a user's stream lacks one)
        self.fallback_velocity = _nearest(config.default_velocity, velocity_values(config))
        self.tempo_given = self.meter_given = False
        self.key = 0  # semitones the piece was moved by to its one key: decode moves its notes back
        self.key_given = not config.one_key
        self.tempo: int | None = None
        self.meter_step = -1  # where the latest time signature was given
        self.in_frame = False  # a Pos has opened an onset that later events belong to
        self.frame_tempo = False
        self.frame_notes = 0  # notes started at this onset
        self.listed: ListingKey | None = None  # the last note listed at this onset
        self.held: list[ListingKey] = []  # pitched notes that started earlier and sound at this onset
        self.held_listed = 0
        self.pitch: int | None = None  # a note that has begun but has no duration yet
        self.pending: str | None = None  # "program" or "velocity": a note must follow
        # (end, start, pitch, instrument, index in grid.notes[instrument]), use_duration only
        self.sounding: list[tuple[int, int, int, int, int]] = []
        self.legato: dict[int, list[tuple[int, int, int]]] = defaultdict(list)  # use_duration off only
        self.parts: list[int] = []  # the instruments the piece declared, ascending (declares_parts only)
        self.opened = False  # an onset has been opened: no more parts may be declared
        self.last_pitches: dict[int, int] = {}  # each pitched instrument's latest note, listed or restated
        self.pitch_class_counts = [0] * 12  # of the pitched notes started so far
        self.bar_events: list[list[int]] = []  # each bar's events after its Bar, a Repeat's as played
        self.bar_meters: list[tuple[int, int]] = []  # the meter each bar started in
        self.repeated = False  # the current bar is a Repeat: it is complete

    @property
    def now(self) -> int:
        return self.clock.now

    def feed(self, token: int) -> None:
        kind, value = self.vocab.kinds[token], self.vocab.values[token]
        if kind == REPEAT:
            self._repeat(value)
            return
        if kind == BAR:
            self.bar_events.append([])
            self.bar_meters.append(self.clock.meter)
        elif self.bar_events and token > END:
            self.bar_events[-1].append(token)
        self.repeated = False
        pitch, self.pitch, self.pending = self.pitch, None, None  # anything unexpected drops an incomplete note
        if kind == BAR:
            self._end_onset()
            self.clock.bar()
            self._close_frame()
        elif kind == POSITION and self.clock.reaches(value):
            self._end_onset()
            self.clock.position(value)
            self._open_frame()
        elif kind == TIME_SIGNATURE and (not self.meter_given or value != self.clock.meter):
            self.clock.time_signature(value)
            self.meter_given, self.meter_step = True, self.now
            self.grid.time_signatures.append((self.now, *value))
        elif kind == KEY and self.awaits_key():
            self.key, self.key_given = value, True
        elif kind == PART and self.declaring() and (not self.parts or value > self.parts[-1]):
            self.parts.append(value)
        elif kind == TEMPO:
            self.tempo_given = self.frame_tempo = True
            self.tempo = value
            self.grid.tempos.append((self.now, value))
        elif kind == PROGRAM:
            self.instrument, self.program_given, self.pending = value, True, "program"
        elif kind == VELOCITY:
            self.velocity, self.pending = value, "velocity"
        elif kind == HOLD:
            self._list(listing_key(value, self.instrument, self.config), restating=True)
            self._remember_pitch(value)
        elif kind == PITCH:
            self._start_note(value)
            self._remember_pitch(value, new=True)
        elif kind == DURATION and pitch is not None:
            self._add_note(pitch, value)

    def repeatable(self, k: int) -> bool:
        """Whether ``Repeat_k`` may come now: first in its bar, naming a bar with events in the same meter that
        is neither the piece's first (it declares the piece) nor one that changes the meter."""
        bars = self.bar_events
        if not 1 <= k <= self.config.repeat_bars or len(bars) - 1 - k < 1 or bars[-1]:
            return False
        source = bars[-1 - k]
        return (
            bool(source)
            and self.bar_meters[-1 - k] == self.clock.meter
            and all(self.vocab.kinds[token] != TIME_SIGNATURE for token in source)
        )

    def _repeat(self, k: int) -> None:
        if self.repeatable(k):
            for token in list(self.bar_events[-1 - k]):
                self.feed(token)
            self.repeated = True

    def _remember_pitch(self, pitch: int, new: bool = False) -> None:
        if self.instrument != DRUMS:
            self.last_pitches[self.instrument] = pitch
            self.pitch_class_counts[pitch % 12] += new

    def _close_frame(self) -> None:
        self.in_frame, self.listed, self.held, self.held_listed, self.frame_tempo = False, None, [], 0, False
        self.frame_notes = 0

    def declaring(self) -> bool:
        """Whether the piece may still declare its instruments: in its first bar, before its first onset."""
        return declares_parts(self.config) and self.clock.bars == 1 and not self.opened

    def awaits_key(self) -> bool:
        """Whether the piece may still say how far it was moved to its one key: after its meter, before its
        instruments."""
        return not self.key_given and self.clock.bars == 1 and not self.opened and not self.parts

    def _open_frame(self) -> None:
        self._close_frame()
        self.in_frame = self.opened = True
        self.sounding = [note for note in self.sounding if note[0] > self.now]
        if holds_notes(self.config):
            self.held = sorted(
                listing_key(pitch, instrument, self.config)
                for _, start, pitch, instrument, _ in self.sounding
                if start < self.now and instrument != DRUMS
            )

    def _list(self, key: ListingKey, restating: bool = False) -> None:
        """Lists ``key`` at this onset; the held notes it passes over without restating them end here."""
        while self.held_listed < len(self.held) and self.held[self.held_listed] <= key:
            held = self.held[self.held_listed]
            self.held_listed += 1
            if not (restating and held == key):
                self._release(held)
        self.listed = key

    def _end_onset(self) -> None:
        """An onset that lists notes ends the held notes it did not restate (a sampler's way to let go)."""
        if self.listed is not None:
            for held in self.held[self.held_listed :]:
                self._release(held)
            self.held_listed = len(self.held)

    def _release(self, key: ListingKey) -> None:
        pitch, instrument = key.pitch, key.instrument
        for entry in [e for e in self.sounding if e[2] == pitch and e[3] == instrument and e[1] < self.now]:
            self.sounding.remove(entry)
            start, _, _, velocity = self.grid.notes[instrument][entry[4]]
            self.grid.notes[instrument][entry[4]] = (start, self.now, pitch, velocity)

    def _start_note(self, pitch: int) -> None:
        self._list(listing_key(pitch, self.instrument, self.config))
        self.frame_notes += 1
        velocity = self.velocity if self.velocity is not None else self.fallback_velocity
        if self.config.use_duration:
            self.pitch = pitch
        else:
            self._start_legato_note(pitch, velocity)

    def _add_note(self, pitch: int, duration: int) -> None:
        velocity = self.velocity if self.velocity is not None else self.fallback_velocity
        notes = self.grid.notes[self.instrument]
        bisect.insort(self.sounding, (self.now + duration, self.now, pitch, self.instrument, len(notes)))
        notes.append((self.now, self.now + duration, pitch, velocity))

    def _start_legato_note(self, pitch: int, velocity: int) -> None:
        sounding = self.legato[self.instrument]
        for start, old_pitch, old_velocity in [n for n in sounding if n[0] < self.now]:
            self.grid.notes[self.instrument].append((start, self.now, old_pitch, old_velocity))
        sounding[:] = [n for n in sounding if n[0] == self.now] + [(self.now, pitch, velocity)]

    def held_to_list(self) -> list[ListingKey]:
        """The held notes this onset has not listed yet (each may still be restated)."""
        return self.held[self.held_listed :]

    def sounding_pitches(self) -> list[int]:
        """The pitches of the pitched notes sounding now, with a note begun at this event."""
        if self.config.use_duration:
            pitches = [pitch for pitch, _ in self._pitched_sounding()]
        else:
            pitches = [
                pitch for instrument, notes in self.legato.items() if instrument != DRUMS for _, pitch, _ in notes
            ]
        return pitches + ([self.pitch] if self.pitch is not None and self.instrument != DRUMS else [])

    def onset_chord(self) -> list[int]:
        """The pitches of the pitched notes sounding at this onset if it ends now: a held note it lists nothing
        beside, or restates, sounds on; one it passed over ends here."""
        if not self.config.use_duration:
            return self.sounding_pitches()
        released = {(key.pitch, key.instrument) for key in self.held_to_list()} if self.listed is not None else set()
        return [pitch for pitch, instrument in self._pitched_sounding() if (pitch, instrument) not in released]

    def _pitched_sounding(self) -> list[tuple[int, int]]:
        """(pitch, instrument) of the pitched notes with a duration that still sound now."""
        return [
            (pitch, instrument)
            for end, _, pitch, instrument, _ in self.sounding
            if end > self.now and instrument != DRUMS
        ]

    def notes_sounding(self) -> int:
        """Notes sounding at this onset: what a polyphony limit counts."""
        if self.config.use_duration:
            return sum(end > self.now for end, *_ in self.sounding)
        return sum(len(notes) for notes in self.legato.values())

    def finish(self) -> _Grid:
        self._end_onset()
        for instrument, sounding in self.legato.items():
            for start, pitch, velocity in sounding:
                self.grid.notes[instrument].append((start, max(self.now, start + 1), pitch, velocity))
        return self.grid
