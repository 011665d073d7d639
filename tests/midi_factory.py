"""Small synthetic scores and MIDI corpora for tests (real files, written with the project's own writer), and
a check on the files written."""

import random
from pathlib import Path

import mido

from composer.midi_io import write_score
from composer.score import Note, Score, TempoChange, TimeSignature, Track

MAJOR_SCALE = [0, 2, 4, 5, 7, 9, 11]


def toy_score(seed: int, num_notes: int = 150) -> Score:
    """A melody over a bass line, both in C major, with a drum part."""
    rng = random.Random(seed)
    melody, beat = [], 0.0
    for _ in range(num_notes):
        length = rng.choice([0.5, 1.0, 1.0])
        melody.append(Note(beat, beat + length, 60 + rng.choice(MAJOR_SCALE) + 12 * rng.choice([0, 0, 1]), 95))
        beat += length
    bass = [Note(b * 2.0, b * 2.0 + 2, 36 + rng.choice(MAJOR_SCALE), 79) for b in range(int(beat // 2))]
    drums = [Note(float(b), b + 0.25, 36 if b % 2 == 0 else 38, 99) for b in range(int(beat))]
    return Score(
        tracks=(Track(0, notes=tuple(melody)), Track(32, notes=tuple(bass)), Track(0, True, notes=tuple(drums))),
        tempos=(TempoChange(0, 100),),
        time_signatures=(TimeSignature(0, 4, 4),),
    )


def write_toy_corpus(folder: Path, num_files: int = 12, bad_files: bool = True) -> Path:
    """``num_files`` good files in nested folders (mixed suffix case), plus a few that must be skipped."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(num_files):
        suffix = ".MID" if index % 3 == 0 else ".mid" if index % 3 == 1 else ".midi"
        write_score(toy_score(index), folder / f"set{index % 2}" / f"toy{index}{suffix}", overwrite=True)
    if bad_files:
        (folder / "notes.txt").write_text("not a MIDI file and not named like one")
        (folder / "broken.mid").write_bytes(b"this is not MIDI")
        (folder / "empty.mid").write_bytes(b"")
    return folder


CHORALE = Score(  # three parts in 3/4 at 80 qpm, a drum part among them
    tracks=(
        Track(40, name="Soprano", notes=(Note(0, 1, 72, 90), Note(1, 2, 71, 90), Note(2, 4, 72, 90))),
        Track(43, name="Bass", notes=(Note(0, 2, 48, 80), Note(2, 4, 43, 80))),
        Track(0, is_drum=True, notes=(Note(0, 0.25, 36, 100), Note(1, 1.25, 38, 100))),
    ),
    tempos=(TempoChange(0, 80),),
    time_signatures=(TimeSignature(0, 3, 4),),
)


def assert_every_note_ends(track: mido.MidiTrack) -> None:
    """Each note-on is ended by a note-off (or a note-on at velocity 0) of its channel and pitch, and no note
    overlaps itself."""
    sounding = set()
    for message in track:
        if message.type == "note_on" and message.velocity > 0:
            assert (message.channel, message.note) not in sounding
            sounding.add((message.channel, message.note))
        elif message.type in ("note_off", "note_on"):
            sounding.remove((message.channel, message.note))
    assert not sounding
