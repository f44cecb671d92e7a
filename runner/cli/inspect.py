"""Commands that send nothing: `validate`, `plan`, `status`, `schema`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import UsageError
from ..redact import redact
from ..wording import about, counted
from .options import JOB_ARG, JOURNAL, JSON_FLAG, STATE_DIR, as_date, throttle_options
from .output import failure_line, json_output


def _validated(path: Path) -> tuple[object | None, list]:
    """`(job, [])` for a job file that loads and whose templates compile, else `(None, problems)`."""
    from ..config import load_job
    from ..errors import ProblemList
    from ..templates import MessageRenderer

    try:
        job = load_job(path)
        if job.listener is not None:
            from ..payload import PayloadRenderer

            PayloadRenderer(job)
        else:
            MessageRenderer(job)
    except ProblemList as exc:
        return None, exc.problems
    return job, []


@click.command()
@JOB_ARG
@JSON_FLAG
def validate(jobs: tuple[Path, ...], as_json: bool) -> None:
    """Check job files (YAML, schema, environment, template syntax) without reading rows or sending;
    `mwsync plan` renders every row. Exits 2 listing every problem of every file."""
    from ..envelope import problem_dict
    from ..errors import ConfigError, Problem

    with json_output(as_json) as out:
        loaded, problems = [], []
        for path in jobs:
            job, found = _validated(path)
            problems += found
            loaded += [job] if job is not None else []
            entry = {"job": job.name, "file": str(path), "ok": True, "target": job.target,
                     "profile": str(job.throttle)} if job else {"job": None, "file": str(path), "ok": False}
            out.jobs.append(dict(entry, problems=[problem_dict(p) for p in found]))
        names = [job.name for job in loaded]
        problems += [Problem(str(job.path), "name", f"two jobs are named '{job.name}'; give each a unique name")
                     for job in loaded if names.count(job.name) > 1]
        if not as_json:
            for job in loaded:
                auth = f", listener auth {job.listener.auth}" if job.listener is not None else ""
                click.echo(f"{job.path}: ok ({job.name}, profile {job.throttle}, target {job.target}{auth})")
        if problems:
            raise ConfigError(problems)


@click.command()
@JOB_ARG
@throttle_options
@JSON_FLAG
def plan(jobs, profile, throttle, today, as_json) -> None:
    """Render and check every message, then show requests and estimated duration (no network)."""
    from ..pipeline import RunOptions, plan_jobs

    with json_output(as_json) as out:
        out.jobs = plan_jobs(jobs, RunOptions(profile=profile, throttle=throttle, today=as_date(today)))
    if as_json:
        return
    for e in out.jobs:
        eta = e["estimate_s"]
        if "listener" in e:
            listener = e["listener"]
            click.echo(f"{e['job']}: {counted(e['messages'], 'message')} "
                       f"({counted(e['filtered'], 'row')} filtered out) to listener {listener['id']} "
                       f"(auth {listener['auth']}) -> {counted(e['requests'], 'request')}")
            click.echo(f"  {about(eta['profile'])} under {e['profile']}; {about(eta['listener_limit'])} under the "
                       f"listener limit {listener['limit']}")
        else:
            click.echo(f"{e['job']}: {counted(e['messages'], 'message')} "
                       f"({counted(e['filtered'], 'row')} filtered out), {counted(e['recipients'], 'recipient')} "
                       f"-> {counted(e['requests'], 'request')}")
            click.echo(f"  {about(eta['profile'])} under {e['profile']}; "
                       f"{about(eta['moveworks_default_120_per_min'])} under Moveworks' default 120/min")
        for warning in e["warnings"]:
            click.echo(f"  warning: {warning}")


def _journal_options(f):
    for option in reversed([
        JOURNAL,
        click.option("--api-url", help="Target whose journal entries to use (default: the job's)."),
        STATE_DIR,
    ]):
        f = option(f)
    return f


def _open(job, options, exclusive: bool):
    """`(journal, location)`: the job's journal, or None when it is a file that does not exist yet. A file
    that a run used before and is gone raises `JournalError`, as `mwsync run` would."""
    from ..journal import is_database_url
    from ..redact import url_without_password
    from ..state import journal_exists, journal_location, open_job_journal

    location = journal_location(job, options)
    if not journal_exists(job, options):
        return None, url_without_password(str(location)) if is_database_url(location) else location
    journal = open_job_journal(job, options, exclusive=exclusive)
    return journal, journal.location


def _journal_state(job, options) -> dict:
    """`status` of one job: `{"job", "file", "target", "journal": {"location", "exists", "shared"}, "messages":
    {state: n}, "deliveries": {state: n}, "failed": [failure], "in_doubt": [failure]}` (up to 10 failed and
    50 in doubt; each failure `{"key", "row", "state", "status", "code", "error", "recipients"}`)."""
    j, path = _open(job, options, exclusive=False)
    entry = {"job": job.name, "file": str(job.path), "target": job.target,
             "journal": {"location": str(path), "exists": j is not None, "shared": "://" in str(path)},
             "messages": {}, "deliveries": {}, "failed": [], "in_doubt": [], "other_targets": {}}
    if j is None:
        return entry
    try:
        counts = j.counts()
        entry.update(messages=counts["messages"], deliveries=counts["deliveries"],
                     failed=j.failures(run_only=False, limit=10, states=("failed",)),
                     in_doubt=j.failures(run_only=False, limit=50, states=("unknown", "pending")))
        entry["journal"]["shared"] = j.shared
        other = getattr(j, "other_targets", None)
        entry["other_targets"] = other() if other is not None else {}
    finally:
        j.close()
    return entry


def _resolve_hint(entry: dict, target: str | None = None) -> str:
    """The `mwsync resolve` command line for `entry`'s job (and a target other than the job's own)."""
    where = f" --api-url {target}" if target else ""
    return f"mwsync resolve {entry['file']} KEY --as sent|unsent{where}"


def _print_state(entry: dict, api_url: str | None = None) -> None:
    if not entry["journal"]["exists"]:
        where = "shared" if entry["journal"]["shared"] else "this machine only, not shared"
        click.echo(redact(f"{entry['job']}: no journal yet ({entry['journal']['location']}: {where})"))
        return
    fmt = lambda d: ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"  # noqa: E731
    where = "shared with every runner that names it" if entry["journal"]["shared"] else "this machine only, not shared"
    click.echo(redact(f"{entry['job']} -> {entry['target']} (journal {entry['journal']['location']}: {where})"))
    click.echo(f"  messages:   {fmt(entry['messages'])}")
    click.echo(f"  deliveries: {fmt(entry['deliveries'])}")
    for failure in entry["failed"]:
        click.echo(redact(failure_line(failure)))
    doubt = entry["in_doubt"]
    if doubt:
        click.echo(redact(f"  in doubt ({len(doubt)}{'+' if len(doubt) == 50 else ''}): may or may not have been "
                          f"delivered; check with the recipients, then {_resolve_hint(entry, api_url)}"))
        for failure in doubt:
            click.echo(redact(failure_line(failure)))
    for target, in_doubt in entry.get("other_targets", {}).items():
        doubt_note = f", {in_doubt} in doubt" if in_doubt else ""
        click.echo(redact(f"  also in this journal: {target}{doubt_note} (mwsync status {entry['file']} "
                          f"--api-url {target})"))


@click.command()
@JOB_ARG
@_journal_options
@JSON_FLAG
def status(jobs, journal, api_url, state_dir, as_json) -> None:
    """Summarise each job's journal: messages and deliveries by state, and every message in doubt."""
    from ..pipeline import RunOptions, load_jobs

    options = RunOptions(journal=journal, api_url=api_url, state_dir=state_dir)
    with json_output(as_json) as out:
        for job in load_jobs(jobs, options, check_credentials=False):
            out.jobs.append(_journal_state(job, options))
            if not as_json:
                _print_state(out.jobs[-1], api_url)


