"""What `composer inspect` reports about a MIDI file: its contents and how the encoding sees it."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from composer.config import EncodingConfig
from composer.events import decode, encode, key_shift, quantize, token_names
from composer.midi_io import program_name, read_score
from composer.score import Score, Track


def inspect_file(path: str | os.PathLike, config: EncodingConfig, num_tokens: int = 32) -> dict[str, Any]:
    """A JSON-ready description of one file under ``config``."""
    score = read_score(path)
    tokens = encode(score, config)
    quantized = quantize(score, config)
    return {
        "path": str(path),
        "tracks": [_track_info(track) for track in score.tracks],
        "tempos": [{"beat": t.beat, "qpm": round(t.qpm, 3)} for t in score.tempos],
        "time_signatures": [
            {"beat": ts.beat, "time_signature": f"{ts.numerator}/{ts.denominator}"} for ts in score.time_signatures
        ],
        "notes": score.num_notes,
        "beats": score.end_beat,
        "seconds": round(score.beats_to_seconds(score.end_beat), 3),
        "tokens": len(tokens),
        "key_shift": key_shift(score, config) if config.one_key else None,
        "first_tokens": token_names(tokens[:num_tokens], config),
        "round_trip": _round_trip(score, quantized, decode(tokens, config)),
    }


def format_inspection(info: dict[str, Any]) -> str:
    """The human-readable form of ``inspect_file``'s result."""
    trip = info["round_trip"]
    lines = [info["path"], f"  tracks: {len(info['tracks'])}"]
    lines += [
        f"    {t['name'] or '(unnamed)'}: {t['instrument']}, {t['notes']} notes, pitches {t['lowest']}-{t['highest']}"
        for t in info["tracks"]
    ]
    lines += [
        "  tempo: " + (", ".join(f"{t['qpm']:g} qpm at beat {t['beat']:g}" for t in info["tempos"]) or "none"),
        "  time signature: "
        + (", ".join(f"{t['time_signature']} at beat {t['beat']:g}" for t in info["time_signatures"]) or "none"),
        f"  notes: {info['notes']}",
        f"  length: {info['beats']:g} beats, {info['seconds']:g} s",
        f"  tokens: {info['tokens']}",
        *([] if info["key_shift"] is None else [f"  key: {_key_move(info['key_shift'])}"]),
        "  round trip: "
        + ("exact" if trip["exact"] else f"lossy, {trip['notes_changed']} of {info['notes']} notes change")
        + (f", {trip['parts_merged']} parts merge into others of the same instrument" if trip["parts_merged"] else "")
        + ("" if trip["decode_matches_quantize"] else " (decode does not match quantize: please report a bug)"),
    ]
    if info["first_tokens"]:
        lines.append(f"  first {len(info['first_tokens'])} tokens: " + " ".join(info["first_tokens"]))
    return "\n".join(lines)


def _key_move(semitones: int) -> str:
    """How a one-key encoding moved the file."""
    if not semitones:
        return "encoded as written (in C major or A minor already)"
    direction = "up" if semitones > 0 else "down"
    return f"encoded {abs(semitones)} semitone{'s' * (abs(semitones) > 1)} {direction}, in C major or A minor"


def _track_info(track: Track) -> dict[str, Any]:
    pitches = [note.pitch for note in track.notes]
    return {
        "name": track.name,
        "program": track.program,
        "is_drum": track.is_drum,
        "instrument": program_name(track.program, track.is_drum),
        "notes": len(track.notes),
        "lowest": min(pitches),
        "highest": max(pitches),
    }


def _round_trip(score: Score, quantized: Score, decoded: Score) -> dict[str, Any]:
    """Exact means decoding the tokens gives back every part, note, tempo and time signature of the file."""
    before, after = _note_multiset(score), _note_multiset(decoded)
    changed = sum((before - after).values())
    merged = len(score.tracks) - len({(t.program, t.is_drum) for t in score.tracks})  # parts sharing an instrument
    same_meta = _meta(score) == _meta(decoded)
    return {
        "exact": changed == 0 and sum(after.values()) == sum(before.values()) and same_meta and merged == 0,
        "notes_changed": changed,
        "parts_merged": merged,
        "decode_matches_quantize": decoded == quantized,
    }


def _note_multiset(score: Score) -> Counter:
    return Counter(
        (-1 if track.is_drum else track.program, note.pitch, round(note.start, 6), round(note.end, 6), note.velocity)
        for track in score.tracks
        for note in track.notes
    )


def _meta(score: Score) -> tuple:
    return (
        [(round(t.beat, 6), round(t.qpm, 3)) for t in score.tempos],
        [(round(ts.beat, 6), ts.numerator, ts.denominator) for ts in score.time_signatures],
    )
