"""Sampling new event sequences: temperature, top-k, top-p, a grammar mask and hard constraints.

Everything here is NumPy and a seeded ``numpy.random.Generator``, so the same
model, options and seed always give the same events. Constraints never retrain
anything: they mask logits, so the model chooses only among events that keep the
sequence well formed (a pitch is followed by its velocity and duration) and obey
the user's limits (scale, pitch range, instruments, polyphony).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import DRUMS, DURATION, PITCH, PROGRAM, SHIFT, START, TEMPO, TIME_SIGNATURE, VELOCITY, vocabulary
from composer.inference import NumpyLSTM
from composer.scales import scale_pitch_classes
from composer.score import DEFAULT_TIME_SIGNATURE


@dataclass(frozen=True)
class SamplingOptions:
    """How adventurous sampling is. Temperature 0 (or top-k 1) always takes the likeliest event."""

    temperature: float = 1.0
    top_k: int = 0  # 0: no limit
    top_p: float = 1.0  # nucleus: the smallest set of events holding this much probability
    repetition_penalty: float = 1.0  # > 1: pitches of the last REPETITION_WINDOW events become less likely
    no_repeat_ngram: int = 0  # > 0: no run of this many events appears twice in a piece

    def __post_init__(self) -> None:
        if self.temperature < 0 or self.top_k < 0 or not 0 < self.top_p <= 1:
            raise ComposerError("need temperature >= 0, top-k >= 0 and 0 < top-p <= 1")
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
    fixed_tempo: bool = False  # the tempo set at the start stays
    fixed_time_signature: bool = False
    blocked_events: frozenset[int] = frozenset()  # e.g. instruments and meters the model never saw

    @classmethod
    def from_options(
        cls,
        *,
        key: str | None = None,
        scale: str | None = None,
        pitch_range: str | None = None,
        programs: tuple[str, ...] = (),
        max_polyphony: int | None = None,
    ) -> Constraints:
        """Constraints from what a user typed: --key D --scale minor --pitch-range 48-84 --program violin."""
        low, high = _pitch_range(pitch_range)
        return cls(
            pitch_classes=scale_pitch_classes(key, scale), min_pitch=low, max_pitch=high,
            programs=frozenset(map(_program, programs)) or None, max_polyphony=max_polyphony,
        )  # fmt: skip


def _pitch_range(text: str | None) -> tuple[int, int]:
    if text is None:
        return 0, 127
    try:
        low, high = (int(part) for part in text.split("-"))
    except ValueError:
        raise ComposerError(f"--pitch-range {text!r}: give LOW-HIGH in MIDI numbers, e.g. 48-84") from None
    if not 0 <= low <= high <= 127:
        raise ComposerError(f"--pitch-range {text!r}: need 0 <= LOW <= HIGH <= 127")
    return low, high


def _program(text: str) -> int:
    """A General MIDI program from its number or name; DRUMS for the drum kit."""
    from composer.midi_io import program_number

    if text.strip().lower() in ("drums", "drum", "percussion"):
        return DRUMS
    if text.isdigit() and 0 <= int(text) <= 127:
        return int(text)
    number = program_number(text)
    if number is None:
        raise ComposerError(f"--program {text!r}: not a General MIDI program number (0-127) or name")
    return number


@dataclass
class _Voice:
    """Where one generated sequence stands in the event grammar."""

    expects: str = "event"  # "event", "velocity" or "duration"
    now: int = 0
    instrument: int | None = None  # None until a Program event (encode always writes one first)
    note_ends: list[int] = field(default_factory=list)
    bar_steps: int = 48  # length of a bar under the latest time signature
    meter: tuple[int, int] = DEFAULT_TIME_SIGNATURE
    bar_start: int = 0
    bars: int = 0  # bar lines passed


class Grammar:
    """Which events may come next, for each sequence of a batch."""

    def __init__(self, config: EncodingConfig, constraints: Constraints) -> None:
        self.config, self.constraints = config, constraints
        vocab = vocabulary(config)
        self.kinds, self.values = np.array(vocab.kinds), vocab.values
        self.masks = self._static_masks(constraints)
        wants_pitched = constraints.programs is None or constraints.programs - {DRUMS}
        if not self.masks["pitched" if wants_pitched else "drums"].any():
            raise ComposerError("the constraints leave no pitch that may be played; widen the pitch range or scale")

    def _static_masks(self, constraints: Constraints) -> dict[str, np.ndarray]:
        kinds, values = self.kinds, self.values
        pitch = np.array([v if k == PITCH else -1 for k, v in zip(kinds, values)])
        in_range = (pitch >= constraints.min_pitch) & (pitch <= constraints.max_pitch)
        in_scale = in_range & (np.isin(pitch % 12, sorted(constraints.pitch_classes))
                               if constraints.pitch_classes is not None else True)  # fmt: skip
        programs = np.array([v if k == PROGRAM else -1 for k, v in zip(kinds, values)])
        allowed = constraints.programs
        events = np.isin(kinds, [SHIFT, PROGRAM] + [TEMPO] * (not constraints.fixed_tempo)
                         + [TIME_SIGNATURE] * (not constraints.fixed_time_signature))  # fmt: skip
        events &= ~np.isin(np.arange(len(kinds)), sorted(constraints.blocked_events))
        return {
            "event": events & ((programs < 0) | (np.isin(programs, sorted(allowed)) if allowed else True)),
            "pitched": in_scale,
            "drums": in_range,
            "velocity": kinds == VELOCITY,
            "duration": kinds == DURATION,
        }

    def allowed(self, voice: _Voice) -> np.ndarray:
        """Boolean mask over the vocabulary for the next event of ``voice``."""
        if voice.expects != "event":
            return self.masks[voice.expects]
        mask = self.masks["event"].copy()
        if self._may_start_note(voice):
            mask |= self.masks["drums" if voice.instrument == DRUMS else "pitched"]
        return mask

    def _may_start_note(self, voice: _Voice) -> bool:
        programs, limit = self.constraints.programs, self.constraints.max_polyphony
        if voice.instrument is None or (programs is not None and voice.instrument not in programs):
            return False
        return limit is None or sum(end > voice.now for end in voice.note_ends) < limit

    def set_meter(self, voice: _Voice, meter: tuple[int, int]) -> None:
        """Bars of ``meter`` from where ``voice`` stands: a new meter starts a new bar."""
        numerator, denominator = voice.meter = meter
        voice.bar_steps = max(1, numerator * 4 * self.config.steps_per_quarter // denominator)
        voice.bar_start = voice.now

    def observe(self, voice: _Voice, token: int) -> None:
        """Advance ``voice`` past ``token`` (mirrors what ``events.decode`` will make of it)."""
        kind, value = self.kinds[token], self.values[token]
        if kind == SHIFT:
            voice.now += value
            voice.note_ends = [end for end in voice.note_ends if end > voice.now]  # only what still sounds
            while voice.now >= voice.bar_start + voice.bar_steps:
                voice.bar_start += voice.bar_steps
                voice.bars += 1
        elif kind == TIME_SIGNATURE and value != voice.meter:  # decode drops a repeated meter: so must we
            self.set_meter(voice, value)
        elif kind == PROGRAM:
            voice.instrument = value
        elif kind == PITCH:
            voice.expects = "velocity" if self.config.use_velocity else self._after_velocity(voice)
            return
        elif kind == VELOCITY and voice.expects == "velocity":
            voice.expects = self._after_velocity(voice)
            return
        elif kind == DURATION and voice.expects == "duration":
            voice.note_ends.append(voice.now + value)
        voice.expects = "event"

    def _after_velocity(self, voice: _Voice) -> str:
        if self.config.use_duration:
            return "duration"
        voice.note_ends.append(voice.now + 1)  # without durations a note counts at its onset
        return "event"


def choose(logits: np.ndarray, mask: np.ndarray, options: SamplingOptions, rng: np.random.Generator) -> np.ndarray:
    """One event per row of ``logits`` (batch, vocab), among those ``mask`` allows."""
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
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    if options.top_p < 1:
        probs = _nucleus(probs, options.top_p)
    cumulative = np.cumsum(probs, axis=1)
    draws = rng.random(len(probs))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= draws).sum(axis=1), probs.shape[1] - 1)


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
        logits[row, recent] = np.where(logits[row, recent] > 0, logits[row, recent] / penalty,
                                       logits[row, recent] * penalty)  # fmt: skip
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


def generate(
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
) -> list[Generated]:
    """``batch`` pieces: the primer (at least Start), then ``num_events`` events, or events up to the
    bar line that ends ``num_bars`` bars. Bars are of ``meter`` until a time-signature event says otherwise
    (a model without those events counts in the meter its file will be given)."""
    grammar = Grammar(config, constraints)
    rng = np.random.default_rng(seed)
    primer = list(primer or [START])
    voices = [_Voice(instrument=None if config.use_programs else 0) for _ in range(batch)]
    for voice in voices:
        grammar.set_meter(voice, meter)
        for token in primer:
            grammar.observe(voice, token)
        voice.bars = -1 if voice.now > voice.bar_start else 0  # whole bars from here on: a started one is not one
    context = primer[-PRIMER_CONTEXT:]
    logits, state = network.run(np.tile(np.array(context)[None, :], (batch, 1)))
    logits = logits[:, -1]
    pieces = [Generated(list(primer), 0) for _ in range(batch)]
    blockers = [_NgramBlocker(options.no_repeat_ngram, primer) for _ in range(batch)] if options.no_repeat_ngram else []
    is_pitch = grammar.kinds == PITCH
    finished = [False] * batch
    for _ in range(num_events if num_events is not None else MAX_EVENTS_PER_PIECE):
        mask = np.stack([grammar.allowed(voice) for voice in voices])
        if blockers:
            mask = _without_repeats(mask, pieces, blockers)
        if options.repetition_penalty != 1:
            logits = _penalise_recent_pitches(logits, pieces, options.repetition_penalty, is_pitch)
        events = choose(logits, mask, options, rng)
        for index, (voice, piece, event) in enumerate(zip(voices, pieces, events.tolist())):
            if finished[index]:
                continue
            grammar.observe(voice, event)
            piece.tokens.append(event)
            if blockers:
                blockers[index].observe(piece.tokens)
            piece.end_step = voice.now
            if num_bars is not None and voice.bars >= num_bars:
                finished[index] = True
                piece.end_step = voice.bar_start - (voice.bars - num_bars) * voice.bar_steps
        if all(finished):
            break
        logits, state = network.step(events, state)
    return pieces
