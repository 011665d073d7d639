import json
from dataclasses import replace

import mido
import pytest
from click.testing import CliRunner

from composer.cli import main
from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import decode, token_names
from composer.generation.melody import MelodyGuide, read_melody
from composer.generation.sample import Constraints, SamplingOptions, sample_pieces
from composer.midi_io import read_score, write_score
from composer.score import Note, Score, TempoChange, TimeSignature, Track

from random_networks import random_network

CONFIG = EncodingConfig()
# a pickup, a note held over a bar line, a whole bar held, a rest, repeated pitches
TUNE = (
    Note(3, 4, 67, 90),
    Note(4, 5.5, 72, 90),
    Note(5.5, 6, 72, 70),
    Note(6, 7, 71, 90),
    Note(7, 9, 69, 90),
    Note(9, 10, 67, 90),
    Note(12, 16, 67, 100),
    Note(17, 18, 65, 90),
    Note(18, 20, 64, 90),
)
SONG = Score(
    tracks=(
        Track(32, name="Bass", notes=(Note(0, 4, 48, 80), Note(4, 8, 43, 80))),
        Track(0, name="Tune", notes=TUNE),
    ),
    tempos=(TempoChange(0, 96),),
    time_signatures=(TimeSignature(0, 4, 4),),
)


def _written(tmp_path, score=SONG, name="song.mid"):
    return write_score(score, tmp_path / name, overwrite=True)


def _notes(track) -> list[tuple[float, float, int]]:
    return [(note.start, note.end, note.pitch) for note in track.notes]


def _assert_on_top(score: Score, program: int) -> None:
    """No other note sounds above the melody's while it sounds."""
    melody = [t for t in score.tracks if t.program == program and not t.is_drum]
    assert len(melody) == 1, "one part plays the melody, and only it plays the melody's instrument"
    for note in melody[0].notes:
        for track in score.tracks:
            if track is not melody[0] and not track.is_drum:
                above = [o for o in track.notes if o.start < note.end and o.end > note.start and o.pitch > note.pitch]
                assert not above, (note, above)


def _moved(score: Score, semitones: int) -> Score:
    return score.with_notes(lambda track: tuple(replace(n, pitch=n.pitch + semitones) for n in track.notes))


@pytest.mark.parametrize("seed", range(4))
def test_an_untrained_network_still_plays_the_melody_exactly_and_on_top(tmp_path, seed):
    """Whatever the network prefers, the guide forces the melody's events in and nothing past its onsets; a tune
    in D major is written in C (Key_-2) and comes out in D."""
    moved = 2 * (seed % 2)
    melody = read_melody(_written(tmp_path, _moved(SONG, moved)), None, None, CONFIG)
    assert melody.bars == 5 and melody.meter == (4, 4) and melody.qpm == 96 and melody.key == -moved
    pieces = sample_pieces(
        random_network(seed=seed),
        CONFIG,
        num_bars=melody.bars,
        batch=3,
        seed=seed,
        options=SamplingOptions(temperature=1.5),
        constraints=Constraints(tempo=95, time_signature=(4, 4)),
        guides=[MelodyGuide(melody, CONFIG)],
    )
    for piece in pieces:
        names = token_names(piece.tokens, CONFIG)
        declared = [name for name in names[: names.index("Pos_0")] if name.startswith("Part")]
        assert "Part_0" in declared and len(declared) > 1, "the melody's instrument, and another to play under it"
        assert names[:4] == ["Start", "Bar", "TimeSig_4/4", f"Key_{-moved}"], names[:6]
        score = decode(piece.tokens, CONFIG)
        _assert_on_top(score, 0)
        tune = next(t for t in score.tracks if t.program == 0 and not t.is_drum)
        assert _notes(tune) == _notes(_moved(SONG, moved).tracks[1]) and piece.end_step == 5 * 48


def test_a_note_longer_than_the_models_longest_is_heard_at_that_length(tmp_path):
    melody = read_melody(_written(tmp_path, _song_with(Note(0, 1, 60, 90), Note(1, 13, 62, 90))), None, None, CONFIG)
    assert [note[:3] for note in melody.notes] == [(0, 12, 60), (12, 108, 62)]
    assert melody.track.notes[-1].end == 13 and melody.bars == 4, "written out whole, in bars that hold it"


