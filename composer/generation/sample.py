"""Sampling new event sequences: temperatures, top-k, top-p, a grammar mask and hard constraints.

Everything here is NumPy and a seeded ``numpy.random.Generator``, so the same
model, options and seed always give the same events. Constraints never retrain
anything: they mask logits, so the model chooses only among events that keep the
sequence well formed (a pitch is followed by its velocity and duration) and obey
the user's limits (scale, pitch range, instruments, polyphony).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from composer.config import DEFAULT_PITCH_TEMPERATURE, DEFAULT_TEMPERATURE, EncodingConfig
from composer.context import pack, stream_context, unpack
from composer.errors import ComposerError
from composer.events import (
    BAR,
    DRUMS,
    DURATION,
    END,
    HOLD,
    KEY,
    PART,
    PITCH,
    POSITION,
    PROGRAM,
    REPEAT,
    START,
    TEMPO,
    TIME_SIGNATURE,
    VELOCITY,
    ListingKey,
    StreamState,
    declares_parts,
    listing_key,
    tempo_values,
    velocity_values,
    vocabulary,
)
from composer.generation.inference import NumpyLSTM
from composer.scales import CADENCE_BASS_STEPS, is_tonic_close, key_of, shift_to_one_key
from composer.score import DEFAULT_TIME_SIGNATURE, strong_offsets


@dataclass(frozen=True)
class SamplingOptions:
    """How adventurous sampling is. Temperature 0 (or top-k 1) always takes the likeliest event."""

    temperature: float = DEFAULT_TEMPERATURE
    # which pitch a new note takes; the temperature still decides whether a new note comes (None: the same)
    pitch_temperature: float | None = DEFAULT_PITCH_TEMPERATURE
    top_k: int = 0  # 0: no limit
    top_p: float = 1.0  # nucleus: the smallest set of events holding this much probability
    repetition_penalty: float = 1.0  # > 1: pitches of the last REPETITION_WINDOW events become less likely
    no_repeat_ngram: int = 0  # > 0: no run of this many events appears twice in a piece

    def __post_init__(self) -> None:
        if self.temperature < 0 or (self.pitch_temperature or 0) < 0 or self.top_k < 0 or not 0 < self.top_p <= 1:
            raise ComposerError("need temperatures >= 0, top-k >= 0 and 0 < top-p <= 1")
        if self.repetition_penalty < 1 or self.no_repeat_ngram < 0 or self.no_repeat_ngram == 1:
            raise ComposerError("need --repetition-penalty >= 1 and --no-repeat-ngram 0 (off) or at least 2")


@dataclass(frozen=True)
class Constraints:
    """Hard limits on what may be generated."""

    pitch_classes: frozenset[int] | None = None  # allowed pitch classes of pitched parts (a key or scale)
    min_pitch: int = 0
    max_pitch: int = 127
    programs: frozenset[int] | None = None  # allowed instruments; DRUMS for the drum kit
    max_polyphony: int | None = None  # notes sounding at once
    tempo: int | None = None  # the piece's one tempo (one of the model's tempo values)
    time_signature: tuple[int, int] | None = None  # the piece's one meter
    blocked_events: frozenset[int] = frozenset()  # e.g. instruments and meters the model never saw
    # (program, lowest, highest): where each instrument played in training; new notes stay there (within the above)
    instrument_ranges: tuple[tuple[int, int, int], ...] = ()


class Grammar:
    """Which events may come next for a stream (a ``StreamState``, the grammar ``decode`` follows too):
    the events that keep it in the form ``encode`` writes, within the user's constraints.

    The model chooses the music; the grammar fills in what the stream already implies: the Bar and
    meter that open a piece and the tempo before the first note. At each onset the model lists notes
    in the encoding's order (highest first; lowest first for composer 0.7's models), restating the held notes
    it keeps; those it passes over end there.
    """

    def __init__(self, config: EncodingConfig, constraints: Constraints, reserved_program: int | None = None) -> None:
        """``reserved_program``: an instrument whose notes the model never chooses (a given melody plays it)."""
        self.config, self.constraints = config, constraints
        vocab = vocabulary(config)
        self.kinds = np.array(vocab.kinds)
        self.blocks = {
            kind: vocab.block(kind)
            for kind in (
                BAR,
                REPEAT,
                POSITION,
                TEMPO,
                TIME_SIGNATURE,
                KEY,
                PART,
                PROGRAM,
                VELOCITY,
                PITCH,
                HOLD,
                DURATION,
            )
        }
        self.pitches = np.arange(config.min_pitch, config.max_pitch + 1)
        self._ranks = np.array([listing_key(int(pitch), 0, config).rank for pitch in self.pitches])
        self.tempo_values = np.array(tempo_values(config) if config.use_tempo else ())  # per step: made once
        self.velocity_values = np.array(velocity_values(config) if config.use_velocity else ())
        self.reserved_program = reserved_program
        self._frames: dict[int, tuple[dict[bool, np.ndarray], dict[int, np.ndarray]]] = {}
        self.usable = ~np.isin(np.arange(len(vocab)), sorted(constraints.blocked_events))
        self.new_note_programs = self._new_note_programs(vocab)
        if reserved_program is not None:
            self.new_note_programs[reserved_program] = False
        self.is_drums = np.arange(DRUMS + 1) == DRUMS
        playable = self._frame(0)[0]
        if not (
            playable[False] if constraints.programs is None or constraints.programs - {DRUMS} else playable[True]
        ).any():
            raise ComposerError("the constraints leave no pitch that may be played; widen the pitch range or scale")

    def _frame(self, key: int) -> tuple[dict[bool, np.ndarray], dict[int, np.ndarray]]:
        """The user's pitch limits and the instruments' ranges over the pitches of a stream moved ``key`` semitones
        to its one key (a token's pitch sounds ``key`` lower): per drums (True) or pitched (False), the pitches a
        new note may have, and per pitched instrument with a range, its own. Worked out once per key."""
        if key not in self._frames:
            sounding = self.pitches - key
            constraints = self.constraints
            in_range = (sounding >= constraints.min_pitch) & (sounding <= constraints.max_pitch)
            in_scale = np.isin(sounding % 12, sorted(constraints.pitch_classes or range(12)))
            drums_range = (self.pitches >= constraints.min_pitch) & (self.pitches <= constraints.max_pitch)
            playable = {False: in_range & in_scale, True: drums_range}
            ranges = instrument_pitches(playable[False], sounding, constraints.instrument_ranges, self.reserved_program)
            self._frames[key] = (playable, ranges)
        return self._frames[key]

    def _new_note_programs(self, vocab) -> np.ndarray:
        """The instruments (0..128) a new note may be played on."""
        programs = np.arange(DRUMS + 1)
        allowed = np.isin(programs, sorted(self.constraints.programs)) if self.constraints.programs else True
        if not self.config.use_programs:
            return programs == 0
        return allowed & self.usable[[vocab.ids[PROGRAM, p] for p in programs]]

    def allowed(self, stream: StreamState) -> np.ndarray:
        """Boolean mask over the vocabulary for the next event of ``stream``."""
        mask = np.zeros(len(self.kinds), bool)
        clock = stream.clock
        if stream.pitch is not None:
            mask[self.blocks[DURATION]] = True
        elif clock.bars == 0:
            mask[self.blocks[BAR]] = True  # a piece opens with its first bar ...
        elif self.config.use_time_signatures and not stream.meter_given:
            self._allow(mask, TIME_SIGNATURE, self.constraints.time_signature)  # ... and its meter
        elif stream.awaits_key():
            self._keys(mask)  # how far the piece was moved to C major or A minor: the key it is written out in
        elif stream.declaring() and not stream.parts:
            self._parts(stream, mask)  # the piece's instruments before anything else
        elif stream.repeated:
            mask[self.blocks[BAR]] = True  # a repeated bar is complete
        elif not stream.in_frame:
            self._between_onsets(stream, mask)
            if stream.declaring():
                self._parts(stream, mask)
        elif self.config.use_tempo and not stream.tempo_given:
            self._allow(mask, TEMPO, self.constraints.tempo)  # the tempo before the first note
        else:
            self._within_onset(stream, mask)
        return mask

    def _allow(self, mask: np.ndarray, kind: str, chosen) -> None:
        """Every usable event of ``kind``, or only the one the user chose."""
        if chosen is None:
            mask[self.blocks[kind]] = self.usable[self.blocks[kind]]
        else:
            mask[vocabulary(self.config).ids[kind, chosen]] = True

    def _keys(self, mask: np.ndarray) -> None:
        """Any key, or for a user's scale, the one that moves it onto C major or A minor, where the network writes
        (``--key D --scale minor`` is written in A minor and moved to D)."""
        classes = self.constraints.pitch_classes
        if classes is None or len(classes) == 12:
            mask[self.blocks[KEY]] = True
            return
        counts = [int(pitch_class in classes) for pitch_class in range(12)]
        mask[vocabulary(self.config).ids[KEY, shift_to_one_key(counts)]] = True

    def _parts(self, stream: StreamState, mask: np.ndarray) -> None:
        """More instruments for the piece, in ascending order, of those that may play."""
        playable = self.new_note_programs & (np.arange(DRUMS + 1) > (stream.parts[-1] if stream.parts else -1))
        mask[self.blocks[PART][playable]] = True

    def _between_onsets(self, stream: StreamState, mask: np.ndarray) -> None:
        """After a Bar: an empty bar, a repeated one, the bar's meter, or the first onset of the bar."""
        clock, opening = stream.clock, self.config.use_tempo and not stream.tempo_given
        mask[self.blocks[BAR]] = not opening  # the piece's tempo is given at its very start, as encode writes it
        if not opening and self._room_for_a_repeat(stream):
            repeats = self.blocks[REPEAT]
            mask[repeats] = self.usable[repeats] & np.array(
                [stream.repeatable(k) for k in range(1, len(repeats) + 1)], dtype=bool
            )
        first = clock.now - clock.bar_start
        self._positions(mask, clock, first, last=first if opening else None)
        if stream.meter_step < clock.now == clock.bar_start and self.constraints.time_signature is None:
            meters = self.blocks[TIME_SIGNATURE]
            mask[meters] = self.usable[meters]
            mask[vocabulary(self.config).ids.get((TIME_SIGNATURE, clock.meter), meters[:0])] = False

    def _positions(self, mask: np.ndarray, clock, first: int, last: int | None = None) -> None:
        mask[self.blocks[POSITION][first : clock.bar_length if last is None else last + 1]] = True

    def _within_onset(self, stream: StreamState, mask: np.ndarray) -> None:
        """The notes of one onset in listing order, with the held ones restated in their place."""
        clock = stream.clock
        if stream.pending is None and self._onset_complete(stream):
            mask[self.blocks[BAR]] = True
            self._positions(mask, clock, first=clock.now - clock.bar_start + 1)
        if (
            self.config.use_tempo
            and stream.pending is None
            and stream.listed is None
            and not stream.frame_tempo
            and self.constraints.tempo is None
        ):
            tempos = self.blocks[TEMPO]
            mask[tempos] = self.usable[tempos] & (self.tempo_values != stream.tempo)
        room = self._room_for_notes(stream)
        current = stream.instrument if stream.program_given else None
        if current is not None and stream.pending != "velocity":
            restatable = [key.pitch for key in stream.held_to_list() if key.instrument == current]
            mask[self.blocks[HOLD][np.array(restatable, dtype=int) - self.config.min_pitch]] = True
        if current is not None and room:
            pitches = self._new_pitches(stream, current)
            if stream.velocity is not None or not self.config.use_velocity:
                mask[self.blocks[PITCH]] = pitches
            if self.config.use_velocity and stream.pending != "velocity" and pitches.any():
                mask[self.blocks[VELOCITY]] = self.velocity_values != stream.velocity
        if stream.pending is None and self.config.use_programs:
            mask[self.blocks[PROGRAM]] = self._programs(stream, room, current)

    def may_end(self, stream: StreamState) -> bool:
        """Where encode writes End: after the last note of an onset, the piece's final chord."""
        return stream.in_frame and stream.pitch is None and stream.pending is None and self._onset_complete(stream)

    def _onset_complete(self, stream: StreamState) -> bool:
        """An onset holds a tempo or a new note (encode restates held notes only beside a new one; when no
        new note can start, the onset may end without)."""
        if stream.listed is None:  # nothing to list at all (a polyphony limit, say): the onset may stay empty
            return stream.frame_tempo or not (stream.held_to_list() or self._any_new_note(stream))
        return stream.frame_notes > 0 or not self._any_new_note(stream)

    def _any_new_note(self, stream: StreamState) -> bool:
        return self._room_for_notes(stream) and any(
            self._new_pitches(stream, int(program)).any() for program in np.flatnonzero(self.new_note_programs)
        )

    def _room_for_a_repeat(self, stream: StreamState) -> bool:
        """A repeated bar keeps a polyphony limit when no note is held into it: its onsets then sound no more
        notes than they did in the bar it repeats, which kept the limit."""
        return self.constraints.max_polyphony is None or stream.notes_sounding() == 0

    def _room_for_notes(self, stream: StreamState) -> bool:
        limit = self.constraints.max_polyphony
        return limit is None or stream.notes_sounding() < limit

    def _new_pitches(self, stream: StreamState, instrument: int) -> np.ndarray:
        """The pitches a new note of ``instrument`` may have here: playable, after the last note listed
        in the listing's order (held notes passed over end here), on an instrument allowed to play."""
        if not self._playing(stream)[instrument]:
            return np.zeros(len(self.pitches), bool)
        drums = instrument == DRUMS
        playable, ranges = self._frame(stream.key)
        ok = ranges.get(instrument, playable[drums]).copy()
        if stream.listed is not None:
            ok &= _keys_after(stream.listed, drums, self._ranks, instrument)
        return ok

    def _playing(self, stream: StreamState) -> np.ndarray:
        """The instruments (0..128) that may start a note in ``stream``: of those allowed, the ones the piece
        declared, or the user asked for (after a primer that lacks them)."""
        if not declares_parts(self.config):
            return self.new_note_programs
        declared = np.zeros(DRUMS + 1, bool)
        declared[stream.parts + sorted(self.constraints.programs or ())] = True
        return self.new_note_programs & declared

    def _open_after(self, stream: StreamState, drums: bool) -> bool:
        """Whether a playable pitch comes after the last listed note in the listing's order: then every program
        of the kind (``drums`` or pitched) can start a note; only at the last note's own pitch does the program
        decide."""
        listed, playable = stream.listed, self._frame(stream.key)[0][drums]
        if listed is not None and listed.drums != drums:
            return listed.drums < drums
        if listed is None:
            return bool(playable.any())
        return bool((playable & (self._ranks > listed.rank)).any())

    def _programs(self, stream: StreamState, room: bool, current: int | None) -> np.ndarray:
        """Program changes that lead somewhere: to the instrument of a held note still to restate, or to one that
        can start a new note here."""
        programs = np.zeros(DRUMS + 1, bool)
        programs[[key.instrument for key in stream.held_to_list()]] = True
        if room:
            playing = self._playing(stream)
            for drums in (False, True):
                candidates = np.flatnonzero(playing & (self.is_drums == drums))
                if self._open_after(stream, drums):  # any instrument without a range of its own can start a note
                    ranged = np.isin(candidates, list(self._frame(stream.key)[1]))
                    programs[candidates[~ranged]] = True
                    candidates = candidates[ranged]
                # else only the pitch of the last listed note may be left: it depends on the program
                programs[candidates] |= np.array(
                    [self._new_pitches(stream, int(p)).any() for p in candidates], dtype=bool
                )
        if current is not None:
            programs[current] = False
        return programs


def instrument_pitches(
    playable: np.ndarray, pitches: np.ndarray, ranges: tuple[tuple[int, int, int], ...], exempt: int | None
) -> dict[int, np.ndarray]:
    """Per pitched instrument with a range (``Constraints.instrument_ranges``): which of ``pitches`` it may take,
    of those ``playable``. Where the two do not meet the user's limits win, and a given melody (``exempt``) plays as
    written."""
    allowed = {}
    for program, low, high in ranges:
        within = playable & (pitches >= low) & (pitches <= high)
        if program not in (DRUMS, exempt) and within.any():
            allowed[program] = within
    return allowed


def _keys_after(bound: ListingKey, drums: bool, ranks: np.ndarray, instrument: int) -> np.ndarray:
    """Whether the listing keys (drums, rank, instrument) of the pitches ranked ``ranks`` come after ``bound``."""
    if drums != bound.drums:
        return np.full(len(ranks), drums > bound.drums)
    return (ranks > bound.rank) | ((ranks == bound.rank) & (instrument > bound.instrument))


def choose(
    logits: np.ndarray, mask: np.ndarray, options: SamplingOptions, rng: np.random.Generator, is_pitch: np.ndarray
) -> np.ndarray:
    """One event per row of ``logits`` (batch, vocab), among those ``mask`` allows; ``is_pitch`` marks the
    events that start a note, whose choice among themselves the pitch temperature shapes."""
    if not mask.any(axis=1).all():
        raise ComposerError("the constraints leave no valid next event; loosen them")
    logits = np.where(mask, logits.astype(np.float64), -np.inf)
    if options.temperature == 0 or options.top_k == 1:
        return logits.argmax(axis=1)
    logits = logits / options.temperature
    if options.top_k:
        cut = logits.shape[1] - min(options.top_k, logits.shape[1])
        kth = np.partition(logits, cut, axis=1)[:, cut : cut + 1]
        logits = np.where(logits >= kth, logits, -np.inf)
    probs = _softmax(logits)
    if options.pitch_temperature is not None and options.pitch_temperature != options.temperature:
        probs = _with_pitch_temperature(probs, logits * options.temperature, is_pitch, options.pitch_temperature)
    if options.top_p < 1:
        probs = _nucleus(probs, options.top_p)
    cumulative = np.cumsum(probs, axis=1)
    draws = rng.random(len(probs))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= draws).sum(axis=1), probs.shape[1] - 1)


