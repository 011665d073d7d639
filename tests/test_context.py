import numpy as np

from composer.config import EncodingConfig
from composer.context import CONTEXT_SIZE, PITCHES, pack, stream_context, unpack
from composer.events import DRUMS, START, StreamState, encode, token_names
from composer.score import Note, Score, Track

from midi_factory import toy_score

ENCODING = EncodingConfig()


def _score() -> Score:
    """Cello C3 for two beats under a violin melody E4 G4, and a drum hit: what sounds is known at every event."""
    cello = Track(42, notes=(Note(0.0, 2.0, 48, 80),))
    violin = Track(40, notes=(Note(0.0, 1.0, 64, 80), Note(1.0, 2.0, 67, 80)))
    drums = Track(0, is_drum=True, notes=(Note(1.0, 1.5, 36, 80),))
    return Score(tracks=(cello, violin, drums))


def _parts(row: np.ndarray) -> tuple[set[int], set[int], np.ndarray]:
    sounding, voice, shares = np.split(row, [PITCHES, 2 * PITCHES])
    return set(np.flatnonzero(sounding).tolist()), set(np.flatnonzero(voice).tolist()), shares


def _context_after(tokens: list[int], name: str, occurrence: int = 1) -> np.ndarray:
    """The unpacked context after the ``occurrence``-th event called ``name``."""
    names = token_names(tokens, ENCODING)
    index = [i for i, n in enumerate(names) if n == name][occurrence - 1]
    return unpack(stream_context(tokens, ENCODING))[index]


def test_context_holds_what_sounds_the_parts_last_pitch_and_the_pitch_classes_so_far():
    tokens = encode(_score(), ENCODING)
    sounding, voice, shares = _parts(_context_after(tokens, "Pitch_64"))
    assert sounding == {48, 64} and voice == {64}  # the violin's note counts from its Pitch on
    assert np.allclose(shares[[0, 4]], [0.5, 0.5]) and np.isclose(shares.sum(), 1)
    sounding, voice, _ = _parts(_context_after(tokens, "Program_40", occurrence=2))
    assert sounding == {48} and voice == {64}  # second beat: E4 has ended; the violin last played it
    sounding, _, shares = _parts(_context_after(tokens, "Pitch_67"))
    assert sounding == {48, 67}  # the drum hit is not a pitch
    assert np.allclose(shares[[0, 4, 7]], [1 / 3, 1 / 3, 1 / 3])


def test_the_drums_have_no_last_pitch():
    state = StreamState(ENCODING)
    for token in encode(_score(), ENCODING):
        state.feed(token)
        if state.instrument == DRUMS:
            assert not _parts(unpack(pack(state)))[1]


def test_each_piece_starts_from_an_empty_context():
    first, second = encode(toy_score(0, 20), ENCODING), encode(toy_score(1, 20), ENCODING)
    joined = stream_context(first + second, ENCODING)
    assert np.array_equal(joined[len(first) :], stream_context(second, ENCODING))
    assert second[0] == START and not unpack(joined[len(first)]).any()


def test_unpacking_transposes_pitches_and_pitch_classes_alike():
    tokens = encode(_score(), ENCODING)
    packed = stream_context(tokens, ENCODING)
    index = token_names(tokens, ENCODING).index("Pitch_64")
    sounding, voice, shares = _parts(unpack(packed[index], shift=3))
    assert sounding == {51, 67} and voice == {67}
    assert np.allclose(shares[[3, 7]], [0.5, 0.5])
    assert unpack(packed).shape == (len(tokens), CONTEXT_SIZE)
