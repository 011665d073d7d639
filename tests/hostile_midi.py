"""A corpus of malformed and extreme MIDI files, for tests that nothing a user drops in a folder crashes composer.

Most cases are built byte by byte with struct, because mido refuses to write what they contain (a wrong
chunk length, running status without a status byte, tempo 0, SMPTE time division). ``write_hostile_corpus``
writes every case into a folder and says which class of hostility each file belongs to.
"""

import struct
from collections.abc import Callable
from pathlib import Path

END_OF_TRACK = b"\x00\xff\x2f\x00"


def vlq(value: int) -> bytes:
    """A MIDI variable-length quantity (7 bits per byte, high bit set on all but the last)."""
    groups = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        groups.append(0x80 | (value & 0x7F))
    return bytes(reversed(groups))


def header(fmt: int = 1, num_tracks: int = 1, division: int = 480, length: int = 6) -> bytes:
    return b"MThd" + struct.pack(">IHHH", length, fmt, num_tracks, division)


def chunk(body: bytes, tag: bytes = b"MTrk", length: int | None = None) -> bytes:
    """A chunk whose declared length is ``length`` (default: the true one)."""
    return tag + struct.pack(">I", len(body) if length is None else length) + body


def midi_file(tracks: list[bytes], fmt: int = 1, division: int = 480) -> bytes:
    """A file of track bodies; each gets an end-of-track event."""
    return header(fmt, len(tracks), division) + b"".join(chunk(body + END_OF_TRACK) for body in tracks)


def note(pitch: int, ticks: int = 480, channel: int = 0, velocity: int = 90, delta: int = 0) -> bytes:
    """Note-on after ``delta`` ticks, note-off ``ticks`` later."""
    return vlq(delta) + bytes([0x90 | channel, pitch, velocity]) + vlq(ticks) + bytes([0x80 | channel, pitch, 0])


def tempo(microseconds_per_quarter: int, delta: int = 0) -> bytes:
    return vlq(delta) + b"\xff\x51\x03" + microseconds_per_quarter.to_bytes(3, "big")


def melody(count: int = 16, channel: int = 0, ticks: int = 240) -> bytes:
    return b"".join(note(60 + i % 12, ticks, channel) for i in range(count))


VALID = midi_file([tempo(500_000) + b"\x00\xff\x58\x04\x04\x02\x18\x08", melody()])


def _truncations() -> dict[str, bytes]:
    cuts = {
        "in_header": 10,
        "after_header": 14,
        "in_track_header": 18,
        "in_event": len(VALID) - 7,
        "before_end_of_track": len(VALID) - 3,
    }
    return {f"truncated_{name}": VALID[:cut] for name, cut in cuts.items()}


def _header_lengths() -> dict[str, bytes]:
    body = VALID[14:]
    return {
        "header_length_0": header(length=0)[:8] + body,
        "header_length_huge": header(length=0xFFFFFFFF) + body,
        "header_length_12": header(length=12) + b"\x00" * 6 + body,  # longer header with padding
        "header_claims_9_tracks": header(num_tracks=9) + body,
        "header_claims_0_tracks": header(num_tracks=0) + body,
    }


