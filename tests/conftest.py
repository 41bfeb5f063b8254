"""Shared test set-up: markers and the scripted fake generator fixture."""

from __future__ import annotations

import pytest
from fakes import FakeGenerator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "model: loads a real model (slow; deselect with -m 'not model')")
    config.addinivalue_line("markers", "slow: runs many child processes, about a minute (deselect with -m 'not slow')")


@pytest.fixture
def fake_generator() -> FakeGenerator:
    return FakeGenerator()
