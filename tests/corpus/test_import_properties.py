"""Property tests: whatever bytes a file holds, every importer answers with records or its own error.

Over every format (each JSONL flavour and both CSV layouts, plain and gzip, truncated or with junk
after the stream), arbitrary bytes, deep JSON, odd encodings and lines over the limit: reading never
raises anything but ``ImportFileError``, and every record it lets through is one any database stores
as given. The import service, over the same inputs, either imports or refuses with
``ImportFileError``; under ``skip_invalid`` every line is accounted for. The output parser of the
extraction step never raises either.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from pathlib import Path

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.importers import FORMATS, CsvMapping, ImportFileError, ImportLimits, ParsedConversation, iter_records
from corpus.reading import MAX_ID_CHARS, MAX_JSON_DEPTH, MAX_MODEL_CHARS
from extraction.features import ALL_FEATURES
from extraction.parsing import ParsedOutput, parse_fused, parse_output

LIMITS = ImportLimits(max_line_bytes=2048, max_message_chars=300, max_conversation_chars=600)
# HYPOTHESIS_EXAMPLES=2000 for a longer search than CI's.
PROPERTY = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Every character, lone surrogates and NUL included (JSON escapes them, so a line carries them to the reader).
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)
roles = st.sampled_from(["user", "assistant", "human", "gpt", "system", "robot", "", "Human "]) | any_text
messages = st.lists(
    st.fixed_dictionaries({"role": roles, "content": any_text | st.text(max_size=700)}, optional={"x": json_values}),
    max_size=4,
)
records = st.fixed_dictionaries(
    {},
    optional={
        "id": any_text | st.integers() | st.text(min_size=250, max_size=260) | json_values,
        "model": any_text | st.text(min_size=195, max_size=205) | json_values,
        "messages": messages | json_values,
        "conversation": messages,
        "conversations": st.lists(st.fixed_dictionaries({"from": roles, "value": any_text}), max_size=3),
        "chosen": any_text.map(lambda t: f"\n\nHuman: {t}\n\nAssistant: ok") | any_text,
        "rejected": any_text,
        "transcript": any_text,
        "meta": json_values,
    },
)


def deep(depth: int) -> str:
    return '{"messages": [{"role": "user", "content": "x"}], "meta": ' + "[" * depth + "]" * depth + "}"


json_lines = st.one_of(
    records.map(json.dumps),
    records.map(lambda r: json.dumps(r, ensure_ascii=False)),
    st.integers(1, 5000).map(deep),
    st.integers(1, 3000).map(lambda n: "x" * n),  # over the line limit past 2,048
    st.sampled_from(["NaN", '{"messages": 1e999}', "[" * 50_000, '{"id": ' + "9" * 5000 + "}", ""]),
    any_text,
)
encodings = st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252", "utf-8-sig"])


def encode(text: str, encoding: str) -> bytes:
    """Text in an encoding; lone surrogates kept as bytes in the UTF encodings, unencodable characters replaced."""
    return text.encode(encoding, errors="surrogatepass" if encoding.startswith("utf") else "replace")


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(json_lines, max_size=6))
    text = "\n".join(lines)
    return encode(text, draw(encodings))


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    header = draw(st.sampled_from(["prompt,response", "conv,role,content", "prompt,response,id,model", "a", ""]))
    cell = any_text | st.sampled_from(['"', '""', '"a\nb"', "user", "assistant", "x" * 3000, ",,,"])
    rows = draw(st.lists(st.lists(cell, max_size=5).map(",".join), max_size=6))
    text = "\n".join([header, *rows])
    return encode(text, draw(encodings))


@st.composite
def wrapped(draw: st.DrawFn, content: st.SearchStrategy[bytes]) -> bytes:
    """The file as stored: plain, gzip, gzip cut short, or gzip followed by junk; or arbitrary bytes."""
    data = draw(content | st.binary(max_size=300))
    how = draw(st.sampled_from(["plain", "gzip", "truncated", "junk"]))
    if how == "plain":
        return data
    packed = gzip.compress(data)
    if how == "truncated":
        return packed[: draw(st.integers(0, len(packed) - 1))]
    return packed + draw(st.binary(min_size=1, max_size=20))


def check_storable(record: ParsedConversation) -> None:
    """What the database needs of a record, whichever database it is."""
    assert record.line >= 1
    assert len(record.messages) >= 1
    assert {m["role"] for m in record.messages} <= {"user", "assistant", "system"}
    assert len(record.external_id) <= MAX_ID_CHARS
    assert len(record.model) <= MAX_MODEL_CHARS
    assert sum(len(m["content"]) for m in record.messages) <= LIMITS.max_conversation_chars
    stored = json.dumps([record.external_id, record.model, record.messages, record.metadata], allow_nan=False)
    assert "\\u0000" not in stored
    stored.encode("utf-8")  # no lone surrogate survives


def read_all(data: bytes, suffix: str, fmt: str, **kwargs: object) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"in{suffix}"
        path.write_bytes(data)
        error = ""
        try:
            for record in iter_records(path, fmt, limits=LIMITS, **kwargs):  # type: ignore[arg-type]
                if isinstance(record, ParsedConversation):
                    check_storable(record)
                else:
                    assert record.line >= 1
                    assert record.reason
                    assert record.reason.isprintable()
        except ImportFileError as exc:
            error = str(exc)
        if error:
            assert error.startswith(str(path))
            assert "\n" not in error


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "csv"])
@PROPERTY
@given(data=wrapped(jsonl_files()), hh_both=st.booleans())
def test_every_jsonl_reader_answers_any_bytes_with_records_or_its_own_error(
    fmt: str, data: bytes, hh_both: bool
) -> None:
    read_all(data, ".jsonl", fmt, hh_both=hh_both)


@pytest.mark.parametrize(
    "mapping",
    [CsvMapping(), CsvMapping(conversation="conv"), CsvMapping(id="id", model="model")],
    ids=["exchange", "per-message", "id-and-model"],
)
@PROPERTY
@given(data=wrapped(csv_files()))
def test_the_csv_reader_answers_any_bytes_with_records_or_its_own_error(mapping: CsvMapping, data: bytes) -> None:
    read_all(data, ".csv", "csv", csv_mapping=mapping)
    read_all(data, ".csv", "auto", csv_mapping=mapping)


@PROPERTY
@given(depth=st.integers(MAX_JSON_DEPTH, 200_000))
def test_json_deeper_than_the_limit_is_a_rejected_line_never_a_crash(depth: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deep.jsonl"
        path.write_text(deep(depth) + "\n", encoding="utf-8")
        (record,) = iter_records(path, "openai", limits=ImportLimits(max_line_bytes=1 << 20))
    assert not isinstance(record, ParsedConversation)
    assert record.reason == f"JSON nested deeper than {MAX_JSON_DEPTH} levels"


@pytest.mark.django_db
@PROPERTY
@given(lines=st.lists(json_lines, max_size=6), skip_invalid=st.booleans())
def test_the_import_service_imports_or_refuses_and_accounts_for_every_line(
    lines: list[str], skip_invalid: bool
) -> None:
    """On SQLite and PostgreSQL alike: no database error, and imported + duplicates + rejected = records read."""
    from corpus.models import Conversation
    from corpus.services import conversation_import

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.jsonl"
        path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
        read = sum(1 for _ in iter_records(path, "openai", limits=LIMITS))
        with transaction.atomic():
            try:
                summary = conversation_import(
                    path=path, dataset="p", fmt="openai", skip_invalid=skip_invalid, limits=LIMITS
                )
            except ImportFileError:
                assert not skip_invalid  # a plain file has no whole-file fault: each bad line is rejected alone
                assert not Conversation.objects.filter(dataset__name="p").exists()
            else:
                assert summary.imported + summary.duplicates + len(summary.rejected) == read
                assert Conversation.objects.filter(dataset__name="p").count() == summary.imported
            transaction.set_rollback(True)


@PROPERTY
@given(feature=st.sampled_from([*ALL_FEATURES, "unknown"]), raw=any_text | st.text(max_size=2000))
def test_the_output_parser_never_raises(feature: str, raw: str) -> None:
    for text in (raw, f"<thinking>{raw}</thinking><answer>{raw}</answer>", f"<answer>{raw}", raw * 50):
        parsed = parse_output(feature, text)
        assert isinstance(parsed, ParsedOutput)
        assert parsed.ok or parsed.error


@PROPERTY
@given(raw=any_text | json_values.map(json.dumps) | records.map(json.dumps))
def test_the_fused_parser_never_raises(raw: str) -> None:
    for text in (raw, f"<answer>{raw}</answer>", "{" + raw):
        parsed = parse_fused(text, ALL_FEATURES)
        assert set(parsed) == set(ALL_FEATURES)