def _softmax(logits: np.ndarray) -> np.ndarray:
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True)


def _with_pitch_temperature(probs: np.ndarray, logits: np.ndarray, is_pitch: np.ndarray, temperature: float):
    """``probs`` with the pitches' share kept and spread among them at ``temperature``.

    Dividing only the pitch logits by their own temperature would also move probability between pitches
    and the other events (logits have no fixed zero), so the factorisation of the Compound Word
    Transformer's per-family temperatures is used: P(a new note) as sampled, P(which pitch | a new note)
    at the pitch temperature (0: the likeliest pitch).
    """
    pitch_logits = np.where(is_pitch, logits, -np.inf)
    rows = np.isfinite(pitch_logits).any(axis=1)
    if not rows.any():
        return probs
    if temperature == 0:
        within = np.zeros_like(probs[rows])
        within[np.arange(rows.sum()), pitch_logits[rows].argmax(axis=1)] = 1.0
    else:
        within = _softmax(pitch_logits[rows] / temperature)
    probs = probs.copy()
    share = np.where(is_pitch, probs, 0.0).sum(axis=1)[rows]
    probs[rows] = np.where(is_pitch, share[:, None] * within, probs[rows])
    return probs


def _nucleus(probs: np.ndarray, top_p: float) -> np.ndarray:
    """Keep the most likely events until they hold ``top_p`` of the probability (at least one)."""
    order = np.argsort(-probs, axis=1, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, axis=1)
    keep_sorted = np.cumsum(sorted_probs, axis=1) - sorted_probs < top_p
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=1)
    kept = np.where(keep, probs, 0.0)
    return kept / kept.sum(axis=1, keepdims=True)


