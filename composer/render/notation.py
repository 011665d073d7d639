"""Scores -> MusicXML that a notation program lays out the way a person would write the music.

The score is written measure by measure here rather than read back from the MIDI file,
because music21's MIDI reader cannot know what an engraver knows: each note is cut into
note values a player reads (tied at bar lines, and at the beat when it starts off it), so
the only tuplets are the grid's real triplets; each part gets its instrument's name and
clef; the key signature is estimated from the notes; tempo marks appear once, above the
top staff; drums go on a percussion staff.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from composer.atomic import write_atomic
from composer.midi_io import part_channels, program_name
from composer.score import DEFAULT_QPM, Note, Score, TempoChange, Track

GRID = 12  # positions per quarter note that notation shows: sixteenths and eighth/sixteenth triplets
# Note values a player reads, in quarter notes: plain, dotted, and the triplets of the plain ones (each written
# with a 3:2 tuplet).
PLAIN_VALUES = tuple(map(Fraction, (4, 2, 1, Fraction(1, 2), Fraction(1, 4))))
DOTTED_VALUES = tuple(map(Fraction, (6, 3, Fraction(3, 2), Fraction(3, 4))))
TRIPLET_VALUES = (Fraction(2, 3), Fraction(1, 3), Fraction(1, 6), Fraction(1, 12))
NOTE_VALUES = tuple(sorted(PLAIN_VALUES + DOTTED_VALUES + TRIPLET_VALUES, reverse=True))
MIN_KEY_CORRELATION = 0.6  # below this fit to a major or minor key profile, the music gets no key signature
# Staff clefs by the pitch of their middle line; an instrument's clefs in the order players prefer them (General
# MIDI programs: 32-39 basses, 41 viola, 42 cello, 43 contrabass, 57 trombone, 58 tuba, 70 bassoon); others
# read treble or bass.
MIDDLE_LINE = {"treble": 71, "alto": 60, "tenor": 57, "bass": 50}
USUAL_CLEFS = {
    41: ("alto", "treble"),
    42: ("bass", "tenor", "treble"),
    43: ("bass",),
    57: ("bass", "tenor"),
    58: ("bass",),
    70: ("bass", "tenor"),
    32: ("bass",),
    33: ("bass",),
    34: ("bass",),
    35: ("bass",),
    36: ("bass",),
    37: ("bass",),
    38: ("bass",),
    39: ("bass",),
}
CLEF_REACH = 11  # a clef fits while the median pitch lies on its staff or two ledger lines off it
# Where General MIDI drums sit on a five-line percussion staff (as MuseScore's drum set places them).
DRUM_DISPLAY = {
    35: "F4",
    36: "F4",
    37: "C5",
    38: "C5",
    39: "C5",
    40: "C5",
    41: "F4",
    42: "G5",
    43: "G4",
    44: "D4",
    45: "A4",
    46: "G5",
    47: "B4",
    48: "D5",
    49: "A5",
    50: "E5",
    51: "F5",
    52: "A5",
    53: "F5",
    55: "A5",
    57: "A5",
    59: "F5",
}
OTHER_DRUM_DISPLAY = "E5"


def write_musicxml(score: Score, path: str | os.PathLike, *, title: str, credit: str, overwrite: bool = False) -> Path:
    """Write ``score`` as MusicXML, atomically, with ``title`` and a ``credit`` line (composer, model)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        # the measures are already notation: music21's own makeNotation would re-split rests into odd tuplets
        written = to_music21(score, title=title, credit=credit).write(
            "musicxml", fp=Path(folder) / "score.musicxml", makeNotation=False
        )
        return write_atomic(path, Path(written).read_bytes(), overwrite=overwrite)


def to_music21(score: Score, *, title: str, credit: str):
    """The score as a music21 Score of measures, ready to write."""
    from music21 import metadata, stream

    bars = _bars(score)
    tonality = _key(score)
    result = stream.Score()
    result.insert(0, metadata.Metadata(title=title, movementName=title, composer=credit))
    for number, (track, channel) in enumerate(zip(score.tracks, part_channels(score))):
        tempos = _tempos(score) if number == 0 else ()
        result.insert(0, _part(track, channel, bars, None if track.is_drum else tonality, tempos))
    return result


