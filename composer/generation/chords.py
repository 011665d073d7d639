"""A chord progression the sampler follows as a hard rule (``--chords "Am F C G"`` or ``"C:2 G:2 Am:4"``).

The rule, checked by masking the model's choices like every other constraint:

1. On the strong beats (the beats of the meter: quarters in 4/4 and 3/4, halves in 2/2, dotted quarters in
   6/8; and the first beat of every chord) every sounding pitched note is a tone of the chord there: a note
   starting on one must be a chord tone, and no note may be held into one unless it is a tone of that chord.
2. Between the strong beats a note may be a non-chord tone only a step (one or two semitones) from its part's
   previous note: passing and neighbour notes, approached by step; by rule 1 it gives way to a chord tone on
   the next strong beat.
3. Each chord's first beat has an onset, and its lowest pitched note is the chord's root, or the bass a slash
   chord names (``C/E``).

Chords are given one per bar, or with their length in beats (``chord:beats``), and repeat from the first when
the piece is longer than the progression. Drums, and the melody `composer harmonize` keeps, are left alone. A
one-key model (``EncodingConfig.one_key``) writes the piece moved to C major or A minor: the guide chooses the key
its chords fit best (unless a melody has chosen it), and reads every chord and pitch limit in the stream's key.

`composer harmonize` closes by the same rule (``cadence_guide``): a dominant or subdominant chord on the beat before
the melody's last note, then the tonic as the piece's last chord.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

import numpy as np

from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import (
    BAR,
    DRUMS,
    DURATION,
    HOLD,
    KEY,
    PART,
    PITCH,
    POSITION,
    PROGRAM,
    REPEAT,
    VELOCITY,
    StreamState,
    bar_steps,
    vocabulary,
)
from composer.generation.melody import Melody
from composer.generation.sample import instrument_pitches, require_highest_first, require_onset_at
from composer.scales import closing_key, shift_to_one_key

_NOTE_NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"": 0, "#": 1, "b": -1}
# chord qualities as intervals above the root; several spellings of the usual symbols
_QUALITIES = {
    "": (0, 4, 7),
    "maj": (0, 4, 7),
    "m": (0, 3, 7),
    "min": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "M7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "min7": (0, 3, 7, 10),
    "dim": (0, 3, 6),
    "dim7": (0, 3, 6, 9),
    "m7b5": (0, 3, 6, 10),
    "aug": (0, 4, 8),
    "+": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "sus": (0, 5, 7),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
}
_SYMBOL = re.compile(r"([A-G])([#b]?)([^/]*)(?:/([A-G])([#b]?))?")
STEP = 2  # semitones: a non-chord tone lies at most this far from its part's previous note


@dataclass(frozen=True)
class Chord:
    symbol: str
    tones: frozenset[int]  # pitch classes
    bass: int  # the pitch class of the lowest note on the chord's first beat

    def moved(self, semitones: int) -> Chord:
        """The chord ``semitones`` up: where a one-key model writes it."""
        tones = frozenset((tone + semitones) % 12 for tone in self.tones)
        return Chord(self.symbol, tones, (self.bass + semitones) % 12)


def chord(symbol: str) -> Chord:
    """A chord symbol such as ``Am``, ``G7``, ``Fmaj7``, ``Bdim``, ``Dsus4`` or ``C/E``."""
    match = _SYMBOL.fullmatch(symbol)
    if not match or match.group(3) not in _QUALITIES:
        known = ", ".join(repr(quality) for quality in _QUALITIES if quality)
        raise ComposerError(
            f"--chords: {symbol!r} is not a chord symbol I know (a root C..B with # or b, then nothing or one of "
            f"{known}, and /BASS for a slash chord)"
        )
    root = (_NOTE_NAMES[match.group(1)] + _ACCIDENTALS[match.group(2)]) % 12
    tones = frozenset((root + interval) % 12 for interval in _QUALITIES[match.group(3)])
    bass = root if match.group(4) is None else (_NOTE_NAMES[match.group(4)] + _ACCIDENTALS[match.group(5)]) % 12
    return Chord(symbol, tones | {bass}, bass)


def parse_progression(text: str) -> tuple[tuple[Chord, float | None], ...]:
    """(chord, beats) for each chord of ``text``; beats None: one bar."""
    progression = []
    for item in text.split():
        symbol, _, beats = item.partition(":")
        try:
            length = float(beats) if beats else None
        except ValueError:
            length = -1.0
        if length is not None and not length > 0:
            raise ComposerError(f"--chords: {item!r} needs a positive number of beats after the colon")
        progression.append((chord(symbol), length))
    if not progression:
        raise ComposerError('--chords: give at least one chord, e.g. "Am F C G"')
    return tuple(progression)


def beat_steps(meter: tuple[int, int], config: EncodingConfig) -> int:
    """The meter's beat in grid steps: the denominator's note, or the dotted quarter of a compound meter (6/8,
    9/8, 12/8)."""
    compound = meter[1] == 8 and meter[0] % 3 == 0 and meter[0] > 3
    return bar_steps(meter, config) // (meter[0] // 3) if compound else max(1, 4 * config.steps_per_quarter // meter[1])


@dataclass(frozen=True)
class _Frame:
    """A guide's pitch limits over the pitches of a stream in one key."""

    in_range: np.ndarray
    lowest: int
    instrument_range: dict[int, np.ndarray]
    instrument_lowest: dict[int, int]


