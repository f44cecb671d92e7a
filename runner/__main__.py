"""`python -m mwsync` is `mwsync`."""

from .cli import main

main()
