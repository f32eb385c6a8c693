"""Readers for every supported input format, streaming one record at a time.

Each reader yields ``ParsedConversation`` for a good record and ``Rejected`` (line and reason) for a
bad one; nothing here touches the database. Files may be gzip-compressed (detected from the magic
bytes, whatever the name). Lines are decoded as strict UTF-8 so invalid bytes are reported with
their line number instead of being replaced silently. Every line is read through the bounded reader
of ``corpus.reading`` and every record passes its checks (the import size policy, lengths and
characters every database stores the same way).

Formats:
- ``openai``: JSONL, ``{"messages" | "conversation": [{"role", "content"}, ...]}``
- ``sharegpt``: JSONL, ``{"conversations": [{"from", "value"}, ...]}``
- ``wildchat``: JSONL in the WildChat / LMSYS-Chat style: ``conversation`` list plus ``model`` and ids
- ``hh``: JSONL with Anthropic HH transcripts ``"\\n\\nHuman: …\\n\\nAssistant: …"``, either
  ``{"chosen", "rejected"}`` pairs or ``{"transcript"}``
- ``csv``: one row per message (``--conversation-column``) or one per single-turn exchange; a row with
  more or fewer fields than the header is rejected (with the conversation it belongs to)
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from corpus.reading import (
    MAX_ID_CHARS,
    MAX_MODEL_CHARS,
    ImportFileError,
    ImportLimits,
    RecordError,
    check_json,
    check_length,
    check_sizes,
    check_text,
    line_too_long,
    load_json,
    one_line,
    read_lines,
)

__all__ = [
    "FORMATS",
    "CsvMapping",
    "ImportFileError",
    "ImportLimits",
    "ParsedConversation",
    "Record",
    "RecordError",
    "Rejected",
    "detect_format",
    "iter_records",
    "parse_hh_transcript",
]

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", one_line(self.reason))


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
    try:
        if _is_gzip(path):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return path.open("rb")
    except OSError as exc:
        raise ImportFileError(path, None, f"cannot open the file: {exc.strerror or exc}") from exc


def detect_format(path: Path, limits: ImportLimits | None = None) -> str:
    """Guess the format from the name (CSV) or the first non-empty JSON line."""
    limits = limits or ImportLimits()
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    with open_binary(path) as fh:
        for lineno, raw in read_lines(fh, path, limits):
            if raw is None:
                raise ImportFileError(path, lineno, line_too_long(limits))
            if not raw.strip():
                continue
            try:
                obj = load_json(_decode(raw, lineno))
            except RecordError as exc:
                raise ImportFileError(path, lineno, f"cannot detect the format: {exc}") from exc
            fmt = _format_of(obj)
            if fmt is None:
                keys = ", ".join(sorted(obj)) if isinstance(obj, dict) else type(obj).__name__
                raise ImportFileError(
                    path, lineno, f"cannot detect the format from keys ({keys}); pass --format explicitly"
                )
            return fmt
    raise ImportFileError(path, None, "file is empty")


def _decode(raw: bytes, lineno: int) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"invalid UTF-8 at byte {exc.start}") from exc
    # A byte-order mark opening the file is not content.
    return text.removeprefix("\ufeff") if lineno == 1 else text


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


def _shown(value: Any) -> str:
    """A value in an error message: its repr, cut to one readable line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _role(value: Any) -> str:
    if not isinstance(value, str) or value.strip().lower() not in ROLE_ALIASES:
        raise RecordError(f"unknown role {_shown(value)} (expected one of: user, assistant, system, human, gpt)")
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
        check_text(content, f"message {index}")
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
    check_text(text, "transcript")
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
        if value in (None, ""):
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise RecordError(f"{key} is a {type(value).__name__}, expected a string or an integer")
        return str(value)
    return None


def _model(obj: dict[str, Any]) -> str:
    value = obj.get("model")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordError(f"model is a {type(value).__name__}, expected a string")
    return value


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
        model=_model(obj),
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


