"""Model files: a failed save keeps the previous model, and an untrusted file is refused without running code."""

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from composer.artifacts import METADATA_ENTRY, METADATA_VERSION, model_encoding, read_metadata, save_model
from composer.cli import main
from composer.errors import ComposerError
from composer.generation.inference import check_layers


class _SavingModel:
    """Stands in for a Keras model: save_model only asks it to write itself as a zip."""

    def save(self, path):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{}")


def _copy_with(source: Path, target: Path, entries: dict[str, str | None]) -> Path:
    """A copy of the zip ``source`` with some entries replaced or added (``None``: left out)."""
    replace = dict(entries)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = replace.pop(item.filename, old.read(item))
            if data is not None:
                new.writestr(item.filename, data)
        for name, data in replace.items():
            new.writestr(name, data)
    return target


def _fail(exception):
    def raise_(*args, **kwargs):
        raise exception

    return raise_


@pytest.mark.parametrize(
    "step, exception",
    [
        ("composer.atomic.os.fsync", OSError(28, "No space left on device")),  # the disk fills while writing
        ("composer.atomic.os.replace", KeyboardInterrupt()),  # Ctrl-C just before the new file takes the name
        ("zipfile.ZipFile.writestr", OSError(5, "Input/output error")),  # while adding the metadata
    ],
    ids=["disk-full", "ctrl-c", "io-error"],
)
def test_a_failed_or_interrupted_save_keeps_the_previous_model_byte_for_byte(tmp_path, monkeypatch, step, exception):
    path = tmp_path / "model.keras"
    save_model(_SavingModel(), path, {"metadata_version": METADATA_VERSION, "run": 1})
    before = path.read_bytes()
    monkeypatch.setattr(step, _fail(exception))
    with pytest.raises((ComposerError, OSError, KeyboardInterrupt)):
        save_model(_SavingModel(), path, {"metadata_version": METADATA_VERSION, "run": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"], "no half-written file is left behind"
    save_model(_SavingModel(), path, {"metadata_version": METADATA_VERSION, "run": 3})
    assert read_metadata(path)["run"] == 3


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: {**m, "metadata_version": METADATA_VERSION + 1}, "metadata version 2, this composer reads 1"),
        (lambda m: {k: v for k, v in m.items() if k != "metadata_version"}, "metadata version None"),
        (lambda m: None, "not a composer model"),
    ],
    ids=["newer", "missing", "no-metadata"],
)
def test_a_missing_or_newer_metadata_version_is_refused(tiny_model, tmp_path, change, message):
    metadata = change(read_metadata(tiny_model))
    crafted = _copy_with(tiny_model, tmp_path / "m.keras", {METADATA_ENTRY: metadata and json.dumps(metadata)})
    with pytest.raises(ComposerError, match=message):
        read_metadata(crafted)
    result = CliRunner().invoke(main, ["generate", "--model", str(crafted), "--seed", "1", "--out", str(tmp_path)])
    assert result.exit_code == 2 and result.output.splitlines()[-1].startswith("Error: ") and message in result.output
    assert not list(tmp_path.glob("*.mid"))


def test_a_vocabulary_that_does_not_match_the_encoding_settings_is_refused(tiny_model, tmp_path):
    metadata = read_metadata(tiny_model)
    assert model_encoding(tiny_model)[0] == metadata
    names = metadata["vocabulary"]
    names[5], names[6] = names[6], names[5]
    crafted = _copy_with(tiny_model, tmp_path / "m.keras", {METADATA_ENTRY: json.dumps(metadata)})
    with pytest.raises(ComposerError, match="different event vocabulary"):
        model_encoding(crafted)


def test_a_network_whose_size_does_not_match_its_vocabulary_is_refused(tiny_model, tmp_path):
    from composer.config import ModelConfig
    from composer.generation.generate import generate_scores
    from composer.generation.request import GenerateRequest
    from composer.model.network import build_model

    build_model(ModelConfig(4, 8, 1), vocab_size=7).save(tmp_path / "small.keras")
    crafted = _copy_with(
        tmp_path / "small.keras", tmp_path / "m.keras", {METADATA_ENTRY: json.dumps(read_metadata(tiny_model))}
    )
    with pytest.raises(ComposerError, match="network's vocabulary does not match"):
        generate_scores(GenerateRequest(num_events=10), crafted)


