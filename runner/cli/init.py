"""`mwsync init [DIR]`: a starter job, its template and a CSV (package data `mwsync/starter/`) that run
against the embedded mock at once, with comments that teach the job file."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import click

from ..errors import UsageError

#: What `init` writes, relative to DIR (the same paths under `mwsync/starter/`).
STARTER = ("job.yaml", "templates/welcome.html.j2", "people.csv")


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Write a starter job (DIR/job.yaml), its template and a CSV into DIR (default: here, created when
    missing). Never overwrites: when any of the files exists, nothing is written.

    \b
    mwsync init first-job && mwsync run first-job/job.yaml
    """
    existing = [str(directory / name) for name in STARTER if (directory / name).exists()]
    if existing:
        raise UsageError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; nothing was "
                         "written (init never overwrites): choose another DIR, e.g. mwsync init first-job")
    source = files("mwsync") / "starter"
    for name in STARTER:
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
        click.echo(f"wrote {target}")
    job = directory / "job.yaml"
    click.echo(f"next: mwsync preview {job}   # the requests it would send\n"
               f"      mwsync run {job}       # send them to the embedded mock Moveworks API")