def check_record(record: ParsedConversation, limits: ImportLimits) -> None:
    """The checks every parsed record passes before it may reach a database (raises ``RecordError``)."""
    check_sizes(record.messages, limits)
    check_length(record.external_id, "id", MAX_ID_CHARS)
    check_text(record.external_id, "id")
    check_length(record.model, "model", MAX_MODEL_CHARS)
    check_text(record.model, "model")
    check_json(record.metadata, "metadata")


def iter_jsonl(path: Path, fmt: str, *, hh_both: bool = False, limits: ImportLimits | None = None) -> Iterator[Record]:
    limits = limits or ImportLimits()
    with open_binary(path) as fh:
        for lineno, raw in read_lines(fh, path, limits):
            if raw is None:
                yield Rejected(lineno, line_too_long(limits))
                continue
            if not raw.strip():
                continue
            try:
                records = _parse_json_record(load_json(_decode(raw, lineno)), fmt, lineno, hh_both=hh_both)
                for record in records:
                    check_record(record, limits)
            except RecordError as exc:
                yield Rejected(lineno, str(exc))
                continue
            yield from records


class _CsvLines:
    """Decoded physical lines for ``csv.reader``, refusing a line or a record over ``max_line_bytes``.

    An over-long line ends the import (the reader cannot tell whether it is inside a quoted field, so
    it cannot skip to the next record safely); memory stays bounded either way.
    """

    def __init__(self, fh: IO[bytes], path: Path, limits: ImportLimits) -> None:
        self._lines = read_lines(fh, path, limits)
        self.path = path
        self.limits = limits
        self.lineno = 0
        self.record_bytes = 0

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        lineno, raw = next(self._lines)
        self.lineno = lineno
        if raw is None:
            raise ImportFileError(self.path, lineno, line_too_long(self.limits))
        self.record_bytes += len(raw)
        if self.record_bytes > self.limits.max_line_bytes:
            raise ImportFileError(
                self.path, lineno, f"CSV record longer than {self.limits.max_line_bytes} bytes (--max-line-bytes)"
            )
        try:
            return _decode(raw, lineno)
        except RecordError as exc:
            raise ImportFileError(self.path, lineno, str(exc)) from exc


def iter_csv(path: Path, mapping: CsvMapping, limits: ImportLimits | None = None) -> Iterator[Record]:
    """Read CSV row by row (stdlib ``csv``; memory does not grow with the file or the line)."""
    limits = limits or ImportLimits()
    with open_binary(path) as fh:
        lines = _CsvLines(fh, path, limits)
        # The csv module's own field limit (128 KiB by default) would refuse long messages; ours is the line limit.
        previous = csv.field_size_limit(limits.max_line_bytes)
        try:
            rows = _csv_rows(csv.reader(lines), lines)
            header = _csv_header(path, next(rows, None), mapping)
            if mapping.conversation:
                yield from _csv_conversations(rows, header, mapping, limits)
            else:
                for line, row in rows:
                    yield _csv_exchange(line, row, header, mapping, limits)
        except csv.Error as exc:
            raise ImportFileError(path, lines.lineno, f"malformed CSV: {exc}") from exc
        finally:
            csv.field_size_limit(previous)


