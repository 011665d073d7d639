import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from composer.cli import main
from composer.config import EncodingConfig, TrainConfig
from composer.data import prepare as prepare_module
from composer.data.corpus import load_corpus, split_corpus
from composer.data.prepare import PrepareRequest, iter_pieces, prepare, read_manifest
from composer.data.training_data import load_training_data
from composer.errors import ComposerError
from composer.events import decode, pitched_note_mask, token_names, vocabulary

from midi_factory import write_toy_corpus

VALID_FRACTION = 0.5  # the toy corpus is small: half of it keeps the validation split above its minimum


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = write_toy_corpus(tmp_path_factory.mktemp("corpus"))
    shutil.copy(folder / "set0" / "toy0.MID", folder / "zz copy of toy0.mid")  # sorts last: into the last shard
    return folder


def _request(corpus, out, **options):
    return PrepareRequest(corpus, out, valid_fraction=VALID_FRACTION, shards=3, workers=1, **options)


def test_prepared_cache_holds_what_the_in_memory_corpus_holds(corpus, tmp_path):
    summary = prepare(_request(corpus, tmp_path / "cache"))
    manifest = read_manifest(tmp_path / "cache")
    assert summary["complete"] and manifest["files"] == 15 and manifest["shards"] == 3
    assert (manifest["files_used"], manifest["files_skipped"], manifest["duplicates_dropped"]) == (12, 2, 1)
    assert manifest["skipped_by_reason"] == {"not a MIDI file": 1, "file is empty": 1}

    train, valid = split_corpus(load_corpus(corpus, EncodingConfig(), cache_dir=tmp_path / "c"), VALID_FRACTION)
    for split, files in (("train", train), ("valid", valid)):
        pieces = list(iter_pieces(tmp_path / "cache", manifest, split))
        assert [p.tolist() for p in pieces] == [f.tokens.tolist() for f in files]
        assert sum(manifest["shard_tokens"][split]) == sum(len(f.tokens) for f in files)
    counts = np.bincount(np.concatenate([f.tokens for f in train]), minlength=len(manifest["event_counts"]))
    assert manifest["event_counts"] == counts.tolist()
    assert manifest["openings"] == {"4/4 q=100": len(train)}, "the toy pieces all open in 4/4 at 100 qpm"
    played = {}
    for piece in train:
        for track in decode(piece.tokens, EncodingConfig()).tracks:
            if not track.is_drum:
                played.setdefault(str(track.program), []).extend(note.pitch for note in track.notes)
    assert manifest["pitch_ranges"] == {program: [min(p), max(p)] for program, p in played.items()}
    data = load_training_data(tmp_path / "cache", EncodingConfig(), TrainConfig())
    assert data.split["openings"] == manifest["openings"], "what training records, for generate"
    assert data.split["pitch_ranges"] == manifest["pitch_ranges"]


def test_every_file_is_listed_with_its_status_and_reason(corpus, tmp_path):
    prepare(_request(corpus, tmp_path / "cache"))
    entries = [
        e
        for path in sorted((tmp_path / "cache" / "shards").glob("*.json"))
        for e in json.loads(path.read_text())["files"]
    ]
    by_path = {entry["path"]: entry for entry in entries}
    assert by_path["broken.mid"] == {
        "path": "broken.mid",
        "sha256": by_path["broken.mid"]["sha256"],
        "status": "skipped",
        "reason": "not a MIDI file (no MThd header)",
    }
    assert by_path["empty.mid"]["reason"] == "file is empty"
    assert [by_path[name]["status"] for name in ("set0/toy0.MID", "zz copy of toy0.mid")] == ["used", "duplicate"]
    assert {entry["split"] for entry in entries if entry["status"] == "used"} == {"train", "valid"}


def test_shards_store_the_pitched_flag_beside_each_token(corpus, tmp_path):
    prepare(_request(corpus, tmp_path / "cache"))
    packed = np.fromfile(tmp_path / "cache" / "shards" / "00001.train.bin", dtype="<u2")
    tokens = packed % 2**15
    assert np.array_equal(packed >= 2**15, pitched_note_mask(tokens, EncodingConfig()))