def test_the_highest_part_is_the_melody_unless_one_is_named(tmp_path):
    path = _written(tmp_path)
    assert read_melody(path, None, None, CONFIG).track.name == "Tune"
    assert read_melody(path, "bass", None, CONFIG).track.name == "Bass"
    assert read_melody(path, "1", None, CONFIG).track.name == "Bass"
    assert read_melody(path, "2", 40, CONFIG).program == 40


def _song_with(*notes, meters=(TimeSignature(0, 4, 4),)) -> Score:
    return Score(tracks=(Track(0, name="Tune", notes=notes),), time_signatures=meters)


@pytest.mark.parametrize(
    "score, part, config, reason",
    [
        (_song_with(Note(0.1, 1, 60, 90)), None, CONFIG, "falls between the model's grid steps"),
        (_song_with(Note(0, 1, 30, 90)), None, EncodingConfig(min_pitch=36), "outside the model's range 36-127"),
        (_song_with(Note(0, 2, 60, 90), Note(1, 2, 64, 90)), None, CONFIG, "two notes at once at beat 1"),
        (
            _song_with(Note(0, 1, 60, 90), meters=(TimeSignature(0, 4, 4), TimeSignature(4, 3, 4))),
            None,
            CONFIG,
            "changes meter",
        ),
        (SONG, "flute", CONFIG, "names no single part with pitched notes; its parts are 1: Bass, 2: Tune"),
        (SONG, "3", CONFIG, "names no single part"),
        (SONG, None, EncodingConfig(highest_first=False), "this model cannot harmonize"),
    ],
)
def test_a_melody_the_model_would_change_is_refused_with_the_reason(tmp_path, score, part, config, reason):
    with pytest.raises(ComposerError, match=reason):
        read_melody(_written(tmp_path, score), part, None, config)


def _harmonize(*args):
    return CliRunner().invoke(main, ["harmonize", *map(str, args)])


def test_a_drum_kit_cannot_play_the_melody(tmp_path):
    result = _harmonize(_written(tmp_path), "--melody-program", "drums")
    assert result.exit_code == 2 and "a melody needs a pitched instrument" in result.output


def _end_of_track_beat(path) -> float:
    midi = mido.MidiFile(path)
    return max(sum(message.time for message in track) for track in midi.tracks) / midi.ticks_per_beat


def test_harmonize_keeps_the_melody_and_ends_on_the_bar_line_after_it(tiny_model, tmp_path):
    song = _written(tmp_path)
    out = tmp_path / "out"
    result = _harmonize(song, "--model", tiny_model, "--num", 2, "--seed", 5, "--out", out)
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.mid"))
    assert len(files) == 2
    for path in files:
        score = read_score(path)
        tune = next(t for t in score.tracks if t.name == "Tune")
        assert [(n.start, n.end, n.pitch, n.velocity) for n in tune.notes] == [
            (n.start, n.end, n.pitch, n.velocity) for n in TUNE
        ], "note for note, velocities too"
        _assert_on_top(score, 0)
        assert len(score.tracks) > 1, "the model wrote parts under it"
        assert [(t.numerator, t.denominator) for t in score.time_signatures] == [(4, 4)]
        assert score.tempos[0].qpm == 96 and _end_of_track_beat(path) == 20
    record = json.loads(files[1].with_suffix(".json").read_text())
    assert record["request"]["melody"]["path"] == str(song.resolve())
    again, sidecar = tmp_path / "again.mid", files[1].with_suffix(".json")
    remade = CliRunner().invoke(main, ["generate", "--from-sidecar", str(sidecar), "--out", str(again)])
    assert remade.exit_code == 0, remade.output
    assert again.read_bytes() == files[1].read_bytes()
    write_score(_song_with(Note(0, 1, 60, 90)), song, overwrite=True)
    changed = CliRunner().invoke(main, ["generate", "--from-sidecar", str(sidecar), "--out", str(tmp_path / "x.mid")])
    assert changed.exit_code == 2 and "the melody" in changed.output and "has changed" in changed.output


def test_a_melody_on_an_instrument_the_model_never_played_is_refused_naming_the_option(tiny_model, tmp_path):
    out = tmp_path / "x.mid"
    result = _harmonize(_written(tmp_path), "--model", tiny_model, "--melody-program", "flute", "--out", out)
    assert result.exit_code == 2 and "never played a Flute in training" in result.output
    assert "--melody-program" in result.output and not out.exists()
    missing = _harmonize(tmp_path / "nothing.mid", "--model", tiny_model)
    assert missing.exit_code == 2 and missing.output.endswith("nothing.mid: no such file\n"), missing.output
