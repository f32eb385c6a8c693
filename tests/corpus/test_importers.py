"""The readers in corpus.importers: every format, auto-detection, gzip, and bad records."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from corpus.importers import (
    CsvMapping,
    ImportFileError,
    ParsedConversation,
    Rejected,
    detect_format,
    iter_records,
    parse_hh_transcript,
)


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def good(records: list[ParsedConversation | Rejected]) -> list[ParsedConversation]:
    assert all(isinstance(r, ParsedConversation) for r in records), records
    return [r for r in records if isinstance(r, ParsedConversation)]


OPENAI = {"id": "c1", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
SHAREGPT = {"id": "s1", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}
WILDCHAT = {
    "conversation_hash": "abc",
    "model": "gpt-4-0314",
    "turn": 1,
    "conversation": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
}
HH = {
    "chosen": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Bye\n\nAssistant: Bye!",
    "rejected": "\n\nHuman: Hi\n\nAssistant: No.",
}


@pytest.mark.parametrize(
    ("row", "fmt"), [(OPENAI, "openai"), (SHAREGPT, "sharegpt"), (WILDCHAT, "wildchat"), (HH, "hh")]
)
def test_detects_each_format(tmp_path: Path, row: dict[str, object], fmt: str) -> None:
    assert detect_format(write_jsonl(tmp_path / "in.jsonl", [row])) == fmt


def test_openai_and_conversation_key(tmp_path: Path) -> None:
    alt = {"conversation": OPENAI["messages"]}
    records = good(list(iter_records(write_jsonl(tmp_path / "a.jsonl", [OPENAI, alt]))))
    assert records[0].external_id == "c1"
    assert records[0].messages == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    # Without an id, the external id is the content hash (so re-import is idempotent).
    assert records[1].external_id == records[1].content_hash == records[0].content_hash


def test_sharegpt_roles_are_normalised(tmp_path: Path) -> None:
    (record,) = good(list(iter_records(write_jsonl(tmp_path / "s.jsonl", [SHAREGPT]))))
    assert [m["role"] for m in record.messages] == ["user", "assistant"]
    assert record.source == "sharegpt"


def test_wildchat_keeps_model_and_metadata(tmp_path: Path) -> None:
    (record,) = good(list(iter_records(write_jsonl(tmp_path / "w.jsonl", [WILDCHAT]))))
    assert record.model == "gpt-4-0314"
    assert record.external_id == "abc"
    assert record.metadata == {"turn": 1}


def test_hh_chosen_by_default_and_both_sides_linked(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "h.jsonl", [HH])
    (chosen,) = good(list(iter_records(path)))
    assert [m["content"] for m in chosen.messages] == ["Hi", "Hello", "Bye", "Bye!"]
    assert chosen.metadata == {"side": "chosen"}
    both = good(list(iter_records(path, "hh", hh_both=True)))
    assert [r.metadata["side"] for r in both] == ["chosen", "rejected"]
    assert both[0].pair_key == both[1].pair_key is not None
    assert both[0].external_id == chosen.external_id  # importing both later keeps chosen a duplicate


def test_gzip_is_read_transparently_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"  # gzip content without a .gz name
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(OPENAI) + "\n")
    assert good(list(iter_records(path)))[0].external_id == "c1"


def test_hh_transcript_split_keeps_empty_last_turn() -> None:
    messages = parse_hh_transcript("\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant:")
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[-1]["content"] == ""


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"messages": [{"role": "user", "content": "Hi"}', "broken JSON"),
        ('{"messages": [{"role": "wizard", "content": "Hi"}]}', "unknown role 'wizard'"),
        ('{"messages": []}', "empty conversation"),
        ('{"messages": [{"role": "user", "content": "  "}]}', "empty conversation"),
        ('{"messages": [{"role": "user", "content": 3}]}', "no text"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_records_are_rejected_with_line_and_reason(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(OPENAI) + "\n" + line + "\n", encoding="utf-8")
    records = list(iter_records(path, "openai"))
    assert isinstance(records[0], ParsedConversation)
    assert isinstance(records[1], Rejected)
    assert records[1].line == 2
    assert reason in records[1].reason


def test_invalid_utf8_is_rejected_with_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(json.dumps(OPENAI).encode() + b"\n" + b'{"messages": "\xff\xfe"}\n')
    records = list(iter_records(path, "openai"))
    assert isinstance(records[1], Rejected)
    assert (records[1].line, records[1].reason.startswith("invalid UTF-8")) == (2, True)


def test_missing_file_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="does not exist"):
        list(iter_records(tmp_path / "nope.jsonl"))


def test_undetectable_format_names_the_keys(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match=r"in.jsonl:1: cannot detect the format from keys \(foo\)"):
        list(iter_records(write_jsonl(tmp_path / "in.jsonl", [{"foo": 1}])))


def test_csv_one_row_per_message(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "conv,who,text,llm\nA,user,Hi,m1\nA,assistant,Hello,m1\nB,user,Yo,m2\nB,assistant,Hey,m2\n", encoding="utf-8"
    )
    mapping = CsvMapping(conversation="conv", role="who", content="text", model="llm")
    records = good(list(iter_records(path, csv_mapping=mapping)))
    assert [(r.external_id, r.model, len(r.messages)) for r in records] == [("A", "m1", 2), ("B", "m2", 2)]
    assert records[1].line == 4


def test_csv_one_exchange_per_row(tmp_path: Path) -> None:
    path = tmp_path / "e.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write('prompt,response,id\n"Hi, you","Hello, ""friend""",x1\n')
    (record,) = good(list(iter_records(path)))
    assert record.external_id == "x1"
    assert record.messages[1]["content"] == 'Hello, "friend"'


def test_csv_missing_column_names_it(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("question,answer\nHi,Hello\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"e.csv:1: missing column\(s\) prompt, response"):
        list(iter_records(path))
