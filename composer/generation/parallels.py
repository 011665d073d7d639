"""``--avoid-parallels``: no parallel fifths or octaves between parts, the first rule of four-part writing.

Each onset lists its notes highest first, so when a part chooses its new pitch the parts above it have
already chosen theirs. A pitch is masked when, against a part above that moved to a new note here, it
would make the same perfect fifth or octave (unison) as the two parts made at their previous notes,
both parts moving in the same direction. The rule gives way only where it would leave the part no pitch
the other rules allow (then the model's choice stands), so it narrows choices without ever stopping a piece.
"""

from __future__ import annotations

import numpy as np

from composer.config import EncodingConfig
from composer.events import DRUMS, PITCH, StreamState, vocabulary
from composer.generation.sample import require_highest_first

PERFECT = (0, 7)  # unison or octave, fifth: intervals mod 12


class ParallelsGuide:
    """Masks the pitches that would move a part in parallel fifths or octaves with a part above it."""

    reserved_program = None

    def __init__(self, config: EncodingConfig) -> None:
        require_highest_first(config, "--avoid-parallels")
        self.pitches = np.arange(config.min_pitch, config.max_pitch + 1)
        self.pitch_tokens = vocabulary(config).block(PITCH)

    def restrict(self, stream: StreamState, mask: np.ndarray) -> np.ndarray:
        if not stream.in_frame or stream.pitch is not None or stream.instrument == DRUMS:
            return mask
        allowed = mask[self.pitch_tokens]
        if not allowed.any():
            return mask
        kept = allowed & ~self._parallel(stream)
        if kept.any():
            mask = mask.copy()
            mask[self.pitch_tokens] = kept
        return mask

    def _parallel(self, stream: StreamState) -> np.ndarray:
        """The pitches that would make parallel fifths or octaves with a part that moved above at this onset."""
        now, part = stream.now, stream.instrument
        own = _previous_pitch(stream, part, now)
        forbidden = np.zeros(len(self.pitches), bool)
        if own is None:
            return forbidden
        for other, notes in stream.grid.notes.items():
            if other in (part, DRUMS) or not notes or notes[-1][0] != now:
                continue  # only a part that started a new note here, above this one in the listing, moved
            before = _previous_pitch(stream, other, now)
            interval = None if before is None else abs(before - own) % 12
            if interval not in PERFECT:
                continue
            here = notes[-1][2]
            direction = np.sign(here - before)
            same_way = np.sign(self.pitches - own) == direction
            forbidden |= same_way & (direction != 0) & (np.abs(here - self.pitches) % 12 == interval)
        return forbidden


def _previous_pitch(stream: StreamState, part: int, now: int) -> int | None:
    """The pitch of the last note ``part`` started before ``now``."""
    for start, _, pitch, _ in reversed(stream.grid.notes.get(part, [])):
        if start < now:
            return pitch
    return None
