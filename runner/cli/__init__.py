"""The `mwsync` command line (click): thin, every command delegates to a stage.

Exit codes (`mwsync.errors`): 0 everything sent or already sent, 1 some messages failed, 2 bad job,
template, row or usage (nothing sent), 3 messages in doubt, 4 stopped before the end (a rerun is safe).
A user mistake prints what is wrong and how to fix it, never a traceback.
"""

from __future__ import annotations

import click

from .. import __version__
from ..errors import MwsyncError
from ..redact import redact
from .inspect import plan, resolve, schema, status, validate
from .loadtest import loadtest
from .send import replay, run


class _Group(click.Group):
    """Turns `MwsyncError` into a message on stderr and its exit code: no traceback for user mistakes."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MwsyncError as exc:
            click.echo(redact(f"error: {exc}"), err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mwsync")
def cli() -> None:
    """Send outbound messages to the Moveworks Events API from YAML jobs: throttled,
    authenticated, exactly once. Start with `mwsync run JOB.yaml` (the embedded mock by default)."""


for _command in (validate, plan, run, replay, status, resolve, schema, loadtest):
    cli.add_command(_command)


def _register_mock_server() -> None:
    from ..mock_server.cli import main as mock_main

    cli.add_command(mock_main, "mock-server")


_register_mock_server()


def main() -> None:
    """Console entry point (`mwsync`)."""
    cli(prog_name="mwsync")
