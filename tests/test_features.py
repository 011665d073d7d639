import json

import numpy as np
import pytest

from composer.errors import ComposerError
from composer.features import compare_sets, format_report, load_scores, piece_features
from composer.midi_io import write_score
from composer.plot import plot_feature_comparison
from composer.score import Note, Score, TimeSignature, Track
from midi_factory import toy_score

C_MAJOR_SCALE = (60, 62, 64, 65, 67, 69, 71, 72)


def melody(pitches, length: float = 1.0, *, drums: bool = False) -> Score:
    notes = tuple(Note(i * length, (i + 1) * length, pitch, 90) for i, pitch in enumerate(pitches))
    return Score(tracks=(Track(0, drums, notes=notes),))


def test_quarter_note_scale_has_known_features():
    features = piece_features(melody(C_MAJOR_SCALE))
    assert features["pitch_range"] == 12
    assert features["scale_consistency"] == 1.0
    assert features["polyphony"] == 1.0
    assert features["note_density"] == 1.0
    assert features["empty_beat_rate"] == 0.0
    assert features["repetition"] == 0.0
    assert features["pitch_class_histogram"][0] == 2 / 8  # both Cs
    assert features["pitch_class_histogram"].sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(features["duration_histogram"], [0, 0, 0, 0, 1, 0, 0])  # all "1 beat"
    np.testing.assert_array_equal(features["ioi_histogram"], [0, 0, 0, 0, 1, 0, 0])


def test_chords_rests_and_repeated_bars():
    triad = [Note(0, 1, pitch, 90) for pitch in (60, 64, 67)]
    bars = [Note(bar * 4 + note.start, bar * 4 + note.end, note.pitch, 90) for bar in range(3) for note in triad]
    features = piece_features(Score(tracks=(Track(0, notes=tuple(sorted(bars))),)))
    assert features["polyphony"] == 3.0
    assert features["empty_beat_rate"] == pytest.approx(6 / 9)  # beats 0..8, only 0, 4 and 8 sound
    assert features["repetition"] == pytest.approx(2 / 3)  # bars 2 and 3 repeat bar 1


def test_bars_follow_time_signature_changes():
    # A 3/4 bar then 2/4 bars: each holds one note at its downbeat, so every bar after the first repeats it.
    notes = tuple(Note(beat, beat + 1, 60, 90) for beat in (0, 3, 5, 7))
    score = Score(tracks=(Track(0, notes=notes),), time_signatures=(TimeSignature(0, 3, 4), TimeSignature(3, 2, 4)))
    assert piece_features(score)["repetition"] == pytest.approx(3 / 4)


def test_drums_stay_out_of_pitch_features_but_count_as_rhythm():
    drums_only = piece_features(melody([36, 38, 36, 38], drums=True))
    assert all(np.isnan(drums_only[name]).all() for name in ("pitch_class_histogram", "pitch_range", "polyphony"))
    assert drums_only["note_density"] == 1.0 and drums_only["empty_beat_rate"] == 0.0


def test_empty_score_gives_nan_for_every_feature():
    features = piece_features(Score())
    assert all(np.isnan(value).all() for value in features.values())
    assert features["pitch_class_histogram"].shape == (12,)


def test_identical_sets_overlap_completely():
    pieces = [toy_score(seed, num_notes=40) for seed in range(3)]
    result = compare_sets(pieces, pieces)
    for name, feature in result["features"].items():
        assert feature["overlap"] == pytest.approx(1.0, abs=1e-9), name
        assert feature["kl"] == pytest.approx(0.0, abs=1e-9), name
    assert result["mean_overlap"] == pytest.approx(1.0, abs=1e-9)


def test_disjoint_pitch_classes_do_not_overlap():
    c_major = [melody([60, 64, 67, 72]), melody([48, 52, 55])]
    sharps = [melody([66, 61, 68]), melody([54, 49, 56, 66])]
    result = compare_sets(c_major, sharps)
    assert result["features"]["pitch_class_histogram"]["overlap"] == 0.0
    assert result["features"]["pitch_class_histogram"]["kl"] > 5
    assert result["features"]["polyphony"]["overlap"] == pytest.approx(1.0)  # both sets are melodies


def test_scalar_overlap_falls_as_sets_separate():
    narrow, wide, wider = ([melody([60, 60 + span])] for span in (2, 12, 24))
    close = compare_sets(narrow + wide, wide + narrow)["features"]["pitch_range"]["overlap"]
    apart = compare_sets(narrow, wider)["features"]["pitch_range"]["overlap"]
    assert close == pytest.approx(1.0) and apart < 0.01


def test_result_is_json_and_leaves_out_undefined_pieces():
    result = compare_sets([melody([36, 38], drums=True), melody([60, 62])], [melody([60, 67])])
    json.dumps(result, allow_nan=False)
    assert result["features"]["pitch_range"]["generated"] == {"pieces": 1, "mean": 2.0, "values": [2.0]}
    assert result["features"]["note_density"]["generated"]["pieces"] == 2


def test_sets_without_a_defined_value_report_no_overlap():
    result = compare_sets([melody([36], drums=True)], [melody([60, 62])])
    assert result["features"]["pitch_range"]["overlap"] is None
    assert "| pitch_range | n/a | n/a | n/a | 2 |" in format_report(result)
    with pytest.raises(ComposerError, match="at least one piece"):
        compare_sets([], [melody([60])])


def test_report_is_a_markdown_table():
    report = format_report(compare_sets([melody(C_MAJOR_SCALE)], [melody(C_MAJOR_SCALE)]))
    assert "| feature | overlap | KL | generated mean | reference mean |" in report
    assert "| pitch_range | 1.000 | 0 | 12 | 12 |" in report
    assert "peak C (0.25)" in report
    assert "mean overlap 1.000" in report


def test_load_scores_skips_unreadable_files(tmp_path):
    write_score(melody(C_MAJOR_SCALE), tmp_path / "good.mid")
    (tmp_path / "garbage.mid").write_bytes(b"not MIDI at all")
    scores, skipped = load_scores(tmp_path)
    assert {path: score.num_notes for path, score in scores.items()} == {str(tmp_path / "good.mid"): 8}
    assert skipped == {str(tmp_path / "garbage.mid"): "not a MIDI file (no MThd header)"}


def test_load_scores_refuses_a_folder_without_usable_files(tmp_path):
    with pytest.raises(ComposerError, match="no .mid or .midi files"):
        load_scores(tmp_path)
    (tmp_path / "garbage.mid").write_bytes(b"not MIDI at all")
    with pytest.raises(ComposerError, match="none of the 1 MIDI files could be read"):
        load_scores(tmp_path)


def test_comparison_plot_is_a_png(tmp_path):
    drums = melody([36, 38], drums=True)  # no pitch features: plots must cope with a set that has no values
    result = compare_sets([toy_score(1, num_notes=30), drums], [drums])
    path = plot_feature_comparison(result, tmp_path / "features.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