def _bars(score: Score) -> list[tuple[Fraction, Fraction, tuple[int, int]]]:
    """(start, length, meter) of every bar, up to the bar line at or after the end of the piece; bar lines
    closer than the grid (a meter change a rounding error after a bar line) are one."""
    lines = sorted({_on_grid(line) for line in score.bar_lines(max(score.length, score.end_beat, 1e-9))})
    return [(start, end - start, score.meter_at(float(start))) for start, end in zip(lines, lines[1:])]


def _on_grid(beat: float) -> Fraction:
    return Fraction(round(beat * GRID), GRID)


def _tempos(score: Score) -> tuple[TempoChange, ...]:
    tempos = tuple(sorted(score.tempos))
    return tempos if tempos and tempos[0].beat == 0 else (TempoChange(0.0, DEFAULT_QPM),) + tempos


def _part(track: Track, channel: int, bars, tonality, tempos):
    from music21 import key, stream
    from music21.stream.makeNotation import makeAccidentalsInMeasureStream

    part = stream.Part()
    part.partName = track.name or program_name(track.program, track.is_drum)
    part.insert(0, _instrument(track, channel, part.partName))
    voices = _voices(track.notes)
    clef = _clef(track)
    meter = None
    for number, (start, length, bar_meter) in enumerate(bars, start=1):
        measure = stream.Measure(number=number)
        if number == 1:
            measure.insert(0, clef)
            if tonality is not None:
                measure.insert(0, key.Key(tonality.tonic.name, tonality.mode))
        if bar_meter != meter:
            measure.insert(0, _time_signature(bar_meter))
            meter = bar_meter
        _fill(measure, voices, start, length, bar_meter, track.is_drum, tonality)
        for change in tempos:
            if start <= _on_grid(change.beat) < start + length:
                measure.insert(_on_grid(change.beat) - start, _metronome_mark(change.qpm))
        part.append(measure)
    makeAccidentalsInMeasureStream(part)  # shown where the key and the bar's earlier notes do not imply them
    return part


def _instrument(track: Track, channel: int, name: str):
    from music21 import instrument

    if track.is_drum:
        player = instrument.Percussion()
    else:
        player = instrument.instrumentFromMidiProgram(track.program)
        player.transposition = None  # notes are written at concert pitch, as the MIDI file sounds
        player.midiProgram = track.program
    player.partName = player.instrumentName = name
    player.midiChannel = channel
    return player


def _voices(notes: tuple[Note, ...]) -> list[list[tuple[Fraction, Fraction, tuple[int, ...]]]]:
    """The notes as chords (notes that start and end together) laid into as few voices as let none overlap."""
    chords: dict[tuple[Fraction, Fraction], list[int]] = {}
    for note in notes:
        start = _on_grid(note.start)
        chords.setdefault((start, max(_on_grid(note.end), start + Fraction(1, GRID))), []).append(note.pitch)
    voices: list[list] = []
    for (start, end), pitches in sorted(chords.items()):
        free = next((voice for voice in voices if voice[-1][1] <= start), None)
        if free is None:
            voices.append(free := [])
        free.append((start, end, tuple(sorted(set(pitches)))))
    return voices or [[]]


def _fill(measure, voices, start: Fraction, length: Fraction, meter: tuple[int, int], is_drum: bool, tonality) -> None:
    """Write each voice's notes and rests inside the bar [start, start + length)."""
    from music21 import stream
    from music21.stream.makeNotation import makeTupletBrackets

    beat = _beat_length(meter)
    # a bar cut short by a change of meter has no whole-bar rest (notation programs would fill it out)
    whole_bar = length if length == Fraction(4 * meter[0], meter[1]) else None
    # a voice keeps its number from bar to bar, so that ties join notes of one voice
    shown = [
        (number, voice)
        for number, voice in enumerate(voices, start=1)
        if number == 1 or _sounds_in(voice, start, length)
    ]
    for number, voice in shown:
        target = measure if len(shown) == 1 else stream.Voice(id=str(number))
        offset = Fraction(0)
        for chord_start, chord_end, pitches in voice:
            begin, end = max(chord_start, start) - start, min(chord_end, start + length) - start
            if begin < end:
                _write_rest(target, offset, begin, beat, whole_bar)
                ties = (chord_start < start, chord_end > start + length)
                _write_chord(target, begin, end, beat, (pitches, is_drum, tonality), ties)
                offset = end
        _write_rest(target, offset, length, beat, whole_bar)
        makeTupletBrackets(target, inPlace=True)
        if target is not measure:
            measure.insert(0, target)
    measure.makeBeams(inPlace=True)


