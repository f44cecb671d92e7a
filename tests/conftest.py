"""Shared fixtures: a real mock server on 127.0.0.1 (port 0) and a job-file builder."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT

EVENT_ID = "3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70"
CLIENT_ENV = {"MW_CLIENT_ID": DEMO_CLIENT[0], "MW_CLIENT_SECRET": DEMO_CLIENT[1]}


@pytest.fixture
def mock():
    """A fresh mock server, 1000/1 s rate limit, demo client; stopped after the test."""
    with MockServer(rate_limit=(1000, 1.0), clients=dict([DEMO_CLIENT])) as server:
        yield server


@pytest.fixture
def client_env(monkeypatch):
    """Client credentials in the environment, as job files reference them."""
    for key, value in CLIENT_ENV.items():
        monkeypatch.setenv(key, value)
    return CLIENT_ENV


def job_dict(**overrides: Any) -> dict:
    """A valid job as a dict: inline rows, inline text, `${MW_CLIENT_*}` credentials; `overrides`
    replace top-level keys (a value of None deletes the key)."""
    job = {
        "name": "test-job",
        "subscription": {"api_url": "embedded", "client_id": "${MW_CLIENT_ID:-}",
                         "client_secret": "${MW_CLIENT_SECRET:-}"},
        "throttle": {"profile": "fast", "profiles": {"fast": {"limit": 1000, "window_s": 1}}},
        "retry": {"backoff_initial_s": 0.01, "backoff_max_s": 0.05, "retry_after_default_s": 0.1},
        "message": {"event_id": EVENT_ID, "text": "Hi {{ name }}", "recipients": "{{ email }}",
                    "idempotency_key": "k-{{ id }}"},
        "source": {"rows": [{"id": str(i), "name": f"User {i}", "email": f"user{i}@example.com"} for i in range(5)]},
    }
    for key, value in overrides.items():
        if value is None:
            job.pop(key, None)
        else:
            job[key] = value
    return job


@pytest.fixture
def write_job(tmp_path: Path):
    """Write a job file: `write_job(text_or_dict, name="job.yaml") -> Path` (text is dedented)."""

    def write(content: str | dict, name: str = "job.yaml") -> Path:
        path = tmp_path / name
        text = yaml.safe_dump(content, sort_keys=False) if isinstance(content, dict) else textwrap.dedent(content)
        path.write_text(text, encoding="utf-8")
        return path

    return write
