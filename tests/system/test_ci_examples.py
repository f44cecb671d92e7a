"""action.yml and the CI examples of docs/ci.md, linted by tools that run here: check-jsonschema's vendored
GitHub Actions and GitLab CI schemas, and actionlint (the workflows, with `uses: ./` resolved to this
repository's action.yml). The examples are the `<!-- ci-example: KIND -->` blocks of docs/ci.md."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import REPO

BIN = Path(sys.executable).parent


def examples(kind: str) -> list[str]:
    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    return re.findall(rf"<!-- ci-example: {kind} -->\n```yaml\n(.*?)```", text, re.S)


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert path, f"{name} is not installed: make install (the test extras)"
    return path


def run(*args) -> None:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_yml_is_a_valid_composite_action_that_uploads_the_reports():
    run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", REPO / "action.yml")
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert {"jobs", "journal", "limiter", "profile", "report", "junit", "html"} <= set(action["inputs"])
    upload = next(s for s in action["runs"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"


def test_the_github_workflows_pass_actionlint(tmp_path):
    found = examples("github")
    assert len(found) >= 2
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    shutil.copy(REPO / "action.yml", tmp_path / "action.yml")  # what `uses: ./` resolves to
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # actionlint looks for a repository root
    for i, text in enumerate(found):
        (workflows / f"example-{i}.yml").write_text(text, encoding="utf-8")
    result = subprocess.run([tool("actionlint"), "-no-color"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *sorted(workflows.iterdir()))


@pytest.mark.parametrize("index", [0])
def test_the_gitlab_example_is_valid_and_keeps_the_reports(tmp_path, index):
    text = examples("gitlab")[index]
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(text, encoding="utf-8")
    run(tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", path)
    pipeline = yaml.safe_load(text)
    send = pipeline["send"]
    assert send["artifacts"]["when"] == "always" and send["artifacts"]["reports"]["junit"] == "reports/junit.xml"
    assert "--junit reports/junit.xml" in " ".join(send["script"])
    assert all(job["stage"] in pipeline["stages"] for name, job in pipeline.items() if name != "stages")
