"""Read a job file's YAML: the only module that imports PyYAML.

Loading follows `yaml.safe_load`, with two changes that keep values as written:

- duplicate keys are an error (PyYAML silently keeps the last one);
- plain scalars are never implicitly typed (YAML 1.1 would turn `no` into false, `0755` into 493 and
  `2026-12-01` into a date): every scalar stays the string written, and pydantic converts it where
  the schema asks for a number or a boolean. Only `null`/`~`/empty stay null.

Besides the data, `read_yaml` returns the line of every key path, so each problem can name its line.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, Problem

_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"


class _JobLoader(yaml.SafeLoader):
    """SafeLoader that types only null (and merge keys): every other plain scalar stays a string."""


_JobLoader.yaml_implicit_resolvers = {
    first: kept
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    if (kept := [(tag, rx) for tag, rx in resolvers if tag in (_NULL, _MERGE)])
}

KeyPath = tuple[Any, ...]


MAX_NODES = 100_000  # a job file is small; more nodes means aliases nested into a "billion laughs"
#: Characters of scalar text once every alias is expanded: beyond it an alias of a long string, repeated,
#: would cost memory and time out of proportion to the file.
MAX_EXPANDED_CHARS = 16_000_000
PSEUDO_FILESYSTEMS = (Path("/proc"), Path("/sys"), Path("/dev"))
MAX_FILE_BYTES = 16_000_000  # bytes read of a job file at most (inline rows included)


class _TooLarge(Exception):
    pass


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], problems: list[tuple[KeyPath, int, str]],
          size: list[int] | None = None) -> None:
    size = [0] if size is None else size
    if len(lines) >= MAX_NODES:
        raise _TooLarge
    if isinstance(node, yaml.ScalarNode):
        size[0] += len(node.value)
        if size[0] > MAX_EXPANDED_CHARS:
            raise _TooLarge
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append((path + (key,), line, f"duplicate key (first defined on line {seen[key]}); keep one"))
            seen.setdefault(key, line)
            _walk(value_node, path + (key,), lines, problems, size)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), lines, problems, size)


def file_problem(file: Path) -> str | None:
    """Why `file` cannot be read as a job's input (missing, a folder, a FIFO or device, a file under /proc,
    /sys or /dev however it is reached: an absolute templates_dir, `..`, a symlink), or None."""
    try:
        mode = file.stat().st_mode
    except FileNotFoundError:
        return "file not found"
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        try:
            real = file.resolve()
        except OSError as exc:
            return f"cannot read it ({exc.strerror or exc})"
        for root in PSEUDO_FILESYSTEMS:
            if real.is_relative_to(root) and not real.is_relative_to("/dev/shm"):  # shm: a RAM disk, ordinary
                return (f"is under {root}, the kernel's view of processes and devices (their environment holds "
                        "secrets), never a job's input")
        return None
    kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else \
        "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "special"
    return f"is {kind}, not a regular file"


def read_yaml(path: Path) -> tuple[Any, dict[KeyPath, int], list[Problem]]:
    """Parse `path`; return (data, {key path: line}, problems). Raises `ConfigError` on syntax errors and
    for a job file that is not a regular file (a FIFO would hang, `/dev/zero` fill memory) or is over
    `MAX_FILE_BYTES`."""
    name = str(path)
    why = file_problem(path)
    if why:
        raise ConfigError([Problem(name, "", f"cannot read job file: {why}")])
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ConfigError([Problem(name, "", f"the job file is over {MAX_FILE_BYTES // 1_000_000} MB; a job "
                                                 "file is a few KB (put rows in a source file: source.csv or "
                                                 "source.jsonl)")])
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(name, "", f"cannot read job file: {exc}")]) from exc
    loader = _JobLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        found: list[tuple[KeyPath, int, str]] = []
        if node is not None:
            _walk(node, (), lines, found)
        data = loader.construct_document(node) if node is not None else None
    except _TooLarge:
        raise ConfigError([Problem(name, "", f"more than {MAX_NODES} values or {MAX_EXPANDED_CHARS // 1_000_000} "
                                             "million characters once aliases are expanded; a job file needs far "
                                             "fewer (aliases repeating a long value?)")]) from None
    except RecursionError:
        raise ConfigError([Problem(name, "", "nested too deeply to read (thousands of levels); a job file is a "
                                             "few levels of keys")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = str(getattr(exc, "problem", None) or exc)
        hint = "; indent with spaces, not tabs" if "'\\t'" in problem else ""
        raise ConfigError([Problem(name, "", f"not valid YAML: {problem}{hint}", line)]) from None
    finally:
        loader.dispose()
    return data, lines, [Problem(name, dotted(p), msg, line) for p, line, msg in found]


def dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_for(lines: Mapping[KeyPath, int], path: KeyPath) -> int | None:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)