def _csv_rows(reader: Any, lines: _CsvLines) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with the physical line each starts on."""
    while True:
        start = reader.line_num + 1
        lines.record_bytes = 0
        row = next(reader, None)
        if row is None:
            return
        if row:
            yield start, row


def _csv_header(path: Path, first: tuple[int, list[str]] | None, mapping: CsvMapping) -> list[str]:
    if first is None:
        raise ImportFileError(path, None, "file is empty")
    line, header = first
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ImportFileError(path, line, f"duplicate column(s) {', '.join(duplicates)}")
    required = (
        [mapping.conversation, mapping.role, mapping.content]
        if mapping.conversation
        else [mapping.prompt, mapping.response]
    )
    optional = [c for c in (mapping.model, mapping.id) if c]
    missing = [c for c in (*required, *optional) if c not in header]
    if missing:
        raise ImportFileError(path, line, f"missing column(s) {', '.join(missing)}; columns are {', '.join(header)}")
    return header


def _ragged(row: list[str], header: list[str]) -> str | None:
    if len(row) == len(header):
        return None
    return f"row has {len(row)} fields; the header has {len(header)}"


def _csv_exchange(line: int, row: list[str], header: list[str], mapping: CsvMapping, limits: ImportLimits) -> Record:
    ragged = _ragged(row, header)
    if ragged:
        return Rejected(line, ragged)
    obj = dict(zip(header, row, strict=True))
    try:
        messages = _messages(
            [
                {"role": "user", "content": obj.pop(mapping.prompt)},
                {"role": "assistant", "content": obj.pop(mapping.response)},
            ],
            "role",
            "content",
        )
        return _csv_parsed(line, messages, obj, mapping, limits)
    except RecordError as exc:
        return Rejected(line, str(exc))


@dataclass
class _CsvGroup:
    """The rows of one conversation being collected; once it is refused its rows are no longer kept."""

    key: str
    line: int
    rows: list[dict[str, str]] = field(default_factory=list)
    chars: int = 0
    error: Rejected | None = None


def _csv_conversations(
    rows: Iterator[tuple[int, list[str]]], header: list[str], mapping: CsvMapping, limits: ImportLimits
) -> Iterator[Record]:
    key_index = header.index(mapping.conversation or "")
    group: _CsvGroup | None = None
    for line, row in rows:
        # A ragged row belongs to the conversation its key names, if it has one, else to the current one.
        key = row[key_index] if key_index < len(row) else (group.key if group else "")
        if group is None or key != group.key:
            if group is not None:
                yield _csv_group_record(group, mapping, limits)
            group = _CsvGroup(key=key, line=line)
        ragged = _ragged(row, header)
        if ragged and group.error is None:
            group.error = Rejected(line, ragged)
        if group.error is not None:
            group.rows.clear()
            continue
        record = dict(zip(header, row, strict=True))
        group.chars += len(record[mapping.content])
        if group.chars > limits.max_conversation_chars:
            group.rows.clear()
            group.error = Rejected(
                group.line,
                f"conversation has more than {limits.max_conversation_chars} characters; "
                f"the limit is {limits.max_conversation_chars} (--max-conversation-chars)",
            )
            continue
        group.rows.append(record)
    if group is not None:
        yield _csv_group_record(group, mapping, limits)


def _csv_group_record(group: _CsvGroup, mapping: CsvMapping, limits: ImportLimits) -> Record:
    if group.error is not None:
        return group.error
    try:
        messages = _messages(
            [{"role": r[mapping.role], "content": r[mapping.content]} for r in group.rows], "role", "content"
        )
        used = {mapping.role, mapping.content, mapping.conversation}
        obj = {k: v for k, v in group.rows[0].items() if k not in used}
        obj.setdefault("id", group.key)
        return _csv_parsed(group.line, messages, obj, mapping, limits)
    except RecordError as exc:
        return Rejected(group.line, str(exc))


def _csv_parsed(
    line: int, messages: list[dict[str, str]], obj: dict[str, Any], mapping: CsvMapping, limits: ImportLimits
) -> ParsedConversation:
    digest = content_hash(messages)
    model = obj.pop(mapping.model, "") if mapping.model else ""
    explicit = obj.pop(mapping.id, None) if mapping.id else obj.pop("id", None)
    record = ParsedConversation(
        line=line,
        external_id=str(explicit) if explicit else digest,
        source="csv",
        messages=messages,
        model=str(model or ""),
        metadata=obj,
        content_hash=digest,
    )
    check_record(record, limits)
    return record


def iter_records(
    path: str | Path,
    fmt: str = "auto",
    *,
    hh_both: bool = False,
    csv_mapping: CsvMapping | None = None,
    limits: ImportLimits | None = None,
) -> Iterator[Record]:
    """Yield every record of ``path`` in order. Raises ``ImportFileError`` for whole-file problems."""
    path = Path(path)
    limits = limits or ImportLimits()
    if fmt not in FORMATS:
        raise ImportFileError(path, None, f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not path.exists():
        raise ImportFileError(path, None, "file does not exist")
    if fmt == "auto":
        fmt = detect_format(path, limits)
    if fmt == "csv":
        yield from iter_csv(path, csv_mapping or CsvMapping(), limits)
    else:
        yield from iter_jsonl(path, fmt, hh_both=hh_both, limits=limits)
