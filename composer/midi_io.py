"""MIDI files <-> the neutral score: the only module that touches MIDI libraries.

Reading goes through pretty_midi (fast, and it pairs note-ons with note-offs the
way most software does). Writing goes through mido directly, because what DAWs and
notation programs need is exact control of the file: 480 PPQ, a conductor track
holding the tempo map and time signatures, one named track per part with its own
channel and program change, drums on channel 10, and every note ended.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import mido
import numpy as np
import pretty_midi

from composer.atomic import write_atomic
from composer.errors import ComposerError
from composer.score import (
    DEFAULT_QPM,
    DEFAULT_TIME_SIGNATURE,
    DRUM_CHANNEL,
    Note,
    Score,
    TempoChange,
    TimeSignature,
    Track,
)

OUTPUT_PPQ = 480
MAX_FILE_BYTES = 64 * 1024 * 1024  # far beyond any real MIDI file; guards memory
MAX_NOTES = 2_000_000
# Beats a piece may last: about 14 hours at 120 qpm. Time shifts cost one event per few beats, so a file whose
# times are corrupt (a huge delta time or duration at a coarse resolution) would otherwise encode into
# millions of events of silence.
MAX_BEATS = 100_000
SUSTAIN_PEDAL = 64  # the MIDI controller number
_MELODIC_CHANNELS = [channel for channel in range(16) if channel != DRUM_CHANNEL]


def read_score(path: str | os.PathLike, *, sustain_pedal: bool = True) -> Score:
    """Read a MIDI file, or raise ComposerError saying why it cannot be used. With ``sustain_pedal``,
    notes last as long as the sustain pedal (CC64) holds them, as a player hears them."""
    return parse_score(read_midi_bytes(path), path, sustain_pedal=sustain_pedal)


def read_midi_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of a file that may be MIDI, refusing folders and files too large to be MIDI."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ComposerError(f"{path}: is a folder, not a MIDI file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ComposerError(f"{path}: {size} bytes is too large for a MIDI file (limit {MAX_FILE_BYTES})")
        return path.read_bytes()
    except FileNotFoundError:
        raise ComposerError(f"{path}: no such file") from None
    except OSError as error:
        raise ComposerError(f"{path}: cannot read ({error.strerror or error})") from None


def parse_score(data: bytes, path: str | os.PathLike, *, sustain_pedal: bool = True) -> Score:
    """The score in ``data``, the bytes of MIDI file ``path`` (named in errors); parsed once, from memory."""
    _check_header(path, data[:14])
    midi = _parse(data, path)
    score = _midi_to_score(midi, sustain_pedal)
    if score.num_notes == 0:
        raise ComposerError(f"{path}: contains no notes")
    if score.num_notes > MAX_NOTES:
        raise ComposerError(f"{path}: {score.num_notes} notes is more than the {MAX_NOTES} supported")
    if score.end_beat > MAX_BEATS:
        raise ComposerError(
            f"{path}: a note lasts until beat {score.end_beat:.0f}, beyond the {MAX_BEATS} beats supported "
            "(its delta times or note lengths are probably corrupt)"
        )
    return score


def write_score(score: Score, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``score`` as a type-1 MIDI file, atomically; refuses to replace a file unless asked."""
    buffer = io.BytesIO()
    score_to_midi(score).save(file=buffer)
    return write_atomic(path, buffer.getvalue(), overwrite=overwrite)


def program_name(program: int, is_drum: bool = False) -> str:
    """General MIDI name of a program, used for tracks that have no name of their own."""
    return "Drums" if is_drum else pretty_midi.program_to_instrument_name(program)


def program_number(name: str) -> int | None:
    """The General MIDI program called ``name`` (any case), or None."""
    try:
        return pretty_midi.instrument_name_to_program(name.strip().title())
    except ValueError:
        return None