class ChordGuide:
    """Narrows the sampler's mask so that the music follows ``progression`` in ``meter`` by the rule above."""

    def __init__(
        self,
        progression: tuple[tuple[Chord, float | None], ...],
        meter: tuple[int, int],
        config: EncodingConfig,
        exempt_program: int | None = None,
        pitch_range: tuple[int, int] = (0, 127),
        start: int = 0,
        instrument_ranges: tuple[tuple[int, int, int], ...] = (),
    ) -> None:
        """``instrument_ranges``: the grammar's (``Constraints.instrument_ranges``), so that no instrument is asked
        to list a chord tone outside its own range."""
        require_highest_first(config, "--chords")
        self.config, self.exempt, self.reserved_program = config, exempt_program, None
        self.start = start  # the step the progression begins on; before it the music is free (a cadence's approach)
        bar = bar_steps(meter, config)
        lengths = [bar if beats is None else round(beats * config.steps_per_quarter) for _, beats in progression]
        if min(lengths) < 1:
            raise ComposerError("--chords: a chord shorter than one step of the model's grid")
        self.chords = [chord for chord, _ in progression]
        self.starts = list(np.cumsum([0, *lengths[:-1]]))
        self.cycle = int(sum(lengths))
        self.beat = beat_steps(meter, config)
        self.bar = bar
        vocab = vocabulary(config)
        self.ids = vocab.ids
        self.pitches = np.arange(config.min_pitch, config.max_pitch + 1)
        self.pitch_range, self.instrument_ranges = pitch_range, instrument_ranges
        self._frames: dict[int, _Frame] = {}
        self.key_token = vocab.ids.get((KEY, self._progression_key(lengths)))  # None: not a one-key model
        self.keys = vocab.block(KEY)
        kinds = (PITCH, HOLD, DURATION, POSITION, BAR, REPEAT, VELOCITY, PROGRAM)
        self.blocks = {kind: vocab.block(kind) for kind in kinds if kind != PROGRAM or config.use_programs}

    def _progression_key(self, lengths: list[int]) -> int:
        """How far a one-key model moves the progression to C major or A minor: by its chord tones' time."""
        counts = [0] * 12
        for chord_here, length in zip(self.chords, lengths):
            for tone in chord_here.tones:
                counts[tone] += length
        return shift_to_one_key(counts)

    def _frame(self, stream: StreamState) -> _Frame:
        """The pitch limits over the pitches of ``stream``, moved ``stream.key`` semitones (a token's pitch sounds that
        much lower); worked out once per key."""
        key = stream.key
        if key not in self._frames:
            sounding = self.pitches - key
            in_range = (sounding >= self.pitch_range[0]) & (sounding <= self.pitch_range[1])
            ranges = instrument_pitches(in_range, sounding, self.instrument_ranges, self.exempt)
            self._frames[key] = _Frame(
                in_range,
                lowest=max(self.config.min_pitch, self.pitch_range[0] + key),
                instrument_range=ranges,
                instrument_lowest={part: int(self.pitches[mask].min()) for part, mask in ranges.items()},
            )
        return self._frames[key]

    def _chord(self, step: int, stream: StreamState) -> Chord:
        """The chord at ``step`` as ``stream`` writes it: in its key."""
        return self.chord_at(step).moved(stream.key)

    def chord_at(self, step: int) -> Chord:
        return self.chords[bisect.bisect_right(self.starts, (step - self.start) % self.cycle) - 1]

    def starts_chord(self, step: int) -> bool:
        return step >= self.start and (step - self.start) % self.cycle in self.starts

    def is_strong(self, step: int) -> bool:
        """Where rule 1 holds: the meter's beats and each chord's first, from the progression's start on."""
        return step >= self.start and (step % self.bar % self.beat == 0 or self.starts_chord(step))

    def next_chord_start(self, step: int, inclusive: bool) -> int:
        if step < self.start:
            return self.start
        offset = (step - self.start) % self.cycle
        index = (bisect.bisect_left if inclusive else bisect.bisect_right)(self.starts, offset)
        return step - offset + (self.starts[index] if index < len(self.starts) else self.cycle)

    def restrict(self, stream: StreamState, mask: np.ndarray) -> np.ndarray:
        mask = mask.copy()
        mask[self.blocks[REPEAT]] = False  # a repeated bar would bring back its old chord
        if self.key_token is not None and stream.awaits_key() and mask[self.keys].sum() > 1:
            mask[self.keys] = False  # moved to C major or A minor, where the network writes (unless a melody has set
            mask[self.key_token] = True  # the key already)
        if stream.pitch is not None:
            if self._follows(stream.instrument):
                self._durations(stream, mask)
            return mask
        if stream.declaring() and not self._basses_reachable(stream):
            mask[self.blocks[POSITION]] = False  # the piece needs parts that can play every chord's bass
            mask[self.ids[PART, DRUMS]] = False  # (not the drums alone, nor a violin under a bass kept to 52-64)
        if stream.in_frame and stream.now >= self.start:
            self._notes(stream, mask)
            if self.starts_chord(stream.now) and not self._bass_listed(stream):
                mask[self.blocks[POSITION]] = mask[self.blocks[BAR]] = False
                if stream.instrument == DRUMS:  # drums come after every pitched note
                    mask[self.blocks[PITCH]] = mask[self.blocks[VELOCITY]] = False
                if self.config.use_programs:
                    mask[self.ids[PROGRAM, DRUMS]] = False
        self._keep_the_next_chord(stream, mask)
        return mask

    def _basses_reachable(self, stream: StreamState) -> bool:
        """Whether the parts declared so far can put each chord's bass lowest: some part that follows the chords has
        that pitch class within its range (in the stream's key)."""
        if not any(self._follows(part) for part in stream.parts):
            return False
        reachable = self._reachable(stream)
        basses = {chord.moved(stream.key).bass for chord in self.chords}
        return all((reachable & (self.pitches % 12 == bass)).any() for bass in basses)

    def _follows(self, instrument: int) -> bool:
        return instrument not in (DRUMS, self.exempt)

    def _notes(self, stream: StreamState, mask: np.ndarray) -> None:
        """New and restated notes by the rule; no velocity or instrument change that would lead to none."""
        current = stream.instrument
        if self._follows(current):
            mask[self.blocks[PITCH]] &= self._new_pitches(stream, current)
            mask[self.blocks[HOLD]] &= self._holdable(stream)
            if not self._can_start(stream, current):
                mask[self.blocks[VELOCITY]] = False
        if self.config.use_programs:
            for instrument in np.flatnonzero(mask[self.blocks[PROGRAM]]):
                if self._follows(instrument) and not self._can_list(stream, int(instrument)):
                    mask[self.blocks[PROGRAM][instrument]] = False

    def _new_pitches(self, stream: StreamState, instrument: int) -> np.ndarray:
        """The pitches a new note of ``instrument`` may take here by the rule (the grammar narrows them further)."""
        now, chord_here = stream.now, self._chord(stream.now, stream)
        allowed = np.isin(self.pitches % 12, sorted(chord_here.tones))
        previous = stream.last_pitches.get(instrument)
        if not self.is_strong(now) and previous is not None:
            allowed |= (np.abs(self.pitches - previous) >= 1) & (np.abs(self.pitches - previous) <= STEP)
        if self.starts_chord(now) and instrument == self._bass_part(stream):
            allowed &= self.pitches % 12 == chord_here.bass  # the bass part takes the root, in its own register
        return allowed & self._restatable(stream)

    def _bass_part(self, stream: StreamState) -> int | None:
        """The part that has played lowest lately (the lowest last pitch): the one to carry the chord's bass, so
        that no extra note has to be added under the parts to put the root lowest."""
        last = {part: pitch for part, pitch in stream.last_pitches.items() if self._follows(part)}
        return min(last, key=last.get) if last else None

    def _restatable(self, stream: StreamState) -> np.ndarray:
        """On a chord's first beat, only notes with the bass still playable at or below them."""
        if not self.starts_chord(stream.now):
            return np.ones(len(self.pitches), bool)
        bass = (self.pitches % 12 == self._chord(stream.now, stream).bass) & (self.pitches >= self._floor(stream))
        return bass | (np.cumsum(bass) - bass > 0)

    def _floor(self, stream: StreamState) -> int:
        """The lowest pitch a part under the rule can take: that of the part whose range reaches lowest (of the parts
        the piece declared; any part, where it declares none)."""
        parts, frame = [part for part in stream.parts if self._follows(part)], self._frame(stream)
        lows = [frame.instrument_lowest[part] for part in parts if part in frame.instrument_lowest]
        return frame.lowest if not lows or len(lows) < len(parts) else min(lows)

    def _holdable(self, stream: StreamState) -> np.ndarray:
        """Held notes that may be restated: restatable, and either a new note already sounds at this onset or one
        can still follow below (an onset of held notes alone is not one encoding writes)."""
        restatable = self._restatable(stream)
        if stream.frame_notes:
            return restatable
        chord_tones = np.isin(self.pitches % 12, sorted(self._chord(stream.now, stream).tones))
        candidates = self._reachable(stream) & chord_tones & restatable
        return restatable & (np.cumsum(candidates) - candidates > 0)

    def _reachable(self, stream: StreamState) -> np.ndarray:
        """The pitches some part under the rule can play, each within its range: of the parts the piece declared
        (any part, where it declares none)."""
        frame = self._frame(stream)
        ranges = [frame.instrument_range.get(part, frame.in_range) for part in stream.parts if self._follows(part)]
        return np.any(ranges, axis=0) if ranges else frame.in_range

    def _can_list(self, stream: StreamState, instrument: int) -> bool:
        """Whether ``instrument`` has a note it may list next: a held one to restate, or a new one below the last
        note listed (the listing's order) within the pitch range."""
        holdable = self._holdable(stream)
        held = [key.pitch for key in stream.held_to_list() if key.instrument == instrument]
        return any(holdable[pitch - self.config.min_pitch] for pitch in held) or self._can_start(stream, instrument)

    def _can_start(self, stream: StreamState, instrument: int) -> bool:
        frame = self._frame(stream)
        later = frame.instrument_range.get(instrument, frame.in_range).copy()
        if stream.listed is not None and not stream.listed.drums:
            later &= (self.pitches < stream.listed.pitch) | (
                (self.pitches == stream.listed.pitch) & (instrument > stream.listed.instrument)
            )
        return bool((later & self._new_pitches(stream, instrument)).any())

    def _durations(self, stream: StreamState, mask: np.ndarray) -> None:
        """A note may not be held into a strong beat where it is not a chord tone."""
        start, pitch_class = stream.now, stream.pitch % 12
        limit = self.config.max_duration_steps
        for step in range(start + 1, start + limit):
            if self.is_strong(step) and pitch_class not in self._chord(step, stream).tones:
                limit = step - start
                break
        mask[self.blocks[DURATION][limit:]] = False

    def _bass_listed(self, stream: StreamState) -> bool:
        listed = stream.listed  # drums come only once the bass is listed (they end the pitched listing)
        return listed is not None and (listed.drums or listed.pitch % 12 == self._chord(stream.now, stream).bass)

    def _keep_the_next_chord(self, stream: StreamState, mask: np.ndarray) -> None:
        """No position or bar line beyond the next chord's first beat: an onset must fall on it."""
        require_onset_at(self.next_chord_start(stream.now, inclusive=not stream.in_frame), stream, mask)


