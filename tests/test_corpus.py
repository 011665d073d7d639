import dataclasses
import os
import signal
import sys
import time

import pytest

from composer.config import EncodingConfig
from composer.data.corpus import (
    MAX_VALID_SHARE,
    MIN_VALID_EVENTS,
    find_midi_files,
    is_validation,
    load_corpus,
    split_corpus,
)
from composer.errors import ComposerError
from composer.events import encode
from composer.midi_io import read_score, write_score

from midi_factory import toy_score, write_toy_corpus
from subprocesses import start


@pytest.fixture
def corpus_dir(tmp_path):
    return write_toy_corpus(tmp_path / "midi", num_files=6)


def test_finds_midi_files_recursively_in_any_case(corpus_dir):
    names = sorted(p.name for p in find_midi_files(corpus_dir))
    assert names == [
        "broken.mid",
        "empty.mid",
        "toy0.MID",
        "toy1.mid",
        "toy2.midi",
        "toy3.MID",
        "toy4.mid",
        "toy5.midi",
    ]


def test_bad_files_are_skipped_with_a_reason(corpus_dir, tmp_path):
    corpus = load_corpus(corpus_dir, EncodingConfig(), cache_dir=tmp_path / "cache", workers=1)
    assert len(corpus.files) == 6
    assert {p.split("/")[-1]: r for p, r in corpus.skipped.items()} == {
        "broken.mid": "not a MIDI file (no MThd header)",
        "empty.mid": "file is empty",
    }
    summary = corpus.summary()
    assert summary["skipped_by_reason"] == {"not a MIDI file": 1, "file is empty": 1}
    assert summary["tokens"] == sum(len(f.tokens) for f in corpus.files)


def test_tokens_are_the_encoding_of_each_file(corpus_dir, tmp_path):
    config = EncodingConfig()
    corpus = load_corpus(corpus_dir, config, cache_dir=tmp_path / "cache", workers=2)
    for file in corpus.files:
        assert file.tokens.tolist() == encode(read_score(file.path), config)


def test_second_load_comes_from_the_cache_and_changes_are_noticed(corpus_dir, tmp_path):
    cache, config = tmp_path / "cache", EncodingConfig()
    first = load_corpus(corpus_dir, config, cache_dir=cache, workers=1)
    assert first.cache_hits == 0
    second = load_corpus(corpus_dir, config, cache_dir=cache, workers=2)
    assert second.cache_hits == 8  # the two bad files are remembered too
    assert [f.tokens.tolist() for f in second.files] == [f.tokens.tolist() for f in first.files]

    edited = corpus_dir / "set0" / "toy0.MID"
    write_score(toy_score(99), edited, overwrite=True)
    third = load_corpus(corpus_dir, config, cache_dir=cache, workers=1)
    assert third.cache_hits == 7
    assert next(f for f in third.files if f.path == str(edited)).tokens.tolist() == encode(toy_score(99), config)

    other_config = load_corpus(corpus_dir, EncodingConfig(use_velocity=False), cache_dir=cache, workers=1)
    assert other_config.cache_hits == 0


def test_duplicate_files_are_used_once(corpus_dir, tmp_path):
    (corpus_dir / "copy.mid").write_bytes((corpus_dir / "set1" / "toy1.mid").read_bytes())
    corpus = load_corpus(corpus_dir, EncodingConfig(), cache_dir=tmp_path / "cache", workers=1)
    assert len(corpus.files) == 6 and corpus.duplicates == 1
    renamed = toy_score(1)  # the same notes under another track name: other bytes, same music
    write_score(
        dataclasses.replace(renamed, tracks=tuple(dataclasses.replace(t, name="Lead") for t in renamed.tracks)),
        corpus_dir / "renamed.mid",
    )
    again = load_corpus(corpus_dir, EncodingConfig(), cache_dir=tmp_path / "cache", workers=1)
    assert len(again.files) == 6 and again.duplicates == 2


