"""What the network sees beside each event: the notes sounding, the current part's last pitch, and the
pitch classes of the piece so far.

An LSTM fed events alone must remember which notes the other parts hold and where the part it
continues was last, a lookup over a varying number of events back, and must add up every pitch it
has seen to know the key. It learns both slowly (docs/quality.md): after 45 epochs it still put no
more probability on the piece's scale than a uniform guess. These facts are read off the grammar's
own state (``events.StreamState``) after every event and given to the network as an input, the same
way in training and in sampling.

Layout 2 adds where the sounding notes end: the positions in the bar of the earliest and the latest
end. Without them the network chose the next onset with no regard to note lengths, and left a third of
the beats empty at the quickstart's length (docs/quality.md, row 9).

Layout 3 adds which bar of the piece the event is in (1 to 16, then "later"). A window of 64 events
starts mid-piece, so without it the network cannot tell the fifth bar, where a chorale's opening lines
return with a ``Repeat``, from the fifteenth (docs/quality.md, row 18).

Layout 4 adds the pitches that would move the part just named in parallel fifths or octaves with a part that
moved above it at this onset (``parallel_pitches``). A part's own previous note and the previous notes of the
parts above it lie an unknown number of events back; left to find them, the quickstart's network wrote 11.6
parallel fifths per 100 chord changes, Bach 0.3 (docs/quality.md, row 26). Networks of layouts 1 (composer
0.4.0), 2 (0.5, 0.6) and 3 (0.7 to 0.10) still read their own.

Stored packed, 48 bytes an event (``pack``), and unpacked for the network in its layout (``unpack``),
which also transposes them with the events.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from composer.config import CONTEXT_LAYOUT, EncodingConfig
from composer.events import DRUMS, START, StreamState

PITCHES = 128
END_POSITIONS = 96  # positions in the bar an end is told at (two 4/4 bars at 12 steps a quarter); beyond: "later"
LATER, NONE_SOUNDING = END_POSITIONS, END_POSITIONS + 1
BARS = 17  # the bars of the piece told apart: 0 (before the first Bar), 1..15, and 16 or later
PERFECT = (0, 7)  # unison or octave, fifth: intervals mod 12
# sounding pitches as bits, the part's last pitch, pitch-class shares, the earliest and latest end, the bar, the
# pitches that would make parallels as bits
PACKED_SIZE = PITCHES // 8 + 1 + 12 + 2 + 1 + PITCHES // 8
_TIMING = PITCHES // 8 + 1 + 12  # where the ends start in a packed context
_BAR = _TIMING + 2
_PARALLELS = _BAR + 1
_ALL_PITCHES = np.arange(PITCHES)
NO_PITCH = 255
_BITS = 1 << np.arange(8, dtype=np.uint8)


def pack(state: StreamState, layout: int = CONTEXT_LAYOUT) -> np.ndarray:
    """The context after the events ``state`` has been fed, packed; the parallels are worked out only for a
    network that reads them (layout 4: they take a quarter of the time), and left empty for the others."""
    sounding = np.zeros(PITCHES, dtype=bool)
    sounding[state.sounding_pitches()] = True
    counts = np.asarray(state.pitch_class_counts, dtype=np.float64)
    shares = np.round(255 * counts / counts.sum()) if counts.any() else counts
    last = state.last_pitches.get(state.instrument, NO_PITCH)
    ends = [end for end, *_ in state.sounding if end > state.now]
    timing = [_end_position(min(ends), state), _end_position(max(ends), state)] if ends else [NONE_SOUNDING] * 2
    bar = min(state.clock.bars, BARS - 1)
    parallels = np.packbits(parallel_pitches(state) if layout >= 4 else np.zeros(PITCHES, bool), bitorder="little")
    return np.concatenate([np.packbits(sounding, bitorder="little"), [last], shares, timing, [bar], parallels]).astype(
        np.uint8
    )


def parallel_pitches(state: StreamState) -> np.ndarray:
    """(128,) bool: the pitches that would move the part just named in parallel fifths or octaves with a part
    above it, one that started a new note at this onset (onsets list their notes highest first): the same perfect
    interval as the two parts made at their previous notes, both parts moving the same way."""
    forbidden = np.zeros(PITCHES, bool)
    part, now = state.instrument, state.now
    own = _previous_pitch(state, part, now)
    if not state.in_frame or part == DRUMS or own is None:
        return forbidden
    for other, notes in state.grid.notes.items():
        if other in (part, DRUMS) or not notes or notes[-1][0] != now:
            continue  # only a part that started a new note here, listed above this one, moved
        before = _previous_pitch(state, other, now)
        interval = None if before is None else abs(before - own) % 12
        if interval not in PERFECT:
            continue
        here = notes[-1][2]
        direction = np.sign(here - before)
        same_way = np.sign(_ALL_PITCHES - own) == direction
        forbidden |= same_way & (direction != 0) & (np.abs(here - _ALL_PITCHES) % 12 == interval)
    return forbidden


def _previous_pitch(state: StreamState, part: int, now: int) -> int | None:
    """The pitch of the last note ``part`` started before ``now``."""
    for start, _, pitch, _ in reversed(state.grid.notes.get(part, [])):
        if start < now:
            return pitch
    return None


def context_size(layout: int) -> int:
    """The width of the network input of context ``layout`` (1: composer 0.4.0's, 2: with note ends, 3: and
    the bar of the piece, 4: and the pitches that would make parallels)."""
    return (
        2 * PITCHES
        + 12
        + (2 * (END_POSITIONS + 2) if layout >= 2 else 0)
        + (BARS if layout >= 3 else 0)
        + (PITCHES if layout >= 4 else 0)
    )


def layout_of_size(size: int) -> int:
    """The context layout whose network input is ``size`` wide (a network's weights say which it reads)."""
    layouts = [layout for layout in range(1, CONTEXT_LAYOUT + 1) if context_size(layout) == size]
    if not layouts:
        raise ValueError(f"a context input {size} wide is no layout this composer knows")
    return layouts[0]


def _end_position(end: int, state: StreamState) -> int:
    """Where in the current bar a note ends, or LATER when in a later bar."""
    position = end - state.clock.bar_start
    return position if position < min(END_POSITIONS, state.clock.bar_length) else LATER


def stream_context(tokens: Iterable[int], config: EncodingConfig, layout: int = CONTEXT_LAYOUT) -> np.ndarray:
    """(events, PACKED_SIZE) uint8: the packed context after each event of pieces joined end to end
    (each from its Start)."""
    tokens = np.asarray(tokens)
    packed = np.zeros((len(tokens), PACKED_SIZE), dtype=np.uint8)
    state = StreamState(config)
    for index, token in enumerate(tokens.tolist()):
        if token == START:
            state = StreamState(config)
        state.feed(token)
        packed[index] = pack(state, layout)
    return packed


def unpack(packed: np.ndarray, shift: int = 0, layout: int = CONTEXT_LAYOUT) -> np.ndarray:
    """(..., context_size(layout)) float32 network input from packed contexts, transposed ``shift``
    semitones (as the events beside them are; the caller keeps every pitch in range)."""
    sounding = (packed[..., : PITCHES // 8, None] & _BITS).astype(bool).reshape(*packed.shape[:-1], PITCHES)
    last = packed[..., PITCHES // 8].astype(np.int64)
    voice = (last[..., None] == np.arange(PITCHES)).astype(np.float32)
    shares = packed[..., PITCHES // 8 + 1 : _TIMING].astype(np.float32)
    total = shares.sum(axis=-1, keepdims=True)
    shares = np.divide(shares, total, out=np.zeros_like(shares), where=total > 0)
    parts = [
        np.roll(sounding.astype(np.float32), shift, axis=-1),
        np.roll(voice, shift, axis=-1),
        np.roll(shares, shift, axis=-1),
    ]
    if layout >= 2:
        ends = packed[..., _TIMING:_BAR, None].astype(np.int64) == np.arange(END_POSITIONS + 2)
        parts.append(ends.astype(np.float32).reshape(*packed.shape[:-1], 2 * (END_POSITIONS + 2)))
    if layout >= 3:
        parts.append((packed[..., _BAR, None].astype(np.int64) == np.arange(BARS)).astype(np.float32))
    if layout >= 4:
        parallels = np.unpackbits(packed[..., _PARALLELS:], axis=-1, bitorder="little").astype(np.float32)
        parts.append(np.roll(parallels, shift, axis=-1))
    return np.concatenate(parts, axis=-1)
