import json
import math
from pathlib import Path

from click.testing import CliRunner

from composer.artifacts import model_encoding, read_metadata
from composer.cli import main
from composer.config import EncodingConfig
from composer.data.corpus import load_corpus, split_corpus
from composer.evaluation.evaluate import load_keras_model, own_sample_nll, training_split
from composer.evaluation.features import load_scores, two_sample_test
from composer.events import encode, vocabulary
from composer.midi_io import write_score
from composer.model.scoring import sequence_metrics
from composer.score import Note, Score, Track

from fixed_networks import uniform_model
from midi_factory import toy_score


def _held_out(folder, seeds=(100, 101)):
    scores = [toy_score(seed) for seed in seeds]
    for index, score in enumerate(scores):
        write_score(score, folder / f"{index}.mid")
    return scores


def _evaluate(*args):
    return CliRunner().invoke(main, ["evaluate", *map(str, args)])


def test_evaluate_scores_a_folder_with_the_models_own_encoding_beside_the_ngram(tiny_model, tmp_path):
    folder = tmp_path / "held-out"
    scores = _held_out(folder)
    (folder / "junk.mid").write_bytes(b"junk")
    result = _evaluate(folder, "--model", tiny_model, "--json", "--workers", 1, "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert report["events"] == sum(len(encode(s, EncodingConfig())) - 1 for s in scores)
    assert report["data"]["files_skipped"] == 1
    config = EncodingConfig()
    direct = sequence_metrics(load_keras_model(tiny_model), [encode(s, config) for s in scores], config=config)
    assert math.isclose(report["nll_per_event"], direct["nll_per_event"], rel_tol=1e-5)
    assert report["accuracy"] == direct["accuracy"]
    trained = read_metadata(tiny_model)
    assert report["ngram"]["order"] == trained["metrics"]["ngram_baseline"]["order"]
    assert report["ngram"]["train_files"] == trained["data"]["train_files"]
    assert 0 < report["ngram"]["nll_per_event"] < math.log(len(trained["vocabulary"]))

    assert report["ngram"]["fitted_files"] == report["ngram"]["train_files"], "a small corpus is fitted whole"
    assert report["notes"] == sum(s.num_notes for s in scores)
    assert sum(part["events"] for part in report["nll_by_kind"].values()) == report["events"]
    assert math.isclose(report["nll_per_note"], report["nll_per_event"] * report["events"] / report["notes"])

    text = _evaluate(folder, "--model", tiny_model, "--workers", 1, "--train-data", tmp_path / "gone")
    assert text.exit_code == 0 and "n-gram baseline: the model's training folder" in text.output
    assert f"NLL per note: {report['nll_per_note']:.4f} nats ({report['notes']} notes)" in text.output
    kind_lines = [line.split(":")[0].strip() for line in text.output.splitlines() if "nats/event over" in line]
    assert kind_lines == list(report["nll_by_kind"])  # one line per kind, the largest share of the NLL first
    missing = _evaluate(tmp_path / "none", "--model", tiny_model)
    assert missing.exit_code == 2 and "not a folder" in missing.output
    neither = _evaluate("--model", tiny_model)
    assert neither.exit_code == 2 and "give one of: DATA" in neither.output


def test_music_comparison_of_a_folder_with_itself_is_perfect_and_writes_a_report(tmp_path):
    folder = tmp_path / "pieces"
    _held_out(folder, seeds=range(4))
    result = _evaluate("--reference", folder, "--generated", folder, "--json", "--report", tmp_path / "report")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pieces"] == {"generated": 4, "reference": 4}
    assert math.isclose(report["mean_overlap"], 1.0)
    assert {"consonance", "onsets_on_beat", "parts", "instruments"} <= set(report["features"])
    pieces = list(load_scores(folder)[0].values())
    assert report["rare_instruments"] == []
    assert report["two_sample_accuracy"] == two_sample_test(pieces, pieces)["two_sample_accuracy"]
    assert report["two_sample_control"] is None  # two reference pieces a side are too few
    assert "Two-sample test" in (tmp_path / "report" / "report.md").read_text()
    assert {p.name for p in (tmp_path / "report").iterdir()} == {"report.md", "report.json", "features.png"}
    assert (tmp_path / "report" / "features.png").read_bytes().startswith(b"\x89PNG")
    again = _evaluate("--reference", folder, "--generated", folder, "--report", tmp_path / "report")
    assert again.exit_code == 2 and "already exists" in again.output


def test_music_comparison_samples_from_the_model_when_no_folder_is_given(tiny_model, tmp_path):
    folder = tmp_path / "pieces"
    _held_out(folder, seeds=range(3))
    result = _evaluate("--reference", folder, "--model", tiny_model, "--samples", 3, "--length", 200)
    assert result.exit_code == 0, result.output
    assert "| pitch_class_histogram |" in result.output and "3 generated and 3 reference pieces" in result.output
    assert "| consonance |" in result.output and "generated vs reference accuracy" in result.output


def _new_music() -> Score:
    """A line of leaps the toy training pieces never make."""
    return Score(tracks=(Track(0, notes=tuple(Note(i / 2, i / 2 + 0.5, 40 + (i * 7) % 30, 70) for i in range(120))),))


def test_copy_check_flags_a_training_piece_and_passes_new_music(tiny_model, tmp_path):
    trained_on = Path(read_metadata(tiny_model)["data"]["folder"])
    corpus = load_corpus(trained_on, EncodingConfig(), cache_dir=tmp_path / "cache", workers=1)
    copied = Path(split_corpus(corpus, read_metadata(tiny_model)["training"]["valid_fraction"])[0][0].path)
    pieces = tmp_path / "pieces"
    (pieces / "copied.mid").parent.mkdir()
    (pieces / "copied.mid").write_bytes(copied.read_bytes())
    write_score(_new_music(), pieces / "new.mid")
    result = _evaluate(
        "--copy-check",
        "--generated",
        pieces,
        "--model",
        tiny_model,
        "--json",
        "--workers",
        1,
        "--cache-dir",
        tmp_path / "cache",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_name = {Path(piece["piece"]).name: piece for piece in report["pieces"]}
    assert by_name["copied.mid"]["flagged"] and by_name["copied.mid"]["ngrams_found"]["32"] == 1.0
    assert not by_name["new.mid"]["flagged"]
    assert report["flagged"] >= 1 and report["held_out"]["pieces"] >= 1
    text = _evaluate(
        "--copy-check",
        "--model",
        tiny_model,
        "--samples",
        2,
        "--length",
        200,
        "--workers",
        1,
        "--cache-dir",
        tmp_path / "cache",
    )
    assert text.exit_code == 0 and "held-out real music, median of" in text.output


def test_copy_threshold_is_two_bars_of_the_training_files_events(tiny_model, tmp_path):
    metadata, config = model_encoding(tiny_model)
    cache = ("--workers", 1, "--cache-dir", tmp_path / "cache")
    _, train_files, _ = training_split(metadata, config, cache_dir=tmp_path / "cache", workers=1)
    bar = vocabulary(config).ids["Bar", None]
    per_bar = sum(len(f.tokens) for f in train_files) / sum(int((f.tokens == bar).sum()) for f in train_files)
    pieces = tmp_path / "pieces"
    write_score(_new_music(), pieces / "new.mid")
    runs = {}
    for bars in ("2", "0.02"):
        result = _evaluate(
            "--copy-check", "--generated", pieces, "--model", tiny_model, "--copy-bars", bars, "--json", *cache
        )
        assert result.exit_code == 0, result.output
        runs[bars] = json.loads(result.stdout)
    assert runs["2"]["threshold"] == math.ceil(2 * per_bar) and runs["2"]["events_per_bar"] == per_bar
    shared = runs["2"]["pieces"][0]["longest_shared_run_transposed"]
    assert runs["0.02"]["threshold"] <= shared < runs["2"]["threshold"]
    assert runs["0.02"]["flagged"] == 1 and runs["2"]["flagged"] == 0
    held_out = runs["2"]["held_out"]["pieces"]
    assert runs["0.02"]["held_out_over_threshold"] == held_out >= runs["2"]["held_out_over_threshold"]
    text = _evaluate("--copy-check", "--generated", pieces, "--model", tiny_model, "--copy-bars", "0.02", *cache)
    threshold = runs["0.02"]["threshold"]
    assert f"threshold {threshold} events in a row in any key (0.02 bars" in text.output
    assert f"1 of 1 generated pieces flagged; {held_out} of {held_out} held-out real pieces reach it" in text.output


def test_options_that_do_not_apply_to_the_chosen_evaluation_are_refused(tmp_path):
    for args, flag in [
        (["DATA", "--samples", "3"], "--samples"),
        (["--reference", "R", "--generated", "G", "--seed", "1"], "--seed"),
        (["--copy-check", "--report", "out"], "--report"),
        (["DATA", "--copy-bars", "3"], "--copy-bars"),
        (["--reference", "R", "--copy-bars", "3"], "--copy-bars"),
    ]:
        result = _evaluate(*[str(tmp_path / a) if a in ("DATA", "R", "G") else a for a in args])
        assert result.exit_code == 2 and f"{flag}: does not apply to this kind of evaluation" in result.output


def test_evaluate_says_when_the_baseline_was_fitted_on_part_of_a_large_corpus(tiny_model, tmp_path, monkeypatch):
    from composer.model import ngram

    monkeypatch.setattr(ngram, "BASELINE_EVENTS", 1)  # as a corpus of millions of events would be
    _held_out(tmp_path / "held-out")
    result = _evaluate(tmp_path / "held-out", "--model", tiny_model, "--workers", 1, "--cache-dir", tmp_path / "c")
    trained = read_metadata(tiny_model)
    assert result.exit_code == 0, result.output
    assert f"fitted on the first 1 of {trained['data']['train_files']} training files (" in result.output


def test_own_sample_nll_leaves_out_the_end_a_cut_sample_never_chose_and_cuts_real_pieces_to_its_length(tiny_model):
    metadata, config = model_encoding(tiny_model)
    samples = [toy_score(seed, num_notes=20) for seed in range(3)]
    lengths = [len(encode(score, config)) - 1 for score in samples]  # without the End
    own, real = own_sample_nll(uniform_model(len(vocabulary(config))), samples, metadata, config)
    assert own["events"] == sum(length - 1 for length in lengths)  # each event predicted but the Start
    valid_files = training_split(metadata, config)[2]
    cut = round(sum(lengths) / len(lengths))
    assert real["events"] == sum(min(len(f.tokens), cut) - 1 for f in valid_files)
    assert math.isclose(own["nll_per_event"], real["nll_per_event"], rel_tol=1e-6)  # uniform: log V for both