def test_nothing_usable_is_an_error(tmp_path):
    (tmp_path / "a.mid").write_bytes(b"junk")
    with pytest.raises(ComposerError, match="none of the 1 MIDI files could be used"):
        load_corpus(tmp_path, EncodingConfig(), cache_dir=tmp_path / "cache", workers=1)
    with pytest.raises(ComposerError, match="no .mid or .midi files"):
        load_corpus(tmp_path / "cache", EncodingConfig(), cache_dir=tmp_path / "cache2", workers=1)
    with pytest.raises(ComposerError, match="not a folder"):
        load_corpus(tmp_path / "missing", EncodingConfig(), workers=1)


def test_split_is_by_file_and_stable_when_files_are_added(corpus_dir, tmp_path):
    corpus = load_corpus(corpus_dir, EncodingConfig(), cache_dir=tmp_path / "cache", workers=1)
    positions = sorted(int(f.digest[:12], 16) / 16**12 for f in corpus.files)  # a file's hash read as [0, 1)
    fraction = (positions[1] + positions[2]) / 2  # so that exactly two files fall below it
    train, valid = split_corpus(corpus, fraction)
    assert len(valid) == 2 and len(train) == 4
    assert not {f.path for f in train} & {f.path for f in valid}
    corpus.files.reverse()
    assert {f.path for f in split_corpus(corpus, fraction)[1]} == {f.path for f in valid}

    for seed in range(40, 60):
        write_score(toy_score(seed, num_notes=20), corpus_dir / "more" / f"{seed}.mid")
    grown = load_corpus(corpus_dir, EncodingConfig(), cache_dir=tmp_path / "cache", workers=1)
    grown_train, grown_valid = split_corpus(grown, fraction)
    assert {f.path for f in train} <= {f.path for f in grown_train}
    assert {f.path for f in valid} <= {f.path for f in grown_valid}


def test_tiny_validation_set_is_refused_with_advice(tmp_path):
    folder = tmp_path / "two"
    for seed in range(2):
        write_score(toy_score(seed, num_notes=20), folder / f"{seed}.mid")
    corpus = load_corpus(folder, EncodingConfig(), cache_dir=tmp_path / "cache", workers=1)
    assert sum(len(f.tokens) for f in corpus.files) < 2 * MIN_VALID_EVENTS
    with pytest.raises(ComposerError, match="validation set too small.*add MIDI files"):
        split_corpus(corpus, 0.5)


def test_a_small_folder_lends_validation_the_files_next_by_hash_to_reach_the_minimum(tmp_path):
    folder = tmp_path / "tunes"
    for seed in range(25):
        write_score(toy_score(seed, num_notes=12), folder / f"{seed}.mid")
    corpus = load_corpus(folder, EncodingConfig(), cache_dir=tmp_path / "cache", workers=1)
    total = sum(len(f.tokens) for f in corpus.files)
    picked = [f for f in corpus.files if is_validation(f.digest, 0.05)]
    assert sum(len(f.tokens) for f in picked) < MIN_VALID_EVENTS < MAX_VALID_SHARE * total, "the case lending is for"
    train, valid = split_corpus(corpus, 0.05)
    valid_events = sum(len(f.tokens) for f in valid)
    assert MIN_VALID_EVENTS <= valid_events <= MAX_VALID_SHARE * total and set(map(id, picked)) <= set(map(id, valid))
    highest_lent = max(f.digest[:12] for f in valid)  # the hash fraction's order (fixed-width hex)
    assert all(f.digest[:12] > highest_lent for f in train), "lent in hash order: stable as files come"


def test_ctrl_c_while_encoding_stops_quietly(tmp_path):
    folder = write_toy_corpus(tmp_path / "midi", num_files=40)
    env = {**os.environ, "COMPOSER_CACHE_DIR": str(tmp_path / "cache")}
    command = [
        sys.executable,
        "-m",
        "composer.cli",
        "train",
        str(folder),
        "--out",
        str(tmp_path / "run"),
        "--workers",
        "2",
        "--seed",
        "1",
    ]
    process = start(command, env=env, start_new_session=True)
    deadline = time.time() + 60
    while not (tmp_path / "cache").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal does: the whole process group
    output, _ = process.communicate(timeout=60)
    last_line = output.strip().splitlines()[-1]
    assert process.returncode == 1 and last_line == "Aborted!" and "Traceback" not in output, output  # Click's way
