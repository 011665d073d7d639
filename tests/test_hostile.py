"""Malformed and extreme MIDI files never crash composer: each is read, or refused with one line saying why."""

import io
import shutil

import mido
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from composer.cli import main
from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import encode
from composer.midi_io import MAX_BEATS, parse_score

from hostile_midi import VALID, write_hostile_corpus
from midi_factory import write_toy_corpus
from tiny_training import train_args

# The most events a file may encode into: a few per note, plus one time shift per beat or so.
MAX_TOKENS_PER_NOTE = 5
# A valid file, only large: inspect reads it in seconds, but an epoch on it or a primer of it would take minutes.
HEAVY = {"many_notes_100k.mid"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """(folder, {filename: class}) of every hostile case."""
    folder = tmp_path_factory.mktemp("hostile")
    return folder, write_hostile_corpus(folder)


def _read(data: bytes) -> list[int] | None:
    """The tokens of a file, or None when it is refused; any other exception fails the test."""
    try:
        score = parse_score(data, "fuzz.mid")
    except ComposerError as error:
        assert "\n" not in str(error)
        return None
    tokens = encode(score, EncodingConfig())
    assert len(tokens) <= MAX_TOKENS_PER_NOTE * score.num_notes + MAX_BEATS + 2
    return tokens


def _outcome(result) -> str:
    """'ok', or the one error line; fails on tracebacks, crashes and multi-line errors."""
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    if result.exit_code == 0:
        return "ok"
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    return errors[0]


@pytest.mark.slow
def test_inspect_reads_or_refuses_every_hostile_file(hostile):
    folder, classes = hostile
    runner = CliRunner()
    outcomes = {name: _outcome(runner.invoke(main, ["inspect", str(folder / name)])) for name in classes}
    for name, outcome in outcomes.items():
        assert outcome == "ok" or name in outcome, f"{name}: the error should name the file: {outcome}"
    assert outcomes["running_status_ok.mid"] == outcomes["garbage_after_valid.mid"] == "ok"
    assert "SMPTE" in outcomes["smpte_25fps.mid"] and "tempo of 0" in outcomes["tempo_0.mid"]
    assert f"{MAX_BEATS} beats" in outcomes["huge_delta_low_division.mid"]


@pytest.mark.slow
def test_training_skips_each_bad_file_with_a_reason_and_uses_the_rest(hostile, tmp_path):
    folder, classes = hostile
    data = write_toy_corpus(tmp_path / "data", num_files=8)
    shutil.copytree(folder, data / "hostile", ignore=lambda _, names: [n for n in names if n in HEAVY])
    result = CliRunner().invoke(
        main,
        train_args(
            data,
            tmp_path / "run",
            "--epochs",
            1,
            "--valid-fraction",
            0.25,
            "--workers",
            1,
            "--seed",
            1,
            "--cache-dir",
            tmp_path / "cache",
        ),
    )
    assert _outcome(result) == "ok", result.output
    skipped = dict(line.split(": ", 1) for line in result.output.splitlines() if line.startswith("skipped "))
    refused = {name for name in classes.keys() - HEAVY if _read((folder / name).read_bytes()) is None}
    assert {path.rsplit("/", 1)[-1] for path in skipped} == refused | {"broken.mid", "empty.mid"}
    assert all(reason.strip() for reason in skipped.values())


def test_generate_continues_or_refuses_every_hostile_primer(hostile, tiny_model, tmp_path):
    folder, classes = hostile
    runner = CliRunner()
    for name in classes.keys() - HEAVY:
        out = tmp_path / f"{name}.out.mid"
        result = runner.invoke(
            main,
            [
                "generate",
                "--model",
                str(tiny_model),
                "--primer",
                str(folder / name),
                "--length",
                "8",
                "--seed",
                "1",
                "--out",
                str(out),
            ],
        )
        assert _outcome(result) == "ok" or name in result.output
        assert out.exists() == (result.exit_code == 0), f"{name}: {result.output}"


@st.composite
def mutations(draw) -> bytes:
    """A valid file with a few bytes overwritten, inserted or deleted, or cut short."""
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        byte = draw(st.integers(0, 255))
        edit = draw(st.sampled_from(["set", "insert", "delete"]))
        if edit == "insert" or position == len(data):
            data.insert(position, byte)
        elif edit == "set":
            data[position] = byte
        else:
            del data[position]
    return bytes(data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data)


raw_files = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=300).map(lambda tail: VALID[:14] + tail),  # a valid header, then anything
    st.binary(max_size=300).map(lambda tail: VALID[:22] + tail),  # a valid track header, then anything
    mutations(),
)


@given(data=raw_files)
def test_raw_bytes_raise_nothing_but_composer_error(data):
    _read(data)


deltas = st.one_of(st.integers(0, 960), st.integers(0, 0x0FFFFFFF))
channels = st.integers(0, 15)
data_bytes = st.integers(0, 127)
messages = st.one_of(
    st.builds(mido.Message, st.just("note_on"), channel=channels, note=data_bytes, velocity=data_bytes, time=deltas),
    st.builds(mido.Message, st.just("note_off"), channel=channels, note=data_bytes, velocity=data_bytes, time=deltas),
    st.builds(mido.Message, st.just("program_change"), channel=channels, program=data_bytes, time=deltas),
    st.builds(
        mido.Message, st.just("control_change"), channel=channels, control=data_bytes, value=data_bytes, time=deltas
    ),
    st.builds(mido.Message, st.just("pitchwheel"), channel=channels, pitch=st.integers(-8192, 8191), time=deltas),
    st.builds(mido.MetaMessage, st.just("set_tempo"), tempo=st.integers(0, 0xFFFFFF), time=deltas),
    st.builds(
        mido.MetaMessage,
        st.just("time_signature"),
        numerator=st.integers(0, 255),
        denominator=st.integers(0, 7).map(lambda e: 2**e),
        time=deltas,
    ),
    st.builds(mido.MetaMessage, st.just("track_name"), name=st.text(max_size=8), time=deltas),
)


@st.composite
def structured_files(draw) -> bytes:
    """A well-formed file of arbitrary messages, delta times, tempos and meters, in any format and resolution."""
    midi = mido.MidiFile(
        type=draw(st.sampled_from([0, 1, 2])),
        ticks_per_beat=draw(st.one_of(st.integers(1, 0x7FFF), st.sampled_from([96, 480]))),
    )
    for _ in range(1 if midi.type == 0 else draw(st.integers(0, 4))):
        midi.tracks.append(mido.MidiTrack(draw(st.lists(messages, max_size=30))))
    buffer = io.BytesIO()
    try:
        midi.save(file=buffer)
    except UnicodeEncodeError:  # a track name outside latin-1: mido cannot write it
        return VALID
    return buffer.getvalue()


@settings(max_examples=100)
@given(data=structured_files())
def test_structured_midi_raises_nothing_but_composer_error(data):
    _read(data)
