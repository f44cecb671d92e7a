"""What every test may rely on about its environment (tests/conftest.py)."""

from __future__ import annotations

import os


def test_ci_from_the_shell_is_not_inherited():
    """`.ci/run` runs with `CI=true`; a test sees the environment without it unless it sets it itself."""
    assert os.environ.get("CI") is None  # compared by value: a failure must not print the whole environment


def test_a_test_may_set_ci_itself(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert os.environ["CI"] == "true"