@dataclass
class Generated:
    """One generated sequence (primer included) and the step where the music ends."""

    tokens: list[int]
    end_step: int
    ended: bool = False  # it ends with an End (a cadence: --ending), its last chord whole, not cut on a bar line


MAX_EVENTS_PER_PIECE = 200_000  # a safety net for --bars with a model that hardly moves time
PRIMER_CONTEXT = 1024  # events of a primer the network reads: it trained on windows of about 128 from a zero state
REPETITION_WINDOW = 64  # events (about 16 notes): what --repetition-penalty looks back on


class _NgramBlocker:
    """Bans the events that would complete an n-event run already present in the piece."""

    def __init__(self, n: int, tokens: list[int]) -> None:
        self.n, self.seen = n, {}
        for end in range(n, len(tokens) + 1):
            self._add(tokens[end - n : end])

    def _add(self, run: list[int]) -> None:
        self.seen.setdefault(tuple(run[:-1]), set()).add(run[-1])

    def banned(self, tokens: list[int]) -> set[int]:
        return self.seen.get(tuple(tokens[len(tokens) - self.n + 1 :]), set()) if len(tokens) >= self.n - 1 else set()

    def observe(self, tokens: list[int]) -> None:
        if len(tokens) >= self.n:
            self._add(tokens[-self.n :])


