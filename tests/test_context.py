import numpy as np

from composer.config import CONTEXT_LAYOUT, EncodingConfig
from composer.context import (
    BARS,
    END_POSITIONS,
    LATER,
    NONE_SOUNDING,
    PITCHES,
    context_size,
    pack,
    stream_context,
    unpack,
)
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
    sounding, voice, shares, _ = np.split(row, [PITCHES, 2 * PITCHES, 2 * PITCHES + 12])
    return set(np.flatnonzero(sounding).tolist()), set(np.flatnonzero(voice).tolist()), shares


def _ends(row: np.ndarray) -> list[int]:
    """(earliest, latest) end of the sounding notes, as positions in the bar."""
    ends = row[2 * PITCHES + 12 : context_size(2)].reshape(2, END_POSITIONS + 2)
    return [int(np.flatnonzero(end)[0]) for end in ends]


def _context_after(tokens: list[int], name: str, occurrence: int = 1) -> np.ndarray:
    """The unpacked context after the ``occurrence``-th event called ``name``."""
    names = token_names(tokens, ENCODING)
    index = [i for i, n in enumerate(names) if n == name][occurrence - 1]
    return unpack(stream_context(tokens, ENCODING))[index]


def test_context_holds_what_sounds_the_parts_last_pitch_and_the_pitch_classes_so_far():
    tokens = encode(_score(), ENCODING)
    sounding, voice, shares = _parts(_context_after(tokens, "Pitch_64"))
    assert sounding == {64} and voice == {64} and shares[4] == 1  # the melody is listed first
    sounding, voice, shares = _parts(_context_after(tokens, "Pitch_48"))
    assert sounding == {48, 64} and voice == {48}  # the cello's note counts from its Pitch on
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
    assert second[0] == START and not unpack(joined[len(first)], layout=1).any()
    assert _ends(unpack(joined[len(first)])) == [NONE_SOUNDING] * 2


def test_unpacking_transposes_pitches_and_pitch_classes_alike():
    tokens = encode(_score(), ENCODING)
    packed = stream_context(tokens, ENCODING)
    index = token_names(tokens, ENCODING).index("Pitch_48")
    sounding, voice, shares = _parts(unpack(packed[index], shift=3))
    assert sounding == {51, 67} and voice == {51}
    assert np.allclose(shares[[3, 7]], [0.5, 0.5])
    assert unpack(packed).shape == (len(tokens), context_size(CONTEXT_LAYOUT))
    assert _ends(unpack(packed[index], shift=3)) == _ends(unpack(packed[index]))  # times do not transpose


def test_the_context_says_where_in_the_bar_the_sounding_notes_end():
    """Steps of 12 a quarter: the cello's C3 ends at 24, the violin's E4 at 12, its G4 at 24, the drum at 18."""
    tokens = encode(_score(), ENCODING)
    assert _ends(_context_after(tokens, "Duration_12")) == [12, 12]  # the violin's E4, listed first
    assert _ends(_context_after(tokens, "Duration_24")) == [12, 24]  # the cello's C3 under it
    assert _ends(_context_after(tokens, "Duration_6")) == [18, 24]  # the drum on beat 2 ends first
    assert _ends(_context_after(tokens, "Pos_12")) == [24, 24]  # on beat 2, before its notes: the cello alone
    assert _ends(_context_after(tokens, "Pitch_64")) == [NONE_SOUNDING] * 2  # a note counts once it has a length
    tied_over = encode(Score(tracks=(Track(42, notes=(Note(0.0, 6.0, 48, 80), Note(6.0, 7.0, 50, 80))),)), ENCODING)
    assert _ends(_context_after(tied_over, "Duration_72")) == [LATER, LATER]  # ends in the next bar
    assert _ends(_context_after(tied_over, "Bar", occurrence=2)) == [24, 24]  # there, on beat 3


def test_a_network_of_composer_040_reads_the_context_without_note_ends():
    packed = stream_context(encode(_score(), ENCODING), ENCODING)
    assert context_size(1) == 2 * PITCHES + 12
    assert np.array_equal(unpack(packed, layout=1), unpack(packed)[:, : context_size(1)])


def test_the_context_says_which_bar_of_the_piece_an_event_is_in():
    notes = tuple(Note(4.0 * bar, 4.0 * bar + 1, 60 + bar % 5, 80) for bar in range(20))
    tokens = encode(Score(tracks=(Track(40, notes=notes),)), ENCODING)
    bars = unpack(stream_context(tokens, ENCODING))[:, context_size(2) : context_size(3)]
    assert bars.shape[1] == BARS and np.all(bars.sum(axis=1) == 1)
    told = np.argmax(bars, axis=1)
    assert told[0] == 0  # Start, before the first Bar
    assert [told[i] for i, name in enumerate(token_names(tokens, ENCODING)) if name == "Bar"] == [*range(1, 17)] + [
        16
    ] * 4
    packed = stream_context(tokens, ENCODING)
    assert np.array_equal(unpack(packed, layout=2), unpack(packed)[:, : context_size(2)]), "layout 2 reads its own"


def _parallels(row: np.ndarray) -> set[int]:
    return set(np.flatnonzero(row[context_size(3) :]).tolist())


def test_the_context_marks_the_pitches_that_would_move_the_part_in_parallels_with_a_part_above():
    """Violin G4 to A4 over cello C4: the cello's D4 would follow in parallel fifths; staying on C4, moving
    down, or to another interval is free."""
    violin = Track(40, notes=(Note(0.0, 1.0, 67, 80), Note(1.0, 2.0, 69, 80)))
    cello = Track(42, notes=(Note(0.0, 1.0, 60, 80), Note(1.0, 2.0, 62, 80)))
    tokens = encode(Score(tracks=(violin, cello)), ENCODING)
    before_the_cello_chooses = _context_after(tokens, "Program_42", occurrence=2)
    assert 62 in _parallels(before_the_cello_chooses)
    assert not _parallels(before_the_cello_chooses) & {60, 61, 64, 50, 57}, "kept, contrary motion, other intervals"
    assert not _parallels(_context_after(tokens, "Program_42")), "the first onset has nothing to move from"
    assert not _parallels(_context_after(tokens, "Program_40", occurrence=2)), "the highest part moves freely"
    packed = stream_context(tokens, ENCODING)
    index = token_names(tokens, ENCODING).index("Program_42", token_names(tokens, ENCODING).index("Pos_12"))
    assert 65 in _parallels(unpack(packed[index], shift=3)), "transposed with the pitches"
    assert np.array_equal(unpack(packed, layout=3), unpack(packed)[:, : context_size(3)]), "layout 3 reads its own"
