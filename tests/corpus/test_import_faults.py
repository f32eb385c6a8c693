"""Hostile and broken import files: each is refused with ``file:line: reason``, or kept under a stated rule.

Every test here names a row of the README table "Faults and bad input". They run on SQLite and on
PostgreSQL (``DATABASE_URL``): the importers validate before the database sees a record, so both
databases behave the same.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import tracemalloc
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from corpus import services
from corpus.importers import ImportFileError, ImportLimits, ParsedConversation, Rejected, iter_records
from corpus.models import Conversation, Dataset
from tests.conftest import REPO_ROOT, session_database_url

GOOD = {"id": "c1", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
GOOD2 = {"id": "c2", "messages": [{"role": "user", "content": "Why?"}, {"role": "assistant", "content": "Because."}]}
BOMB_LINE_BYTES = 200 * 1024 * 1024


def run(*args: str, **opts: object) -> str:
    out = StringIO()
    call_command("import_conversations", *args, stdout=out, no_progress=True, **opts)
    return out.getvalue()


def jsonl(path: Path, *rows: object) -> Path:
    lines = [r if isinstance(r, bytes) else json.dumps(r).encode() for r in rows]
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def conversation(cid: object, text: str = "Hi", **extra: object) -> dict[str, object]:
    return {"id": cid, "messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}], **extra}


def imported_ids() -> set[str]:
    return set(Conversation.objects.values_list("external_id", flat=True))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 200 KB of gzip that expands to one 200 MB JSON line (finding 2 of the reliability audit)."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.jsonl.gz"
    chunk = b"a" * (1024 * 1024)
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(b'{"id": "big", "messages": [{"role": "user", "content": "')
        for _ in range(BOMB_LINE_BYTES // len(chunk)):
            fh.write(chunk)
        fh.write(b'"}]}\n')
    assert path.stat().st_size < 300 * 1024
    return path


# --- Size policy (finding 2) -------------------------------------------------------------------------


def test_a_gzip_bomb_line_is_refused_in_bounded_memory(bomb: Path) -> None:
    """The reader keeps at most one line of ``max_line_bytes`` in memory, whatever the line's real length."""
    limits = ImportLimits()
    tracemalloc.start()
    try:
        records = list(iter_records(bomb, "openai", limits=limits))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert records == [Rejected(1, f"line longer than {limits.max_line_bytes} bytes (--max-line-bytes)")]
    assert peak < 3 * limits.max_line_bytes
    assert peak < BOMB_LINE_BYTES / 5


@pytest.mark.django_db
def test_message_and_conversation_limits_reject_with_line(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "big.jsonl",
        conversation("short"),
        conversation("long-message", "x" * 101),
        {"id": "long-conversation", "messages": [{"role": "user", "content": "y" * 60}] * 3},
    )
    out = run(str(path), dataset="d", skip_invalid=True, max_message_chars=100, max_conversation_chars=150)
    assert "imported 1, duplicates skipped 0, rejected 2" in out
    assert f"{path}:2: message 0 has 101 characters; the limit is 100 (--max-message-chars)" in out
    assert f"{path}:3: conversation has 180 characters; the limit is 150 (--max-conversation-chars)" in out
    assert imported_ids() == {"short"}


@pytest.mark.django_db
def test_limits_come_from_settings_and_flags_override_them(tmp_path: Path, settings: object) -> None:
    settings.IMPORT_MAX_LINE_BYTES = 50  # type: ignore[attr-defined]
    path = jsonl(tmp_path / "a.jsonl", GOOD)
    with pytest.raises(CommandError, match=re.escape(f"{path}:1: line longer than 50 bytes")):
        run(str(path), dataset="d", fmt="openai")
    assert "imported 1" in run(str(path), dataset="d", fmt="openai", max_line_bytes=1000)