def _check_header(path: str | os.PathLike, head: bytes) -> None:
    if not head:
        raise ComposerError(f"{path}: file is empty")
    if head[:4] != b"MThd":
        raise ComposerError(f"{path}: not a MIDI file (no MThd header)")
    if len(head) < 14:
        raise ComposerError(f"{path}: truncated MIDI header")
    division = int.from_bytes(head[12:14], "big")
    if division & 0x8000:
        raise ComposerError(
            f"{path}: uses SMPTE time division, which has no beat grid; re-export it with ticks per quarter note"
        )
    if division == 0:
        raise ComposerError(f"{path}: header says 0 ticks per quarter note")


def _parse(data: bytes, path: str | os.PathLike) -> pretty_midi.PrettyMIDI:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pretty_midi.PrettyMIDI(io.BytesIO(data))
    except ZeroDivisionError:  # pretty_midi divides by each tempo
        raise ComposerError(f"{path}: corrupt MIDI (a tempo of 0 microseconds per beat)") from None
    except Exception as error:  # a hostile file can make the parser fail in any way
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ComposerError(f"{path}: corrupt or truncated MIDI ({reason})") from None


def _midi_to_score(midi: pretty_midi.PrettyMIDI, sustain_pedal: bool) -> Score:
    to_beats = _seconds_to_beats(midi)
    tracks = tuple(
        _instrument_to_track(instrument, to_beats, sustain_pedal) for instrument in midi.instruments if instrument.notes
    )
    times, qpms = midi.get_tempo_changes()
    tempos = tuple(TempoChange(beat, float(qpm)) for beat, qpm in zip(to_beats(times), qpms))
    signature_beats = to_beats([ts.time for ts in midi.time_signature_changes])
    signatures = tuple(
        TimeSignature(beat, ts.numerator, ts.denominator)
        for beat, ts in zip(signature_beats, midi.time_signature_changes)
    )
    return Score(tracks, tempos, signatures)


def _instrument_to_track(instrument: pretty_midi.Instrument, to_beats, sustain_pedal: bool) -> Track:
    notes = instrument.notes
    starts = to_beats([note.start for note in notes])
    held = sustain_pedal and not instrument.is_drum
    ends = to_beats(_pedal_held_ends(instrument) if held else [note.end for note in notes])
    return Track(
        program=int(instrument.program),
        is_drum=instrument.is_drum,
        name=instrument.name.strip(),
        notes=tuple(Note(start, end, note.pitch, note.velocity) for start, end, note in zip(starts, ends, notes)),
    )


def _pedal_held_ends(instrument: pretty_midi.Instrument) -> np.ndarray:
    """Note ends (seconds) as heard: a key released while the sustain pedal is down sounds on until
    the pedal lifts, or until the same key is struck again."""
    notes = instrument.notes
    ends = np.array([note.end for note in notes])
    down_from, down_to = _pedal_down_intervals(instrument, last=float(ends.max()))
    if not len(down_from):
        return ends
    interval = np.searchsorted(down_from, ends, side="right") - 1
    pedalled = (interval >= 0) & (ends < down_to[np.maximum(interval, 0)])
    ends = np.where(pedalled, down_to[np.maximum(interval, 0)], ends)
    by_pitch: dict[int, list[int]] = {}
    for index in sorted(range(len(notes)), key=lambda i: notes[i].start):
        by_pitch.setdefault(notes[index].pitch, []).append(index)
    for indices in by_pitch.values():
        for current, following in zip(indices, indices[1:]):
            ends[current] = max(notes[current].end, min(ends[current], notes[following].start))
    return ends


