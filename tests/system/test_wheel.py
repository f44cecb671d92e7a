"""The wheel as a user gets it: built with `pip wheel`, its one top-level import name `mwsync`, installed with
`[load]` in a fresh venv outside the checkout, and run from a directory outside the checkout: `mwsync schema`,
`mwsync run` of an inline job against the embedded mock, and a short `mwsync loadtest`.

Needs the package registry (the venv installs the wheel's dependencies; pip's cache makes it quick). About
a minute on 2 cores, most of it `pip install`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import EVENT_ID, REPO

#: What a build does not need from a checkout (and must not see: a stale build/ or egg-info).
NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", ".mwsync", "__pycache__", ".pytest_cache", "reports",
              "out")
JOB = f"""\
name: hello
message:
  event_id: {EVENT_ID}
  text: "Hello {{{{ name }}}}"
  recipients: "{{{{ email }}}}"
  idempotency_key: "hello-{{{{ email }}}}"
source:
  rows:
    - {{name: Ada, email: ada@example.com}}
    - {{name: Bob, email: bob@example.com}}
    - {{name: Cy, email: cy@example.com}}
"""


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    workdir: Path  # outside the checkout: where the commands run
    env: dict[str, str]

    def mwsync(self, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.venv / "bin" / "mwsync"), *args], cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=timeout_s)


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel from a copy of the checkout, install it with `[load]` in a fresh venv (both in a
    temporary directory outside the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    assert REPO not in root.parents, "the wheel must be tried outside the checkout"
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CI")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    _run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-w", str(root / "dist"), "--quiet"], cwd=source,
         env=env, timeout=300)
    [wheel] = (root / "dist").glob("mwsync-*.whl")
    venv.create(root / "venv", with_pip=True)
    _run([str(root / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", f"{wheel}[load]"], env=env,
         timeout=600)
    env["PATH"] = f"{root / 'venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    workdir = root / "work"
    workdir.mkdir()
    return Installed(wheel, root / "venv", workdir, env)


def test_the_wheel_has_one_top_level_import_name_mwsync(installed: Installed):
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        [record] = [n for n in names if n.endswith(".dist-info/RECORD")]
        [top_level] = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        recorded = [line.split(",")[0] for line in wheel.read(record).decode().splitlines() if line]
        assert wheel.read(top_level).decode().split() == ["mwsync"]
    assert {path.split("/")[0] for path in recorded if ".dist-info/" not in path} == {"mwsync"}
    for data in ("mwsync/schema/job.schema.json", "mwsync/loadtests/locustfile.py", "mwsync/mock_server/__init__.py"):
        assert data in recorded, data


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Installed):
    done = _run([str(installed.venv / "bin" / "python"), "-c", "import mwsync; print(mwsync.__file__)"],
                cwd=installed.workdir, env=installed.env)
    assert Path(done.stdout.strip()).is_relative_to(installed.venv)


def test_schema_prints_the_published_schema(installed: Installed):
    done = installed.mwsync("schema")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads((REPO / "schema" / "job.schema.json").read_text(encoding="utf-8"))


def test_the_guides_help_points_to_are_in_the_wheel(installed: Installed):
    done = installed.mwsync("docs", "ci")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (REPO / "docs" / "ci.md").read_text(encoding="utf-8")


def test_run_sends_an_inline_job_to_the_embedded_mock_once(installed: Installed):
    (installed.workdir / "hello.yaml").write_text(JOB, encoding="utf-8")
    first = installed.mwsync("run", "hello.yaml")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "hello -> embedded: sent 3 messages in 3 requests" in first.stdout
    again = installed.mwsync("run", "hello.yaml")
    assert again.returncode == 0 and "nothing new to send (3 of 3 messages already sent)" in again.stdout


def test_loadtest_passes_with_a_profile_that_fits_the_server(installed: Installed):
    done = installed.mwsync("loadtest", "--throttle", "20/2", "--server-limit", "20/2", "--duration", "8",
                            "--report", "loadtest.json", "--html", "loadtest.html")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((installed.workdir / "loadtest.json").read_text(encoding="utf-8"))
    assert report["passed"] and report["delivered"] > 0 and report["lost"] == report["duplicates"] == 0
    page = (installed.workdir / "loadtest.html").read_text(encoding="utf-8")  # its templates ship in the wheel
    assert "<title>mwsync loadtest: PASS (exit 0)</title>" in page and '<rect class="bar send"' in page
