"""A neutral in-memory score: plain, immutable containers with times in beats.

Times are in quarter notes ("beats") rather than seconds so that the grid a DAW
shows is the grid the encoding sees; the tempo map converts to seconds only where
a player needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

DRUM_CHANNEL = 9  # MIDI channel 10, counted from zero
DEFAULT_QPM = 120.0  # what MIDI assumes until a tempo is set
DEFAULT_TIME_SIGNATURE = (4, 4)
HALF_BAR_NUMERATOR = 4  # in 4/4 (and 4/2, 4/8) the half bar is a strong beat as well as the downbeat


def strong_offsets(meter: tuple[int, int]) -> tuple[float, ...]:
    """Where a bar of ``meter`` is stressed, in beats after its bar line: the downbeat, and the half bar when the
    numerator is HALF_BAR_NUMERATOR."""
    numerator, denominator = meter
    return (0.0, numerator * 2 / denominator) if numerator == HALF_BAR_NUMERATOR else (0.0,)


@dataclass(frozen=True, order=True)
class Note:
    """One sounding note; ``end >= start``, both in beats."""

    start: float
    end: float
    pitch: int
    velocity: int

    def __post_init__(self) -> None:
        if self.end < self.start:  # a reader or an edit got its times wrong: fail where, not far downstream
            raise ValueError(f"a note cannot end (beat {self.end}) before it starts (beat {self.start})")


@dataclass(frozen=True)
class Track:
    """The notes of one instrument. ``program`` is the General MIDI program (0-127)."""

    program: int
    is_drum: bool = False
    name: str = ""
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True, order=True)
class TempoChange:
    """From ``beat`` on, the tempo is ``qpm`` quarter notes per minute."""

    beat: float
    qpm: float


@dataclass(frozen=True, order=True)
class TimeSignature:
    """From ``beat`` on, bars have ``numerator`` beats of 1/``denominator`` notes."""

    beat: float
    numerator: int
    denominator: int


@dataclass(frozen=True)
class Score:
    """Tracks plus the tempo map and time signatures that place them in time."""

    tracks: tuple[Track, ...] = ()
    tempos: tuple[TempoChange, ...] = ()
    time_signatures: tuple[TimeSignature, ...] = ()
    length: float = 0.0  # beats; longer than end_beat when the piece ends on a rest (a loop's last bar)

    @property
    def num_notes(self) -> int:
        return sum(len(track.notes) for track in self.tracks)

    @property
    def end_beat(self) -> float:
        """The beat at which the last note stops sounding (0 for an empty score)."""
        return max((note.end for track in self.tracks for note in track.notes), default=0.0)

    def meter_at(self, beat: float) -> tuple[int, int]:
        """The meter in force at ``beat`` (4/4 before any time signature, as in MIDI)."""
        in_force = [(c.numerator, c.denominator) for c in sorted(self.time_signatures) if c.beat <= beat]
        return (in_force or [DEFAULT_TIME_SIGNATURE])[-1]

    def bar_lines(self, until: float) -> list[float]:
        """The beats where bars start, up to the first at or after ``until`` (4/4 before any time signature);
        a change of meter starts a new bar where it is set."""
        changes = sorted(self.time_signatures)
        meter, lines = DEFAULT_TIME_SIGNATURE, [0.0]
        while True:
            while changes and changes[0].beat <= lines[-1]:
                change = changes.pop(0)
                meter = (change.numerator, change.denominator)
            if lines[-1] >= until:
                return lines
            following = lines[-1] + meter[0] * 4 / meter[1]
            lines.append(min(following, changes[0].beat) if changes else following)

    def before(self, beat: float) -> Score:
        """The part before ``beat``, lasting exactly to it: notes still sounding there end on it."""
        cut = self.with_notes(
            lambda track: tuple(replace(n, end=min(n.end, beat)) for n in track.notes if n.start < beat)
        )
        return replace(cut, length=beat)

    def whole_bars(self) -> Score:
        """Ended on the first bar line after the last onset: notes still sounding there end on it, and a rest
        fills the bar, so a DAW loops it without a gap or an overhang."""
        last_onset = max(note.start for track in self.tracks for note in track.notes)
        return self.before(self.bar_lines(last_onset + 1e-6)[-1])  # strictly after: a bar for the last note

    def from_bar_of(self, beat: float, keep: Callable[[Track, Note], bool]) -> Score:
        """The notes ``keep`` chooses, moved to start at the bar line at or before ``beat`` (so bar lines stay
        where the music has them), with the tempo and meter in force there."""
        origin = max(line for line in self.bar_lines(beat) if line <= beat)
        moved = self.with_notes(
            lambda track: tuple(
                replace(n, start=n.start - origin, end=n.end - origin) for n in track.notes if keep(track, n)
            )
        )
        return replace(
            moved,
            tempos=_changes_from(self.tempos, origin),
            time_signatures=_changes_from(self.time_signatures, origin),
            length=max(0.0, self.length - origin),
        )

    def with_tempo_from(self, beat: float, qpm: float) -> Score:
        """The tempo map kept before ``beat``, and ``qpm`` from there on."""
        kept = tuple(change for change in self.tempos if change.beat < beat)
        return replace(self, tempos=kept + (TempoChange(beat, float(qpm)),))

    def with_notes(self, notes_of: Callable[[Track], tuple[Note, ...]]) -> Score:
        """Each track with the notes ``notes_of(track)`` gives; tracks left empty are dropped."""
        tracks = (replace(track, notes=notes_of(track)) for track in self.tracks)
        return replace(self, tracks=tuple(t for t in tracks if t.notes))

    def beats_to_seconds(self, beat: float) -> float:
        """Wall-clock time of ``beat`` under the tempo map (MIDI's default before the first change)."""
        seconds, last_beat, qpm = 0.0, 0.0, DEFAULT_QPM
        for change in self.tempos:
            if change.beat >= beat:
                break
            seconds += (change.beat - last_beat) * 60.0 / qpm
            last_beat, qpm = change.beat, change.qpm
        return seconds + (beat - last_beat) * 60.0 / qpm


def _changes_from(changes: tuple, beat: float) -> tuple:
    """A tempo or meter map from ``beat`` on, moved to start at 0 with the change in force at ``beat``."""
    in_force = [replace(c, beat=0.0) for c in changes if c.beat <= beat][-1:]
    return tuple(in_force + [replace(c, beat=c.beat - beat) for c in changes if c.beat > beat])
