"""`python -m mock_server`: run the mock Moveworks API server from the command line (see `cli`)."""

from .cli import main

if __name__ == "__main__":
    main()
