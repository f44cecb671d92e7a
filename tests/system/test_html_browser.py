"""`mwsync run --html` and `mwsync loadtest --html`: the page opens in headless Chromium and its SVG chart is
drawn, bars and limit line in their colours and a marker per 429. Skipped without Chromium outside CI; in CI
(`CI=true` when this module is imported, before the autouse fixture drops it) a missing browser fails the
test: `.ci/run` installs Debian's `chromium` when it is missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.support import job_dict, rows
from tests.support.browser import chromium, dump_dom, screenshot

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BAR, LIMIT = (0x4C, 0x78, 0xA8), (0xE4, 0x57, 0x56)


@pytest.fixture
def browser():
    if chromium() is None:
        if IN_CI:
            pytest.fail("chromium is not installed: .ci/run installs it (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")


def _near(pixel, colour, tolerance=12) -> bool:
    return all(abs(p - c) <= tolerance for p, c in zip(pixel, colour, strict=True))


def test_the_run_page_draws_bars_against_the_limit_with_429s_marked(browser, write_job, tmp_path):
    job = job_dict(throttle={"profile": "eager", "profiles": {"eager": {"limit": 8, "window_s": 1}}},
                   source={"rows": rows(24)})
    page = tmp_path / "run.html"
    result = subprocess.run([sys.executable, "-m", "mwsync", "run", str(write_job(job)), "--embedded-rate-limit",
                             "4/1", "--journal", str(tmp_path / "j.sqlite"), "--html", str(page)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    assert "<script" not in html and not re.search(r"(src|href)=\"https?:", html)

    dom = dump_dom(page)
    bars = re.findall(r'<rect class="bar send" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', dom)
    assert len(bars) >= 3 and all(float(h) > 0 for h in bars)
    assert len(re.findall(r'<line[^>]*class="limit"', dom)) == 2  # the chart's line and the legend's
    marks = len(re.findall(r'<circle[^>]*class="mark-429"', dom))
    assert marks >= 1 + 1  # at least one 429 (the server allows 4/1 s, the profile 8/1 s) + the legend

    pixels = screenshot(page, tmp_path / "run.png")
    bar_pixels = sum(_near(p, BAR) for row in pixels for p in row)
    limit_pixels = sum(_near(p, LIMIT) for row in pixels for p in row)
    assert bar_pixels > 500, f"the bars are not drawn ({bar_pixels} pixels of their colour)"
    assert limit_pixels > 100, f"the limit line and 429 marks are not drawn ({limit_pixels} pixels)"


def test_the_loadtest_page_draws_requests_per_server_window_with_429s_marked(browser, tmp_path):
    """A 40/2 profile against a 20/2 server: 429s are expected (and recovered); the page charts them."""
    page = tmp_path / "loadtest.html"
    result = subprocess.run([sys.executable, "-m", "mwsync", "loadtest", "--throttle", "40/2", "--server-limit",
                             "20/2", "--duration", "6", "--html", str(page)], capture_output=True, text=True,
                            timeout=180)
    assert result.returncode in (0, 1) and page.exists(), result.stdout[-2000:] + result.stderr[-2000:]
    html = page.read_text()
    assert "<script" not in html and not re.search(r"(src|href)=\"https?:", html)
    status_429 = int(re.search(r"(\d+) answered 429", result.stdout).group(1))
    assert status_429 >= 1, result.stdout

    dom = dump_dom(page)
    bars = re.findall(r'<rect class="bar send" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', dom)
    assert len(bars) >= 3 and all(float(h) > 0 for h in bars)
    assert len(re.findall(r'<line[^>]*class="limit"', dom)) == 2  # the chart's line and the legend's
    assert len(re.findall(r'<circle[^>]*class="mark-429"', dom)) == status_429 + 1  # each 429, and the legend
    assert "loadtest: " in dom and re.search(r"(PASS|FAIL) · exit [01]", dom)

    pixels = screenshot(page, tmp_path / "loadtest.png", size=(1100, 1400))
    bar_pixels = sum(_near(p, BAR) for row in pixels for p in row)
    assert bar_pixels > 500, f"the bars are not drawn ({bar_pixels} pixels of their colour)"