def _penalise_recent_pitches(logits: np.ndarray, pieces: list[Generated], penalty: float, is_pitch) -> np.ndarray:
    """CTRL's repetition penalty (Keskar et al. 2019), on the pitches each piece played lately:
    positive logits are divided by it, negative ones multiplied."""
    logits = logits.astype(np.float64)
    for row, piece in enumerate(pieces):
        recent = [t for t in set(piece.tokens[-REPETITION_WINDOW:]) if is_pitch[t]]
        logits[row, recent] = np.where(
            logits[row, recent] > 0, logits[row, recent] / penalty, logits[row, recent] * penalty
        )
    return logits


def _without_repeats(mask: np.ndarray, pieces: list[Generated], blockers: list[_NgramBlocker]) -> np.ndarray:
    """The mask minus each piece's banned events, unless that would leave a piece nothing to play."""
    mask = mask.copy()
    for row, (piece, blocker) in enumerate(zip(pieces, blockers)):
        narrowed = mask[row].copy()
        narrowed[list(blocker.banned(piece.tokens))] = False
        if narrowed.any():
            mask[row] = narrowed
    return mask


class Guide(Protocol):
    """A hard rule beyond the grammar: ``restrict`` narrows the mask of allowed next events of ``stream``."""

    reserved_program: int | None  # an instrument whose notes only the guide gives (the grammar never offers them)

    def restrict(self, stream: StreamState, mask: np.ndarray) -> np.ndarray: ...


