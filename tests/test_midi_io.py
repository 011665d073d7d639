import tempfile
from pathlib import Path

import mido
import pytest
from hypothesis import given

from composer import midi_io
from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import quantize
from composer.midi_io import read_score, write_score
from composer.score import Note, Score, TempoChange, Track

from midi_factory import CHORALE, assert_every_note_ends
from strategies import scores


@given(score=scores)
def test_quantized_scores_survive_a_trip_through_a_file(score):
    config = EncodingConfig()
    quantized = quantize(score, config)
    with tempfile.TemporaryDirectory() as folder:
        path = write_score(quantized, Path(folder) / "x.mid")
        if quantized.num_notes:
            assert quantize(read_score(path), config) == quantized


def test_written_file_is_ready_for_a_daw(tmp_path):
    midi = mido.MidiFile(write_score(CHORALE, tmp_path / "c.mid"))
    assert (midi.type, midi.ticks_per_beat) == (1, 480)
    conductor = [m for m in midi.tracks[0] if m.is_meta and m.type in ("set_tempo", "time_signature")]
    assert [(m.type, m.time) for m in conductor] == [("time_signature", 0), ("set_tempo", 0)]
    assert mido.tempo2bpm(conductor[1].tempo) == pytest.approx(80)
    parts = midi.tracks[1:]
    assert [_name(t) for t in parts] == ["Soprano", "Bass", "Drums"]
    assert [_program_changes(t) for t in parts] == [[(0, 40)], [(1, 43)], [(9, 0)]]
    for track in parts:
        assert_every_note_ends(track)


def test_unnamed_tracks_get_their_instrument_name(tmp_path):
    score = Score(tracks=(Track(73, notes=(Note(0, 1, 72, 90),)),))
    midi = mido.MidiFile(write_score(score, tmp_path / "flute.mid"))
    assert _name(midi.tracks[1]) == "Flute"
    assert any(m.type == "set_tempo" for m in midi.tracks[0]), "a default tempo is always written"


def test_many_parts_never_land_on_the_drum_channel(tmp_path):
    score = Score(tracks=tuple(Track(p, notes=(Note(0, 1, 60, 90),)) for p in range(20)))
    midi = mido.MidiFile(write_score(score, tmp_path / "big.mid"))
    channels = [_program_changes(t)[0][0] for t in midi.tracks[1:]]
    assert 9 not in channels and channels[:15] == sorted(set(channels[:15]))


def test_reading_keeps_names_programs_and_timing(tmp_path):
    score = read_score(write_score(CHORALE, tmp_path / "c.mid"))
    assert [(t.name, t.program, t.is_drum) for t in score.tracks] == [
        ("Soprano", 40, False),
        ("Bass", 43, False),
        ("Drums", 0, True),
    ]
    assert score.tracks[0].notes == CHORALE.tracks[0].notes
    assert score.tempos == CHORALE.tempos and score.time_signatures == CHORALE.time_signatures


def test_existing_file_is_not_overwritten_without_asking(tmp_path):
    path = tmp_path / "mine.mid"
    path.write_bytes(b"precious")
    with pytest.raises(ComposerError, match="already exists"):
        write_score(CHORALE, path)
    assert path.read_bytes() == b"precious"
    write_score(CHORALE, path, overwrite=True)
    assert read_score(path).num_notes == 7
    assert [p.name for p in tmp_path.iterdir()] == ["mine.mid"], "no temporary files are left behind"


def _valid_bytes(tmp_path) -> bytes:
    return write_score(CHORALE, tmp_path / "valid.mid").read_bytes()


def _with_division(data: bytes, division: bytes) -> bytes:
    return data[:12] + division + data[14:]


def _huge_delta(tmp_path) -> bytes:
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("note_on", note=60, velocity=90, time=0),
                mido.Message("note_off", note=60, velocity=0, time=0x0FFFFFFF),
            ]
        )
    )
    midi.save(tmp_path / "huge.mid")
    return (tmp_path / "huge.mid").read_bytes()


def _no_notes(tmp_path) -> bytes:
    return write_score(Score(tempos=(TempoChange(0, 90),)), tmp_path / "silent.mid").read_bytes()


BAD_FILES = {
    "empty": (lambda tmp: b"", "file is empty"),
    "not MIDI": (lambda tmp: b"Title: a text file\n", "not a MIDI file"),
    "short header": (lambda tmp: b"MThd\x00\x00", "truncated MIDI header"),
    "truncated": (lambda tmp: _valid_bytes(tmp)[:60], "corrupt or truncated"),
    "SMPTE": (lambda tmp: _with_division(_valid_bytes(tmp), b"\xe7\x28"), "SMPTE"),  # 25 fps, 40 ticks/frame
    "zero division": (lambda tmp: _with_division(_valid_bytes(tmp), b"\x00\x00"), "0 ticks"),
    "absurd length": (_huge_delta, "corrupt or truncated"),
    "no notes": (_no_notes, "contains no notes"),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_files_raise_one_clear_error(tmp_path, kind):
    make, message = BAD_FILES[kind]
    path = tmp_path / "bad.mid"
    path.write_bytes(make(tmp_path))
    with pytest.raises(ComposerError, match=message) as error:
        read_score(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_missing_file_and_folder_are_reported(tmp_path):
    with pytest.raises(ComposerError, match="no such file"):
        read_score(tmp_path / "nothing.mid")
    with pytest.raises(ComposerError, match="is a folder"):
        read_score(tmp_path)


def test_oversized_file_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(midi_io, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.mid"
    path.write_bytes(_valid_bytes(tmp_path))
    with pytest.raises(ComposerError, match="too large"):
        read_score(path)


def _name(track: mido.MidiTrack) -> str:
    return next(m.name for m in track if m.type == "track_name")


def _program_changes(track: mido.MidiTrack) -> list[tuple[int, int]]:
    return [(m.channel, m.program) for m in track if m.type == "program_change"]


def _pedal_file(path):
    """At 480 PPQ, 120 qpm: C4 0-1 beat, pedal down at 0.5 and up at 3, E4 1-1.5, C4 again at 2, G4 after: 4-5."""
    track = mido.MidiTrack()
    events = [
        (0, "note_on", 60),
        (240, "pedal", 127),
        (480, "note_off", 60),
        (480, "note_on", 64),
        (720, "note_off", 64),
        (960, "note_on", 60),
        (1200, "note_off", 60),
        (1440, "pedal", 0),
        (1920, "note_on", 67),
        (2400, "note_off", 67),
    ]
    now = 0
    for tick, kind, value in events:
        message = (
            mido.Message("control_change", control=64, value=value)
            if kind == "pedal"
            else mido.Message(kind, note=value, velocity=90 if kind == "note_on" else 0)
        )
        track.append(message.copy(time=tick - now))
        now = tick
    mido.MidiFile(tracks=[track], ticks_per_beat=480).save(path)
    return path


def test_sustain_pedal_holds_released_notes_until_it_lifts_or_the_key_is_struck_again(tmp_path):
    path = _pedal_file(tmp_path / "pedal.mid")
    held = sorted((n.start, n.end, n.pitch) for n in read_score(path).tracks[0].notes)
    assert held == [(0.0, 2.0, 60), (1.0, 3.0, 64), (2.0, 3.0, 60), (4.0, 5.0, 67)]
    dry = sorted((n.start, n.end, n.pitch) for n in read_score(path, sustain_pedal=False).tracks[0].notes)
    assert dry == [(0.0, 1.0, 60), (1.0, 1.5, 64), (2.0, 2.5, 60), (4.0, 5.0, 67)]