@click.command()
@click.argument("job", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("keys", nargs=-1)
@click.option("--as", "as_", type=click.Choice(["sent", "unsent"]), required=True, envvar="MWSYNC_AS",
              help="sent: they arrived, never send them again; unsent: they did not, the next run sends them.")
@click.option("--all-unknown", is_flag=True, help="Settle every message in doubt instead of naming KEYS.")
@_journal_options
def resolve(job, keys, as_, all_unknown, journal, api_url, state_dir) -> None:
    """Settle messages in doubt (unknown: the API may or may not have delivered them) after checking with
    the recipients: KEY is the message's idempotency key, as `mwsync status` and the report list it."""
    from ..pipeline import RunOptions, load_jobs

    if bool(keys) == all_unknown:
        raise UsageError("name the messages' idempotency KEYS, or pass --all-unknown (not both)")
    options = RunOptions(journal=journal, api_url=api_url, state_dir=state_dir)
    [loaded] = load_jobs([job], options, check_credentials=False)
    j, path = _open(loaded, options, exclusive=True)
    if j is None:
        raise UsageError(f"{loaded.name}: no journal at {path}; nothing is in doubt")
    try:
        note = f"resolved by a person as {as_} (mwsync resolve)"
        settled = j.resolve(None if all_unknown else list(keys), sent=as_ == "sent", note=note)
        other = getattr(j, "other_targets", None)
        elsewhere = {t: n for t, n in (other() if other is not None else {}).items() if n}
    finally:
        j.close()
    outcome = "marked sent (never sent again)" if as_ == "sent" else "released (the next run sends them)"
    click.echo(f"{loaded.name}: {counted(settled['messages'], 'message')} in doubt "
               f"({counted(settled['deliveries'], 'delivery')}) "
               f"{outcome}")
    if not settled["messages"]:
        click.echo(f"  none of the named messages was in doubt for {loaded.target} (mwsync status JOB lists them)")
        for target, count in elsewhere.items():
            click.echo(redact(f"  {counted(count, 'message', 'is')} in doubt for {target}: "
                              f"add --api-url {target}"))
        sys.exit(1)


@click.command()
@click.argument("which", type=click.Choice(["job", "report"]), default="job")
def schema(which: str) -> None:
    """Print a JSON Schema (draft 2020-12): `job` (default) the job file's, e.g. for an editor's YAML
    language server; `report` the --report document's, whose envelope every --json output shares (its
    $defs describe each command's job entries)."""
    if which == "report":
        from ..report_schema import report_schema

        click.echo(json.dumps(report_schema(), indent=2))
        return
    from ..config import job_schema

    click.echo(json.dumps(job_schema(), indent=2))


DOC_TOPICS = {"guarantees": "exit codes, in doubt, what each fault does", "ci": "CI runners, journals, the CI guard",
              "mock-server": "the mock API: options, faults, scenarios, verification",
              "loadtest": "load tests of throttle profiles", "recording": "cassettes", "benchmarks": "figures"}


@click.command()
@click.argument("topic", type=click.Choice(list(DOC_TOPICS)), required=False, metavar="[TOPIC]")
def docs(topic: str | None) -> None:
    """Print one of the guides that ship with mwsync (Markdown), or list them: the same text as docs/ in
    the repository, so help that names `mwsync docs ci` points somewhere an installed wheel has."""
    if topic is None:
        for name, about in DOC_TOPICS.items():
            click.echo(f"{name:<12} {about}")
        return
    from importlib.resources import files

    click.echo(files("mwsync.docs").joinpath(f"{topic}.md").read_text(encoding="utf-8"), nl=False)
