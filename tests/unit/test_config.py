"""Loading job files: schema, YAML pitfalls, environment references, secrets, error reporting."""

from __future__ import annotations

import json

import pytest

from mwsync.config import load_job, parse_throttle
from mwsync.config.models import job_schema
from mwsync.errors import ConfigError, UsageError
from tests.support import REPO

ENV = {"MW_CLIENT_ID": "id", "MW_CLIENT_SECRET": "s3cret-value"}

BASE = """\
subscription:
  api_url: https://api.moveworks.ai/
  client_id: ${MW_CLIENT_ID}
  client_secret: ${MW_CLIENT_SECRET}
message:
  event_id: 3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70
  text: "Hi {{ name }}"
  recipients: "{{ email }}"
source:
  rows:
    - {name: A, email: a@example.com}
"""


def problems_of(path, environ=ENV, **kw) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_job(path, environ=environ, **kw)
    return [str(p) for p in info.value.problems]


def test_valid_job_resolves_env_and_defaults(write_job):
    job = load_job(write_job(BASE), environ=ENV)
    assert job.subscription.api_url == "https://api.moveworks.ai"  # trailing slash dropped: no `//` in paths
    assert job.subscription.client_secret == "s3cret-value"
    assert "s3cret" not in repr(job.subscription)
    assert (job.throttle.name, job.throttle.limit, job.throttle.window_s) == ("ongoing", 500, 60.0)
    assert job.name == "job"


@pytest.mark.parametrize("profile,expected", [("initial", (5, 60.0)), ("ongoing", (500, 60.0)),
                                              ("high_volume", (500, 60.0))], ids=["initial", "ongoing", "high_volume"])
def test_builtin_profiles_are_the_seed_values(write_job, profile, expected):
    job = load_job(write_job(BASE), environ=ENV, profile=profile)
    assert (job.throttle.limit, job.throttle.window_s) == expected


def test_throttle_override_and_bad_throttle(write_job):
    path = write_job(BASE)
    assert load_job(path, environ=ENV, throttle="10/2").throttle.limit == 10
    with pytest.raises(UsageError, match="CALLS/SECONDS"):
        parse_throttle("ten per second")
    with pytest.raises(UsageError, match="valid: initial, ongoing, high_volume"):
        load_job(path, environ=ENV, profile="ongiong")


def test_unknown_profile_in_file_lists_valid_choices_with_line(write_job):
    path = write_job(BASE + "throttle:\n  profile: ongiong\n")
    assert problems_of(path) == \
        [f"{path}:13: throttle.profile: unknown 'ongiong' (valid: initial, ongoing, high_volume, listener_unsecured, "
         "listener_secured, listener_secured_50)"]


def test_every_problem_reported_at_once(write_job):
    text = BASE.replace("api_url: https://api.moveworks.ai/", "api_url: https://api.moveworks.ai/\n  colour: red")
    text += "throttle:\n  concurrent_connections: 0\nsurprise: 1\n"
    found = problems_of(write_job(text))
    joined = "\n".join(found)
    assert "subscription.colour: unknown key 'colour'" in joined and "valid: api_key, api_url" in joined
    assert "throttle.concurrent_connections" in joined
    assert "surprise: unknown key" in joined
    assert len(found) == 3


def test_an_empty_section_and_a_bad_event_id_are_listed_with_the_schema_problems(write_job):
    """`subscription:` left empty hid every other problem's fix behind pydantic's 'valid dictionary'; the
    event id was checked only once the schema passed, so a second run found it."""
    text = BASE.replace("subscription:\n  api_url: https://api.moveworks.ai/\n  client_id: ${MW_CLIENT_ID}\n"
                        "  client_secret: ${MW_CLIENT_SECRET}\n", "subscription:\n")
    text = text.replace("3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70", "not-a-uuid") + "surprise: 1\n"
    joined = "\n".join(problems_of(write_job(text)))
    assert "subscription: is empty; write its keys under it (api_key, api_url," in joined
    assert "message.event_id: 'not-a-uuid' is not a UUID" in joined and "surprise: unknown key" in joined


def test_duplicate_keys_are_rejected_with_both_lines(write_job):
    found = problems_of(write_job(BASE + "vars:\n  days: 1\n  days: 2\n"))
    assert any("vars.days: duplicate key (first defined on line" in p for p in found)


@pytest.mark.parametrize("literal", ["no", "0755", "2026-12-01", "1e3", "on"],
                         ids=["no", "octal", "date", "float", "on"])
def test_yaml11_implicit_types_keep_the_written_string(write_job, literal):
    job = load_job(write_job(BASE + f"vars:\n  value: {literal}\n"), environ=ENV)
    assert job.vars["value"] == literal
    job = load_job(write_job(BASE.replace('"Hi {{ name }}"', literal)), environ=ENV)
    assert job.message.text_source == literal


