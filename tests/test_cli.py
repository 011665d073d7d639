import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from composer.cli import main
from composer.midi_io import write_score

from midi_factory import CHORALE


@pytest.fixture
def chorale(tmp_path):
    return write_score(CHORALE, tmp_path / "chorale.mid")


def test_inspect_describes_the_file(chorale):
    result = CliRunner().invoke(main, ["inspect", str(chorale), "--tokens", "7"])
    assert result.exit_code == 0, result.output
    assert "Soprano: Violin, 3 notes, pitches 71-72" in result.output
    assert "tempo: 80 qpm at beat 0" in result.output
    assert "time signature: 3/4 at beat 0" in result.output
    assert "length: 4 beats, 3 s" in result.output
    assert "round trip: lossy, 3 of 7 notes change" in result.output  # velocity 90 falls between levels 88 and 92
    assert "first 7 tokens: Start Bar TimeSig_3/4 Key_0 Part_40 Part_43 Part_drums" in result.output
    assert "key: encoded as written (in C major or A minor already)" in result.output


def test_inspect_json_is_machine_readable(chorale):
    result = CliRunner().invoke(main, ["inspect", str(chorale), "--json", "--tokens", "3"])
    assert result.exit_code == 0
    info = json.loads(result.output)
    assert info["notes"] == 7 and info["tokens"] > 7
    assert info["first_tokens"] == ["Start", "Bar", "TimeSig_3/4"]
    assert [t["program"] for t in info["tracks"]] == [40, 43, 0]
    assert info["round_trip"]["decode_matches_quantize"]


def test_inspect_reports_an_exact_round_trip(tmp_path):
    from composer.config import EncodingConfig
    from composer.events import quantize

    path = write_score(quantize(CHORALE, EncodingConfig()), tmp_path / "q.mid")
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert "round trip: exact" in result.output


def test_inspect_says_how_far_the_one_key_encoding_moves_a_file(tmp_path):
    from composer.score import Note, Score, Track

    in_d = Score(
        tracks=(Track(40, notes=tuple(Note(i, i + 1, p, 96) for i, p in enumerate((62, 64, 66, 67, 69, 73, 74)))),)
    )
    result = CliRunner().invoke(main, ["inspect", str(write_score(in_d, tmp_path / "d.mid")), "--json"])
    assert json.loads(result.output)["key_shift"] == -2
    result = CliRunner().invoke(main, ["inspect", str(tmp_path / "d.mid")])
    assert "key: encoded 2 semitones down, in C major or A minor" in result.output


def test_inspect_says_lossy_when_parts_of_one_instrument_merge(tmp_path):
    import dataclasses

    from composer.config import EncodingConfig
    from composer.events import quantize

    exact = quantize(CHORALE, EncodingConfig())
    same_instrument = tuple(dataclasses.replace(t, program=40) for t in exact.tracks if not t.is_drum)
    path = write_score(dataclasses.replace(exact, tracks=same_instrument), tmp_path / "violins.mid")
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{len(same_instrument) - 1} parts merge into others of the same instrument" in result.output


def test_too_fine_a_grid_is_refused_before_anything_runs(tmp_path):
    result = CliRunner().invoke(
        main, ["train", str(tmp_path), "--steps-per-quarter", "5000", "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 2 and "lower --steps-per-quarter" in result.output


@pytest.mark.parametrize(
    "content, reason",
    [
        (None, "bad.mid: no such file"),
        (b"", "bad.mid: file is empty"),
        (b"hello", "bad.mid: not a MIDI file (no MThd header)"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\xe7\x28", "bad.mid: uses SMPTE time division, which has no beat"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, content, reason):
    path = tmp_path / "bad.mid"
    if content is not None:
        path.write_bytes(content)
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1 and reason in result.output


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from composer.cli import main\n"
        "try: main(['--help'])\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'music21', 'pretty_midi', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "inspect" in result.stdout
    assert result.stdout.strip().endswith("[]")


def test_inspect_a_bundled_sample():
    from pathlib import Path

    sample = Path(__file__).parent.parent / "midi_samples" / "bwv269.mid"
    result = CliRunner().invoke(main, ["inspect", str(sample)])
    assert result.exit_code == 0
    assert "Soprano: Violin" in result.output and "time signature: 3/4" in result.output
    assert "round trip: exact" in result.output