def _chunk_lengths() -> dict[str, bytes]:
    track = melody() + END_OF_TRACK
    return {
        "chunk_length_too_long": header() + chunk(track, length=len(track) + 1000),
        "chunk_length_too_short": header() + chunk(track, length=len(track) // 2) + track[len(track) // 2 :],
        "chunk_length_0": header() + chunk(track, length=0) + track,
        "chunk_length_max": header() + chunk(track, length=0xFFFFFFFF),
        "chunk_unknown_tag": header(num_tracks=2) + chunk(b"junk", tag=b"XFIH") + chunk(track),
        "chunk_no_end_of_track": header() + chunk(melody()),
    }


def _garbage() -> dict[str, bytes]:
    noise = bytes((i * 151 + 7) % 256 for i in range(4096))
    return {
        "garbage_after_valid": VALID + noise,
        "garbage_text_after_valid": VALID + b"\n\nSaved by SomeEditor 1.0\n" * 10,
        "garbage_zeros_after_valid": VALID + b"\x00" * 1000,
        "garbage_in_track": header() + chunk(noise[:500] + END_OF_TRACK),
        "garbage_mthd_then_noise": b"MThd" + noise,
    }


def _running_status() -> dict[str, bytes]:
    pairs = b"".join(b"\x00" + bytes([60 + i, 90]) for i in range(8))
    return {
        "running_status_ok": midi_file(
            [b"\x00\x90\x3c\x5a" + pairs + pairs.replace(b"\x00", b"\x60").replace(b"Z", b"\x00")]
        ),
        "running_status_without_status": midi_file([pairs]),
        "running_status_after_meta": midi_file([b"\x00\x90\x3c\x5a\x00\xff\x01\x01x" + pairs]),
        "running_status_after_sysex": midi_file([b"\x00\x90\x3c\x5a\x00\xf0\x02\x7e\xf7" + pairs]),
        "data_byte_high_bit": midi_file([b"\x00\x90\xbc\xda\x00\x80\xbc\x00"]),
        "status_byte_undefined": midi_file([b"\x00\xf4\x00\xf5" + melody(2)]),
        "vlq_too_long": midi_file([b"\xff\xff\xff\xff\xff\x7f\x90\x3c\x5a"]),
        "meta_length_past_chunk": midi_file([b"\x00\xff\x03\x8f\xff\xff\x7fname"]),
        "sysex_length_past_chunk": midi_file([b"\x00\xf0\x8f\xff\xff\x7f\x7e"]),
    }


def _divisions_and_formats() -> dict[str, bytes]:
    tracks = [tempo(500_000), melody()]
    return {
        "smpte_25fps": midi_file(tracks, division=0xE728),
        "smpte_30fps": midi_file(tracks, division=0xE250),
        "division_0": midi_file(tracks, division=0),
        "division_1": midi_file(tracks, division=1),
        "division_max": midi_file(tracks, division=0x7FFF),
        "format_2": midi_file(tracks + [melody(8, channel=1)], fmt=2),
        "format_0_many_channels": midi_file([b"".join(melody(4, channel=c) for c in range(16))], fmt=0),
        "format_7": midi_file(tracks, fmt=7),
    }


def _note_oddities() -> dict[str, bytes]:
    never_ends = b"".join(vlq(120) + bytes([0x90, 60 + i, 90]) for i in range(12))
    orphans = b"".join(vlq(120) + bytes([0x80, 60 + i, 0]) for i in range(12))
    return {
        "zero_notes_meta_only": midi_file([tempo(500_000) + b"\x00\xff\x03\x04Solo"]),
        "zero_notes_empty_tracks": midi_file([b"", b""]),
        "zero_length_notes": midi_file([b"".join(note(60 + i, 0) for i in range(12))]),
        "only_drums": midi_file([melody(32, channel=9)]),
        "notes_never_end": midi_file([never_ends]),
        "notes_never_end_beside_good": midi_file([never_ends, melody()]),
        "note_offs_without_note_ons": midi_file([orphans]),
        "note_offs_without_note_ons_beside_good": midi_file([orphans + melody()]),
        "velocity_zero_note_ons_only": midi_file([b"".join(b"\x00\x90" + bytes([60 + i, 0]) for i in range(12))]),
        "same_pitch_stacked": midi_file([b"\x00\x90\x3c\x5a" * 50 + b"\x83\x60\x80\x3c\x00" * 50]),
        "pitch_extremes_0_and_127": midi_file([note(127), note(0)]),
    }


def _extremes() -> dict[str, bytes]:
    return {
        "many_notes_100k": midi_file([melody(100_000, ticks=60)]),
        "huge_delta_start": midi_file([note(60, delta=0x0FFFFFFF)]),
        "huge_delta_between_notes": midi_file([melody(4) + note(60, delta=0x0FFFFFFF) + melody(4)]),
        "huge_delta_low_division": midi_file([melody(4) + note(60, delta=9_000_000) + melody(4)], division=1),
        "huge_delta_in_every_track": midi_file([note(60, delta=0x0FFFFFFF)] * 4),
        "huge_duration": midi_file([note(60, ticks=0x0FFFFFFF) + melody(4)]),
        "huge_duration_low_division": midi_file([note(60, ticks=9_000_000) + melody(4)], division=1),
        "huge_end_of_track_delta": header() + chunk(melody() + vlq(0x0FFFFFFF) + b"\xff\x2f\x00"),
        "tracks_300": midi_file([note(40 + i % 60, channel=i % 16) for i in range(300)]),
        "tracks_1000_empty": midi_file([b""] * 999 + [melody()]),
        "tempo_0": midi_file([tempo(0), melody()]),
        "tempo_0_mid_piece": midi_file([tempo(500_000) + tempo(0, delta=960), melody()]),
        "tempo_1us": midi_file([tempo(1), melody()]),
        "tempo_max": midi_file([tempo(0xFFFFFF), melody()]),
        "tempo_changes_every_tick": midi_file(
            [b"".join(tempo(1 + i * 9973 % 0xFFFFFF, delta=1) for i in range(5000)), melody()]
        ),
        "time_signature_absurd": midi_file([b"\x00\xff\x58\x04\x00\xff\x18\x08" + melody()]),
        "time_signature_short": midi_file([b"\x00\xff\x58\x01\x04" + melody()]),
        "key_signature_invalid": midi_file([b"\x00\xff\x59\x02\x7f\x05" + melody()]),
        "program_change_out_of_range": midi_file([b"\x00\xc0\xff" + melody()]),
    }


CASES: dict[str, Callable[[], dict[str, bytes]]] = {
    "truncated": _truncations,
    "wrong header length": _header_lengths,
    "wrong chunk length": _chunk_lengths,
    "garbage bytes": _garbage,
    "running status and bad events": _running_status,
    "SMPTE division and odd formats": _divisions_and_formats,
    "odd notes": _note_oddities,
    "extremes": _extremes,
}


def write_hostile_corpus(folder: Path) -> dict[str, str]:
    """Write every hostile case into ``folder`` as NAME.mid; returns {filename: class}."""
    folder.mkdir(parents=True, exist_ok=True)
    classes = {}
    for hostility, make in CASES.items():
        for name, data in make().items():
            (folder / f"{name}.mid").write_bytes(data)
            classes[f"{name}.mid"] = hostility
    return classes
