"""Chunking shared by the services' bulk reads and writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

DB_CHUNK = 2000


def chunks(values: Sequence[Any], size: int = DB_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
