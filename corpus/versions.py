"""Numbered versions under a name (taxonomies, gold sets): the number is taken by the database, not by a read.

A model versioned this way has ``name`` and ``version`` fields under a unique constraint. Reading the latest number
and inserting the next is a race when two writers do it at once; here the insert decides: when another writer
took the number first, the insert fails (on PostgreSQL once the other transaction has committed), is undone to its
savepoint, and the next number is read and tried. SQLite's transactions take the write lock as they begin
(``transaction_mode`` IMMEDIATE in the settings), so there the second writer reads after the first has committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction
from django.db.models import Max

M = TypeVar("M", bound=models.Model)

#: Attempts at numbering a new version when writers of the same name race for it.
VERSION_ATTEMPTS = 5


def next_version(model: type[models.Model], name: str) -> int:
    """One past the latest version of ``name`` (1 for a new name)."""
    latest = model._default_manager.filter(name=name).aggregate(v=Max("version"))["v"]
    return int(latest or 0) + 1


def version_create(
    model: type[M], *, name: str, stored: Callable[[], M | None] | None = None, **fields: Any
) -> tuple[M, bool]:
    """A new row of ``model``, version one past the latest of ``name``, and True. Call it inside the transaction
    that writes what belongs to the version.

    ``stored``: when the insert fails, whether the same piece of work was stored first by another delivery (a
    queued task delivered twice): that row is returned with False, and nothing is written.
    """
    manager = model._default_manager
    for attempt in range(VERSION_ATTEMPTS):
        version = next_version(model, name)
        try:
            with transaction.atomic():
                return manager.create(name=name, version=version, **fields), True
        except IntegrityError:
            done = stored() if stored is not None else None
            if done is not None:
                return done, False
            taken = manager.filter(name=name, version=version).exists()
            if not taken or attempt == VERSION_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
