"""Generated files in real music software: pretty_midi, mido and music21 read every one, FluidSynth plays it."""

import os
import shutil
import wave
from dataclasses import replace

import mido
import numpy as np
import pretty_midi
import pytest

from composer.errors import ComposerError
from composer.events import DRUMS
from composer.generation.output import generate_files
from composer.generation.request import GenerateRequest
from composer.generation.sample import Constraints, SamplingOptions
from composer.midi_io import OUTPUT_PPQ
from composer.render.audio import DEBIAN_SOUNDFONT
from composer.scales import scale_pitch_classes

from midi_factory import assert_every_note_ends

CASES = {
    "default": GenerateRequest(),
    "greedy": GenerateRequest(options=SamplingOptions(temperature=0)),
    "nearly-greedy": GenerateRequest(options=SamplingOptions(temperature=0.01, top_k=2, top_p=0.3)),
    "very-hot": GenerateRequest(options=SamplingOptions(temperature=50)),
    "key-and-range": GenerateRequest(
        constraints=Constraints(pitch_classes=scale_pitch_classes("F#", "blues"), min_pitch=40, max_pitch=60)
    ),
    "instruments": GenerateRequest(constraints=Constraints(programs=frozenset({40, DRUMS}))),  # violin and drums
    "monophonic": GenerateRequest(constraints=Constraints(max_polyphony=1)),
    "tempo-and-meter": GenerateRequest(qpm=203, time_signature=(7, 8)),
    "bars": GenerateRequest(num_bars=3, time_signature=(3, 4), qpm=90),
}


@pytest.mark.parametrize("name", CASES)
def test_every_generated_file_reads_cleanly_in_pretty_midi_mido_and_music21(tiny_model, tmp_path, name):
    request = CASES[name]
    written = generate_files(replace(request, num_events=300, out=tmp_path, num_files=3, seed=len(name)), tiny_model)
    midi_files = [path for path in written if path.suffix == ".mid"]
    assert len(midi_files) == 3 and len(written) == 6, "each file has its sidecar"
    for path in midi_files:
        _check_pretty_midi(path, request)
        _check_mido(path, request)
        _check_music21(path)


def _check_pretty_midi(path, request: GenerateRequest) -> None:
    """Notes in range and in time; the requested tempo, meter, instruments, polyphony and length."""
    constraints = request.constraints
    midi = pretty_midi.PrettyMIDI(str(path))
    assert midi.resolution == OUTPUT_PPQ
    notes = [(note, instrument) for instrument in midi.instruments for note in instrument.notes]
    assert notes, "every file has notes"
    assert all(constraints.min_pitch <= n.pitch <= constraints.max_pitch and n.end > n.start >= 0 for n, _ in notes)
    pitched = [n.pitch for n, instrument in notes if not instrument.is_drum]
    assert constraints.pitch_classes is None or all(p % 12 in constraints.pitch_classes for p in pitched)
    if constraints.programs is not None:
        assert {-1 if i.is_drum else i.program for i in midi.instruments} <= {40, -1}  # violin, drums
    if constraints.max_polyphony:
        onsets = [n.start for n, _ in notes]
        assert max(sum(n.start <= t < n.end for n, _ in notes) for t in onsets) <= constraints.max_polyphony
    times, tempos = midi.get_tempo_changes()
    assert times[0] == 0 and (request.qpm is None or tempos[0] == pytest.approx(request.qpm, rel=1e-4))
    meter = midi.time_signature_changes[0]
    assert meter.time == 0 and (request.time_signature in (None, (meter.numerator, meter.denominator)))
    if request.num_bars:
        beats = request.num_bars * meter.numerator * 4 / meter.denominator
        assert max(n.end for n, _ in notes) <= beats * 60 / request.qpm * (1 + 1e-5)  # tempo in whole microseconds


def _check_mido(path, request: GenerateRequest) -> None:
    """Every note ends; tempo and meter are set at tick 0; a --bars file lasts exactly its bars."""
    midi = mido.MidiFile(path)
    conductor = midi.tracks[0]
    at_start = {m.type for m in conductor if m.time == 0}
    assert {"set_tempo", "time_signature"} <= at_start
    for track in midi.tracks:
        assert_every_note_ends(track)
    if request.num_bars:
        numerator, denominator = request.time_signature
        assert sum(m.time for m in conductor) == request.num_bars * numerator * 4 * OUTPUT_PPQ // denominator


def _check_music21(path) -> None:
    from music21 import converter, meter, tempo

    parsed = converter.parse(path, forceSource=True)
    assert parsed.recurse().getElementsByClass(meter.TimeSignature).first() is not None
    assert parsed.recurse().getElementsByClass(tempo.MetronomeMark).first() is not None
    assert parsed.recurse().notes.first() is not None  # notes, chords or drum hits


_SOUNDFONT = os.environ.get("COMPOSER_SOUNDFONT") or DEBIAN_SOUNDFONT
_CAN_RENDER = shutil.which("fluidsynth") is not None and os.path.isfile(_SOUNDFONT)


@pytest.mark.skipif(not _CAN_RENDER, reason="needs fluidsynth and fluid-soundfont-gm")
def test_wav_is_rendered_beside_the_midi_and_is_not_silent(tiny_model, tmp_path):
    request = GenerateRequest(num_events=300, out=tmp_path / "x.mid", seed=3, formats=("mid", "wav"))
    assert generate_files(request, tiny_model) == [tmp_path / "x.mid", tmp_path / "x.wav", tmp_path / "x.json"]
    with wave.open(str(tmp_path / "x.wav")) as audio:
        assert (audio.getframerate(), audio.getsampwidth()) == (44100, 2)
        samples = np.frombuffer(audio.readframes(audio.getnframes()), np.int16)
    seconds = pretty_midi.PrettyMIDI(str(tmp_path / "x.mid")).get_end_time()
    assert len(samples) / 44100 / audio.getnchannels() >= seconds
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 30, "not silent"
    (tmp_path / "x.mid").unlink()
    (tmp_path / "x.json").unlink()
    with pytest.raises(ComposerError, match="x.wav already exists"):
        generate_files(request, tiny_model)
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"], "nothing half-written is left behind"


def test_wav_without_fluidsynth_or_a_soundfont_says_how_to_install_them(tiny_model, tmp_path, monkeypatch):
    request = GenerateRequest(num_events=100, out=tmp_path / "x.mid", seed=3, formats=("mid", "wav"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ComposerError, match="fluidsynth program: install it with `apt install fluidsynth fluid-sou"):
        generate_files(request, tiny_model)
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/fluidsynth")
    monkeypatch.setenv("COMPOSER_SOUNDFONT", str(tmp_path / "none.sf2"))
    with pytest.raises(ComposerError, match="soundfont, none at .*none.sf2: install it .* or set COMPOSER_SOUNDFONT"):
        generate_files(request, tiny_model)
    assert not list(tmp_path.iterdir()), "the check comes before any file is written"
