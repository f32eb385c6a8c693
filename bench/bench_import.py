"""Import of the 2,312 hh-rlhf conversations: the streaming bulk importer against a row-by-row ORM loop.

Runs on a throwaway database (a temporary SQLite file, or BENCH_DATABASE_URL) so no real data is touched.
Usage: .venv/bin/python -m bench.bench_import
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HH = ROOT.parent / "shared" / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"
RUNS = 3


def main() -> None:
    if not HH.exists():
        print(f"skipped: {HH} is absent")
        return
    tmp = tempfile.mkdtemp(prefix="bench-import-")
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from bench.report import record
    from corpus.importers import ParsedConversation, iter_records
    from corpus.models import Conversation, Dataset
    from corpus.services import conversation_import

    call_command("migrate", verbosity=0)
    fast, slow = [], []
    for run in range(RUNS):
        start = time.perf_counter()
        summary = conversation_import(path=HH, dataset=f"fast-{run}")
        fast.append(time.perf_counter() - start)
        assert summary.imported == 2312, summary

        start = time.perf_counter()
        with transaction.atomic():
            ds = Dataset.objects.create(name=f"slow-{run}")
            for rec in iter_records(HH):
                assert isinstance(rec, ParsedConversation)
                if not Conversation.objects.filter(dataset=ds, external_id=rec.external_id).exists():
                    Conversation.objects.create(
                        dataset=ds,
                        external_id=rec.external_id,
                        source=rec.source,
                        messages=rec.messages,
                        metadata=rec.metadata,
                        content_hash=rec.content_hash,
                        turn_count=len(rec.messages),
                    )
        slow.append(time.perf_counter() - start)

    start = time.perf_counter()
    again = conversation_import(path=HH, dataset="fast-0")
    reimport = time.perf_counter() - start
    assert again.imported == 0
    assert again.duplicates == 2312

    f, s = statistics.median(fast), statistics.median(slow)
    body = (
        f"| what | median of {RUNS} | \n| --- | --- |\n"
        f"| `import_conversations` service, 2,312 hh-rlhf conversations | {f:.2f} s ({2312 / f:,.0f} conv/s) |\n"
        f"| re-import (all 2,312 duplicates) | {reimport:.2f} s |\n"
        f"| reference: row-by-row ORM `create` with an existence check | {s:.2f} s |\n"
        f"| speed-up over the reference | {s / f:.1f}x |\n\n"
        f"Database: {django.db.connection.vendor}. Acceptance: under 20 s."
    )
    print(body)
    record("Conversation import (hh-rlhf)", ".venv/bin/python -m bench.bench_import", body)


if __name__ == "__main__":
    main()
