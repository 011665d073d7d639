"""What `composer generate` is asked to do, and how a sidecar writes the request down and reads it back."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from composer.generation.sample import Constraints, SamplingOptions

_WHERE = ("out", "force", "piece")  # where the files go and which are written: not what makes the music


@dataclass(frozen=True)
class GenerateRequest:
    """Everything `composer generate` was asked to do (the model is passed beside it, already resolved)."""

    num_events: int = 200
    num_bars: int | None = None  # instead of num_events: stop on the bar line after this many bars
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
    piece: int | None = None  # write only this piece (from 1) of the batch: remaking one file from its sidecar

    def to_record(self) -> dict[str, Any]:
        """The request as JSON values, without where its files go: everything that makes the music."""
        record = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _WHERE}
        record["options"] = dataclasses.asdict(self.options)
        record["constraints"] = {
            key: sorted(value) if isinstance(value, frozenset) else value
            for key, value in dataclasses.asdict(self.constraints).items()
        }
        record["primer"] = None if self.primer is None else str(Path(self.primer).resolve())
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
        fields["primer"] = None if fields.get("primer") is None else Path(fields["primer"])
        for key in ("time_signature", "formats"):
            if fields.get(key) is not None:
                fields[key] = tuple(fields[key])
        return cls(**fields, **where)
