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
from composer.context import parallel_pitches
from composer.events import DRUMS, PITCH, StreamState, vocabulary
from composer.generation.sample import require_highest_first


class ParallelsGuide:
    """Masks the pitches that would move a part in parallel fifths or octaves with a part above it."""

    reserved_program = None

    def __init__(self, config: EncodingConfig) -> None:
        require_highest_first(config, "--avoid-parallels")
        self.pitches = slice(config.min_pitch, config.max_pitch + 1)
        self.pitch_tokens = vocabulary(config).block(PITCH)

    def restrict(self, stream: StreamState, mask: np.ndarray) -> np.ndarray:
        if not stream.in_frame or stream.pitch is not None or stream.instrument == DRUMS:
            return mask
        allowed = mask[self.pitch_tokens]
        if not allowed.any():
            return mask
        kept = allowed & ~parallel_pitches(stream)[self.pitches]
        if kept.any():
            mask = mask.copy()
            mask[self.pitch_tokens] = kept
        return mask
