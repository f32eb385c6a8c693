"""`manage.py import_conversations`: summaries, idempotency, atomicity, and every bad input of the issue."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from corpus.models import Conversation, Dataset
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.django_db

GOOD = {"id": "c1", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
GOOD2 = {"id": "c2", "messages": [{"role": "user", "content": "Why?"}, {"role": "assistant", "content": "Because."}]}


def run(*args: str, **opts: object) -> str:
    out = StringIO()
    call_command("import_conversations", *args, stdout=out, no_progress=True, **opts)
    return out.getvalue()


def jsonl(path: Path, *lines: str | bytes) -> Path:
    data = b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)
    path.write_bytes(data)
    return path


def test_import_then_reimport_is_idempotent(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", json.dumps(GOOD), json.dumps(GOOD2))
    assert "imported 2, duplicates skipped 0, rejected 0" in run(str(path), dataset="d")
    assert "imported 0, duplicates skipped 2, rejected 0" in run(str(path), dataset="d")
    assert Conversation.objects.count() == 2
    conv = Conversation.objects.get(external_id="c1")
    assert (conv.turn_count, conv.source, conv.dataset.name) == (2, "openai", "d")


def test_duplicate_lines_within_a_file_are_counted_once(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", json.dumps(GOOD), json.dumps(GOOD))
    assert "imported 1, duplicates skipped 1" in run(str(path), dataset="d")


BAD_INPUTS = {
    "broken_json": (b'{"messages": [', "broken JSON"),
    "unknown_role": (b'{"messages": [{"role": "robot", "content": "x"}]}', "unknown role 'robot'"),
    "empty_conversation": (b'{"messages": []}', "empty conversation"),
    "invalid_utf8": (b'{"messages": [{"role": "user", "content": "\xff"}]}', "invalid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_line_aborts_with_file_and_line_and_writes_nothing(tmp_path: Path, case: str) -> None:
    bad, reason = BAD_INPUTS[case]
    path = jsonl(tmp_path / f"{case}.jsonl", json.dumps(GOOD), json.dumps(GOOD2), bad)
    with pytest.raises(CommandError) as info:
        run(str(path), dataset="d", fmt="openai")
    assert f"{path}:3: " in str(info.value)
    assert reason in str(info.value)
    assert Conversation.objects.count() == 0
    assert not Dataset.objects.exists()


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_skip_invalid_imports_the_good_and_lists_the_bad(tmp_path: Path, case: str) -> None:
    bad, reason = BAD_INPUTS[case]
    path = jsonl(tmp_path / f"{case}.jsonl", json.dumps(GOOD), bad, json.dumps(GOOD2))
    out = run(str(path), dataset="d", fmt="openai", skip_invalid=True)
    assert "imported 2, duplicates skipped 0, rejected 1" in out
    assert re.search(rf"rejected {re.escape(str(path))}:2: .*{re.escape(reason)}", out)
    assert set(Conversation.objects.values_list("external_id", flat=True)) == {"c1", "c2"}


def test_missing_column_aborts_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("question,answer\nHi,Hello\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"x.csv:1: missing column\(s\) prompt, response"):
        run(str(path), dataset="d")
    assert not Dataset.objects.exists()


def test_missing_file_aborts(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"nope.jsonl: file does not exist"):
        run(str(tmp_path / "nope.jsonl"), dataset="d")
    assert not Dataset.objects.exists()


def test_existing_data_is_untouched_by_a_failed_import(tmp_path: Path) -> None:
    run(str(jsonl(tmp_path / "ok.jsonl", json.dumps(GOOD))), dataset="d")
    with pytest.raises(CommandError):
        run(str(jsonl(tmp_path / "bad.jsonl", json.dumps(GOOD2), b"{")), dataset="d")
    assert list(Conversation.objects.values_list("external_id", flat=True)) == ["c1"]


def test_cli_exit_status_and_message(tmp_path: Path) -> None:
    """The real process: non-zero exit, one clear line naming file and line, no traceback."""
    path = jsonl(tmp_path / "bad.jsonl", json.dumps(GOOD), b"{oops")
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=REPO_ROOT, env=env, check=True)
    proc = subprocess.run(
        [*manage, "import_conversations", str(path), "--dataset", "cli", "--no-progress"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 1
    assert f"{path}:2: broken JSON" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_hh_rlhf_acceptance(shared_data: Path) -> None:
    """2,312 conversations with matching turn counts; re-import 0 / 2,312 duplicates; both sides 4,624 linked."""
    path = shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz"
    assert "imported 2312, duplicates skipped 0, rejected 0" in run(str(path), dataset="hh")
    assert "imported 0, duplicates skipped 2312, rejected 0" in run(str(path), dataset="hh")

    with gzip.open(path, "rt", encoding="utf-8") as fh:
        expected = sorted(len(re.findall(r"\n\n(?:Human|Assistant):", json.loads(line)["chosen"])) for line in fh)
    assert sorted(Conversation.objects.filter(dataset__name="hh").values_list("turn_count", flat=True)) == expected

    out = run(str(path), dataset="hh-both", fmt="hh", both_sides=True)
    assert "imported 4624, duplicates skipped 0, rejected 0, pairs linked 2312" in out
    both = Conversation.objects.filter(dataset__name="hh-both")
    assert both.count() == 4624
    assert both.filter(paired_with__isnull=True).count() == 0
    a = both.filter(metadata__side="rejected").first()
    assert a is not None
    assert a.paired_with is not None
    assert a.paired_with.metadata["side"] == "chosen"
    assert a.paired_with.paired_with_id == a.pk
