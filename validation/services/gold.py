"""Writes for gold sets: made from the reviews of a run, imported from a team's own file, frozen.

A gold set is versioned by name: each creation or import under a name makes the next version. Sets are frozen
when made (``freeze=False`` keeps a draft, frozen later by :func:`gold_set_freeze`); a frozen set never changes
(the models refuse it too: ``GoldSetFrozenError``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from annotate import selectors as annotate_selectors
from corpus.models import Conversation, Dataset
from corpus.versions import version_create
from extraction.features import ALL_FEATURES
from extraction.models import ExtractionRun
from validation.models import GoldLabel, GoldLabelSource, GoldSet, GoldSetFrozenError, GoldSetOrigin, GoldSetStatus
from validation.scoring import norm_labels

GOLD_FEATURES = tuple(f for f in ALL_FEATURES if f != "task")  # task is a free-text summary: no gold label
CSV_COLUMNS = ("conversation", "feature", "labels", "level", "source", "n_reviews")
CSV_SEPARATOR = "|"  # between the values of a value set in a CSV cell (values never hold it: they are short phrases)


class GoldSetError(ValueError):
    """A gold set that cannot be made as asked (unknown run, bad file line, nothing to take)."""


def _user(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or "@" in name or len(name) > 100:
        raise GoldSetError(f"gold set name {name!r} must be 1-100 characters without '@'")
    return name


@transaction.atomic
def gold_set_create_from_reviews(
    *,
    name: str,
    run_id: int,
    features: Sequence[str] | None = None,
    description: str = "",
    freeze: bool = True,
    user: Any = None,
) -> GoldSet:
    """A new version of gold set ``name`` from the reviews of the conversations sampled for review in run
    ``run_id``: per conversation and feature the adjudicated labels, else those a strict majority of reviewers
    accepted or corrected to. Pairs without a majority are left out and counted in ``params["left_out"]``."""
    run = ExtractionRun.objects.filter(pk=run_id).first()
    if run is None:
        raise GoldSetError(f"no extraction run with id {run_id}")
    wanted = list(features or GOLD_FEATURES)
    unknown = sorted(set(wanted) - set(GOLD_FEATURES))
    if unknown:
        raise GoldSetError(f"cannot make gold labels for {unknown}; choose among {', '.join(GOLD_FEATURES)}")
    gold = annotate_selectors.gold_labels(run_id=run_id, features=wanted)
    reviewed = annotate_selectors.reviewed_pairs(run_id=run_id, features=wanted) | set(gold)
    if not gold:
        raise GoldSetError(f"run {run_id} has no adjudicated output and none with a strict majority of reviewers")
    name = _check_name(name)
    gold_set, _ = version_create(
        GoldSet,
        name=name,
        origin=GoldSetOrigin.REVIEWS,
        dataset_id=run.dataset_id,
        run=run,
        description=description,
        created_by=_user(user),
        params={
            "rule": "adjudicated labels, else the labels a strict majority of reviewers accepted or corrected to",
            "features": wanted,
            "taken": {f: sum(1 for (_, g) in gold if g == f) for f in wanted},
            "adjudicated": {
                f: sum(1 for (_, g), lb in gold.items() if g == f and lb.source == "adjudicated") for f in wanted
            },
            "left_out": {f: sum(1 for (_, g) in reviewed - set(gold) if g == f) for f in wanted},
        },
    )
    GoldLabel.objects.bulk_create(
        GoldLabel(
            gold_set=gold_set,
            conversation_id=conversation_id,
            feature=feature,
            labels=list(norm_labels(g.labels)),  # normalised as the scoring normalises the outputs
            level=g.level,
            source=g.source,
            n_reviews=g.n_reviews,
        )
        for (conversation_id, feature), g in sorted(gold.items())
    )
    return gold_set_freeze(gold_set_id=gold_set.pk) if freeze else gold_set


def gold_set_freeze(*, gold_set_id: int) -> GoldSet:
    """Freeze a draft gold set; freezing a frozen set is refused (it already never changes)."""
    with transaction.atomic():
        gold_set = GoldSet.objects.select_for_update().get(pk=gold_set_id)
        if gold_set.status == GoldSetStatus.FROZEN:
            raise GoldSetFrozenError(f"gold set {gold_set} is already frozen")
        if not gold_set.labels.exists():
            raise GoldSetError(f"gold set {gold_set} has no labels to freeze")
        gold_set.status = GoldSetStatus.FROZEN
        gold_set.frozen_at = timezone.now()
        gold_set.save(update_fields=["status", "frozen_at"])
    return gold_set


def _row_labels(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        parts = value.split(CSV_SEPARATOR) if value.strip() else []
    elif isinstance(value, list):
        parts = [str(v) for v in value]
    else:
        raise GoldSetError(f"{where}: labels must be a list (JSONL) or '{CSV_SEPARATOR}'-separated text (CSV)")
    return list(norm_labels(parts))


def _row_level(value: Any, where: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        level = int(value)
    except (TypeError, ValueError):
        raise GoldSetError(f"{where}: level must be 1-4 or empty, got {value!r}") from None
    if not 1 <= level <= 4:
        raise GoldSetError(f"{where}: level must be 1-4 or empty, got {level}")
    return level


@transaction.atomic
def gold_set_import(
    *,
    name: str,
    dataset_id: int,
    rows: Iterable[tuple[str, Mapping[str, Any]]],
    description: str = "",
    user: Any = None,
) -> GoldSet:
    """A new version of gold set ``name`` from a team's own ground truth: ``rows`` are (where, row) pairs, each
    row with ``conversation`` (the conversation's external id in the dataset), ``feature``, ``labels`` and
    optionally ``level``. Labels are normalised; the source of every label is "imported". Nothing is written
    when a row is wrong: the error names the row (``where``, e.g. file:line) and the field."""
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        raise GoldSetError(f"no dataset with id {dataset_id}")
    ids = dict(Conversation.objects.filter(dataset=dataset).values_list("external_id", "pk"))
    labels: dict[tuple[int, str], GoldLabel] = {}
    for where, row in rows:
        for key in ("conversation", "feature", "labels"):
            if key not in row:
                raise GoldSetError(f"{where}: missing field {key!r}")
        conversation_id = ids.get(str(row["conversation"]))
        if conversation_id is None:
            raise GoldSetError(f"{where}: conversation {row['conversation']!r} is not in dataset {dataset.name!r}")
        feature = str(row["feature"])
        if feature not in GOLD_FEATURES:
            raise GoldSetError(f"{where}: feature {feature!r} is not one of {', '.join(GOLD_FEATURES)}")
        if (conversation_id, feature) in labels:
            raise GoldSetError(f"{where}: conversation {row['conversation']!r} has {feature} twice")
        labels[(conversation_id, feature)] = GoldLabel(
            conversation_id=conversation_id,
            feature=feature,
            labels=_row_labels(row["labels"], where),
            level=_row_level(row.get("level"), where),
            source=GoldLabelSource.IMPORTED,
        )
    if not labels:
        raise GoldSetError("the import holds no gold label")
    name = _check_name(name)
    gold_set, _ = version_create(
        GoldSet,
        name=name,
        origin=GoldSetOrigin.IMPORTED,
        dataset=dataset,
        description=description,
        created_by=_user(user),
        params={"rule": "imported", "features": sorted({f for _, f in labels}), "left_out": {}},
    )
    for label in labels.values():
        label.gold_set = gold_set
    GoldLabel.objects.bulk_create(labels.values())
    return gold_set_freeze(gold_set_id=gold_set.pk)


def gold_rows_read(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """Rows of a gold-set file, JSONL (``.jsonl``) or CSV (``.csv``, columns as in ``CSV_COLUMNS``), each with
    its place ``file:line`` for error messages."""
    p = Path(path)
    if not p.is_file():
        raise GoldSetError(f"{p}: no such file")
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = {"conversation", "feature", "labels"} - set(reader.fieldnames or [])
        if missing:
            raise GoldSetError(f"{p}:1: the header lacks {sorted(missing)}")
        return [(f"{p}:{n}", dict(row)) for n, row in enumerate(reader, start=2)]
    if p.suffix.lower() not in (".jsonl", ".json"):
        raise GoldSetError(f"{p}: use a .jsonl or .csv file")
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldSetError(f"{p}:{n}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise GoldSetError(f"{p}:{n}: each line must be a JSON object")
        rows.append((f"{p}:{n}", row))
    return rows
