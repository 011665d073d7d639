"""Convert the Bach chorales bundled with music21 into the MIDI files of midi_samples/.

music21's own MIDI export puts every part on channel 0 with program 0 at 10,080
PPQ, which DAWs show as one piano track and which the encoding would merge into
one instrument. So music21 only reads the chorales here; composer's own writer
makes the files: 480 PPQ, one named track per voice on its own channel with its
own program, one tempo and one time signature at the start, and the pickup bar
padded so that bar lines fall where a DAW draws them.

    python scripts/make_samples.py [--out midi_samples] [--force]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from music21 import converter, corpus, meter, stream, tempo
from music21 import note as m21note

from composer.midi_io import write_score
from composer.score import Note, Score, TempoChange, TimeSignature, Track

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "midi_samples"
DEFAULT_QPM = 80.0  # a calm chorale tempo, for scores without a metronome mark
DEFAULT_VELOCITY = 80  # mezzo-forte for sources without dynamics (all of them); one of the encoding's levels
DEFAULT_METER = (4, 4)  # only for a score that states no time signature
JOBS = 2  # parsing ~350 MusicXML files takes minutes on one core
# Each voice its own General MIDI program, because the encoding merges parts that
# share one: strings for SATB, then winds and brass for any extra parts.
VOICE_PROGRAMS = {"soprano": 40, "alto": 41, "tenor": 42, "bass": 43}  # violin, viola, cello, contrabass
EXTRA_PROGRAMS = [71, 70, 68, 73, 60, 57, 56, 58]  # clarinet, bassoon, oboe, flute, horn, trombone, trumpet, tuba
# A source format music21 reads with part names and layout; the few chorales also
# bundled as Humdrum (.krn) have an equivalent MusicXML file.
FORMAT_PREFERENCE = [".mxl", ".musicxml", ".xml", ".krn"]


@dataclass(frozen=True)
class Result:
    """What happened to one chorale, for the summary."""

    source: str
    status: str  # "ok", "fallback" (repeats left unexpanded) or "skipped"
    detail: str = ""
    notes: int = 0


def chorale_files() -> list[Path]:
    """The distinct source files of music21's chorale catalog (the 371 Riemenschneider chorales).

    The catalog names some files twice (one setting under two numbers), and
    music21 resolves a name by substring, taking the first match in sorted order:
    'bwv69.6' would give bwv69.6-a.mxl (a different chorale, also in the catalog)
    and 'bwv190.7' the 15-part orchestral bwv190.7-inst.mxl. So each name is
    resolved to the file of exactly that name, and duplicates are dropped by path.
    """
    bundled = [path for path in corpus.getComposer("bach") if path.parent.name == "bach"]
    names = corpus.chorales.Iterator(returnType="filename")
    return sorted({_resolve(name, bundled) for name in names}, key=lambda path: path.name)


def _resolve(name: str, bundled: list[Path]) -> Path:
    """The bundled file called ``name`` (preferring MusicXML), else music21's unique match for it."""
    stem = name.rsplit("/", 1)[-1].lower()
    exact = [path for path in bundled if path.stem.lower() == stem and path.suffix in FORMAT_PREFERENCE]
    if exact:
        return min(exact, key=lambda path: FORMAT_PREFERENCE.index(path.suffix))
    found = corpus.getWork(name)  # e.g. the catalog's 'bwv18.5-l' is bundled as bwv18.5-lz.mxl
    if isinstance(found, list):
        raise LookupError(f"{name} matches several files: {', '.join(path.name for path in found)}")
    return found


def convert(source: Path, out: Path, overwrite: bool) -> Result:
    """Parse, expand and write one chorale; failures become a skipped Result, never an exception."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # music21 warns about harmless MusicXML details
            parsed = converter.parse(source, forceSource=True)  # bypass music21's pickle cache
    except Exception as error:  # music21 raises many types on a file it cannot read
        return Result(source.name, "skipped", f"cannot parse ({type(error).__name__}: {error})")
    expanded, problem = _expand_repeats(parsed)
    score = to_score(expanded)
    if not score.num_notes:
        return Result(source.name, "skipped", "no notes")
    write_score(score, out / f"{source.stem}.mid", overwrite=overwrite)
    return Result(source.name, "fallback" if problem else "ok", problem, score.num_notes)


def _expand_repeats(parsed: stream.Score) -> tuple[stream.Score, str]:
    """Repeats written out, as a player performs them; malformed repeats keep the score as written.

    Returns the score and, when expansion failed, why (dropping the chorale would lose more).
    """
    try:
        return parsed.expandRepeats(), ""
    except Exception as error:  # ExpanderException mostly; any failure here has the same remedy
        return parsed, f"repeats not expanded ({type(error).__name__}: {error})"


def to_score(source: stream.Score) -> Score:
    """composer's Score of a music21 score: every part a track, shifted past the pickup."""
    parts = list(source.parts)
    shift = pickup_padding(source)
    names = [_part_name(part, index) for index, part in enumerate(parts)]
    tracks = (
        Track(program=program, name=name, notes=_part_notes(part, shift))
        for part, name, program in zip(parts, names, assign_programs(names))
    )
    return Score(
        tracks=tuple(track for track in tracks if track.notes),
        tempos=(TempoChange(0.0, _first_tempo(source)),),
        time_signatures=(_first_time_signature(source),),
    )


