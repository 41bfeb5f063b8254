"""Shared test set-up: markers, the scripted fake generator fixture and the real model file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.support.generators import FakeGenerator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "model: loads a real model (slow; deselect with -m 'not model')")
    config.addinivalue_line("markers", "slow: runs many child processes, about a minute (deselect with -m 'not slow')")


@pytest.fixture
def fake_generator() -> FakeGenerator:
    return FakeGenerator()


@pytest.fixture(scope="session")
def real_model_path() -> Path:
    """The real default model: NEWSQA_TEST_MODELS_DIR's, else the one `newsqa models pull` put in the data
    directory (`make test` pulls it first), else pulled once into a temp directory that later runs reuse."""
    from assistant.models import DEFAULT_MODEL, pull_default_model
    from core.config import load_settings

    if os.environ.get("NEWSQA_TEST_MODELS_DIR"):
        return pull_default_model(Path(os.environ["NEWSQA_TEST_MODELS_DIR"]), progress=False)
    pulled = load_settings().models_dir / DEFAULT_MODEL.filename
    if pulled.is_file() and pulled.stat().st_size == DEFAULT_MODEL.size:
        return pulled
    return pull_default_model(Path(tempfile.gettempdir()) / "newsqa-models", progress=False)