def test_the_settings_defaults_are_the_stated_policy() -> None:
    assert services.import_limits() == ImportLimits() == ImportLimits(8 * 1024 * 1024, 500_000, 1_000_000)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_line_bytes must be a positive integer"):
        ImportLimits(max_line_bytes=0)


# --- Ragged CSV rows (finding 3) ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("row", ["hi,ho,extra", "hi"])
def test_a_ragged_csv_row_is_an_error_not_a_shifted_import(tmp_path: Path, row: str) -> None:
    path = tmp_path / "x.csv"
    path.write_text(f"prompt,response\nok,fine\n{row}\n", encoding="utf-8")
    fields = row.count(",") + 1
    with pytest.raises(CommandError, match=re.escape(f"{path}:3: row has {fields} fields; the header has 2")):
        run(str(path), dataset="d")
    assert not Dataset.objects.exists()
    out = run(str(path), dataset="d", skip_invalid=True)
    assert "imported 1, duplicates skipped 0, rejected 1" in out
    assert [c.messages[0]["content"] for c in Conversation.objects.all()] == ["ok"]


def test_a_ragged_row_rejects_the_whole_conversation_it_belongs_to(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("conv,role,content\nA,user,Hi\nA,assistant,Hello,extra\nB,user,Yo\nB,assistant,Hey\n")
    from corpus.importers import CsvMapping

    records = list(iter_records(path, csv_mapping=CsvMapping(conversation="conv")))
    assert records[0] == Rejected(3, "row has 4 fields; the header has 3")
    assert isinstance(records[1], ParsedConversation)
    assert (records[1].external_id, records[1].line, len(records)) == ("B", 4, 2)


def test_csv_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text('prompt,response\n"two\nlines",ok\nbad\n', encoding="utf-8")
    records = list(iter_records(path))
    assert isinstance(records[0], ParsedConversation)
    assert records[0].messages[0]["content"] == "two\nlines"
    assert records[1] == Rejected(4, "row has 1 fields; the header has 2")


def test_duplicate_csv_columns_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("prompt,prompt,response\na,b,c\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"d.csv:1: duplicate column\(s\) prompt"):
        list(iter_records(path))


# --- Field lengths and characters, the same on every database (finding 4) ----------------------------

BAD_FIELDS = {
    "id_too_long": (conversation("i" * 256), "id is 256 characters long; the limit is 255"),
    "model_too_long": (conversation("m", model="m" * 201), "model is 201 characters long; the limit is 200"),
    "nul_in_content": (conversation("n", "a\u0000b"), "message 0 contains a NUL character (\\u0000)"),
    "nul_in_metadata_key": (conversation("k", extra={"a\u0000": 1}), "metadata contains a NUL character"),
    "nul_in_id": (conversation("a\u0000"), "id contains a NUL character"),
    "lone_surrogate": (conversation("s", "\ud800"), "message 0 contains an unpaired surrogate (\\ud800)"),
    "id_is_a_list": (conversation(["x"]), "id is a list, expected a string or an integer"),
    "model_is_an_object": (conversation("o", model={"a": 1}), "model is a dict, expected a string"),
    "nan_in_metadata": (b'{"id": "nan", "x": NaN, "messages": [{"role": "user", "content": "Hi"}]}', "NaN"),
    "infinite_number": (b'{"id": "inf", "x": 1e999, "messages": [{"role": "user", "content": "Hi"}]}', "1e999"),
    "deep_metadata": (conversation("deep", extra=json.loads("[" * 200 + "]" * 200)), "nested deeper than 64"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(BAD_FIELDS))
def test_unstorable_fields_are_refused_with_line_and_skip_invalid_keeps_the_good(tmp_path: Path, case: str) -> None:
    bad, reason = BAD_FIELDS[case]
    path = jsonl(tmp_path / f"{case}.jsonl", GOOD, bad, GOOD2)
    with pytest.raises(CommandError) as info:
        run(str(path), dataset="d", fmt="openai")
    assert f"{path}:2: " in str(info.value)
    assert reason in str(info.value)
    assert "\n" not in str(info.value)
    assert not Dataset.objects.exists()
    out = run(str(path), dataset="d", fmt="openai", skip_invalid=True)
    assert "imported 2, duplicates skipped 0, rejected 1" in out
    assert imported_ids() == {"c1", "c2"}


@pytest.mark.django_db
def test_the_longest_storable_fields_are_stored(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "edge.jsonl", conversation("i" * 255, model="m" * 200))
    assert "imported 1" in run(str(path), dataset="n" * 100)
    stored = Conversation.objects.get()
    assert (len(stored.external_id), len(stored.model), len(stored.dataset.name)) == (255, 200, 100)


@pytest.mark.django_db
def test_a_dataset_name_over_100_characters_is_refused(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", GOOD)
    with pytest.raises(CommandError, match="dataset name is 101 characters long; the limit is 100"):
        run(str(path), dataset="n" * 101)
    assert not Dataset.objects.exists()


def test_the_limits_are_the_models_own() -> None:
    from corpus import reading

    assert Conversation._meta.get_field("external_id").max_length == reading.MAX_ID_CHARS == 255
    assert Conversation._meta.get_field("model").max_length == reading.MAX_MODEL_CHARS == 200
    assert Dataset._meta.get_field("name").max_length == reading.MAX_DATASET_NAME_CHARS == 100


# --- Deep JSON and broken gzip (finding 5, import half) ------------------------------------------------


def broken_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = json.dumps(GOOD).encode() + b"\n"
    deep = tmp_path / "deep.jsonl"
    deep.write_bytes(good + b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n")
    truncated = tmp_path / "truncated.jsonl.gz"
    lines = b"".join(json.dumps(conversation(f"c{i}", f"text {i}")).encode() + b"\n" for i in range(2000))
    truncated.write_bytes(gzip.compress(lines)[:-100])
    junk = tmp_path / "junk.jsonl.gz"
    junk.write_bytes(gzip.compress(good) + b"junk after the stream")
    return {
        "deep_json": (deep, f"{deep}:2: JSON nested deeper than 64 levels"),
        "truncated_gzip": (truncated, f"{truncated}:"),
        "junk_after_gzip": (junk, f"{junk}:2: junk after the end of the gzip stream"),
    }


BROKEN_REASONS = {
    "deep_json": "JSON nested deeper than 64 levels",
    "truncated_gzip": ": the gzip data ends early (truncated file?)",
    "junk_after_gzip": "junk after the end of the gzip stream",
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["deep_json", "truncated_gzip", "junk_after_gzip"])
def test_deep_json_and_broken_gzip_end_with_one_line_and_write_nothing(tmp_path: Path, case: str) -> None:
    path, message = broken_files(tmp_path)[case]
    with pytest.raises(CommandError) as info:
        run(str(path), dataset="d", fmt="openai")
    assert str(info.value).startswith(message)
    assert BROKEN_REASONS[case] in str(info.value)
    assert "\n" not in str(info.value)
    assert not Dataset.objects.exists()


@pytest.mark.django_db
def test_deep_json_is_skipped_by_skip_invalid(tmp_path: Path) -> None:
    path, _ = broken_files(tmp_path)["deep_json"]
    assert "imported 1, duplicates skipped 0, rejected 1" in run(str(path), dataset="d", skip_invalid=True)


# Runs manage.py in a fresh process and writes its own peak resident memory (VmHWM) at exit. getrusage cannot tell:
# a child's ru_maxrss starts from the parent's peak at fork, and the test process may be large.
MEASURED = (
    "import atexit, re, runpy, sys\n"
    "out = sys.argv.pop(1)\n"
    "def peak():\n"
    "    status = open('/proc/self/status').read()\n"
    "    open(out, 'w').write(re.search(r'VmHWM:\\s+(\\d+)', status).group(1))\n"
    "atexit.register(peak)\n"
    "runpy.run_path('manage.py', run_name='__main__')\n"
)


def run_measured(args: list[str], *, env: dict[str, str], tmp_path: Path) -> tuple[int, str, int]:
    """Run ``manage.py ARGS`` to its end: exit status, stderr and the process's own peak resident memory (KiB)."""
    peak = tmp_path / "peak"
    proc = subprocess.run(
        [sys.executable, "-c", MEASURED, str(peak), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stderr, int(peak.read_text())


@pytest.mark.slow
@pytest.mark.django_db
def test_cli_answers_each_broken_file_with_one_line_and_no_traceback(tmp_path: Path, bomb: Path) -> None:
    """The real process: exit status 1, one line ``file:line: reason`` on stderr, bounded memory.

    It runs on this session's test database (nothing is written, so the test's transaction does not matter).
    """
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": session_database_url(),
    }
    broken = broken_files(tmp_path)
    cases = {
        "bomb": (bomb, f"{bomb}:1: line longer than 8388608 bytes"),
        "deep_json": broken["deep_json"],
        "truncated_gzip": broken["truncated_gzip"],
    }
    for case, (path, message) in cases.items():
        status, stderr, peak_kib = run_measured(
            ["import_conversations", str(path), "--dataset", "cli", "--no-progress"], env=env, tmp_path=tmp_path
        )
        assert status == 1, case
        assert stderr.startswith(f"CommandError: {message}"), (case, stderr)
        assert stderr.count("\n") == 1, (case, stderr)
        assert peak_kib < 400 * 1024, (case, peak_kib)
    assert not Dataset.objects.exists()


# --- Same id, different conversations (finding 6) ----------------------------------------------------


@pytest.mark.django_db
def test_two_different_conversations_with_one_id_are_an_error(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", conversation("c1", "first"), GOOD2, conversation("c1", "second"))
    with pytest.raises(CommandError, match=re.escape(f"{path}:3: id 'c1' is already taken by line 1")):
        run(str(path), dataset="d")
    assert not Dataset.objects.exists()
    out = run(str(path), dataset="d", skip_invalid=True)
    assert "imported 2, duplicates skipped 0, rejected 1" in out
    assert Conversation.objects.get(external_id="c1").messages[0]["content"] == "first"


@pytest.mark.django_db
def test_an_id_clash_across_batches_and_imports_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    path = jsonl(tmp_path / "a.jsonl", conversation("c1", "first"), GOOD2, conversation("c1", "second"))
    with pytest.raises(CommandError, match=re.escape(f"{path}:3: id 'c1' is already in dataset 'd'")):
        run(str(path), dataset="d")
    run(str(jsonl(tmp_path / "b.jsonl", conversation("c1", "first"))), dataset="d")
    changed = jsonl(tmp_path / "c.jsonl", conversation("c1", "changed"))
    with pytest.raises(CommandError, match=re.escape(f"{changed}:1: id 'c1' is already in dataset 'd'")):
        run(str(changed), dataset="d")


@pytest.mark.django_db
def test_true_duplicates_still_count_as_duplicates_across_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    path = jsonl(tmp_path / "a.jsonl", GOOD, GOOD2, GOOD)
    assert "imported 2, duplicates skipped 1, rejected 0" in run(str(path), dataset="d")


def test_a_csv_conversation_split_in_two_places_is_not_merged_or_dropped(tmp_path: Path) -> None:
    """Rows of a conversation must be contiguous; a second run of the same key is a second record."""
    path = tmp_path / "m.csv"
    path.write_text("conv,role,content\nA,user,Hi\nB,user,Yo\nA,assistant,Hello\n", encoding="utf-8")
    from corpus.importers import CsvMapping

    records = list(iter_records(path, csv_mapping=CsvMapping(conversation="conv")))
    assert [(r.line, r.external_id) for r in records if isinstance(r, ParsedConversation)] == [
        (2, "A"),
        (3, "B"),
        (4, "A"),
    ]
