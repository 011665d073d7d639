import os

import pytest
from click.testing import CliRunner
from hypothesis import settings

from composer.cli import main

from midi_factory import write_toy_corpus
from tiny_training import train_args

# `HYPOTHESIS_PROFILE=thorough pytest` runs the property tests 20x longer before a release; the fast lane
# (`pytest -m "not slow"`) runs a third as many examples as the full suite.
settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile("fast", max_examples=50, deadline=None)
settings.register_profile("thorough", max_examples=3000, deadline=None)


def pytest_configure(config):
    fast_lane = config.getoption("markexpr") == "not slow"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast" if fast_lane else "default"))


def pytest_collection_modifyitems(items):
    """A test that needs a trained model is slow, however it gets one (``tiny_model`` trains it once per run)."""
    for item in items:
        if "tiny_model" in item.fixturenames:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny model trained for one epoch on the toy corpus (melody, bass and drums), shared by the session."""
    root = tmp_path_factory.mktemp("model")
    corpus = write_toy_corpus(root / "corpus", bad_files=False)
    options = ["--epochs", 1, "--valid-fraction", 0.25, "--workers", 1, "--seed", 1, "--cache-dir", root / "cache"]
    result = CliRunner().invoke(main, train_args(corpus, root / "run", *options))
    assert result.exit_code == 0, result.output
    return root / "run" / "model.keras"