def test_numbers_still_parse_where_the_schema_wants_numbers(write_job):
    text = BASE + "throttle:\n  profile: mine\n  profiles:\n    mine: {limit: 0010, window_s: 2.5}\n"
    job = load_job(write_job(text), environ=ENV)
    assert (job.throttle.limit, job.throttle.window_s) == (10, 2.5)


@pytest.mark.parametrize("value", ["hunter2-literal", "${MW_CLIENT_SECRET:-fallback-secret}"],
                         ids=["literal", "default"])
def test_literal_secret_is_an_error_with_the_fix(write_job, value):
    found = problems_of(write_job(BASE.replace("${MW_CLIENT_SECRET}", value)))
    assert any("subscription.client_secret" in p and "${" in p for p in found)
    assert not any("hunter2" in p or "fallback-secret" in p for p in found)


def test_env_default_and_missing_variable(write_job):
    text = BASE.replace("https://api.moveworks.ai/", "${MW_URL:-https://api.moveworks.ai}")
    assert load_job(write_job(text), environ=ENV).subscription.api_url == "https://api.moveworks.ai"
    found = problems_of(write_job(BASE), environ={"MW_CLIENT_ID": "id"})
    assert any("MW_CLIENT_SECRET is not set" in p for p in found)


@pytest.mark.parametrize("url,ok", [("http://127.0.0.1:8080", True), ("http://localhost:1", True),
                                    ("http://api.moveworks.ai", False), ("ftp://x", False)],
                         ids=["loopback", "localhost", "plain-http-remote", "not-http"])
def test_api_url_schemes(write_job, url, ok):
    path = write_job(BASE.replace("https://api.moveworks.ai/", url))
    if ok:
        assert load_job(path, environ=ENV).subscription.api_url == url
    else:
        assert any("subscription.api_url" in p for p in problems_of(path))


def test_real_api_without_credentials_names_the_unset_variables(write_job):
    found = problems_of(write_job(BASE), environ={"MW_CLIENT_ID": "", "MW_CLIENT_SECRET": ""})
    assert any("subscription.client_secret" in p and "MW_CLIENT_ID and MW_CLIENT_SECRET are not set" in p
               and "export MW_CLIENT_ID=... MW_CLIENT_SECRET=..." in p for p in found), found
    assert not any("edit" in p for p in found)


def test_one_missing_credential_names_its_variable(write_job):
    found = problems_of(write_job(BASE), environ={"MW_CLIENT_ID": "an-id", "MW_CLIENT_SECRET": ""})
    assert any("subscription.client_secret" in p and "MW_CLIENT_SECRET is not set; export MW_CLIENT_SECRET=..." in p
               for p in found), found


def test_a_job_naming_no_credentials_shows_how_to_reference_them(write_job):
    text = BASE.replace("${MW_CLIENT_ID}", "").replace("${MW_CLIENT_SECRET}", "")
    found = problems_of(write_job(text), environ={})
    assert any("client_secret: ${MOVEWORKS_CLIENT_SECRET}" in p and "export MOVEWORKS_CLIENT_ID=..." in p
               for p in found), found


def test_embedded_needs_no_credentials(write_job):
    text = BASE.replace("https://api.moveworks.ai/", "embedded").replace("${MW_CLIENT_ID}", "").replace(
        "${MW_CLIENT_SECRET}", "")
    assert load_job(write_job(text), environ={}).subscription.embedded


@pytest.mark.parametrize("snippet,fragment", [
    ("source:\n  rows: []\n  csv: x.csv\n", "exactly one of csv, jsonl or rows"),
    ("source:\n  csv: missing.csv\n", "file not found"),
    ("message:\n  event_id: x\n  recipients: a\n", "exactly one of `template`"),
], ids=["two-sources", "missing-file", "no-text"])
def test_source_and_message_shape_errors(write_job, snippet, fragment):
    head = BASE.split("message:")[0]
    rest = {"message": "message:\n  event_id: x\n  text: t\n  recipients: a\n", "source": "source:\n  rows: []\n"}
    key = snippet.split(":")[0]
    rest[key] = snippet
    found = problems_of(write_job(head + rest["message"] + rest["source"]))
    assert any(fragment in p for p in found), found


def test_not_yaml_and_not_a_mapping(write_job):
    assert any("not valid YAML" in p for p in problems_of(write_job("a: [1, 2\n")))
    assert any("is a mapping" in p for p in problems_of(write_job("- 1\n- 2\n")))


def test_published_schema_is_current():
    published = json.loads((REPO / "schema" / "job.schema.json").read_text())
    assert published == job_schema(), "run `make schema` to regenerate schema/job.schema.json"


def test_example_jobs_load():
    for path in sorted((REPO / "jobs").glob("*.yaml")):
        job = load_job(path, environ={})
        assert job.subscription.embedded and job.source.path.is_file()