def _pedal_down_intervals(instrument: pretty_midi.Instrument, last: float) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the stretches with CC64 at 64 or more; a pedal never lifted lifts at ``last``."""
    changes = sorted((cc.time, cc.value >= 64) for cc in instrument.control_changes if cc.number == SUSTAIN_PEDAL)
    starts, stops, down = [], [], False
    for time, pressed in changes:
        if pressed != down:
            (starts if pressed else stops).append(time)
            down = pressed
    if down:
        stops.append(max(last, starts[-1]))
    return np.array(starts, dtype=float), np.array(stops, dtype=float)


def _seconds_to_beats(midi: pretty_midi.PrettyMIDI):
    """Map seconds back to beats through the tempo map, snapped to the file's own ticks."""
    change_times, qpms = midi.get_tempo_changes()
    change_beats = np.concatenate([[0.0], np.cumsum(np.diff(change_times) * qpms[:-1] / 60.0)])
    resolution = midi.resolution

    def to_beats(seconds) -> list[float]:
        seconds = np.asarray(seconds, dtype=float)
        index = np.maximum(np.searchsorted(change_times, seconds, side="right") - 1, 0)
        beats = change_beats[index] + (seconds - change_times[index]) * qpms[index] / 60.0
        return (np.round(beats * resolution) / resolution).tolist()

    return to_beats


def score_to_midi(score: Score) -> mido.MidiFile:
    """A type-1 file: conductor track first, then one track per part."""
    midi = mido.MidiFile(type=1, ticks_per_beat=OUTPUT_PPQ)
    midi.tracks.append(_conductor_track(score))
    for track, channel in zip(score.tracks, part_channels(score)):
        midi.tracks.append(_part_track(track, channel))
    return midi


def part_channels(score: Score) -> list[int]:
    """The MIDI channel of each track: drums on channel 10, the other parts each on the next free channel
    (wrapping past 16 parts), so DAWs keep them apart."""
    channels = iter(_MELODIC_CHANNELS * (len(score.tracks) // len(_MELODIC_CHANNELS) + 1))
    return [DRUM_CHANNEL if track.is_drum else next(channels) for track in score.tracks]


def _ticks(beat: float) -> int:
    return round(beat * OUTPUT_PPQ)


def _conductor_track(score: Score) -> mido.MidiTrack:
    tempos = (
        score.tempos
        if score.tempos and score.tempos[0].beat == 0
        else ((TempoChange(0.0, DEFAULT_QPM),) + score.tempos)
    )
    signatures = (
        score.time_signatures
        if score.time_signatures and score.time_signatures[0].beat == 0
        else ((TimeSignature(0.0, *DEFAULT_TIME_SIGNATURE),) + score.time_signatures)
    )
    events = [(0, mido.MetaMessage("track_name", name="Conductor"))]
    events += [
        (_ticks(ts.beat), mido.MetaMessage("time_signature", numerator=ts.numerator, denominator=ts.denominator))
        for ts in signatures
    ]
    events += [(_ticks(t.beat), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(t.qpm))) for t in tempos]
    return _to_track(events, end_tick=_ticks(max(score.length, score.end_beat)))


def _part_track(track: Track, channel: int) -> mido.MidiTrack:
    name = track.name or program_name(track.program, track.is_drum)
    events = [
        (0, mido.MetaMessage("track_name", name=name)),
        (0, mido.Message("program_change", channel=channel, program=track.program)),
    ]
    for note in track.notes:
        start = _ticks(note.start)
        end = max(_ticks(note.end), start + 1)  # a note of zero length would be lost by most software
        events.append(
            (start, mido.Message("note_on", channel=channel, note=note.pitch, velocity=max(1, note.velocity)))
        )
        events.append((end, mido.Message("note_off", channel=channel, note=note.pitch, velocity=0)))
    return _to_track(events)


def _to_track(events: list[tuple[int, mido.Message]], end_tick: int = 0) -> mido.MidiTrack:
    """Sort absolute-time events (note-offs before note-ons at one tick) into delta times; the track
    ends at ``end_tick`` or its last event, whichever is later. The messages are the caller's fresh ones:
    setting their time in place, rather than copying each (mido checks every field again), halves the time
    a piece of 100,000 notes takes to write."""
    order = {"track_name": 0, "time_signature": 1, "set_tempo": 2, "program_change": 3, "note_off": 4, "note_on": 5}
    events = sorted(events, key=lambda event: (event[0], order[event[1].type]))
    track, now = mido.MidiTrack(), 0
    for tick, message in events:
        message.time = tick - now
        track.append(message)
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - now)))
    return track
