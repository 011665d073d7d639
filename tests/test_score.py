import pytest

from composer.score import Note, Score, TempoChange, TimeSignature, Track

SCORE = Score(
    tracks=(
        Track(40, notes=(Note(0, 2, 72, 90), Note(2, 5, 74, 90), Note(6.5, 7, 76, 90))),
        Track(43, notes=(Note(0, 4, 48, 80),)),
    ),
    tempos=(TempoChange(0, 100), TempoChange(3, 80)),
    time_signatures=(TimeSignature(0, 4, 4), TimeSignature(4, 3, 4)),
    length=7,
)


def test_before_cuts_the_notes_sounding_there_and_lasts_exactly_to_it():
    cut = SCORE.before(3)
    assert [n for t in cut.tracks for n in t.notes] == [Note(0, 2, 72, 90), Note(2, 3, 74, 90), Note(0, 3, 48, 80)]
    assert cut.length == 3


def test_whole_bars_end_on_the_bar_line_after_the_last_onset():
    looped = SCORE.whole_bars()  # the last onset, 6.5, lies in the 3/4 bar 4-7
    assert looped.length == 7 and looped.end_beat == 7


def test_from_bar_of_moves_the_kept_notes_to_the_bar_line_with_the_tempo_and_meter_in_force_there():
    later = SCORE.from_bar_of(5, lambda track, note: note.start >= 5)  # bar 2 (3/4) starts at beat 4
    assert [n for t in later.tracks for n in t.notes] == [Note(2.5, 3, 76, 90)]
    assert later.tempos == (TempoChange(0, 80),) and later.time_signatures == (TimeSignature(0, 3, 4),)
    assert later.length == 3 and len(later.tracks) == 1, "a track left without notes is dropped"


def test_with_tempo_from_keeps_the_map_before_and_sets_the_tempo_after():
    assert SCORE.with_tempo_from(2, 90).tempos == (TempoChange(0, 100), TempoChange(2, 90))
    assert SCORE.with_tempo_from(0, 90).tempos == (TempoChange(0, 90),)


def test_a_note_cannot_end_before_it_starts():
    with pytest.raises(ValueError, match=r"cannot end \(beat 1.0\) before it starts \(beat 2.0\)"):
        Note(2.0, 1.0, 60, 80)
