"""Issue 13's explicit checks, bounded and generous (slow tier): with `--keep-messages 1000`, 40,000 sends
grow the server by under 10 MB and `GET /_mock/messages` answers in under a second while sends continue.
The figures themselves come from `benchmarks/mock_memory.py` (docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "mock_memory.py"


def _bench():
    spec = importlib.util.spec_from_file_location("mock_memory", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_40000_sends_with_keep_1000_stay_bounded_and_pages_stay_fast():
    figures = _bench().run(sends=40_000, keep_messages=1000, processes=2)
    assert figures["errors"] == 0 and figures["messages"] == 40_000 and figures["messages_kept"] == 1000
    assert figures["rss_growth_mb"] < 10.0, figures
    assert figures["page_reads"] > 5 and figures["page_max_ms"] < 1000.0, figures