def _sounds_in(voice, start: Fraction, length: Fraction) -> bool:
    """Whether a voice has a note in the bar: a second voice with none shows nothing, not a bar of rest."""
    return any(chord_start < start + length and chord_end > start for chord_start, chord_end, _ in voice)


def _write_chord(target, begin: Fraction, end: Fraction, beat: Fraction, sound, ties: tuple[bool, bool]) -> None:
    """The chord ``sound`` from ``begin`` to ``end`` in the bar, as tied note values; ``ties`` says whether it
    continues from the bar before and into the bar after."""
    pieces = _note_values(begin, end, beat)
    for index, (offset, value) in enumerate(pieces):
        element = _sounding(*sound, value)
        _tie(element, tied_before=index > 0 or ties[0], tied_after=index < len(pieces) - 1 or ties[1])
        target.insert(offset, element)


def _write_rest(target, begin: Fraction, end: Fraction, beat: Fraction, whole_bar: Fraction | None) -> None:
    from music21 import note

    if begin == 0 and end == whole_bar:
        target.insert(0, note.Rest(quarterLength=whole_bar, fullMeasure=True))
        return
    pieces = _rest_values(begin, end, beat)
    if whole_bar is None and begin == 0 and len(pieces) == 1 and pieces[0][1] in (4, 8):
        # a lone whole (or breve) rest in a bar cut short reads as a whole-bar rest (music21, notation
        # programs) and would fill the bar out: two halves keep its length
        pieces = [(0, pieces[0][1] / 2), (pieces[0][1] / 2, pieces[0][1] / 2)]
    for offset, value in pieces:
        target.insert(offset, note.Rest(quarterLength=value))


