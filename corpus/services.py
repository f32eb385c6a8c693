"""Writes of the corpus app: importing conversations.

``conversation_import`` streams a file through the readers in ``corpus.importers`` and inserts in
batches. The whole import is one transaction: a bad record aborts it and nothing is written,
unless ``skip_invalid`` is set, in which case the good records are imported and the bad ones are
returned with their line numbers. Re-import is idempotent: a conversation whose external id is
already in the dataset is counted as a duplicate and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from corpus.importers import CsvMapping, ImportFileError, ParsedConversation, Rejected, iter_records
from corpus.models import Conversation, Dataset

BATCH_SIZE = 1000


@dataclass
class ImportSummary:
    dataset: str
    path: str
    format: str
    imported: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    pairs_linked: int = 0


def conversation_import(
    *,
    path: str | Path,
    dataset: str,
    fmt: str = "auto",
    skip_invalid: bool = False,
    hh_both: bool = False,
    csv_mapping: CsvMapping | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import every conversation of ``path`` into ``dataset`` (created when new).

    Raises ``ImportFileError`` (with file and line) for a bad record unless ``skip_invalid``, and for
    problems with the whole file (missing, unreadable, missing CSV column) in every case; the
    database is then unchanged.
    """
    path = Path(path)
    summary = ImportSummary(dataset=dataset, path=str(path), format=fmt)
    with transaction.atomic():
        ds, _ = Dataset.objects.get_or_create(name=dataset)
        batch: list[ParsedConversation] = []
        for record in iter_records(path, fmt, hh_both=hh_both, csv_mapping=csv_mapping):
            if isinstance(record, Rejected):
                if not skip_invalid:
                    raise ImportFileError(path, record.line, record.reason)
                summary.rejected.append(record)
                continue
            # Flush only between lines so both sides of a pair land in the same batch.
            if len(batch) >= BATCH_SIZE and batch[-1].line != record.line:
                _flush(ds, batch, summary, on_progress)
                batch = []
            batch.append(record)
        if batch:
            _flush(ds, batch, summary, on_progress)
    return summary


def _flush(
    ds: Dataset,
    batch: list[ParsedConversation],
    summary: ImportSummary,
    on_progress: Callable[[int], None] | None,
) -> None:
    ids = {c.external_id for c in batch}
    existing = dict(Conversation.objects.filter(dataset=ds, external_id__in=ids).values_list("external_id", "id"))
    new: dict[str, Conversation] = {}
    for parsed in batch:
        if parsed.external_id in existing or parsed.external_id in new:
            summary.duplicates += 1
            continue
        new[parsed.external_id] = Conversation(
            dataset=ds,
            external_id=parsed.external_id,
            source=parsed.source,
            model=parsed.model,
            messages=parsed.messages,
            metadata=parsed.metadata,
            content_hash=parsed.content_hash,
            turn_count=len(parsed.messages),
        )
    created = Conversation.objects.bulk_create(new.values())
    summary.imported += len(created)
    pks = {**existing, **{c.external_id: c.pk for c in created}}
    summary.pairs_linked += _link_pairs(batch, pks, {c.external_id for c in created})
    if on_progress:
        on_progress(len(batch))


def _link_pairs(batch: Iterable[ParsedConversation], pks: dict[str, int], created: set[str]) -> int:
    sides: dict[str, list[str]] = {}
    for parsed in batch:
        if parsed.pair_key is not None:
            sides.setdefault(parsed.pair_key, []).append(parsed.external_id)
    updates: list[Conversation] = []
    linked = 0
    for members in sides.values():
        if len(members) != 2 or not (set(members) & created):
            continue
        a, b = (pks[m] for m in members)
        updates += [Conversation(pk=a, paired_with_id=b), Conversation(pk=b, paired_with_id=a)]
        linked += 1
    if updates:
        Conversation.objects.bulk_update(updates, ["paired_with"])
    return linked