def test_values_from_the_environment_are_never_echoed(write_job):
    env = dict(ENV, LEAKED="supersecret-XYZ")
    schema_error = "\n".join(problems_of(write_job(BASE + "retry:\n  max_attempts: ${LEAKED}\n"), environ=env))
    url_error = "\n".join(problems_of(write_job(BASE.replace("https://api.moveworks.ai/", "${LEAKED}")), environ=env))
    assert "retry.max_attempts" in schema_error and "subscription.api_url" in url_error
    assert "supersecret-XYZ" not in schema_error + url_error


@pytest.mark.parametrize("url,fragment", [
    ("https://user:pw@api.moveworks.ai", "credentials do not belong in the URL"),
    ("https://api.moveworks.ai:99999", "not a valid URL"),
    ("https://", "not an http(s) URL"),
], ids=["userinfo", "bad-port", "no-host"])
def test_bad_urls_are_refused_without_echoing_them(write_job, url, fragment):
    found = "\n".join(problems_of(write_job(BASE.replace("https://api.moveworks.ai/", url))))
    assert fragment in found and "pw@" not in found


def test_unclosed_reference_and_profile_with_throttle(write_job):
    found = problems_of(write_job(BASE + "vars:\n  days: ${DAYS\n"))
    assert any("vars.days" in p and "without a matching '}'" in p for p in found)
    with pytest.raises(UsageError, match="not both"):
        load_job(write_job(BASE), environ=ENV, profile="initial", throttle="5/1")


def test_plan_and_status_need_no_credentials(write_job):
    job = load_job(write_job(BASE), environ={"MW_CLIENT_ID": "", "MW_CLIENT_SECRET": ""}, check_credentials=False)
    assert job.subscription.api_url == "https://api.moveworks.ai"


def test_alias_bomb_and_tabs_are_clear_errors(write_job):
    levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    assert any("aliases" in p for p in problems_of(write_job("\n".join(levels) + "\n")))
    assert any("not tabs" in p for p in problems_of(write_job("message:\n\tevent_id: x\n")))


def test_window_must_be_finite(write_job):
    text = BASE + "throttle:\n  profile: x\n  profiles:\n    x: {limit: 1, window_s: 1e400}\n"
    assert any("throttle.profiles.x.window_s" in p for p in problems_of(write_job(text)))


def test_a_literal_event_id_is_checked_at_load(write_job):
    found = problems_of(write_job(BASE.replace("3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70", "onboarding")))
    assert any("message.event_id: 'onboarding' is not a UUID" in p for p in found)


@pytest.mark.parametrize("url,expected", [
    ("HTTPS://API.Moveworks.ai:443/", "https://api.moveworks.ai"),
    ("http://LOCALHOST:80/base/", "http://localhost/base"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
], ids=["case-and-port", "path", "kept"])
def test_api_urls_have_one_spelling(write_job, url, expected):
    assert load_job(write_job(BASE.replace("https://api.moveworks.ai/", url)), environ=ENV).subscription.api_url \
        == expected


@pytest.mark.parametrize("url", ["https://exa mple.com", "https://example.com/p?q=1", "https://example.com#f",
                                 "https://example.com:0"], ids=["space", "query", "fragment", "port-0"])
def test_urls_with_more_than_a_base_are_refused(write_job, url):
    assert any("scheme, host, optional port and path only" in p
               for p in problems_of(write_job(BASE.replace("https://api.moveworks.ai/", url))))


@pytest.mark.parametrize("snippet", [
    "throttle:\n  profile: ${LEAKED}\n",
    "source_csv",
], ids=["profile", "source-path"])
def test_secrets_in_the_wrong_field_are_redacted_everywhere(write_job, snippet):
    env = dict(ENV, LEAKED="supersecret-XYZ")
    if snippet == "source_csv":
        text = BASE.split("source:")[0] + "source:\n  csv: ${LEAKED}.csv\n"
    elif snippet == "event":
        text = BASE.replace("3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70", "${LEAKED}")
    else:
        text = BASE + snippet
    found = "\n".join(problems_of(write_job(text), environ=env))
    assert found and "supersecret-XYZ" not in found and "<from the environment>" in found


def test_an_event_id_from_the_environment_is_shown_in_its_error(write_job):
    """An event id is an identifier, not a secret: hiding it made a wrong one impossible to spot."""
    text = BASE.replace("3f1c2a9e-5b7d-4e8f-9a10-2b3c4d5e6f70", "${EVENT}")
    found = "\n".join(problems_of(write_job(text), environ=dict(ENV, EVENT="not-a-uuid-1234")))
    assert "message.event_id" in found and "'not-a-uuid-1234' is not a UUID" in found


def test_an_unknown_key_in_a_custom_profile_lists_the_profile_fields(write_job):
    text = BASE + "throttle:\n  profile: mine\n  profiles:\n    mine: {limit: 10, window_s: 2, windwo_s: 3}\n"
    found = problems_of(write_job(text), environ=ENV)
    assert any("throttle.profiles.mine.windwo_s: unknown key 'windwo_s' (valid: limit, window_s); did you mean "
               "'window_s'?" in p for p in found), found
