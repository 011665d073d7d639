"""A folder of MIDI files -> encoded token sequences, cached, deduplicated and split.

No TensorFlow here: worker processes stay light, and a cached corpus loads in
seconds. Each file is cached under the hash of its bytes inside a folder keyed by
the encoding config, so an edited file or a changed config is re-encoded and
nothing else is.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from composer.atomic import write_atomic
from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import ENCODING_VERSION, encode
from composer.midi_io import parse_score, read_midi_bytes, read_score

MIDI_SUFFIXES = {".mid", ".midi"}
MIN_VALID_EVENTS = 1000
MAX_VALID_SHARE = 0.3  # of a small folder's events, lent to validation to reach MIN_VALID_EVENTS


@dataclass(frozen=True)
class EncodedFile:
    path: str
    digest: str  # sha256 of the file's bytes
    tokens: np.ndarray  # int16 token ids, Start ... End


@dataclass
class Corpus:
    files: list[EncodedFile] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # path -> reason
    duplicates: int = 0
    cache_hits: int = 0

    @property
    def num_tokens(self) -> int:
        return sum(len(f.tokens) for f in self.files)

    def summary(self) -> dict:
        """Used / skipped by reason / tokens, for the user and for the model's metadata."""
        return {
            "files_used": len(self.files),
            "files_skipped": len(self.skipped),
            "skipped_by_reason": count_reasons(self.skipped.values()),
            "duplicates_dropped": self.duplicates,
            "tokens": self.num_tokens,
            "cache_hits": self.cache_hits,
        }


