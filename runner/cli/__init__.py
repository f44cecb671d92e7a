"""The `mwsync` command line (click): thin, every command delegates to a stage.

Exit codes (`mwsync.errors`): 0 everything sent or already sent, 1 some messages failed, 2 bad job,
template, row or usage (nothing sent), 3 messages in doubt, 4 stopped before the end (a rerun is safe).
A user mistake prints what is wrong and how to fix it, never a traceback.

What the group gives every command (`_Group.get_command`), its own and the mock server's alike:

- an environment variable per option, `MWSYNC_<OPTION>` (click's `auto_envvar_prefix`, the same name
  whichever command reads it: `MWSYNC_PROFILE`, `MWSYNC_API_URL`, ...), shown in `--help`; a flag read from
  the environment must say true/false, 1/0 or yes/no (any case), anything else is a usage error naming it;
- `-v` / `-q` / `--log-format text|json` (`mwsync.cli.logs`), before or after the command name.

Start-up: a command's module is imported only to run it or to show its help, and the modules import
their stage inside the command function, so `mwsync --help` and `mwsync validate` load neither the mock
server's web stack nor `requests` (benchmarks/startup.py measures it).
"""

from __future__ import annotations

import logging
import os
from importlib import import_module

import click

from .. import __version__
from ..errors import InternalError, MwsyncError
from ..redact import redact
from ..wording import printable
from . import logs

ENV_PREFIX = "MWSYNC"
#: command name -> (module, attribute, short help for the command list without importing the module)
COMMANDS = {
    "init": (".init", "init", "Write a starter job, template and CSV (they run at once)."),
    "validate": (".inspect", "validate", "Check job files without rendering rows or sending."),
    "plan": (".inspect", "plan", "Check every message; show requests and duration."),
    "preview": (".preview", "preview", "Show the requests exactly as they would be sent."),
    "check": (".check", "check", "Test credentials, access token and the auth test."),
    "run": (".send", "run", "Send what has not been sent yet."),
    "replay": (".send", "replay", "Send a bulk message set (.csv, .jsonl) through a job."),
    "status": (".inspect", "status", "Show a journal: messages by state, those in doubt."),
    "resolve": (".inspect", "resolve", "Settle messages in doubt, after a person checked."),
    "schema": (".inspect", "schema", "Print the JSON Schema of a job file or a report."),
    "docs": (".inspect", "docs", "Print a guide: guarantees, ci, mock-server, loadtest, ..."),
    "loadtest": (".loadtest", "loadtest", "Prove a throttle profile under load (Locust)."),
    "mock-server": ("mwsync.mock_server.cli", "main", "Run the mock Moveworks API until Ctrl-C."),
}
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _set_logging(ctx: click.Context, param: click.Parameter, value):
    """Callback of -v, -q and --log-format (group or command): configure logging from what was given so far."""
    settings = ctx.find_root().meta.setdefault("mwsync.logging", {"verbose": 0, "quiet": False, "log_format": "text"})
    if ctx.get_parameter_source(param.name) not in (None, click.core.ParameterSource.DEFAULT):
        settings[param.name] = value
    if settings["verbose"] and settings["quiet"]:
        raise click.UsageError("give -v or -q, not both", ctx)
    logs.configure("debug" if settings["verbose"] else "error" if settings["quiet"] else "info",
                   settings["log_format"])


LOG_OPTIONS = (
    click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_set_logging, show_envvar=True,
                 help="Log debug lines of mwsync (third-party libraries stay at warnings)."),
    click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_set_logging, show_envvar=True,
                 help="Log errors only (no progress lines, no warnings)."),
    click.Option(["--log-format"], type=click.Choice(["text", "json"]), default="text", show_default=True,
                 expose_value=False, callback=_set_logging, show_envvar=True,
                 help="Log lines as text, or one JSON object per line."),
)


def option_env_name(param: click.Option) -> str:
    """`MWSYNC_<LONG OPTION>`: `--token-ttl` reads `MWSYNC_TOKEN_TTL`, `--job` `MWSYNC_JOB` (click's own automatic
    name comes from the Python parameter, `job_path`, which a user never sees). An option of one name in two
    commands means one thing in both, except where its command names its own variable (`loadtest --host` reads
    `MWSYNC_LOADTEST_HOST`: `MWSYNC_HOST` is the mock server's bind address)."""
    longs = [opt for opt in param.opts if opt.startswith("--")] or param.opts
    return f"{ENV_PREFIX}_{max(longs, key=len).lstrip('-').replace('-', '_').upper()}"


def env_name(param: click.Parameter) -> str | None:
    """The environment variable `param` reads: its own `envvar`, else `MWSYNC_<NAME>`."""
    if not isinstance(param, click.Option) or not param.allow_from_autoenv and not param.envvar:
        return None
    envvar = param.envvar if isinstance(param.envvar, str) else (param.envvar or [None])[0]
    return envvar or f"{ENV_PREFIX}_{param.name.upper()}"


def _check_env_flags(ctx: click.Context, command: click.Command) -> None:
    """A boolean flag set from the environment must read true/false, 1/0 or yes/no (any case): `maybe` or
    `on` is a usage error naming the variable, never a silent guess."""
    for param in command.params:
        if isinstance(param, click.Option) and param.is_flag and param.is_bool_flag:
            name = env_name(param)
            value = os.environ.get(name) if name else None
            if value and value.strip().lower() not in TRUE + FALSE:
                raise click.UsageError(f"{name}={value!r}: not a boolean for {param.opts[-1]}; write true/false, "
                                       "1/0 or yes/no", ctx)


class _Group(click.Group):
    """Lazy commands (`COMMANDS`), the environment and logging options on each, and `MwsyncError` turned into a
    message on stderr and its exit code: no traceback for user mistakes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[name]
        command = getattr(import_module(module, __name__), attribute)
        if not getattr(command, "_mwsync_ready", False):
            command.context_settings.setdefault("auto_envvar_prefix", ENV_PREFIX)
            command.params.extend(LOG_OPTIONS)
            for param in command.params:
                if isinstance(param, click.Option) and param.allow_from_autoenv:
                    param.show_envvar = True
                    param.envvar = param.envvar or option_env_name(param)
            command._mwsync_ready = True
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from `COMMANDS`: `mwsync --help` imports no command module."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, _, short) in COMMANDS.items()])

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            _check_env_flags(ctx, command)
        return name, command, rest

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MwsyncError as exc:
            click.echo(redact(printable(f"error: {exc}", None, lines=True)), err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click's own: usage errors, ctx.exit()
        except Exception as exc:  # a bug, or a library failing in a way we did not foresee: no traceback
            logging.getLogger("mwsync").debug("internal error", exc_info=True)
            error = InternalError.of(exc)
            click.echo(redact(printable(f"error: {error}", None, lines=True)), err=True)
            ctx.exit(error.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": ENV_PREFIX})
@click.version_option(__version__, prog_name="mwsync", allow_from_autoenv=False)
def cli() -> None:
    """Send outbound messages to the Moveworks Events API from YAML jobs: throttled,
    authenticated, exactly once. Start with `mwsync init` and `mwsync run job.yaml` (the embedded mock
    by default).

    Every option can come from the environment: MWSYNC_<OPTION>, e.g. MWSYNC_PROFILE=initial,
    MWSYNC_LOG_FORMAT=json (each command's --help names them)."""


cli.params.extend(LOG_OPTIONS)


def main() -> None:
    """Console entry point (`mwsync`)."""
    cli(prog_name="mwsync")
