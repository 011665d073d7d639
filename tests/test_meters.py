from composer.config import EncodingConfig
from composer.events import opening_meter
from composer.generation.meters import OpeningMeterGuide
from composer.generation.sample import sample_pieces

from random_networks import random_network

CONFIG = EncodingConfig()


def _opening_meters(guide: OpeningMeterGuide, seed: int) -> list[tuple[int, int]]:
    pieces = sample_pieces(random_network(seed=seed), CONFIG, num_events=40, batch=12, seed=seed, guides=[guide])
    return [opening_meter(piece.tokens, CONFIG) for piece in pieces]


def test_each_piece_opens_in_a_meter_drawn_from_the_training_openings():
    """An untrained network left alone opens in any meter; with the guide every piece opens in one the training
    pieces opened in, each piece its own draw, the same for the same seed."""
    free = _opening_meters(OpeningMeterGuide({}, CONFIG, seed=0), seed=1)
    assert len(set(free)) > 2, "without openings recorded, the network chooses"
    drawn = _opening_meters(OpeningMeterGuide({"3/4": 2, "6/8": 1}, CONFIG, seed=0), seed=1)
    assert set(drawn) == {(3, 4), (6, 8)}
    assert drawn == _opening_meters(OpeningMeterGuide({"3/4": 2, "6/8": 1}, CONFIG, seed=0), seed=1)
