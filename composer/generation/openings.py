"""The meter and tempo a generated piece opens in, drawn from those the model's training pieces opened in.

Generation starts the network from a zero state, which training met only where a window began, anywhere in a
piece: from there its first choices follow what it learned longest. A model fine-tuned on a folder of reels in 2/4
and 2/2 thus opened 19 of 20 pieces in the chorales' 4/4, and one fine-tuned on tunes at 120 qpm played 18 of 20
at the chorales' 80 (docs/quality.md, "Fine-tuning on your own tunes"). The model records how its training pieces
open (``openings``: meter and tempo together, as a slow 3/2 and a quick 6/8 go), and each piece draws its own
from them, a seeded choice like every other; a meter the user set draws the tempo from the openings in it.
"""

from __future__ import annotations

import numpy as np

from composer.config import EncodingConfig
from composer.events import TEMPO, TIME_SIGNATURE, StreamState, parse_opening_key, vocabulary


class OpeningGuide:
    """Narrows the sampler's mask, where a piece states its meter or its first tempo, to an opening drawn for it."""

    reserved_program = None

    def __init__(self, openings: dict[str, int], config: EncodingConfig, seed: int) -> None:
        ids = vocabulary(config).ids  # the openings were read with this encoding: it can write each
        parsed = [parse_opening_key(key) for key in openings]
        self.config = config
        self.meter_tokens = [ids[TIME_SIGNATURE, meter] if config.use_time_signatures else None for meter, _ in parsed]
        self.tempo_tokens = [None if qpm is None or not config.use_tempo else ids[TEMPO, qpm] for _, qpm in parsed]
        self.counts = np.array(list(openings.values()), float)
        self.rng = np.random.default_rng(seed)  # its own stream: the events' draws stay those of the seed
        self.drawn: dict[int, int] = {}  # id of a piece's stream -> index of the opening drawn for it

    def restrict(self, stream: StreamState, mask: np.ndarray) -> np.ndarray:
        tokens = self._slot(stream)
        if tokens is None:
            return mask
        if id(stream) not in self.drawn:
            weights = self.counts * np.array([token is not None and bool(mask[token]) for token in tokens], bool)
            if not weights.any():
                return mask  # nothing recorded, or nothing that agrees with what the user set: the network chooses
            self.drawn[id(stream)] = int(self.rng.choice(len(tokens), p=weights / weights.sum()))
        token = tokens[self.drawn[id(stream)]]
        if token is None or not mask[token]:
            return mask
        only = np.zeros_like(mask)
        only[token] = True
        return only

    def _slot(self, stream: StreamState) -> list[int | None] | None:
        """The tokens of the openings for the choice the grammar asks for now: the piece's meter, before anything
        else in its first bar, then the tempo its first onset opens with; None elsewhere."""
        if self.config.use_time_signatures and stream.clock.bars == 1 and not stream.opened and not stream.meter_given:
            return self.meter_tokens
        if self.config.use_tempo and stream.in_frame and not stream.tempo_given:
            return self.tempo_tokens
        return None
