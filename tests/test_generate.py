import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import mido
import pretty_midi
import pytest
from click.testing import CliRunner

from composer import __version__
from composer.cli import main

from midi_factory import assert_every_note_ends, toy_score, write_toy_corpus


@pytest.fixture
def model(tiny_model):
    return tiny_model


def _generate(*args):
    return CliRunner().invoke(main, ["generate", *map(str, args)])


def test_same_seed_gives_a_byte_identical_file(model, tmp_path):
    for name in ("a.mid", "b.mid"):
        result = _generate("--model", model, "--length", 150, "--seed", 5, "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
        assert f"model: {model} (given)" in result.output
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()
    other = _generate("--model", model, "--length", 150, "--seed", 6, "--out", tmp_path / "c.mid")
    assert other.exit_code == 0 and (tmp_path / "c.mid").read_bytes() != (tmp_path / "a.mid").read_bytes()


def test_without_a_seed_the_seed_is_printed_and_names_are_informative(model, tmp_path):
    result = _generate("--model", model, "--num", 3, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "seed: " in result.output
    files = sorted(tmp_path.glob("*.mid"))
    assert len(files) == 3
    assert all(f.name.startswith("run-") and "-seed" in f.name for f in files)


def test_existing_files_are_not_overwritten_without_force(model, tmp_path):
    out = tmp_path / "song.mid"
    out.write_bytes(b"mine")
    refused = _generate("--model", model, "--seed", 1, "--out", out)
    assert refused.exit_code == 2 and "already exists" in refused.output and out.read_bytes() == b"mine"
    assert _generate("--model", model, "--seed", 1, "--out", out, "--force").exit_code == 0
    assert out.read_bytes().startswith(b"MThd")


def test_output_has_the_requested_tempo_meter_and_instruments_in_every_reader(model, tmp_path):
    out = tmp_path / "x.mid"
    result = _generate(
        "--model",
        model,
        "--seed",
        2,
        "--length",
        300,
        "--tempo",
        93,
        "--time-signature",
        "3/4",
        "--program",
        "acoustic grand piano",
        "--program",
        "drums",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    midi = pretty_midi.PrettyMIDI(str(out))
    assert midi.resolution == 480
    assert midi.get_tempo_changes()[1].tolist() == pytest.approx([93])
    assert [(ts.numerator, ts.denominator) for ts in midi.time_signature_changes] == [(3, 4)]
    assert {(i.program, i.is_drum) for i in midi.instruments} <= {(0, False), (0, True)}
    raw = mido.MidiFile(out)
    for track in raw.tracks[1:]:
        assert_every_note_ends(track)
        assert any(m.type == "track_name" for m in track)
    from music21 import converter, meter, tempo

    parsed = converter.parse(out)
    assert parsed.recurse().getElementsByClass(meter.TimeSignature).first().ratioString == "3/4"
    assert parsed.recurse().getElementsByClass(tempo.MetronomeMark).first().number == pytest.approx(93)


def test_key_scale_and_pitch_range_are_respected(model, tmp_path):
    out = tmp_path / "x.mid"
    result = _generate(
        "--model",
        model,
        "--seed",
        3,
        "--length",
        400,
        "--key",
        "D",
        "--scale",
        "minor",
        "--pitch-range",
        "50-70",
        "--temperature",
        "1.5",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    d_minor = {2, 4, 5, 7, 9, 10, 0}
    notes = [(n.pitch, i.is_drum) for i in pretty_midi.PrettyMIDI(str(out)).instruments for n in i.notes]
    assert notes and all(50 <= p <= 70 for p, _ in notes)
    assert all(p % 12 in d_minor for p, drum in notes if not drum)


def test_primer_is_continued_and_can_be_left_out(model, tmp_path):
    from composer.midi_io import read_score, write_score

    primer = write_score(toy_score(3, num_notes=12), tmp_path / "primer.mid")
    kept, dropped = tmp_path / "kept.mid", tmp_path / "dropped.mid"
    assert _generate("--model", model, "--seed", 4, "--primer", primer, "--out", kept).exit_code == 0
    assert (
        _generate("--model", model, "--seed", 4, "--primer", primer, "--no-include-primer", "--out", dropped).exit_code
        == 0
    )
    first = {(round(n.start, 3), n.pitch) for i in pretty_midi.PrettyMIDI(str(kept)).instruments for n in i.notes}
    original = {(round(n.start, 3), n.pitch) for i in pretty_midi.PrettyMIDI(str(primer)).instruments for n in i.notes}
    last_onset = max(start for start, _ in original)  # the continuation may add notes to the primer's last chord
    assert original <= first and {n for n in first if n[0] < last_onset} == {n for n in original if n[0] < last_onset}

    def notes(path):
        return {(t.program, round(n.start * 12), n.pitch) for t in read_score(path).tracks for n in t.notes}

    primer_notes = notes(primer)
    continuation = notes(kept) - primer_notes
    last_onset = max(start for _, start, _ in primer_notes)  # the model continues from there
    assert notes(dropped) == {(p, start - last_onset, pitch) for p, start, pitch in continuation}
    assert read_score(dropped).time_signatures[0].beat == 0 and read_score(dropped).tempos[0].beat == 0


def test_musicxml_and_piano_roll_are_written_beside_the_midi(model, tmp_path):
    result = _generate("--model", model, "--seed", 1, "--out", tmp_path / "x.mid", "--format", "musicxml", "--plot")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x.musicxml").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG"


def test_the_score_is_titled_by_its_file_or_title_and_credits_the_model(model, tmp_path):
    for args, title in [((), "x"), (("--title", "Chorale for Anna"), "Chorale for Anna")]:
        result = _generate(
            "--model", model, "--seed", 1, "--out", tmp_path / "x.mid", "--format", "musicxml", "--force", *args
        )
        assert result.exit_code == 0, result.output
        root = ElementTree.parse(tmp_path / "x.musicxml").getroot()
        assert root.findtext("work/work-title") == title
        assert (
            root.findtext("identification/creator[@type='composer']")
            == f"composer {__version__}, model {model.parent.name}"
        )


def test_the_default_training_output_is_used_when_no_model_is_given(model, tmp_path, monkeypatch):
    monkeypatch.chdir(model.parent.parent)
    os.rename(model.parent, model.parent.parent / "composer-model")
    try:
        result = _generate("--seed", 1, "--out", tmp_path)
        assert result.exit_code == 0, result.output
        assert "trained by `composer train`" in result.output
    finally:
        os.rename(model.parent.parent / "composer-model", model.parent)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--pitch-range", "high"], "--pitch-range 'high': give LOW-HIGH in MIDI numbers, e.g. 48-84"),
        (["--pitch-range", "80-60"], "--pitch-range '80-60': need 0 <= LOW <= HIGH <= 127"),
        (["--key", "H", "--scale", "major"], "--key 'H': give a note name such as C, F#, Bb"),
        (["--key", "C"], "--key needs --scale (for example --key D --scale minor)"),
        (["--program", "kazoo"], "--program 'kazoo': not a General MIDI program number (0-127) or name"),
        (["--time-signature", "three"], "--time-signature 'three': give it as N/D, e.g. 3/4"),
        (["--time-signature", "3/5"], "--time-signature '3/5': need N >= 1 and D one of 2, 4, 8, 16"),
        (["--time-signature", "3/32"], "--time-signature '3/32': need N >= 1 and D one of 2, 4, 8, 16"),
        (["--time-signature", "0/4"], "--time-signature '0/4': need N >= 1"),
        (["--tempo", "2"], "Invalid value for '--tempo': 2.0 is not in the range 4<=x<=1000"),
        (["--no-repeat-ngram", "1"], "need --repetition-penalty >= 1 and --no-repeat-ngram 0 (off) or at least 2"),
        (["--model", "missing.keras"], "missing.keras: no such model file"),
        (["--scale", "pentatonic", "--key", "C", "--pitch-range", "61-61"], "the constraints leave no pitch that may"),
    ],
)
def test_bad_options_are_one_line_errors(model, tmp_path, args, message):
    extra = [] if "--model" in args else ["--model", str(model)]
    result = _generate(*extra, *args, "--out", tmp_path)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and lines[-1].startswith("Error: ") and message in lines[-1], result.output
    # refused before the model is even named, but for Click's own errors (with the usage) and the pitches
    # left, which need the model's pitch range
    assert len(lines) == 1 or message.startswith(("Invalid value", "the constraints leave")), result.output


def test_bars_gives_whole_bars_that_end_on_the_bar_line(model, tmp_path):
    out = tmp_path / "loop.mid"
    result = _generate("--model", model, "--seed", 8, "--bars", 4, "--time-signature", "3/4", "--out", out)
    assert result.exit_code == 0, result.output
    midi = pretty_midi.PrettyMIDI(str(out))
    ends = [n.end for i in midi.instruments for n in i.notes]
    seconds_per_beat = 60 / midi.get_tempo_changes()[1][0]
    assert max(ends) <= 12 * seconds_per_beat + 1e-6, "no note runs past bar 4 of 3/4"
    conductor = mido.MidiFile(out).tracks[0]
    assert sum(message.time for message in conductor) == 12 * 480, "the file lasts exactly 4 bars, final rest included"


def test_right_after_install_the_bundled_model_composes(tmp_path, monkeypatch):
    from composer.artifacts import read_metadata, resolve_model

    monkeypatch.chdir(tmp_path)
    path, origin = resolve_model(None)
    assert origin == "bundled default"
    metadata = read_metadata(path)
    assert metadata["metrics"]["validation"]["nll_per_event"] < metadata["metrics"]["ngram_baseline"]["nll_per_event"]
    result = _generate("--length", 200, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert "(bundled default)" in result.output
    (written,) = tmp_path.glob("default-*-seed1-1.mid")
    assert pretty_midi.PrettyMIDI(str(written)).instruments


def test_runs_into_one_folder_never_clobber_each_other(model, tmp_path):
    for _ in range(3):
        assert _generate("--model", model, "--seed", 1, "--out", tmp_path).exit_code == 0
    files = sorted(tmp_path.glob("*.mid"))
    assert len(files) == 3 and len({f.read_bytes() for f in files}) == 1


def test_greedy_sampling_ignores_the_seed_and_top_k_1_or_a_tiny_top_p_sample_greedily(model, tmp_path):
    runs = {
        "greedy": ["--temperature", 0, "--seed", 1],
        "greedy-other-seed": ["--temperature", 0, "--seed", 2],
        "top-k-1": ["--top-k", 1, "--temperature", 1.5, "--seed", 3],
        # one temperature for all events: with a cooler pitch temperature the likeliest event can change
        "tiny-top-p": ["--top-p", 1e-6, "--temperature", 1.5, "--pitch-temperature", 1.5, "--seed", 4],
    }
    for name, args in runs.items():
        result = _generate("--model", model, *args, "--out", tmp_path / f"{name}.mid")
        assert result.exit_code == 0, result.output
    greedy = (tmp_path / "greedy.mid").read_bytes()
    assert [name for name in runs if (tmp_path / f"{name}.mid").read_bytes() != greedy] == []


def test_max_polyphony_holds_in_the_written_file(model, tmp_path):
    out = tmp_path / "thin.mid"
    result = _generate("--model", model, "--seed", 9, "--length", 500, "--max-polyphony", 2, "--out", out)
    assert result.exit_code == 0, result.output
    notes = [(n.start, n.end) for i in pretty_midi.PrettyMIDI(str(out)).instruments for n in i.notes]
    assert notes and max(sum(s <= start < e for s, e in notes) for start, _ in notes) <= 2


def test_two_processes_writing_into_one_folder_at_once_keep_every_file(model, tmp_path):
    command = [
        sys.executable,
        "-c",
        "from composer.cli import main; main()",
        "generate",
        "--model",
        str(model),
        "--seed",
        "1",
        "--num",
        "4",
        "--out",
        str(tmp_path),
    ]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    files = sorted(tmp_path.glob("*.mid"))
    assert len(files) == 8 and len({f.read_bytes() for f in files}) == 4, "same seed, same pieces, no file lost"
    assert all(pretty_midi.PrettyMIDI(str(f)).instruments for f in files)


def test_a_sidecar_beside_each_file_makes_it_again_byte_for_byte(model, tmp_path):
    import json

    first = tmp_path / "first"
    result = _generate(
        "--model",
        model,
        "--num",
        3,
        "--seed",
        12,
        "--temperature",
        0.9,
        "--pitch-temperature",
        0.7,
        "--top-p",
        0.95,
        "--key",
        "D",
        "--scale",
        "minor",
        "--no-repeat-ngram",
        12,
        "--out",
        first,
    )
    assert result.exit_code == 0, result.output
    files = sorted(first.glob("*.mid"))
    assert len(files) == 3 and all(f.with_suffix(".json").exists() for f in files)
    record = json.loads(files[1].with_suffix(".json").read_text())
    assert record["piece"] == 2 and record["request"]["seed"] == 12 and len(record["model"]["sha256"]) == 64
    assert record["request"]["options"]["no_repeat_ngram"] == 12 and record["composer"]
    assert record["request"]["options"]["pitch_temperature"] == 0.7

    again = tmp_path / "again.mid"
    remade = _generate("--from-sidecar", files[1].with_suffix(".json"), "--out", again)
    assert remade.exit_code == 0, remade.output
    assert again.read_bytes() == files[1].read_bytes()
    mixed = _generate("--from-sidecar", files[1].with_suffix(".json"), "--seed", 3, "--out", tmp_path / "x.mid")
    assert mixed.exit_code == 2 and "--seed: --from-sidecar makes the file exactly as recorded" in mixed.output
    other = tmp_path / "other.keras"
    other.write_bytes(model.read_bytes() + b"\0")
    wrong = _generate("--from-sidecar", files[1].with_suffix(".json"), "--model", other, "--out", tmp_path / "y.mid")
    assert wrong.exit_code == 2 and "is not the model this file was made with" in wrong.output


def test_with_an_ending_the_piece_goes_on_past_the_length_asked_for_and_is_made_again_from_its_sidecar(model, tmp_path):
    import json

    from composer.midi_io import read_score

    out = tmp_path / "ends"
    result = _generate("--model", model, "--bars", 1, "--ending", "--num", 4, "--seed", 2, "--out", out)
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.mid"))
    assert all(json.loads(f.with_suffix(".json").read_text())["request"]["ending_bars"] == 4 for f in files)
    for file in files:
        first_bar_line = read_score(file).bar_lines(1e-3)[1]
        file_beats = sum(message.time for message in mido.MidiFile(file).tracks[0]) / 480
        assert file_beats > first_bar_line, "the piece goes on past the bar asked for, to its ending"
    again = tmp_path / "again.mid"
    remade = _generate("--from-sidecar", files[-1].with_suffix(".json"), "--out", again)
    assert remade.exit_code == 0 and again.read_bytes() == files[-1].read_bytes()


def test_loop_fills_whole_bars_and_primer_bars_takes_the_first_bars(model, tmp_path):
    from composer.midi_io import read_score, write_score

    out = tmp_path / "loop.mid"
    result = _generate(
        "--model", model, "--seed", 2, "--length", 170, "--time-signature", "3/4", "--loop", "--out", out
    )
    assert result.exit_code == 0, result.output
    ticks = sum(message.time for message in mido.MidiFile(out).tracks[0])
    notes = [n for t in read_score(out).tracks for n in t.notes]
    assert ticks % (3 * 480) == 0 and max(n.end for n in notes) * 480 <= ticks
    assert ticks - 3 * 480 <= max(n.start for n in notes) * 480 < ticks, "the last bar holds the last onset"

    primer = write_score(toy_score(5, num_notes=40), tmp_path / "primer.mid")  # 4/4, 20 bars or so
    two_bars = tmp_path / "two.mid"
    result = _generate(
        "--model", model, "--seed", 2, "--primer", primer, "--primer-bars", 2, "--length", 1, "--out", two_bars
    )
    assert result.exit_code == 0, result.output
    kept = {(round(n.start, 3), n.pitch) for t in read_score(two_bars).tracks for n in t.notes}
    original = {(round(n.start, 3), n.pitch) for t in read_score(primer).tracks for n in t.notes}
    assert kept & original == {(start, pitch) for start, pitch in original if start < 8}, "bars 1-2 only"


def _conductor_map(path):
    """(beat, numerator) of each time signature, (beat, qpm) of each tempo, and the length in beats."""
    now, meters, tempos = 0, [], []
    for message in mido.MidiFile(path).tracks[0]:
        now += message.time
        if message.type == "time_signature":
            meters.append((now / 480, message.numerator))
        elif message.type == "set_tempo":
            tempos.append((now / 480, round(mido.tempo2bpm(message.tempo))))
    return meters, tempos, now / 480


def _two_bars_of_three_four_after(primer, model, seed, include, out):
    options = ["--seed", seed, "--primer", primer, "--bars", 2, "--time-signature", "3/4", include]
    return _generate("--model", model, *options, "--out", out)


def _ten_note_primer(path, **score_fields):
    """A melody of ten one-beat notes: its last onset, beat 9, falls mid-bar in 4/4 and on a bar line in 3/4."""
    from composer.midi_io import write_score
    from composer.score import Note, Score, Track

    melody = tuple(Note(i * 1.0, i + 1.0, 60 + i % 5, 90) for i in range(10))
    return write_score(Score((Track(0, notes=melody),), **score_fields), path)


def test_bars_after_a_primer_that_ends_mid_bar_are_whole_and_on_the_file_grid(model, tmp_path):
    from composer.midi_io import read_score
    from composer.score import TimeSignature

    primer = _ten_note_primer(tmp_path / "primer.mid", time_signatures=(TimeSignature(0, 4, 4),))
    for bars in (1, 2):
        out = tmp_path / f"{bars}.mid"
        result = _generate(
            "--model", model, "--seed", 3, "--primer", primer, "--bars", bars, "--no-include-primer", "--out", out
        )
        assert result.exit_code == 0, result.output
        length = sum(message.time for message in mido.MidiFile(out).tracks[0]) / 480
        assert length == 4 * bars + 4, "the primer's last bar (beats 8-12, from 0 here) and N whole bars"
        assert min(n.start for t in read_score(out).tracks for n in t.notes) >= 1, "from beat 9 of the primer"


def test_a_new_meter_after_a_primer_starts_on_its_next_bar_line_and_bars_follow_it(model, tmp_path):
    from composer.score import TimeSignature

    primer = _ten_note_primer(tmp_path / "primer.mid", time_signatures=(TimeSignature(0, 4, 4),))
    for include, length, meters in (("--include-primer", 18, [(0, 4), (12, 3)]), ("--no-include-primer", 6, [(0, 3)])):
        out = tmp_path / f"{include}.mid"
        result = _two_bars_of_three_four_after(primer, model, 3, include, out)
        assert result.exit_code == 0, result.output
        changes, _, beats = _conductor_map(out)
        assert changes == meters, "the primer's 4/4 bars 1-3 whole, then 3/4 from the bar line after beat 9"
        assert beats == length, "and exactly 2 bars of 3/4 after them"


def test_the_same_meter_after_a_primer_ending_mid_bar_keeps_its_bars_and_its_tempo_map(model, tmp_path):
    from composer.score import TempoChange, TimeSignature

    primer = _ten_note_primer(
        tmp_path / "primer.mid",
        tempos=(TempoChange(0, 120), TempoChange(4, 100)),
        time_signatures=(TimeSignature(0, 4, 4),),
    )
    out = tmp_path / "out.mid"
    result = _generate(
        "--model",
        model,
        "--seed",
        3,
        "--primer",
        primer,
        "--bars",
        2,
        "--time-signature",
        "4/4",
        "--tempo",
        90,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    meters, tempos, length = _conductor_map(out)
    assert meters == [(0, 4)], "no second 4/4 mid-bar, which would start a new bar there"
    assert length == 20, "the primer's started bar (8-12) filled, then 2 bars"
    assert tempos == [(0, 120), (4, 100), (9, 90)], "the primer's tempo map, then --tempo where it ends"


@pytest.mark.slow  # trains its own model
def test_a_model_without_meter_events_writes_bars_of_the_requested_meter(tmp_path):
    from composer.config import EncodingConfig, ModelConfig, TrainConfig
    from composer.training.train import TrainRequest, train

    corpus = write_toy_corpus(tmp_path / "corpus", bad_files=False)
    trained = train(
        TrainRequest(
            corpus,
            tmp_path / "run",
            EncodingConfig(use_time_signatures=False),
            ModelConfig(embedding_dim=8, units=16),
            TrainConfig(epochs=1, batch_size=8, sequence_length=32, valid_fraction=0.25, seed=1),
            cache_dir=tmp_path / "c",
            workers=1,
        ),
        report=lambda line: None,
    )
    primer = _ten_note_primer(tmp_path / "primer.mid")
    for include, length in (("--include-primer", 15), ("--no-include-primer", 6)):
        out = tmp_path / f"{include}.mid"
        result = _two_bars_of_three_four_after(primer, trained["model"], 2, include, out)
        assert result.exit_code == 0, result.output
        meters, _, beats = _conductor_map(out)
        assert meters == [(0, 3)]
        assert beats == length, "two 3/4 bars after beat 9, on a grid from the first beat"


def test_a_companion_file_in_the_way_stops_the_run_before_anything_is_written(model, tmp_path):
    (tmp_path / "song.json").write_text("mine")
    result = _generate("--model", model, "--seed", 1, "--out", tmp_path / "song.mid")
    assert result.exit_code == 2 and "song.json already exists" in result.output
    assert not (tmp_path / "song.mid").exists() and (tmp_path / "song.json").read_text() == "mine"


@pytest.mark.parametrize(
    "content",
    [
        '{"sidecar_version": 1}',
        "[]",
        "not json",
        '{"sidecar_version": 1, "composer": "0.0.1", "model": {}, "request": {}}',
    ],
)
def test_a_broken_sidecar_is_a_one_line_error(model, tmp_path, content):
    sidecar = tmp_path / "x.json"
    sidecar.write_text(content)
    result = _generate("--from-sidecar", sidecar, "--model", model, "--out", tmp_path / "y.mid")
    assert result.exit_code == 2 and result.output.startswith("Error: ") and "Traceback" not in result.output


def _bundled_model_recording(tmp_path, name: str, records: dict, drop: tuple = ()):
    """A copy of the bundled model whose metadata records ``records`` of its training data, and not ``drop``
    (openings: meters and tempos it met in training, since the sampler leaves out what it never met)."""
    import json
    import zipfile

    from composer.artifacts import METADATA_ENTRY, resolve_model

    bundled, _ = resolve_model(None)
    copy = tmp_path / f"{name}.keras"
    with zipfile.ZipFile(bundled) as source, zipfile.ZipFile(copy, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == METADATA_ENTRY:
                metadata = json.loads(data)
                kept = {key: value for key, value in metadata["data"].items() if key not in drop}
                metadata["data"] = kept | records
                data = json.dumps(metadata).encode()
            target.writestr(entry, data)
    return copy


@pytest.mark.parametrize(
    "key, recorded, tempo",
    [("openings", {"3/4 q=95": 1}, 95), ("opening_meters", {"3/4": 1}, None)],
    ids=["meter and tempo (composer 0.11)", "the meter alone (composer 0.10)"],
)
def test_pieces_open_as_the_training_pieces_recorded_in_the_model_did(key, recorded, tempo, tmp_path):
    model = _bundled_model_recording(tmp_path, key, {key: recorded}, drop=("openings", "opening_meters"))
    result = _generate("--model", model, "--length", 80, "--num", 3, "--seed", 1, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    for written in sorted((tmp_path / "out").glob("*.mid")):
        meters, tempos, _ = _conductor_map(written)
        assert meters[0] == (0, 3), "the bundled chorales open in 4/4 when left to themselves"
        assert tempo is None or tempos[0] == (0, tempo)


@pytest.mark.parametrize("chords", [None, "C G Am F"])
def test_each_part_plays_where_its_instrument_played_in_training(chords, tmp_path):
    """The violin held to eight notes and the viola to two: pieces stay in them, also under the chord rule, where the
    viola has none of G major's tones (it must sit those chords out, not lead the sampler to a dead end)."""
    ranges = {"40": [72, 79], "41": [64, 65]}
    model = _bundled_model_recording(tmp_path, "ranges", {"pitch_ranges": ranges})
    options = () if chords is None else ("--chords", chords)
    result = _generate("--model", model, "--length", 300, "--num", 3, "--seed", 4, "--out", tmp_path / "out", *options)
    assert result.exit_code == 0, result.output
    played = {}
    for written in sorted((tmp_path / "out").glob("*.mid")):
        for instrument in pretty_midi.PrettyMIDI(str(written)).instruments:
            played.setdefault(instrument.program, set()).update(note.pitch for note in instrument.notes)
    assert played[40] and played[40] <= set(range(72, 80))
    assert played[41] and played[41] <= {64, 65}
    assert min(played[43]) < 50, "the double bass, with no range recorded here, plays as low as before"
