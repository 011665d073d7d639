from composer.config import EncodingConfig
from composer.events import opening
from composer.generation.openings import OpeningGuide
from composer.generation.sample import Constraints, sample_pieces

from random_networks import random_network

CONFIG = EncodingConfig()


def _openings(guide: OpeningGuide, seed: int, constraints=Constraints()) -> list[tuple[tuple[int, int], int]]:
    pieces = sample_pieces(
        random_network(seed=seed), CONFIG, num_events=40, batch=12, seed=seed, guides=[guide], constraints=constraints
    )
    return [opening(piece.tokens, CONFIG) for piece in pieces]


def test_each_piece_opens_in_a_meter_and_tempo_drawn_together_from_the_training_openings():
    """An untrained network left alone opens in any meter and tempo; with the guide every piece opens as one of the
    training pieces did, meter and tempo of the same piece, each piece its own draw, the same for the same seed."""
    free = _openings(OpeningGuide({}, CONFIG, seed=0), seed=1)
    assert len({meter for meter, _ in free}) > 2 and len({qpm for _, qpm in free}) > 2, "the network chooses"
    recorded = {"3/4 q=120": 2, "6/8 q=60": 1}
    drawn = _openings(OpeningGuide(recorded, CONFIG, seed=0), seed=1)
    assert set(drawn) == {((3, 4), 120), ((6, 8), 60)}
    assert drawn == _openings(OpeningGuide(recorded, CONFIG, seed=0), seed=1)


def test_a_meter_the_user_set_draws_the_tempo_from_the_openings_in_it():
    recorded = {"3/4 q=120": 5, "6/8 q=60": 1}
    guide = OpeningGuide(recorded, CONFIG, seed=0)
    assert set(_openings(guide, seed=1, constraints=Constraints(time_signature=(6, 8)))) == {((6, 8), 60)}
    guide = OpeningGuide(recorded, CONFIG, seed=0)
    unrecorded = _openings(guide, seed=1, constraints=Constraints(time_signature=(2, 4)))
    assert {meter for meter, _ in unrecorded} == {(2, 4)}, "a meter no training piece opened in is kept"


def test_a_model_of_composer_0_10_draws_the_meter_and_leaves_the_tempo_to_the_network():
    drawn = _openings(OpeningGuide({"3/4": 2, "6/8": 1}, CONFIG, seed=0), seed=1)
    assert {meter for meter, _ in drawn} == {(3, 4), (6, 8)}
    assert len({qpm for _, qpm in drawn}) > 2
