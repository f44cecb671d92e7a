"""Throwaway PostgreSQL and Redis servers on 127.0.0.1, for the tests' fixtures and `benchmarks/shared.py`.

Both come from Debian's packages (`apt-get install postgresql redis-server`); `.ci/run` installs them when
they are missing. `find_postgres()` / `find_redis()` say where the binaries are, or None.

- `Postgres`: `initdb` into a temporary folder (as the `postgres` system user when we are root: initdb
  refuses to run as root), then `pg_ctl start` listening on 127.0.0.1 and a free port, its unix sockets in
  the same folder, trust authentication for the superuser `mwsync`. `database()` creates a fresh database
  and returns its URL, so each test sees only its own rows. `durable=False` (tests) turns fsync off.
- `Redis`: `redis-server` on 127.0.0.1 and a free port, no persistence (`--save '' --appendonly no`).

Each is a context manager; leaving it stops the server and removes its folder.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

INSTALL_HINT = "install them with: apt-get install -y postgresql redis-server (Debian's packages)"
START_TIMEOUT_S = 60.0


def truthy(value: str | None) -> bool:
    """True for `CI`-style true values: 1, true, yes, on (any case)."""
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def find_postgres() -> Path | None:
    """The folder holding `initdb` and `pg_ctl` (Debian: /usr/lib/postgresql/<version>/bin), or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def find_redis() -> Path | None:
    """The `redis-server` binary, or None."""
    found = shutil.which("redis-server")
    return Path(found) if found else None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres_user(command: list[str]) -> list[str]:
    """`command` run as the `postgres` system user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


class Postgres:
    """A throwaway PostgreSQL server; `url` is `postgresql://mwsync@127.0.0.1:PORT/postgres`."""

    user = "mwsync"

    def __init__(self, durable: bool = False):
        self.bin = find_postgres()
        if self.bin is None:
            raise RuntimeError(f"PostgreSQL's initdb was not found; {INSTALL_HINT}")
        self.durable = durable
        self.port = 0
        self.folder: Path | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def __enter__(self) -> Postgres:
        self.folder = Path(tempfile.mkdtemp(prefix="mwsync-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        data = self.folder / "data"
        subprocess.run(_as_postgres_user([str(self.bin / "initdb"), "-D", str(data), "-U", self.user,
                                          "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]),
                       check=True, capture_output=True, timeout=START_TIMEOUT_S)
        settings = f"-c listen_addresses=127.0.0.1 -k {self.folder} -c max_connections=200"
        if not self.durable:
            settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        for _ in range(3):  # a port taken between free_port() and the bind: try another
            self.port = free_port()
            started = subprocess.run(_as_postgres_user([
                str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.folder / "log"), "-w", "-t", "60",
                "-o", f"-p {self.port} {settings}", "start"]), capture_output=True, timeout=START_TIMEOUT_S + 10)
            if started.returncode == 0:
                return self
        log = (self.folder / "log").read_text(errors="replace")[-2000:] if (self.folder / "log").exists() else ""
        self.__exit__()
        raise RuntimeError(f"PostgreSQL did not start: {started.stderr.decode(errors='replace')}\n{log}")

    def __exit__(self, *exc: object) -> None:
        if self.folder is None:
            return
        if (self.folder / "data" / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def stop(self) -> None:
        """Stop the server at once (`pg_ctl stop -m immediate`); the folder stays until the block ends."""
        subprocess.run(_as_postgres_user([str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m",
                                          "immediate", "-w", "stop"]), capture_output=True, timeout=60)

    def database(self, name: str | None = None) -> str:
        """Create a fresh database (a unique name unless `name`); return its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"


class Redis:
    """A throwaway Redis server; `url` is `redis://127.0.0.1:PORT/0`."""

    def __init__(self) -> None:
        self.binary = find_redis()
        if self.binary is None:
            raise RuntimeError(f"redis-server was not found; {INSTALL_HINT}")
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> Redis:
        for _ in range(3):
            self.port = free_port()
            self.process = subprocess.Popen(
                [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--protected-mode", "no", "--dir", tempfile.gettempdir()],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError("redis-server did not start")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                time.sleep(0.02)
        return False

    def stop(self) -> None:
        """Stop the server now (SIGKILL: a crash, as a test of an unreachable limiter wants)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def __exit__(self, *exc: object) -> None:
        self.stop()