@pytest.mark.parametrize(
    "layer, setting, value",
    [
        (-1, "module", "my_package.layers"),  # a look-alike class from elsewhere
        ("LSTM", "registered_name", "Custom>LSTM"),  # a registered custom layer
        (-1, "activation", "relu"),  # stock, but not what the NumPy network computes
        ("LSTM", "go_backwards", True),
    ],
)
def test_custom_or_differently_set_up_layers_are_refused(tiny_model, tmp_path, layer, setting, value):
    with zipfile.ZipFile(tiny_model) as archive:
        config = json.loads(archive.read("config.json"))
    layers = config["config"]["layers"]
    spec = layers[layer] if isinstance(layer, int) else next(s for s in layers if s["class_name"] == layer)
    (spec if setting in spec else spec["config"])[setting] = value
    crafted = _copy_with(tiny_model, tmp_path / "m.keras", {"config.json": json.dumps(config)})
    with pytest.raises(ComposerError, match="unexpected layers .*refusing to load it"):
        check_layers(crafted)


def test_a_model_file_with_a_lambda_layer_never_runs_its_code(tiny_model, tmp_path, monkeypatch):
    from composer.evaluation import evaluate
    from composer.generation import inference
    from composer.tf_runtime import keras

    marker = tmp_path / "code-ran"
    monkeypatch.setenv("COMPOSER_TEST_MARKER", str(marker))
    payload = keras.layers.Lambda(lambda x: (open(__import__("os").environ["COMPOSER_TEST_MARKER"], "w").close(), x)[1])
    armed = keras.Sequential(
        [keras.Input((None,), dtype="int32"), keras.layers.Embedding(10, 4), payload, keras.layers.Dense(10)]
    )
    armed.save(tmp_path / "armed.keras")
    crafted = _copy_with(
        tmp_path / "armed.keras", tmp_path / "m.keras", {METADATA_ENTRY: json.dumps(read_metadata(tiny_model))}
    )
    marker.unlink(missing_ok=True)  # building the model ran the function once; loading it must not

    for command in (["generate", "--out", str(tmp_path)], ["evaluate", str(tmp_path)]):
        result = CliRunner().invoke(main, [*command, "--model", str(crafted)])
        assert result.exit_code == 2 and "unexpected layers (InputLayer Embedding Lambda Dense)" in result.output
        assert "Traceback" not in result.output and not marker.exists()
    monkeypatch.setattr(inference, "check_layers", lambda path: None)  # Keras' safe_mode is the second line
    with pytest.raises(ComposerError, match="Keras refuses to load this model .*Lambda"):
        evaluate.load_keras_model(crafted)
    assert not marker.exists()
    keras.models.load_model(crafted, safe_mode=False)  # the file really is armed: unsafe loading runs it
    assert marker.exists()


def test_a_model_saved_before_pedal_folding_is_read_without_it(tiny_model, tmp_path):
    assert model_encoding(tiny_model)[1].sustain_pedal
    metadata = read_metadata(tiny_model)
    del metadata["encoding"]["sustain_pedal"]
    older = _copy_with(tiny_model, tmp_path / "old.keras", {METADATA_ENTRY: json.dumps(metadata)})
    assert not model_encoding(older)[1].sustain_pedal


def test_a_model_of_the_time_shift_encoding_is_refused_with_what_to_do(tiny_model, tmp_path):
    metadata = read_metadata(tiny_model)
    metadata["encoding"]["max_shift_quarters"] = 4  # what every composer 0.1-0.2 model records
    metadata["versions"]["composer"] = "0.2.0"
    old = _copy_with(tiny_model, tmp_path / "old.keras", {METADATA_ENTRY: json.dumps(metadata)})
    with pytest.raises(ComposerError, match="composer 0.2.0's time-shift encoding.*train the model again"):
        model_encoding(old)
    result = CliRunner().invoke(main, ["generate", "--model", str(old), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "time-shift encoding" in result.output
