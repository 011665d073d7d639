import numpy as np
import pytest

from composer.scales import SCALES, closing_key, closing_keys, is_tonic_close, key_of, shift_to_one_key


def _counts(pitch_classes) -> np.ndarray:
    return np.bincount(pitch_classes, minlength=12)


# C D E F G A B, each once
C_MAJOR = [0, 2, 4, 5, 7, 9, 11]


@pytest.mark.parametrize(
    "tune, last, key",
    [
        ([7, 9, 11, 0, 2, 4, 7, 7], 7, (7, False)),  # G major without its F sharp fits C as well: it ends on G
        ([9, 11, 0, 2, 4, 5, 7, 9, 9], 9, (9, True)),  # A minor with G naturals: C major's notes, ending on A
        ([9, 11, 0, 2, 4, 5, 8, 9], 9, (9, True)),  # with its leading tone G sharp
        ([*C_MAJOR, 0, 4], 4, (0, False)),  # ends on C major's third: in C
        ([*C_MAJOR, 0, 0, 0], 6, None),  # on a note of neither key's triad
        ([*C_MAJOR, 0, 0, 0, 0], 2, None),  # on the second degree: a half close
        ([9, 11, 0, 2, 4, 5, 8, 9] * 3, 1, (9, True)),  # A minor ending on C sharp, its major third (a Picardy close)
    ],
)
def test_a_melody_closes_in_the_key_its_notes_fit_that_its_last_note_names(tune, last, key):
    assert closing_key(_counts(tune + [last]), last) == key


def test_a_key_far_from_the_notes_is_not_chosen_for_its_tonic():
    """F sharp is C major's worst note: a tune in C with a few F sharps and ending on F sharp does not close there."""
    assert closing_key(_counts(C_MAJOR * 8 + [6]), 6) is None


def test_a_final_chord_closes_on_the_tonic_or_its_relative_root_lowest_with_its_third():
    c_major = key_of(_counts(C_MAJOR * 2 + [0, 4, 7]))
    assert c_major == (0, False) and closing_keys(c_major) == ((0, False), (9, True))
    assert is_tonic_close([48, 64, 67, 72], c_major) and is_tonic_close([45, 60, 64, 69], c_major)
    assert not is_tonic_close([52, 60, 67], c_major), "the third in the bass"
    assert not is_tonic_close([48, 55, 60], c_major), "no third"
    assert not is_tonic_close([43, 59, 62], c_major), "the dominant"


def _scale_counts(tonic: int, name: str) -> list[int]:
    return [int((pitch_class - tonic) % 12 in SCALES[name]) for pitch_class in range(12)]


@pytest.mark.parametrize(
    ("tonic", "name", "shift"),
    [
        (0, "major", 0),
        (2, "major", -2),  # D major down to C
        (7, "major", 5),  # G major up to C, not down a fifth
        (6, "major", 6),  # F sharp major: a tritone either way, upward on the tie
        (9, "harmonic-minor", 0),
        (4, "harmonic-minor", 5),  # E minor up to A minor
        (2, "harmonic-minor", -5),  # D minor down to A minor
    ],
)
def test_a_piece_moves_by_the_nearest_way_to_c_major_or_a_minor(tonic, name, shift):
    assert shift_to_one_key(_scale_counts(tonic, name)) == shift


def test_of_keys_that_fit_equally_the_nearest_is_taken():
    """C pentatonic fits C, F and G major alike: it stays where it is, as a piece already in C does."""
    assert shift_to_one_key(_scale_counts(0, "pentatonic")) == 0
    assert shift_to_one_key(_scale_counts(2, "pentatonic")) == -2
