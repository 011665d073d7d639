"""What the network sees beside each event: the notes sounding, the current part's last pitch, and the
pitch classes of the piece so far.

An LSTM fed events alone must remember which notes the other parts hold and where the part it
continues was last, a lookup over a varying number of events back, and must add up every pitch it
has seen to know the key. It learns both slowly (docs/quality.md): after 45 epochs it still put no
more probability on the piece's scale than a uniform guess. These facts are read off the grammar's
own state (``events.StreamState``) after every event and given to the network as an input, the same
way in training and in sampling.

Stored packed, 29 bytes an event (``pack``), and unpacked for the network (``unpack``), which also
transposes them with the events.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from composer.config import EncodingConfig
from composer.events import START, StreamState

PITCHES = 128
PACKED_SIZE = PITCHES // 8 + 1 + 12  # sounding pitches as bits, the part's last pitch, pitch-class shares
CONTEXT_SIZE = PITCHES + PITCHES + 12  # sounding pitches, the part's last pitch (one-hot), pitch-class shares
NO_PITCH = 255
_BITS = 1 << np.arange(8, dtype=np.uint8)


def pack(state: StreamState) -> np.ndarray:
    """The context after the events ``state`` has been fed, packed."""
    sounding = np.zeros(PITCHES, dtype=bool)
    sounding[state.sounding_pitches()] = True
    counts = np.asarray(state.pitch_class_counts, dtype=np.float64)
    shares = np.round(255 * counts / counts.sum()) if counts.any() else counts
    last = state.last_pitches.get(state.instrument, NO_PITCH)
    return np.concatenate([np.packbits(sounding, bitorder="little"), [last], shares]).astype(np.uint8)


def stream_context(tokens: Iterable[int], config: EncodingConfig) -> np.ndarray:
    """(events, PACKED_SIZE) uint8: the packed context after each event of pieces joined end to end
    (each from its Start)."""
    tokens = np.asarray(tokens)
    packed = np.zeros((len(tokens), PACKED_SIZE), dtype=np.uint8)
    state = StreamState(config)
    for index, token in enumerate(tokens.tolist()):
        if token == START:
            state = StreamState(config)
        state.feed(token)
        packed[index] = pack(state)
    return packed


def unpack(packed: np.ndarray, shift: int = 0) -> np.ndarray:
    """(..., CONTEXT_SIZE) float32 network input from packed contexts, transposed ``shift`` semitones (as
    the events beside them are; the caller keeps every pitch in range)."""
    sounding = (packed[..., : PITCHES // 8, None] & _BITS).astype(bool).reshape(*packed.shape[:-1], PITCHES)
    last = packed[..., PITCHES // 8].astype(np.int64)
    voice = (last[..., None] == np.arange(PITCHES)).astype(np.float32)
    shares = packed[..., PITCHES // 8 + 1 :].astype(np.float32)
    total = shares.sum(axis=-1, keepdims=True)
    shares = np.divide(shares, total, out=np.zeros_like(shares), where=total > 0)
    return np.concatenate([np.roll(sounding.astype(np.float32), shift, axis=-1), np.roll(voice, shift, axis=-1),
                           np.roll(shares, shift, axis=-1)], axis=-1)  # fmt: skip