def require_highest_first(config: EncodingConfig, option: str) -> None:
    """Guides that reason about the parts above a note need each onset listed highest first."""
    if not config.highest_first:
        raise ComposerError(
            f"{option} needs a model that lists each onset highest first (composer 0.8 and later); this one lists "
            "the lowest first: train it again"
        )


def require_onset_at(step: int, stream: StreamState, mask: np.ndarray) -> None:
    """A guide's rule that the stream opens an onset at ``step``: no position or bar line beyond it."""
    clock, vocab = stream.clock, stream.vocab
    if not clock.bars:
        return
    mask[vocab.block(POSITION)[max(0, step - clock.bar_start + 1) :]] = False
    if clock.next_bar_line() > step:
        mask[vocab.ids[BAR, None]] = False


def _guided(mask: np.ndarray, stream: StreamState, guides: Sequence[Guide]) -> np.ndarray:
    for guide in guides:
        mask = guide.restrict(stream, mask)
    return mask


def _on_a_strong_beat(stream: StreamState) -> bool:
    clock, steps_per_quarter = stream.clock, stream.config.steps_per_quarter
    return clock.now - clock.bar_start in {round(offset * steps_per_quarter) for offset in strong_offsets(clock.meter)}


@dataclass
class _EndingSearch:
    """A piece past the length asked for, looking for its end: at a cadence (``may_close``) where the model ends
    it, if it does within the bars given, or else at the cadence where it found an End likeliest
    (docs/quality.md, "Endings")."""

    from_bar: int  # the bar count when the search began
    best: tuple[float, int, int] | None = None  # (P(End), events before it, its step) at the likeliest end so far
    onset: tuple[int, int] | None = None  # (step, lowest pitch) of the onset being listed
    previous_bass: int | None = None  # the lowest pitch of the onset before it

    def may_close(self, stream: StreamState, grammar: Grammar) -> bool:
        """Whether the piece may end here on a cadence: after an onset's last note (where encode writes End), on a
        strong beat (``score.strong_offsets``, where chorales end), on the tonic triad of the key of the notes so
        far, root lowest (``scales.is_tonic_close``), its root come to from the dominant or subdominant in the bass
        of the onset before (V-I or IV-I)."""
        chord = stream.onset_chord() if grammar.may_end(stream) else []
        if not chord:
            return False
        if self.onset is not None and self.onset[0] < stream.now:
            self.previous_bass = self.onset[1]
        self.onset = (stream.now, min(chord))
        return (
            self.previous_bass is not None
            and _on_a_strong_beat(stream)
            and (self.previous_bass - min(chord)) % 12 in CADENCE_BASS_STEPS
            and is_tonic_close(chord, key_of(stream.pitch_class_counts))
        )

    def consider(self, logits: np.ndarray, allowed: np.ndarray, piece: Generated) -> None:
        """P(End) under the model (at temperature 1, among the events allowed), where the piece may end now."""
        chance = float(np.exp(logits[END] - np.logaddexp.reduce(logits[allowed].astype(np.float64))))
        if self.best is None or chance > self.best[0]:
            self.best = (chance, len(piece.tokens), piece.end_step)

    def end_at_best(self, piece: Generated) -> None:
        if self.best is not None:
            _, length, step = self.best
            piece.tokens[length:] = [END]
            piece.end_step, piece.ended = step, True


