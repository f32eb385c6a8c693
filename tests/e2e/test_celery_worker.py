"""A real Celery worker process on Redis runs a real task against the test database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from celery import Celery

from corpus.models import Conversation

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_worker_imports_a_file_end_to_end(celery_worker_process: str, tmp_path: Path) -> None:
    path = tmp_path / "convs.jsonl"
    rows = [
        {"id": f"w{i}", "messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": "A"}]}
        for i in range(5)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    # Not the current app: shared tasks elsewhere in the session must keep sending through config.celery.
    client = Celery(broker=celery_worker_process, backend=celery_worker_process, set_as_current=False)
    result = client.send_task("corpus.import_conversations", kwargs={"path": str(path), "dataset": "via-worker"})
    summary = result.get(timeout=60)

    assert summary["imported"] == 5
    assert Conversation.objects.filter(dataset__name="via-worker").count() == 5
    # Idempotent when the task runs again (e.g. redelivered after a crash).
    again = client.send_task("corpus.import_conversations", kwargs={"path": str(path), "dataset": "via-worker"})
    assert again.get(timeout=60)["duplicates"] == 5
    assert Conversation.objects.filter(dataset__name="via-worker").count() == 5
