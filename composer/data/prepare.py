"""`composer prepare`: a MIDI folder of any size -> a sharded token cache that training streams from.

    CACHE/manifest.json            encoding, split rule, shard plan, totals (complete once every shard is)
    CACHE/shards/NNNNN.json        each file of the shard: path, hashes, status, reason, split, token count
    CACHE/shards/NNNNN.train.bin   the shard's training pieces end to end, one uint16 per event
    CACHE/shards/NNNNN.valid.bin   the same for its validation pieces

Each event is stored as ``token | pitched << 15``: the token id and whether
transposition may move it, so training reads one flat file per shard with
``tf.io.decode_raw`` and nothing else. Shards are contiguous runs of the sorted
file list, written one at a time and published atomically, their ``.json`` last:
memory holds one shard, and a crashed run skips every shard already published.
No TensorFlow here.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from composer.atomic import read_json, write_atomic, write_json
from composer.config import EncodingConfig
from composer.data.corpus import Deduplicator, count_reasons, encode_files, find_midi_files, is_validation, music_digest
from composer.errors import ComposerError
from composer.events import ENCODING_VERSION, openings, pitch_ranges, pitched_note_mask, vocabulary

CACHE_VERSION = 1
MANIFEST = "manifest.json"
SHARD_DIR = "shards"
SPLITS = ("train", "valid")
FILES_PER_SHARD = 2000  # the default plan: a shard of small files is a few MB
PITCHED_BIT = 15


@dataclass(frozen=True)
class PrepareRequest:
    data: Path
    out: Path
    encoding: EncodingConfig = EncodingConfig()
    valid_fraction: float = 0.1
    shards: int | None = None  # default: one per FILES_PER_SHARD files
    workers: int | None = None
    force: bool = False


def prepare(request: PrepareRequest, on_file: Callable[[int, str, str | None], None] | None = None) -> dict[str, Any]:
    """Encode the folder into the cache shard by shard, skipping shards a previous run published."""
    started = time.time()
    files = find_midi_files(request.data)
    if not files:
        raise ComposerError(f"{request.data}: no .mid or .midi files found")
    if len(vocabulary(request.encoding)) >= 2**PITCHED_BIT:
        raise ComposerError("this encoding has too many event types for a prepared cache: lower --steps-per-quarter")
    manifest = _plan(request, files)
    done = [index for index in range(manifest["shards"]) if _shard_path(request.out, index, ".json").exists()]
    seen = _seen_in(request.out, done)
    bounds = _shard_bounds(len(files), manifest["shards"])
    todo = [index for index in range(manifest["shards"]) if index not in done]
    jobs = [path for index in todo for path in files[bounds[index] : bounds[index + 1]]]
    if on_file:
        for path in files[: len(files) - len(jobs)]:  # the published shards count as done
            on_file(len(files), str(path), None)
    results = encode_files(jobs, request.encoding, None, request.workers)
    for index in todo:
        shard = [next(results) for _ in range(bounds[index + 1] - bounds[index])]
        if on_file:
            for path, _, _, reason, _ in shard:
                on_file(len(files), path, reason)
        _write_shard(request, index, shard, seen)
    return _finish(request.out, manifest, time.time() - started)


def read_manifest(cache: Path) -> dict[str, Any]:
    """The manifest of a complete cache; a clear error for anything else."""
    path = cache / MANIFEST
    if not path.exists():
        raise ComposerError(f"{cache}: not a prepared cache (no {MANIFEST}); make one with `composer prepare`")
    manifest = read_json(path)
    if manifest.get("cache_version") != CACHE_VERSION or manifest.get("encoding_version") != ENCODING_VERSION:
        raise ComposerError(f"{cache} was prepared by another composer version: prepare it again with --force")
    if not manifest.get("complete"):
        raise ComposerError(f"{cache} is not complete: run the same `composer prepare` again to finish it")
    missing = [path.name for split in SPLITS for path in shard_files(cache, manifest, split) if not path.is_file()]
    if missing:
        raise ComposerError(
            f"{cache} lacks {len(missing)} shard files ({missing[0]}, ...): "
            "copy the whole cache, or prepare it again with --force"
        )
    return manifest


def is_cache(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def shard_files(cache: Path, manifest: dict[str, Any], split: str) -> list[Path]:
    return [_shard_path(cache, index, f".{split}.bin") for index in range(manifest["shards"])]


def iter_pieces(cache: Path, manifest: dict[str, Any], split: str) -> Iterator[np.ndarray]:
    """Whole pieces of one split as token arrays, read shard by shard as they are asked for."""
    for index in range(manifest["shards"]):
        lengths = [entry["tokens"] for entry in _shard_entries(cache, index) if entry.get("split") == split]
        packed = np.fromfile(_shard_path(cache, index, f".{split}.bin"), dtype="<u2")
        for piece in np.split(packed, np.cumsum(lengths)[:-1]) if lengths else []:
            yield _unpack(piece)


def _plan(request: PrepareRequest, files: list[Path]) -> dict[str, Any]:
    """The manifest of this run; an existing cache must have been planned the same way to be resumed."""
    shards = min(request.shards or -(-len(files) // FILES_PER_SHARD), len(files))
    names = "\n".join(str(path.relative_to(request.data)) for path in files)
    manifest = {
        "cache_version": CACHE_VERSION,
        "encoding_version": ENCODING_VERSION,
        "encoding": request.encoding.to_dict(),
        "valid_fraction": request.valid_fraction,
        "source": str(request.data.resolve()),
        "files": len(files),
        "file_list_sha256": hashlib.sha256(names.encode()).hexdigest(),
        "shards": shards,
        "complete": False,
    }
    _check_out(request, manifest)
    request.out.mkdir(parents=True, exist_ok=True)
    write_json(request.out / MANIFEST, manifest)
    return manifest


def _check_out(request: PrepareRequest, manifest: dict[str, Any]) -> None:
    """Resume a cache planned the same way; replace a different one only with --force, and never a foreign folder."""
    out = request.out
    if out.exists() and not out.is_dir():
        raise ComposerError(f"{out} is a file; give --out a folder for the prepared cache")
    if not out.exists() or not any(out.iterdir()):
        return
    if not is_cache(out):
        raise ComposerError(f"{out} is not a prepared cache; refusing to write into it, choose another --out")
    old = read_json(out / MANIFEST)
    same_plan = all(old.get(key) == value for key, value in manifest.items() if key not in ("complete", "source"))
    if same_plan and not request.force:
        return
    if not request.force:
        raise ComposerError(
            f"{out} holds a cache prepared from other files or settings; "
            "pass --force to replace it, or choose another --out"
        )
    (out / MANIFEST).unlink()
    shutil.rmtree(out / SHARD_DIR, ignore_errors=True)


def _shard_bounds(num_files: int, shards: int) -> list[int]:
    return [round(index * num_files / shards) for index in range(shards + 1)]


def _seen_in(cache: Path, shards: list[int]) -> Deduplicator:
    """Files already published, so a resumed run drops the same duplicates an uninterrupted one would."""
    seen = Deduplicator()
    for index in shards:
        for entry in _shard_entries(cache, index):
            if entry["status"] == "used":
                seen.remember(entry["sha256"], entry["music_sha256"])
    return seen


def _write_shard(request: PrepareRequest, index: int, shard: list, seen: Deduplicator) -> None:
    entries, pieces = [], {split: [] for split in SPLITS}
    for path, digest, tokens, reason, _ in shard:
        entry = {"path": str(Path(path).relative_to(request.data)), "sha256": digest}
        if reason is not None:
            entry |= {"status": "skipped", "reason": reason}
        elif not seen.is_new(digest, tokens):
            entry |= {"status": "duplicate"}
        else:
            split = "valid" if is_validation(digest, request.valid_fraction) else "train"
            entry |= {"status": "used", "music_sha256": music_digest(tokens), "split": split, "tokens": len(tokens)}
            pieces[split].append(_pack(tokens, request.encoding))
        entries.append(entry)
    for split in SPLITS:
        data = np.concatenate(pieces[split]) if pieces[split] else np.zeros(0, dtype="<u2")
        write_atomic(_shard_path(request.out, index, f".{split}.bin"), data.tobytes(), overwrite=True)
    write_json(_shard_path(request.out, index, ".json"), {"files": entries})  # last: the shard is done


def _pack(tokens: np.ndarray, encoding: EncodingConfig) -> np.ndarray:
    pitched = pitched_note_mask(np.asarray(tokens), encoding).astype(np.uint16)
    return (np.asarray(tokens, dtype=np.uint16) | pitched << PITCHED_BIT).astype("<u2")


def _unpack(packed: np.ndarray) -> np.ndarray:
    """The token ids of packed events (the inverse of ``_pack``, without the pitched flag)."""
    return (packed & (2**PITCHED_BIT - 1)).astype(np.int32)


def _finish(cache: Path, manifest: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Totals over every shard (also those of earlier runs), written into the now complete manifest."""
    encoding = EncodingConfig.from_dict(manifest["encoding"])
    counts = np.zeros(len(vocabulary(encoding)), dtype=np.int64)
    status, reasons, tokens, files = Counter(), [], {split: [] for split in SPLITS}, {split: 0 for split in SPLITS}
    for index in range(manifest["shards"]):
        entries = _shard_entries(cache, index)
        status.update(entry["status"] for entry in entries)
        reasons += [entry["reason"] for entry in entries if entry["status"] == "skipped"]
        for split in SPLITS:
            tokens[split].append(sum(entry["tokens"] for entry in entries if entry.get("split") == split))
            files[split] += sum(entry.get("split") == split for entry in entries)
        counts += _event_counts(_shard_path(cache, index, ".train.bin"), len(counts))
    manifest |= {
        "complete": True,
        "files_used": status["used"],
        "files_skipped": status["skipped"],
        "skipped_by_reason": count_reasons(reasons),
        "duplicates_dropped": status["duplicate"],
        "split_files": files,
        "shard_tokens": tokens,  # per split, per shard: what training needs to plan its steps
        "tokens": sum(map(sum, tokens.values())),
        "event_counts": counts.tolist(),
        "openings": openings(iter_pieces(cache, manifest, "train"), encoding),
        "pitch_ranges": pitch_ranges(iter_pieces(cache, manifest, "train"), encoding),
    }
    write_json(cache / MANIFEST, manifest)
    return {**manifest, "seconds": seconds}


def _event_counts(path: Path, size: int) -> np.ndarray:
    return np.bincount(_unpack(np.fromfile(path, dtype="<u2")), minlength=size)


def _shard_entries(cache: Path, index: int) -> list[dict[str, Any]]:
    """The files a shard holds, as its manifest entry lists them (path, split, tokens, ...)."""
    return read_json(_shard_path(cache, index, ".json"))["files"]


def _shard_path(cache: Path, index: int, suffix: str) -> Path:
    return cache / SHARD_DIR / f"{index:05d}{suffix}"