def _note_values(begin: Fraction, end: Fraction, beat: Fraction) -> list[tuple[Fraction, Fraction]]:
    """(offset, value) pieces that spell a note, each the longest value that fits: a piece starting on the
    beat may last past it (a half note, a dotted quarter), one starting off the beat is cut at the next beat."""
    pieces = []
    while begin < end:
        limit = end if begin % beat == 0 else min(end, (begin // beat + 1) * beat)
        pieces.append((begin, next(value for value in NOTE_VALUES if value <= limit - begin)))
        begin += pieces[-1][1]
    return pieces


def _rest_values(begin: Fraction, end: Fraction, beat: Fraction) -> list[tuple[Fraction, Fraction]]:
    """(offset, value) pieces that spell a rest: rests are not dotted (but for a compound meter's dotted beat)
    and each starts where a note of its value could start, so a half rest never begins on the second beat."""
    values = [value for value in NOTE_VALUES if value not in DOTTED_VALUES or value == beat]
    pieces = []
    while begin < end:
        pieces.append((begin, next(v for v in values if v <= end - begin and begin % v == 0)))
        begin += pieces[-1][1]
    return pieces


def _sounding(pitches: tuple[int, ...], is_drum: bool, tonality, value: Fraction):
    from music21 import chord, note, percussion

    if is_drum:  # drums drawn at one place on the staff are one notehead
        notes = [_drum(pitch) for pitch in {DRUM_DISPLAY.get(p, OTHER_DRUM_DISPLAY): p for p in pitches}.values()]
        element = notes[0] if len(notes) == 1 else percussion.PercussionChord(notes)
    else:
        notes = [note.Note(_spelled(pitch, tonality)) for pitch in pitches]
        element = notes[0] if len(notes) == 1 else chord.Chord(notes)
    element.quarterLength = value
    return element


def _tie(element, *, tied_before: bool, tied_after: bool) -> None:
    from music21 import tie

    if tied_before or tied_after:
        element.tie = tie.Tie("continue" if tied_before and tied_after else "start" if tied_after else "stop")


def _drum(pitch: int):
    from music21 import note
    from music21.midi.percussion import MIDIPercussionException, PercussionMapper

    drum = note.Unpitched(displayName=DRUM_DISPLAY.get(pitch, OTHER_DRUM_DISPLAY))
    try:
        drum.storedInstrument = PercussionMapper().midiPitchToInstrument(pitch)
    except MIDIPercussionException:
        pass  # music21 names only part of the General MIDI drum map; the staff position still shows the drum
    return drum


def _spelled(midi_pitch: int, tonality):
    """The pitch named as in the key: the key's scale (with minor's raised sixth and seventh) first, then
    flats in flat keys and sharps elsewhere."""
    from music21 import pitch

    name = _key_spellings(tonality).get(midi_pitch % 12)
    if name is None:
        plain = pitch.Pitch(midi=midi_pitch)
        flat_key = tonality is not None and tonality.sharps < 0
        return plain.getEnharmonic() if flat_key and plain.accidental is not None else plain
    spelled = pitch.Pitch(name, octave=4)
    spelled.octave += (midi_pitch - spelled.midi) // 12
    return spelled


def _key_spellings(tonality) -> dict[int, str]:
    if tonality is None:
        return {}
    pitches = list(tonality.getScale().pitches)
    if tonality.mode == "minor":
        pitches += [tonality.tonic.transpose("M6"), tonality.tonic.transpose("M7")]
    names: dict[int, str] = {}
    for spelled in pitches:
        names.setdefault(spelled.pitchClass, spelled.name)
    return names


def _key(score: Score):
    """The key the pitched notes fit best (Krumhansl-Schmuckler, weighted by note length), or None when even
    that fit is poor: an atonal piece is not given a key signature it does not have."""
    from music21 import analysis, key, note, stream

    notes = stream.Stream()
    for track in score.tracks:
        for each in track.notes if not track.is_drum else ():
            notes.append(note.Note(midi=each.pitch, quarterLength=max(each.end - each.start, 1 / GRID)))
    if not len(notes):
        return None
    estimate = analysis.discrete.KrumhanslSchmuckler().getSolution(notes)
    if estimate.correlationCoefficient < MIN_KEY_CORRELATION:
        return None
    # the profile names a pitch class: of two spellings (C♯ or D♭ major), write the one with fewer accidentals
    return estimate if abs(estimate.sharps) <= 6 else key.Key(estimate.tonic.getEnharmonic().name, estimate.mode)


def _clef(track: Track):
    from music21 import clef

    if track.is_drum:
        return clef.PercussionClef()
    pitches = sorted(note.pitch for note in track.notes)
    median = pitches[len(pitches) // 2] if pitches else MIDDLE_LINE["treble"]
    candidates = USUAL_CLEFS.get(track.program, ("treble", "bass"))
    within_reach = [name for name in candidates if abs(median - MIDDLE_LINE[name]) <= CLEF_REACH]
    name = (within_reach or [min(candidates, key=lambda each: abs(median - MIDDLE_LINE[each]))])[0]
    return {"treble": clef.TrebleClef, "alto": clef.AltoClef, "tenor": clef.TenorClef, "bass": clef.BassClef}[name]()


def _beat_length(meter: tuple[int, int]) -> Fraction:
    """The beat notation groups by: the dotted beat of a compound meter (6/8, 9/8, 12/8), else the denominator."""
    return Fraction(_time_signature(meter).beatDuration.quarterLength)


def _time_signature(meter: tuple[int, int]):
    from music21 import meter as music21_meter

    return music21_meter.TimeSignature(f"{meter[0]}/{meter[1]}")


def _metronome_mark(qpm: float):
    from music21 import tempo

    return tempo.MetronomeMark(number=int(qpm) if qpm == int(qpm) else round(qpm, 2), referent=1.0)
