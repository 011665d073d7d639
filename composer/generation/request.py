"""What `composer generate` is asked to do, and how a sidecar writes the request down and reads it back."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from composer.generation.sample import Constraints, SamplingOptions

_WHERE = ("out", "force", "piece")  # where the files go and which are written: not what makes the music
INPUT_FILES = ("primer", "melody")  # files the music is made from: recorded with their hashes


@dataclass(frozen=True)
class GenerateRequest:
    """Everything `composer generate` was asked to do (the model is passed beside it, already resolved)."""

    num_events: int = 200
    num_bars: int | None = None  # instead of num_events: stop on the bar line after this many bars
    ending_bars: int = 0  # then go on until the model ends the piece, at most this many bars (0: stop there)
    num_files: int = 1
    out: Path = Path(".")
    seed: int = 0
    options: SamplingOptions = SamplingOptions()
    constraints: Constraints = Constraints()
    primer: Path | None = None
    primer_bars: int | None = None  # use only the first bars of the primer
    include_primer: bool = True
    loop: bool = False  # end on the bar line after the last onset: the file fills whole bars, for a DAW clip
    qpm: float | None = None
    time_signature: tuple[int, int] | None = None
    force: bool = False
    formats: tuple[str, ...] = ("mid",)  # also "musicxml", "png" (a piano roll) and "wav" (FluidSynth audio)
    title: str | None = None  # of the MusicXML score; the file's name when None
    melody: Path | None = None  # a MIDI file whose melody the model harmonizes (`composer harmonize`)
    melody_part: str | None = None  # the melody's part, by name or number; the highest part when None
    melody_program: int | None = None  # the instrument the melody is played on; its own when None
    chords: str | None = None  # a progression to follow, as typed: "Am F C G" or "C:2 G:2 Am:4"
    avoid_parallels: bool = False  # no parallel fifths or octaves between parts
    cadence: bool = False  # a harmonization closes V-I or IV-I under the melody's last notes (``chords.cadence_guide``)
    piece: int | None = None  # write only this piece (from 1) of the batch: remaking one file from its sidecar

    def to_record(self) -> dict[str, Any]:
        """The request as JSON values, without where its files go: everything that makes the music."""
        record = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _WHERE}
        record["options"] = dataclasses.asdict(self.options)
        record["constraints"] = {
            key: sorted(value) if isinstance(value, frozenset) else value
            for key, value in dataclasses.asdict(self.constraints).items()
        }
        for name in INPUT_FILES:
            record[name] = None if record[name] is None else str(Path(record[name]).resolve())
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any], **where) -> GenerateRequest:
        """The request ``to_record`` wrote, with ``where`` its files go now (out, force, piece)."""
        fields = dict(record)
        fields["options"] = SamplingOptions(**fields["options"])
        constraints = fields["constraints"].items()
        fields["constraints"] = Constraints(
            **{key: frozenset(value) if isinstance(value, list) else value for key, value in constraints}
        )
        for name in INPUT_FILES:
            fields[name] = None if fields.get(name) is None else Path(fields[name])
        for key in ("time_signature", "formats"):
            if fields.get(key) is not None:
                fields[key] = tuple(fields[key])
        return cls(**fields, **where)
