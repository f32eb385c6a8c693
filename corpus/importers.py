"""Readers for every supported input format, streaming one record at a time.

Each reader yields ``ParsedConversation`` for a good record and ``Rejected`` (line and reason) for a
bad one; nothing here touches the database. Files may be gzip-compressed (detected from the magic
bytes, whatever the name). Lines are decoded as strict UTF-8 so invalid bytes are reported with
their line number instead of being replaced silently.

Formats:
- ``openai``: JSONL, ``{"messages" | "conversation": [{"role", "content"}, ...]}``
- ``sharegpt``: JSONL, ``{"conversations": [{"from", "value"}, ...]}``
- ``wildchat``: JSONL in the WildChat / LMSYS-Chat style: ``conversation`` list plus ``model`` and ids
- ``hh``: JSONL with Anthropic HH transcripts ``"\\n\\nHuman: …\\n\\nAssistant: …"``, either
  ``{"chosen", "rejected"}`` pairs or ``{"transcript"}``
- ``csv``: one row per message (``--conversation-column``) or one per single-turn exchange
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

FORMATS = ("auto", "openai", "sharegpt", "wildchat", "hh", "csv")

ROLE_ALIASES = {
    "user": "user",
    "human": "user",
    "prompter": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "ai": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "claude": "assistant",
    "system": "system",
}
ID_KEYS = ("id", "external_id", "conversation_id", "conversation_hash", "question_id")
HH_MARKER = re.compile(r"\n\n(Human|Assistant):[ ]?")


class ImportFileError(Exception):
    """An import problem with the place it happened: ``path:line: reason``."""

    def __init__(self, path: str | Path, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class RecordError(ValueError):
    """A record that cannot be imported; the reader turns it into ``Rejected`` with the line."""


@dataclass(frozen=True)
class ParsedConversation:
    line: int
    external_id: str
    source: str
    messages: list[dict[str, str]]
    model: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""
    pair_key: str | None = None  # links the two sides of a preference pair


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


Record = ParsedConversation | Rejected


@dataclass(frozen=True)
class CsvMapping:
    """Column names for CSV input.

    With ``conversation`` set, each row is one message of that conversation (rows of a conversation
    are contiguous, in order) and ``role``/``content`` name the message columns. Without it, each
    row is a single exchange: ``prompt`` and ``response`` columns.
    """

    conversation: str | None = None
    role: str = "role"
    content: str = "content"
    prompt: str = "prompt"
    response: str = "response"
    model: str | None = None
    id: str | None = None


def content_hash(messages: list[dict[str, str]]) -> str:
    digest = hashlib.sha256()
    for message in messages:
        digest.update(message["role"].encode())
        digest.update(b"\x1f")
        digest.update(message["content"].encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for binary reading, decompressing gzip transparently."""
    if not path.exists():
        raise ImportFileError(path, None, "file does not exist")
    if not path.is_file():
        raise ImportFileError(path, None, "not a regular file")
    if _is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def detect_format(path: Path) -> str:
    """Guess the format from the name (CSV) or the first non-empty JSON line."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    with open_binary(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ImportFileError(path, lineno, f"cannot detect the format: {exc}") from exc
            fmt = _format_of(obj)
            if fmt is None:
                keys = ", ".join(sorted(obj)) if isinstance(obj, dict) else type(obj).__name__
                raise ImportFileError(
                    path, lineno, f"cannot detect the format from keys ({keys}); pass --format explicitly"
                )
            return fmt
    raise ImportFileError(path, None, "file is empty")


def _format_of(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    if "chosen" in obj or isinstance(obj.get("transcript"), str):
        return "hh"
    if isinstance(obj.get("conversations"), list):
        return "sharegpt"
    if isinstance(obj.get("conversation"), list):
        wild = {"model", "conversation_hash", "conversation_id", "turn"} & set(obj)
        return "wildchat" if wild else "openai"
    if isinstance(obj.get("messages"), list):
        return "openai"
    return None


def _role(value: Any) -> str:
    if not isinstance(value, str) or value.strip().lower() not in ROLE_ALIASES:
        raise RecordError(f"unknown role {value!r} (expected one of: user, assistant, system, human, gpt)")
    return ROLE_ALIASES[value.strip().lower()]


def _messages(items: Any, role_key: str, content_key: str) -> list[dict[str, str]]:
    if not isinstance(items, list):
        raise RecordError("messages are not a list")
    messages = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise RecordError(f"message {index} is not an object")
        if role_key not in item:
            raise RecordError(f"message {index} has no {role_key!r}")
        content = item.get(content_key)
        if not isinstance(content, str):
            raise RecordError(f"message {index} has no text {content_key!r}")
        messages.append({"role": _role(item[role_key]), "content": content})
    if not messages:
        raise RecordError("empty conversation (no messages)")
    if not any(m["content"].strip() for m in messages):
        raise RecordError("empty conversation (every message is blank)")
    return messages


def parse_hh_transcript(text: Any) -> list[dict[str, str]]:
    """Split ``"\\n\\nHuman: …\\n\\nAssistant: …"`` into messages."""
    if not isinstance(text, str):
        raise RecordError("transcript is not a string")
    parts = HH_MARKER.split(text)
    if parts[0].strip():
        raise RecordError('transcript does not start with "\\n\\nHuman:" or "\\n\\nAssistant:"')
    messages = [
        {"role": "user" if speaker == "Human" else "assistant", "content": content}
        for speaker, content in zip(parts[1::2], parts[2::2], strict=True)
    ]
    if not messages or not any(m["content"].strip() for m in messages):
        raise RecordError("empty conversation (no Human/Assistant turns)")
    return messages


def _explicit_id(obj: dict[str, Any]) -> str | None:
    for key in ID_KEYS:
        value = obj.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _metadata(obj: dict[str, Any], used: set[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in used}


def _conversation(
    line: int,
    source: str,
    messages: list[dict[str, str]],
    obj: dict[str, Any],
    used: set[str],
    *,
    side: str | None = None,
    pair_key: str | None = None,
) -> ParsedConversation:
    digest = content_hash(messages)
    metadata = _metadata(obj, used | set(ID_KEYS) | {"model"})
    explicit = _explicit_id(obj)
    if side is not None:
        metadata["side"] = side
        # The two sides of a pair share the source id, if any; keep them apart.
        explicit = f"{explicit}:{side}" if explicit else None
    return ParsedConversation(
        line=line,
        external_id=explicit or digest,
        source=source,
        messages=messages,
        model=str(obj.get("model") or ""),
        metadata=metadata,
        content_hash=digest,
        pair_key=pair_key,
    )


def _parse_json_record(obj: Any, fmt: str, line: int, *, hh_both: bool) -> list[ParsedConversation]:
    if not isinstance(obj, dict):
        raise RecordError(f"expected a JSON object, got {type(obj).__name__}")
    if fmt == "openai":
        key = "messages" if "messages" in obj else "conversation"
        if key not in obj:
            raise RecordError('no "messages" (or "conversation") list')
        return [_conversation(line, "openai", _messages(obj[key], "role", "content"), obj, {key})]
    if fmt == "sharegpt":
        if "conversations" not in obj:
            raise RecordError('no "conversations" list')
        return [
            _conversation(line, "sharegpt", _messages(obj["conversations"], "from", "value"), obj, {"conversations"})
        ]
    if fmt == "wildchat":
        if "conversation" not in obj:
            raise RecordError('no "conversation" list')
        return [
            _conversation(line, "wildchat", _messages(obj["conversation"], "role", "content"), obj, {"conversation"})
        ]
    if fmt == "hh":
        if "transcript" in obj and "chosen" not in obj:
            return [_conversation(line, "hh", parse_hh_transcript(obj["transcript"]), obj, {"transcript"})]
        if "chosen" not in obj:
            raise RecordError('no "chosen" (or "transcript") field')
        chosen = parse_hh_transcript(obj["chosen"])
        if not hh_both:
            return [_conversation(line, "hh", chosen, obj, {"chosen", "rejected"}, side="chosen")]
        if "rejected" not in obj:
            raise RecordError('no "rejected" field (needed with --both-sides)')
        rejected = parse_hh_transcript(obj["rejected"])
        pair_key = content_hash(chosen)
        return [
            _conversation(line, "hh", chosen, obj, {"chosen", "rejected"}, side="chosen", pair_key=pair_key),
            _conversation(line, "hh", rejected, obj, {"chosen", "rejected"}, side="rejected", pair_key=pair_key),
        ]
    raise RecordError(f"unknown format {fmt!r}")


def iter_jsonl(path: Path, fmt: str, *, hh_both: bool = False) -> Iterator[Record]:
    with open_binary(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Rejected(lineno, f"invalid UTF-8 at byte {exc.start}")
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Rejected(lineno, f"broken JSON: {exc.msg} at column {exc.colno}")
                continue
            try:
                yield from _parse_json_record(obj, fmt, lineno, hh_both=hh_both)
            except RecordError as exc:
                yield Rejected(lineno, str(exc))


def iter_csv(path: Path, mapping: CsvMapping) -> Iterator[Record]:
    """Read CSV with pandas in chunks (memory does not grow with the file)."""
    import pandas as pd

    required = (
        [mapping.conversation, mapping.role, mapping.content]
        if mapping.conversation
        else [mapping.prompt, mapping.response]
    )
    optional = [c for c in (mapping.model, mapping.id) if c]
    with open_binary(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", errors="strict", newline="")
        try:
            reader = pd.read_csv(text, dtype=str, keep_default_na=False, chunksize=5000, on_bad_lines="error")
            pending: list[tuple[int, dict[str, str]]] = []
            current: str | None = None
            first = True
            row_line = 1  # header is line 1
            for chunk in reader:
                if first:
                    missing = [c for c in (*required, *optional) if c not in chunk.columns]
                    if missing:
                        raise ImportFileError(
                            path, 1, f"missing column(s) {', '.join(missing)}; columns are {', '.join(chunk.columns)}"
                        )
                    first = False
                for row in chunk.to_dict("records"):
                    row_line += 1
                    if not mapping.conversation:
                        yield _csv_exchange(row_line, row, mapping)
                        continue
                    key = row[mapping.conversation]
                    if current is not None and key != current:
                        yield _csv_conversation(pending, mapping, current)
                        pending = []
                    current = key
                    pending.append((row_line, row))
            if pending and current is not None:
                yield _csv_conversation(pending, mapping, current)
        except UnicodeDecodeError as exc:
            raise ImportFileError(path, None, f"invalid UTF-8 at byte {exc.start}") from exc
        except (pd.errors.ParserError, csv.Error) as exc:
            raise ImportFileError(path, None, f"malformed CSV: {exc}") from exc
        except pd.errors.EmptyDataError as exc:
            raise ImportFileError(path, None, "file is empty") from exc


def _csv_exchange(line: int, row: dict[str, str], mapping: CsvMapping) -> Record:
    try:
        messages = _messages(
            [{"role": "user", "content": row[mapping.prompt]}, {"role": "assistant", "content": row[mapping.response]}],
            "role",
            "content",
        )
    except RecordError as exc:
        return Rejected(line, str(exc))
    obj = {k: v for k, v in row.items() if k not in {mapping.prompt, mapping.response}}
    return _csv_parsed(line, messages, obj, mapping)


def _csv_conversation(rows: list[tuple[int, dict[str, str]]], mapping: CsvMapping, key: str) -> Record:
    first_line = rows[0][0]
    try:
        messages = _messages(
            [{"role": r[mapping.role], "content": r[mapping.content]} for _, r in rows], "role", "content"
        )
    except RecordError as exc:
        return Rejected(first_line, str(exc))
    obj = {k: v for k, v in rows[0][1].items() if k not in {mapping.role, mapping.content, mapping.conversation}}
    obj.setdefault("id", key)
    return _csv_parsed(first_line, messages, obj, mapping)


def _csv_parsed(
    line: int, messages: list[dict[str, str]], obj: dict[str, Any], mapping: CsvMapping
) -> ParsedConversation:
    digest = content_hash(messages)
    model = obj.pop(mapping.model, "") if mapping.model else ""
    explicit = obj.pop(mapping.id, None) if mapping.id else obj.pop("id", None)
    return ParsedConversation(
        line=line,
        external_id=str(explicit) if explicit else digest,
        source="csv",
        messages=messages,
        model=str(model or ""),
        metadata=obj,
        content_hash=digest,
    )


def iter_records(
    path: str | Path, fmt: str = "auto", *, hh_both: bool = False, csv_mapping: CsvMapping | None = None
) -> Iterator[Record]:
    """Yield every record of ``path`` in order. Raises ``ImportFileError`` for whole-file problems."""
    path = Path(path)
    if fmt not in FORMATS:
        raise ImportFileError(path, None, f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not path.exists():
        raise ImportFileError(path, None, "file does not exist")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "csv":
        yield from iter_csv(path, csv_mapping or CsvMapping())
    else:
        yield from iter_jsonl(path, fmt, hh_both=hh_both)
