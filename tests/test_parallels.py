import numpy as np
import pytest

from composer.config import EncodingConfig
from composer.events import START, StreamState, vocabulary
from composer.generation.parallels import ParallelsGuide

CONFIG = EncodingConfig()
IDS = vocabulary(CONFIG).ids


def _stream(*names) -> StreamState:
    stream = StreamState(CONFIG)
    for name in (START, *names):
        stream.feed(name if isinstance(name, int) else IDS[name])
    return stream


OPENING = [("Bar", None), ("TimeSig", (4, 4)), ("Part", 40), ("Part", 42), ("Pos", 0), ("Tempo", 80)]
# violin G4 over cello C4 (a fifth); then the violin moves up to A4 and the cello is to choose
FIFTH_THEN_UP = [
    *OPENING,
    ("Program", 40),
    ("Velocity", 80),
    ("Pitch", 67),
    ("Duration", 12),
    ("Program", 42),
    ("Pitch", 60),
    ("Duration", 12),
    ("Pos", 12),
    ("Program", 40),
    ("Pitch", 69),
    ("Duration", 12),
    ("Program", 42),
]


@pytest.mark.parametrize(
    "pitch, allowed",
    [(62, False), (50, True), (61, True), (60, True), (57, True)],
    ids=["parallel fifth", "fifth by contrary motion", "no fifth", "the same pitch again", "an octave after a fifth"],
)
def test_a_part_may_not_follow_the_part_above_in_parallel_fifths(pitch, allowed):
    stream = _stream(*FIFTH_THEN_UP)
    mask = np.zeros(len(vocabulary(CONFIG)), bool)
    mask[[IDS["Pitch", p] for p in (62, 50, 61, 60, 57)]] = True
    assert ParallelsGuide(CONFIG).restrict(stream, mask)[IDS["Pitch", pitch]] == allowed


def test_the_rule_gives_way_rather_than_leave_no_pitch():
    mask = np.zeros(len(vocabulary(CONFIG)), bool)
    mask[IDS["Pitch", 62]] = True
    assert ParallelsGuide(CONFIG).restrict(_stream(*FIFTH_THEN_UP), mask)[IDS["Pitch", 62]]