def pickup_padding(source: stream.Score) -> float:
    """Quarter notes missing from the opening (pickup) bar: shifting by them puts bar 1 on a bar line."""
    first_part = source.parts.first()
    measure = first_part.getElementsByClass(stream.Measure).first() if first_part is not None else None
    return float(measure.paddingLeft) if measure is not None else 0.0


def _part_name(part: stream.Part, index: int) -> str:
    """The part's name on one line ('Soprano'), or 'Part N' when the source has none."""
    name = " ".join((part.partName or "").split())
    return name or f"Part {index + 1}"


def assign_programs(names: list[str]) -> list[int]:
    """A distinct General MIDI program per part: voices by name, then SATB programs by position, then winds.

    Distinct because the encoding merges parts that share a program; never drums.
    """
    programs: list[int | None] = [VOICE_PROGRAMS.get(name.split()[0].lower()) for name in names]
    programs = [program if program not in programs[:index] else None for index, program in enumerate(programs)]
    unused = [p for p in [*VOICE_PROGRAMS.values(), *EXTRA_PROGRAMS, *range(128)] if p not in programs]
    unused = list(dict.fromkeys(unused))  # keep the order, drop repeats of the fallback range
    return [program if program is not None else unused.pop(0) for program in programs]


def _part_notes(part: stream.Part, shift: float) -> tuple[Note, ...]:
    """Sounding notes of a part in beats: ties joined, each chord pitch a note, grace notes dropped."""
    notes = []
    for element in part.stripTies().flatten().notes:
        length = float(element.quarterLength)
        if length <= 0:  # a grace note takes no time in the score
            continue
        start = float(element.offset) + shift
        members = element.notes if element.isChord else [element]
        notes += [Note(start, start + length, n.pitch.midi, _velocity(n, element)) for n in members]
    return tuple(sorted(notes))


def _velocity(note: m21note.NotRest, container: m21note.NotRest) -> int:
    """The note's own velocity if the source sets one, else its chord's, else the default."""
    for holder in (note, container):
        if holder.hasVolumeInformation() and holder.volume.velocity is not None:
            return max(1, min(127, int(holder.volume.velocity)))
    return DEFAULT_VELOCITY


def _first_tempo(source: stream.Score) -> float:
    """The first metronome mark in quarter notes per minute, else a calm default."""
    mark = source.recurse().getElementsByClass(tempo.MetronomeMark).first()
    qpm = mark.getQuarterBPM() if mark is not None else None
    return float(qpm) if qpm else DEFAULT_QPM


def _first_time_signature(source: stream.Score) -> TimeSignature:
    """The opening time signature, at beat 0 (the chorales keep one meter throughout)."""
    found = source.recurse().getElementsByClass(meter.TimeSignature).first()
    numerator, denominator = (found.numerator, found.denominator) if found is not None else DEFAULT_METER
    return TimeSignature(0.0, numerator, denominator)


def _convert_job(job: tuple[Path, Path, bool]) -> Result:
    """Pool.imap passes one argument."""
    return convert(*job)


def convert_all(sources: list[Path], out: Path, overwrite: bool) -> list[Result]:
    """Convert on a few cores, reporting each skipped chorale as it happens."""
    jobs = [(source, out, overwrite) for source in sources]
    results = []
    with multiprocessing.Pool(min(JOBS, len(jobs)) or 1) as pool:
        for result in pool.imap(_convert_job, jobs, chunksize=4):
            if result.status == "skipped":
                print(f"skipped {result.source}: {result.detail}", flush=True)
            results.append(result)
    return results


def summarize(results: list[Result], seconds: float) -> str:
    """One line per repeat fallback, then the totals."""
    lines = [f"repeats not expanded in {r.source}: {r.detail}" for r in results if r.status == "fallback"]
    count = {status: sum(r.status == status for r in results) for status in ("ok", "fallback", "skipped")}
    lines.append(
        f"{len(results)} chorales: {count['ok'] + count['fallback']} converted "
        f"({count['fallback']} with repeats left unexpanded), {count['skipped']} skipped; "
        f"{sum(r.notes for r in results)} notes in {seconds:.0f} s"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Check for existing files first, so that a run without --force changes nothing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--force", action="store_true", help="replace files that already exist in --out")
    args = parser.parse_args(argv)
    started = time.monotonic()
    sources = chorale_files()
    existing = [args.out / f"{s.stem}.mid" for s in sources if (args.out / f"{s.stem}.mid").exists()]
    if existing and not args.force:
        print(
            f"error: {len(existing)} of the {len(sources)} files already exist in {args.out} "
            f"(e.g. {existing[0].name}); pass --force to replace them",
            file=sys.stderr,
        )
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    results = convert_all(sources, args.out, overwrite=args.force)
    stale = sorted({p.name for p in args.out.glob("*.mid")} - {f"{s.stem}.mid" for s in sources})
    if stale:
        print(f"note: {len(stale)} other .mid files in {args.out} were left alone: {', '.join(stale)}")
    print(summarize(results, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
