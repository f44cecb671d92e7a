"""Paths of the checkout the tests run from."""

from __future__ import annotations

from pathlib import Path

#: The repository root (jobs/, schema/, benchmarks/ live there).
REPO = Path(__file__).resolve().parents[2]
