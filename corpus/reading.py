"""The import size policy, bounded line reading and the checks every record passes (pure: no Django).

Policy (README, "Importing conversations"):

- A line (a JSONL record, or a physical line of a CSV file) longer than ``max_line_bytes`` is refused
  without being held in memory: the reader keeps at most ``max_line_bytes`` of it and skips the rest, so
  memory is bounded whatever the input (a small ``.gz`` expanding to one huge line included).
- A message longer than ``max_message_chars`` or a conversation (all messages) longer than
  ``max_conversation_chars`` is refused. Nothing is truncated.
- JSON nested deeper than ``MAX_JSON_DEPTH``, ``NaN``/``Infinity`` and numbers too large for a float
  are refused.
- Text that no database can store the same way is refused wherever it appears (content, id, model,
  metadata keys and values): the NUL character ``\\u0000`` (PostgreSQL rejects it, SQLite keeps it)
  and unpaired surrogates (not Unicode at all).
- An id longer than ``MAX_ID_CHARS`` or a model name longer than ``MAX_MODEL_CHARS`` is refused
  (SQLite would store it, PostgreSQL would end the import): the two databases behave the same.

A refused record is a ``RecordError`` (the importers turn it into ``Rejected`` with its line); a
problem with the whole file (unreadable, broken gzip) is an ``ImportFileError``.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any

MAX_ID_CHARS = 255
MAX_MODEL_CHARS = 200
MAX_DATASET_NAME_CHARS = 100
MAX_JSON_DEPTH = 64
_SKIP_CHUNK = 1 << 16
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class ImportFileError(Exception):
    """An import problem with the place it happened: ``path:line: reason``."""

    def __init__(self, path: str | Path, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = one_line(reason)
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {self.reason}")


def one_line(text: str, limit: int = 500) -> str:
    """Text for a one-line message: control characters escaped, cut to ``limit`` characters."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class RecordError(ValueError):
    """A record that cannot be imported; the reader turns it into ``Rejected`` with the line."""


@dataclass(frozen=True)
class ImportLimits:
    """The size policy of one import (defaults: settings ``IMPORT_MAX_*``; flags ``--max-*`` override)."""

    max_line_bytes: int = 8 * 1024 * 1024
    max_message_chars: int = 500_000
    max_conversation_chars: int = 1_000_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{f.name} must be a positive integer, got {value!r}")


def read_lines(fh: IO[bytes], path: str | Path, limits: ImportLimits) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line number, raw line with its newline)``; ``None`` instead of a line over the limit.

    A read error of the file itself (truncated or corrupt gzip, I/O error) is an ``ImportFileError``
    naming the line being read.
    """
    lineno = 0
    try:
        while True:
            lineno += 1
            raw = fh.readline(limits.max_line_bytes + 1)
            if not raw:
                return
            if len(raw) > limits.max_line_bytes and raw[-1:] != b"\n":
                del raw
                while chunk := fh.readline(_SKIP_CHUNK):
                    if chunk.endswith(b"\n"):
                        break
                yield lineno, None
                continue
            yield lineno, raw
    except EOFError as exc:
        raise ImportFileError(path, lineno, "the gzip data ends early (truncated file?)") from exc
    except zlib.error as exc:
        raise ImportFileError(path, lineno, f"corrupt gzip data: {exc}") from exc
    except gzip.BadGzipFile as exc:
        after = lineno > 1 and str(exc).startswith("Not a gzipped file")
        reason = "junk after the end of the gzip stream" if after else f"bad gzip data: {exc}"
        raise ImportFileError(path, lineno, reason) from exc
    except OSError as exc:
        raise ImportFileError(path, lineno, f"cannot read the file: {exc.strerror or exc}") from exc


def line_too_long(limits: ImportLimits) -> str:
    return f"line longer than {limits.max_line_bytes} bytes (--max-line-bytes)"


def _no_constant(name: str) -> Any:
    raise RecordError(f"{name} is not a number JSON can carry")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise RecordError(f"number {text[:40]} is too large")
    return value


def load_json(text: str) -> Any:
    """``json.loads`` that refuses NaN/Infinity, too-large numbers and deep nesting with a ``RecordError``."""
    try:
        obj = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise RecordError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except json.JSONDecodeError as exc:
        raise RecordError(f"broken JSON: {exc.msg} at column {exc.colno}") from exc
    except RecordError:
        raise
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise RecordError(f"bad JSON value: {str(exc).split(';')[0]}") from exc
    check_depth(obj)
    return obj


def check_text(value: str, what: str) -> None:
    """Refuse text that no database stores as given: NUL and unpaired surrogates."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return
    char = found.group()
    if char == "\x00":
        raise RecordError(f"{what} contains a NUL character (\\u0000), which cannot be stored")
    raise RecordError(f"{what} contains an unpaired surrogate (\\u{ord(char):04x}), which is not valid Unicode")


def check_depth(value: Any) -> None:
    """Refuse nesting deeper than ``MAX_JSON_DEPTH`` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > MAX_JSON_DEPTH:
            raise RecordError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def check_json(value: Any, what: str) -> None:
    """Refuse unstorable text in the keys and strings of a JSON value of bounded depth."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            check_text(item, what)
        elif isinstance(item, dict):
            for key, child in item.items():
                check_text(str(key), what)
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


def check_length(value: str, what: str, limit: int) -> None:
    if len(value) > limit:
        raise RecordError(f"{what} is {len(value)} characters long; the limit is {limit}")


def check_sizes(messages: list[dict[str, str]], limits: ImportLimits) -> None:
    total = 0
    for index, message in enumerate(messages):
        size = len(message["content"])
        if size > limits.max_message_chars:
            raise RecordError(
                f"message {index} has {size} characters; the limit is {limits.max_message_chars} (--max-message-chars)"
            )
        total += size
    if total > limits.max_conversation_chars:
        raise RecordError(
            f"conversation has {total} characters; the limit is {limits.max_conversation_chars} "
            "(--max-conversation-chars)"
        )


def check_dataset_name(name: str) -> None:
    """A dataset name the database stores as given (raises ``RecordError``)."""
    if not name.strip():
        raise RecordError("dataset name is empty")
    check_length(name, "dataset name", MAX_DATASET_NAME_CHARS)
    check_text(name, "dataset name")