class CadenceGuide(ChordGuide):
    """A progression whose last chord is the piece's last onset, its parts held to the end of the melody's last note
    (a close, not a chord the parts go on moving in)."""

    def __init__(
        self, progression, melody: Melody, config: EncodingConfig, pitch_range, start: int, instrument_ranges=()
    ) -> None:
        super().__init__(progression, melody.meter, config, melody.program, pitch_range, start, instrument_ranges)
        self.last_onset, self.last_note_end = melody.notes[-1][:2]
        tonic = self.chords[-1]
        self.third = next(tone for tone in tonic.tones if (tone - tonic.bass) % 12 in (3, 4))

    def restrict(self, stream: StreamState, mask: np.ndarray) -> np.ndarray:
        mask = super().restrict(stream, mask)
        at_last_onset = stream.now == self.last_onset and stream.in_frame
        if stream.now > self.last_onset or at_last_onset:
            mask[self.blocks[POSITION]] = False  # the last onset is open: no other follows it
        if at_last_onset and self._follows(stream.instrument):
            if stream.pitch is not None:
                held_to = min(self.last_note_end - stream.now, self.config.max_duration_steps)
                mask[self.blocks[DURATION][: held_to - 1]] = False
            else:
                self._keep_the_third(stream, mask)
        return mask

    def _keep_the_third(self, stream: StreamState, mask: np.ndarray) -> None:
        """The last part above the bass to take a note (every other already sounds) takes the chord's third if no
        part has: a close is a triad, not a bare fifth."""
        bass = self._bass_part(stream)
        third = (self.third + stream.key) % 12
        if stream.instrument == bass or third in {pitch % 12 for pitch in stream.sounding_pitches()}:
            return
        sounding = {
            instrument for end, start, _, instrument, _ in stream.sounding if end > stream.now or start == stream.now
        }
        if any(self._follows(part) and part not in sounding | {bass, stream.instrument} for part in stream.parts):
            return
        thirds = mask[self.blocks[PITCH]] & (self.pitches % 12 == third)
        if thirds.any():
            mask[self.blocks[PITCH]] = thirds