def sample_pieces(
    network: NumpyLSTM,
    config: EncodingConfig,
    *,
    num_events: int | None = None,
    num_bars: int | None = None,
    primer: list[int] | None = None,
    batch: int = 1,
    options: SamplingOptions = SamplingOptions(),
    constraints: Constraints = Constraints(),
    seed: int = 0,
    meter: tuple[int, int] = DEFAULT_TIME_SIGNATURE,
    guides: Sequence[Guide] = (),
    ending_bars: int = 0,
) -> list[Generated]:
    """``batch`` pieces: the primer (at least Start), then ``num_events`` events, or events up to the
    bar line that ends ``num_bars`` bars. Bars are of ``meter`` until a time-signature event says otherwise
    (a model without those events counts in the meter its file will be given). ``guides`` narrow each step's
    choice further, in order: a melody to keep, a chord progression to follow, no parallels.

    With ``ending_bars``, a piece goes on from there until the model ends it on a cadence (an End event, which
    encode writes after the final chord, offered only at a V-I or IV-I close in the key: ``_EndingSearch``), for
    at most ``ending_bars`` bars; if it has not, the piece ends at the cadence where an End was likeliest, and with
    none in those bars it stops on their last bar line. A cadence instead of a stop wherever the length runs
    out."""
    reserved = [guide.reserved_program for guide in guides if guide.reserved_program is not None]
    grammar = Grammar(config, constraints, reserved[0] if reserved else None)
    rng = np.random.default_rng(seed)
    primer = list(primer or [START])
    streams = [StreamState(config, meter) for _ in range(batch)]
    for stream in streams:
        for token in primer:
            stream.feed(token)
    clock = streams[0].clock
    # bars are counted whole from the continuation on: a bar already started (or not yet opened) is not one
    first_bar = clock.bars + (clock.now > clock.bar_start or clock.bars == 0)
    context = primer[-PRIMER_CONTEXT:]
    layout = network.context_layout
    sounding = (
        unpack(stream_context(primer, config, layout)[-len(context) :], layout=layout)[None]
        if network.has_context
        else None
    )
    logits, state = network.run(
        np.tile(np.array(context)[None, :], (batch, 1)),
        context=None if sounding is None else np.tile(sounding, (batch, 1, 1)),
    )
    logits = logits[:, -1]
    pieces = [Generated(list(primer), 0) for _ in range(batch)]
    blockers = [_NgramBlocker(options.no_repeat_ngram, primer) for _ in range(batch)] if options.no_repeat_ngram else []
    is_pitch = grammar.kinds == PITCH
    # a Repeat event plays a whole bar again, the very loop that --no-repeat-ngram is asked to prevent
    looping = grammar.kinds == REPEAT if blockers else np.zeros(len(grammar.kinds), bool)
    finished = [False] * batch
    endings: list[_EndingSearch | None] = [None] * batch  # for a piece past its length, while it looks for its end

    def length_reached(piece: Generated, stream: StreamState) -> bool:
        if num_events is not None:
            return len(piece.tokens) - len(primer) >= num_events
        return stream.clock.bars - first_bar >= num_bars  # on the Bar that starts the bar after the last one

    for _ in range(num_events if num_events is not None and not ending_bars else MAX_EVENTS_PER_PIECE):
        mask = np.stack([_guided(grammar.allowed(stream), stream, guides) for stream in streams]) & ~looping
        for index, stream in enumerate(streams):
            mask[index, END] = endings[index] is not None and endings[index].may_close(stream, grammar)
        if blockers:
            mask = _without_repeats(mask, pieces, blockers)
        if options.repetition_penalty != 1:
            logits = _penalise_recent_pitches(logits, pieces, options.repetition_penalty, is_pitch)
        for index, search in enumerate(endings):
            if search is not None and mask[index, END] and not finished[index]:
                search.consider(logits[index], mask[index], pieces[index])
        # a finished piece's rules no longer apply (a guide may leave it nothing); its event is not kept
        mask[finished] = np.arange(mask.shape[1]) == END
        events = choose(logits, mask, options, rng, is_pitch)
        for index, (stream, piece, event) in enumerate(zip(streams, pieces, events.tolist())):
            if finished[index]:
                continue
            piece.tokens.append(event)
            if event == END:
                finished[index] = piece.ended = True
                continue
            stream.feed(event)
            if blockers:
                blockers[index].observe(piece.tokens)
            piece.end_step = stream.now
            search = endings[index]
            if search is not None and stream.clock.bars - search.from_bar >= ending_bars:
                finished[index] = True
                search.end_at_best(piece)
            elif search is None and length_reached(piece, stream):
                finished[index] = not ending_bars
                endings[index] = _EndingSearch(stream.clock.bars) if ending_bars else None
        if all(finished):
            break
        sounding = (
            unpack(np.stack([pack(stream, layout) for stream in streams]), layout=layout)
            if network.has_context
            else None
        )
        logits, state = network.step(events, state, sounding)
    return pieces
