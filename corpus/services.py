"""Writes of the corpus app: importing conversations.

``conversation_import`` streams a file through the readers in ``corpus.importers`` and inserts in
batches. The whole import is one transaction: a bad record aborts it and nothing is written,
unless ``skip_invalid`` is set, in which case the good records are imported and the bad ones are
returned with their line numbers. Re-import is idempotent: a conversation whose external id is
already in the dataset with the same messages is counted as a duplicate and skipped. The same id
with different messages (twice in one file, or in the file and the dataset) is a bad record: ids
name one conversation each, and the second one is never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from corpus.importers import CsvMapping, ImportFileError, ImportLimits, ParsedConversation, Rejected, iter_records
from corpus.models import Conversation, Dataset
from corpus.reading import RecordError, check_dataset_name

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


class ImportArgumentError(ValueError):
    """An import asked with an argument the database cannot hold (e.g. a dataset name too long)."""


def import_limits(**overrides: int | None) -> ImportLimits:
    """The size policy from settings (``IMPORT_MAX_*``), with the given non-None values instead."""
    values = {
        "max_line_bytes": settings.IMPORT_MAX_LINE_BYTES,
        "max_message_chars": settings.IMPORT_MAX_MESSAGE_CHARS,
        "max_conversation_chars": settings.IMPORT_MAX_CONVERSATION_CHARS,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ImportLimits(**values)


def conversation_import(
    *,
    path: str | Path,
    dataset: str,
    fmt: str = "auto",
    skip_invalid: bool = False,
    hh_both: bool = False,
    csv_mapping: CsvMapping | None = None,
    limits: ImportLimits | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import every conversation of ``path`` into ``dataset`` (created when new).

    Raises ``ImportFileError`` (with file and line) for a bad record unless ``skip_invalid``, and for
    problems with the whole file (missing, unreadable, broken gzip, missing CSV column) in every
    case; the database is then unchanged. Raises ``ImportArgumentError`` for a dataset name the
    database cannot hold. ``limits`` defaults to the settings (``import_limits()``).
    """
    path = Path(path)
    try:
        check_dataset_name(dataset)
    except RecordError as exc:
        raise ImportArgumentError(str(exc)) from exc
    limits = limits or import_limits()
    summary = ImportSummary(dataset=dataset, path=str(path), format=fmt)
    with transaction.atomic():
        ds, _ = Dataset.objects.get_or_create(name=dataset)
        batch: list[ParsedConversation] = []
        records = iter_records(path, fmt, hh_both=hh_both, csv_mapping=csv_mapping, limits=limits)
        for record in records:
            if isinstance(record, Rejected):
                if not skip_invalid:
                    raise ImportFileError(path, record.line, record.reason)
                summary.rejected.append(record)
                continue
            # Flush only between lines so both sides of a pair land in the same batch.
            if len(batch) >= BATCH_SIZE and batch[-1].line != record.line:
                _flush(ds, batch, summary, skip_invalid=skip_invalid, on_progress=on_progress)
                batch = []
            batch.append(record)
        if batch:
            _flush(ds, batch, summary, skip_invalid=skip_invalid, on_progress=on_progress)
    summary.rejected.sort(key=lambda r: r.line)
    return summary


def _flush(
    ds: Dataset,
    batch: list[ParsedConversation],
    summary: ImportSummary,
    *,
    skip_invalid: bool,
    on_progress: Callable[[int], None] | None,
) -> None:
    ids = {c.external_id for c in batch}
    rows = Conversation.objects.filter(dataset=ds, external_id__in=ids).values_list("external_id", "id", "content_hash")
    existing = {external_id: (pk, digest) for external_id, pk, digest in rows}
    new: dict[str, Conversation] = {}
    lines: dict[str, int] = {}
    for parsed in batch:
        clash = _id_clash(parsed, ds, existing, new, lines)
        if clash is not None:
            if not skip_invalid:
                raise ImportFileError(summary.path, clash.line, clash.reason)
            summary.rejected.append(clash)
            continue
        if parsed.external_id in existing or parsed.external_id in new:
            summary.duplicates += 1
            continue
        lines[parsed.external_id] = parsed.line
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
    pks = {**{k: pk for k, (pk, _) in existing.items()}, **{c.external_id: c.pk for c in created}}
    summary.pairs_linked += _link_pairs(batch, pks, {c.external_id for c in created})
    if on_progress:
        on_progress(len(batch))


def _id_clash(
    parsed: ParsedConversation,
    ds: Dataset,
    existing: dict[str, tuple[int, str]],
    new: dict[str, Conversation],
    lines: dict[str, int],
) -> Rejected | None:
    """A record whose id is taken by a conversation with different messages (same messages: a duplicate)."""
    eid = parsed.external_id
    if eid in new and new[eid].content_hash != parsed.content_hash:
        return Rejected(parsed.line, f"id {eid!r} is already taken by line {lines[eid]} with different messages")
    if eid in existing and existing[eid][1] != parsed.content_hash:
        return Rejected(parsed.line, f"id {eid!r} is already in dataset {ds.name!r} with different messages")
    return None


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