def test_an_interrupted_run_resumes_after_its_last_published_shard(corpus, tmp_path, monkeypatch):
    out, write_shard = tmp_path / "cache", prepare_module._write_shard

    def crash_on_the_last_shard(request, index, shard, seen):
        if index == 2:
            raise KeyboardInterrupt
        write_shard(request, index, shard, seen)

    monkeypatch.setattr(prepare_module, "_write_shard", crash_on_the_last_shard)
    with pytest.raises(KeyboardInterrupt):
        prepare(_request(corpus, out))
    with pytest.raises(ComposerError, match="not complete: run the same `composer prepare` again"):
        read_manifest(out)
    done = {path.name: path.stat().st_mtime_ns for path in (out / "shards").glob("0000[01]*")}
    monkeypatch.undo()

    encoded, encode_files = [], prepare_module.encode_files

    def counting(files, *args):
        encoded.extend(files)
        return encode_files(files, *args)

    monkeypatch.setattr(prepare_module, "encode_files", counting)
    summary = prepare(_request(corpus, out))
    assert {path.name: path.stat().st_mtime_ns for path in (out / "shards").glob("0000[01]*")} == done
    assert len(encoded) == 5 and summary["files_used"] == 12
    assert summary["duplicates_dropped"] == 1  # the copy in the last shard, of a file in a shard done before the crash


def test_a_cache_missing_shard_files_is_refused(corpus, tmp_path):
    prepare(_request(corpus, tmp_path / "cache"))
    (tmp_path / "cache" / "shards" / "00001.valid.bin").unlink()
    with pytest.raises(ComposerError, match=r"lacks 1 shard files \(00001.valid.bin, ...\): copy the whole cache"):
        read_manifest(tmp_path / "cache")


def test_a_different_plan_or_a_foreign_folder_is_never_overwritten_silently(corpus, tmp_path):
    out = tmp_path / "cache"
    prepare(_request(corpus, out))
    with pytest.raises(ComposerError, match="other files or settings; pass --force"):
        prepare(_request(corpus, out, encoding=EncodingConfig(steps_per_quarter=4)))
    summary = prepare(_request(corpus, out, encoding=EncodingConfig(steps_per_quarter=4), force=True))
    assert summary["encoding"]["steps_per_quarter"] == 4 and read_manifest(out)["complete"]

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ComposerError, match="not a prepared cache; refusing"):
        prepare(_request(corpus, foreign, force=True))
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_cli_prepare_reports_the_corpus_and_how_to_train_on_it(corpus, tmp_path):
    out = tmp_path / "cache"
    result = CliRunner().invoke(main, ["prepare", str(corpus), "--out", str(out), "--shards", "2", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "15 files in" in result.output and "12 used" in result.output and "1 duplicates" in result.output
    assert "2 skipped (1 not a MIDI file, 1 file is empty)" in result.output
    assert f"composer train {out}" in result.output

    missing = CliRunner().invoke(main, ["prepare", str(tmp_path / "nowhere"), "--out", str(out)])
    assert missing.exit_code == 2 and "Error:" in missing.output and "Traceback" not in missing.output


def test_no_held_notes_prepares_a_stream_without_restated_notes(corpus, tmp_path):
    for flag, out in (("--held-notes", tmp_path / "held"), ("--no-held-notes", tmp_path / "plain")):
        result = CliRunner().invoke(main, ["prepare", str(corpus), "--out", str(out), "--workers", "1", flag])
        assert result.exit_code == 0, result.output
    held, plain = (EncodingConfig.from_dict(read_manifest(tmp_path / name)["encoding"]) for name in ("held", "plain"))
    assert held.held_notes and not plain.held_notes
    assert "Hold_60" in token_names(range(len(vocabulary(held))), held)
    assert not any(name.startswith("Hold") for name in token_names(range(len(vocabulary(plain))), plain))
    restated = sum(
        name.startswith("Hold")
        for tokens in iter_pieces(tmp_path / "held", read_manifest(tmp_path / "held"), "train")
        for name in token_names(tokens, held)
    )
    assert restated > 0, "the toy corpus holds notes across onsets"
