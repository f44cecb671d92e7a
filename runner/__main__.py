"""`python -m runner` is `mwsync`."""

from .cli import main

main()