def cadence_guide(
    melody: Melody, config: EncodingConfig, pitch_range: tuple[int, int], instrument_ranges=()
) -> CadenceGuide | None:
    """The rule that makes a harmonization close (``composer harmonize --cadence``): under the melody's last note the
    tonic triad, root in the bass, and from the beat before it the dominant seventh (V7, its leading tone raised in
    minor too; the model may leave the seventh out) or else the subdominant (IV), whichever holds the melody's note
    there, by the chord rule above. The key is the one the melody closes in (``scales.closing_key``). A minor key
    closes on a major chord (a Picardy third, as 108 of the 120 minor chorales of the bundled corpus do) unless the
    melody ends on the minor third. None, and the close is the model's, where the last note is in no fitting key's
    tonic triad (a half close) or the note on the beat before it in neither chord."""
    counts = np.zeros(12)
    for start, end, pitch, _ in melody.notes:
        counts[pitch % 12] += end - start
    last_start, _, last_pitch, _ = melody.notes[-1]
    key = closing_key(counts, last_pitch % 12)
    approach = last_start - beat_steps(melody.meter, config)
    before = [pitch % 12 for start, end, pitch, _ in melody.notes if start <= approach < end]
    if key is None or approach < 0 or not before:
        return None
    tonic, minor = key
    approaches = (_degree("V7", tonic + 7, "7"), _degree("IV", tonic + 5, "m" if minor else ""))
    penultimate = next((chord for chord in approaches if before[0] in chord.tones), None)
    if penultimate is None:
        return None
    minor_close = minor and (last_pitch - tonic) % 12 == _QUALITIES["m"][1]
    spq = config.steps_per_quarter
    progression = (
        (penultimate, (last_start - approach) / spq),
        (
            _degree("I", tonic, "m" if minor_close else ""),
            (melody.bars * bar_steps(melody.meter, config) - last_start) / spq,
        ),
    )
    return CadenceGuide(progression, melody, config, pitch_range, approach, instrument_ranges)


def _degree(name: str, root: int, quality: str) -> Chord:
    """The chord of ``quality`` (a chord symbol's) on ``root``, in root position, named by its scale degree."""
    return Chord(name, frozenset((root + step) % 12 for step in _QUALITIES[quality]), root % 12)
