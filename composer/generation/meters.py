"""The meter a generated piece opens in, drawn from the meters the model's training pieces opened in.

Generation starts the network from a zero state, which training met only where a window began, anywhere in a
piece: from there its first choices follow what it learned longest. A model fine-tuned on a folder of reels in 2/4
and 2/2 thus opened 19 of 20 pieces in the chorales' 4/4 (docs/quality.md, "Fine-tuning on your own tunes"). The
model records the meters its training pieces open in (``opening_meters``), and each piece draws its own from them,
a seeded choice like every other.
"""

from __future__ import annotations

import numpy as np

from composer.config import EncodingConfig
from composer.events import TIME_SIGNATURE, StreamState, vocabulary


class OpeningMeterGuide:
    """Narrows the sampler's mask, where a piece states its meter before its first note, to a meter drawn for it."""

    reserved_program = None

    def __init__(self, opening_meters: dict[str, int], config: EncodingConfig, seed: int) -> None:
        ids = vocabulary(config).ids  # the meters were read with this encoding: it can write each
        self.tokens = [ids[TIME_SIGNATURE, tuple(int(part) for part in meter.split("/"))] for meter in opening_meters]
        counts = np.array(list(opening_meters.values()), float)
        self.weights = counts / counts.sum() if opening_meters else counts
        self.rng = np.random.default_rng(seed)  # its own stream: the events' draws stay those of the seed
        self.drawn: dict[int, int] = {}  # id of a piece's stream -> the meter event drawn for it

    def restrict(self, stream: StreamState, mask: np.ndarray) -> np.ndarray:
        at_the_opening = stream.clock.bars == 1 and not stream.meter_given and not stream.opened
        if not self.tokens or not at_the_opening:
            return mask
        if id(stream) not in self.drawn:
            self.drawn[id(stream)] = self.tokens[self.rng.choice(len(self.tokens), p=self.weights)]
        token = self.drawn[id(stream)]
        if not mask[token]:
            return mask
        only = np.zeros_like(mask)
        only[token] = True
        return only