def default_cache_dir() -> Path:
    if "COMPOSER_CACHE_DIR" in os.environ:
        return Path(os.environ["COMPOSER_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "composer"


def find_midi_files(folder: str | os.PathLike) -> list[Path]:
    """Every .mid/.midi file below ``folder`` (any case), in a stable order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ComposerError(f"{folder}: not a folder (give the folder that holds your MIDI files)")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def load_corpus(
    folder: str | os.PathLike,
    config: EncodingConfig,
    *,
    cache_dir: Path | None = None,
    workers: int | None = None,
    on_file: Callable[[int, str, str | None], None] | None = None,
) -> Corpus:
    """Encode every MIDI file of ``folder`` in parallel; ``on_file(total, path, skip_reason)`` reports progress."""
    files = find_midi_files(folder)
    if not files:
        raise ComposerError(f"{folder}: no .mid or .midi files found")
    cache = _cache_folder(Path(cache_dir or default_cache_dir()), config)
    corpus = Corpus()
    seen = Deduplicator()
    for path, digest, tokens, reason, hit in encode_files(files, config, cache, workers):
        if on_file:
            on_file(len(files), path, reason)
        corpus.cache_hits += hit
        if reason is not None:
            corpus.skipped[path] = reason
        elif seen.is_new(digest, tokens):
            corpus.files.append(EncodedFile(path, digest, tokens))
        else:
            corpus.duplicates += 1
    if not corpus.files:
        raise ComposerError(f"{folder}: none of the {len(files)} MIDI files could be used")
    return corpus


def count_reasons(reasons) -> dict[str, int]:
    """Skip reasons without their details ("not a MIDI file (no MThd header)" counts as "not a MIDI file")."""
    return dict(Counter(reason.split(" (")[0] for reason in reasons).most_common())


class Deduplicator:
    """Remembers every file seen, by its bytes and by its notes: the same notes in another file are a duplicate too."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def is_new(self, digest: str, tokens: np.ndarray) -> bool:
        music = music_digest(tokens)
        if digest in self.seen or music in self.seen:
            return False
        self.remember(digest, music)
        return True

    def remember(self, digest: str, music: str) -> None:
        self.seen.update((digest, music))


def music_digest(tokens: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(tokens, dtype=np.int16).tobytes()).hexdigest()


def encode_files(files: list[Path], config: EncodingConfig, cache: Path | None, workers: int | None):
    """(path, digest, tokens, skip reason, cache hit) for each file, in order, encoded by ``workers`` processes.

    ``cache`` None encodes without the per-file cache (a prepared corpus is its own cache)."""
    jobs = [(str(path), config, cache and str(cache)) for path in files]
    yield from _run(jobs, workers or os.cpu_count() or 1)


def representation_problems(folder: str | os.PathLike, config: EncodingConfig, max_files: int = 50) -> list[str]:
    """Why the encoding ``config`` (a model's, to fine-tune) would mangle the music in ``folder``; empty if
    it would not. Checked on up to ``max_files`` readable files: grid, pitch range, instruments."""
    starts, pitches, drum_notes = [], [], 0
    for path in find_midi_files(folder)[:max_files]:
        try:
            score = read_score(path, sustain_pedal=config.sustain_pedal)
        except ComposerError:
            continue  # load_corpus reports it
        notes = [(note, track.is_drum) for track in score.tracks for note in track.notes]
        starts += [note.start for note, _ in notes]
        pitches += [note.pitch for note, drum in notes if not drum]
        drum_notes += sum(drum for _, drum in notes)
    if not starts:
        return []
    steps = np.asarray(starts) * config.steps_per_quarter
    off_grid = float(np.mean(np.abs(steps - np.round(steps)) > config.steps_per_quarter / 96))
    outside = float(np.mean([not config.min_pitch <= p <= config.max_pitch for p in pitches])) if pitches else 0.0
    return [
        reason
        for reason, applies in [
            (
                f"{off_grid:.0%} of the notes fall between its grid steps (1/{config.steps_per_quarter} beat)",
                off_grid > 0.2,
            ),
            (
                f"{outside:.0%} of the notes lie outside its pitch range {config.min_pitch}-{config.max_pitch}",
                outside > 0.01,
            ),
            (
                f"it has no instruments, so {drum_notes} drum notes would be dropped",
                drum_notes and not config.use_programs,
            ),
        ]
        if applies
    ]


def split_corpus(corpus: Corpus, valid_fraction: float) -> tuple[list[EncodedFile], list[EncodedFile]]:
    """Train/validation split by file, decided by each file's own content hash.

    A file is for validation when its hash, read as a number in [0, 1), is below
    ``valid_fraction``: adding or removing other files never moves it, so a grown
    corpus (or a resumed run) never trains on what was validation before. A small
    corpus lends validation more files (``_validation_files``).
    """
    chosen = _validation_files(corpus.files, valid_fraction)
    valid = [f for f in corpus.files if id(f) in chosen]
    train = [f for f in corpus.files if id(f) not in chosen]
    valid_events = sum(len(f.tokens) for f in valid)
    if not train or valid_events < MIN_VALID_EVENTS:
        raise ComposerError(
            f"validation set too small to mean anything ({len(valid)} files, {valid_events} events; "
            f"need {MIN_VALID_EVENTS} events and some files left for training): add MIDI files "
            f"or change --valid-fraction (now {valid_fraction:g})"
        )
    return train, valid


def _validation_files(files: list[EncodedFile], valid_fraction: float) -> set[int]:
    """The ids of the files ``is_validation`` picks, and, while they hold fewer than MIN_VALID_EVENTS events, the
    next ones by hash (at least one) as long as validation keeps under MAX_VALID_SHARE of all events: a folder of
    30 short songs (3,700 events) trains instead of being refused. Files lent so may move back to training as the
    folder grows."""
    by_hash = sorted(files, key=lambda f: _hash_fraction(f.digest))
    limit = MAX_VALID_SHARE * sum(len(f.tokens) for f in files)
    chosen, events = set(), 0
    for file in by_hash:
        picked = is_validation(file.digest, valid_fraction)
        lent = events < MIN_VALID_EVENTS and (not chosen or events + len(file.tokens) <= limit)
        if not (picked or lent):
            break
        chosen.add(id(file))
        events += len(file.tokens)
    return chosen


def is_validation(digest: str, valid_fraction: float) -> bool:
    """A file is for validation when its hash, read as a number in [0, 1), is below ``valid_fraction``."""
    return _hash_fraction(digest) < valid_fraction


def _hash_fraction(digest: str) -> float:
    return int(digest[:12], 16) / 16**12


def _cache_folder(root: Path, config: EncodingConfig) -> Path:
    recipe = json.dumps({"encoding": config.to_dict(), "version": ENCODING_VERSION}, sort_keys=True)
    return root / hashlib.sha256(recipe.encode()).hexdigest()[:16]


def _run(jobs: list, workers: int):
    if workers <= 1 or len(jobs) < 2:
        yield from map(_encode_file, jobs)
        return
    # forkserver: workers never inherit a TensorFlow runtime the parent may have loaded
    context = multiprocessing.get_context("forkserver")
    with context.Pool(min(workers, len(jobs)), initializer=_leave_ctrl_c_to_the_parent) as pool:
        yield from pool.imap(_encode_file, jobs, chunksize=4)


def _leave_ctrl_c_to_the_parent() -> None:
    """Ctrl-C reaches the whole process group; the parent stops the pool, workers print no tracebacks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _encode_file(job: tuple[str, EncodingConfig, str | None]) -> tuple[str, str, np.ndarray | None, str | None, bool]:
    """(path, digest, tokens, skip reason, cache hit) for one file; runs in a worker process."""
    path, config, cache = job
    try:
        data = read_midi_bytes(path)
    except ComposerError as error:
        return path, "", None, str(error).removeprefix(f"{path}: "), False
    digest = hashlib.sha256(data).hexdigest()
    cached = Path(cache) / digest[:2] / digest if cache else None
    if cached and cached.with_suffix(".npy").exists():
        return path, digest, np.load(cached.with_suffix(".npy")), None, True
    if cached and cached.with_suffix(".txt").exists():
        return path, digest, None, cached.with_suffix(".txt").read_text(), True
    try:
        tokens = np.asarray(encode(parse_score(data, path, sustain_pedal=config.sustain_pedal), config), dtype=np.int16)
    except ComposerError as error:
        reason = str(error).removeprefix(f"{path}: ")
        if cached:
            write_atomic(cached.with_suffix(".txt"), reason.encode(), overwrite=True)
        return path, digest, None, reason, False
    if cached:
        buffer = io.BytesIO()
        np.save(buffer, tokens)
        write_atomic(cached.with_suffix(".npy"), buffer.getvalue(), overwrite=True)
    return path, digest, tokens, None, False
