"""The bundled corpus is what a DAW user expects: one file per chorale, clean MIDI."""

from pathlib import Path

import mido
import pytest

SAMPLES = sorted((Path(__file__).parent.parent / "midi_samples").glob("*.mid"))


def test_all_distinct_chorales_are_bundled():
    assert len(SAMPLES) == 350


@pytest.mark.parametrize("path", SAMPLES[::25], ids=lambda p: p.name)
def test_sample_is_daw_ready(path):
    midi = mido.MidiFile(path)
    assert (midi.type, midi.ticks_per_beat) == (1, 480)
    meta = [m.type for m in midi.tracks[0] if m.is_meta]
    assert meta.count("set_tempo") == 1 and meta.count("time_signature") == 1
    parts = midi.tracks[1:]
    names = [next(m.name for m in t if m.type == "track_name") for t in parts]
    voices = [name for name in names if name in ("Soprano", "Alto", "Tenor", "Bass")]
    assert voices == ["Soprano", "Alto", "Tenor", "Bass"] and len(set(names)) == len(names) and all(names)
    channels = [next(m.channel for m in t if m.type == "program_change") for t in parts]
    programs = [next(m.program for m in t if m.type == "program_change") for t in parts]
    assert len(set(channels)) == len(parts) and 9 not in channels
    assert len(set(programs)) == len(parts) and 0 not in programs
