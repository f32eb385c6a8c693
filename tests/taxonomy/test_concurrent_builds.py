"""Two taxonomy builds of one name at the same time: both are stored, numbered one after the other, on SQLite too.

Each build reads the latest version of the name, then writes the next one. On SQLite, two such transactions that have
both read would each wait for the other's read lock to write, and one would fail at once with "database is locked";
the settings begin every transaction with the write lock (IMMEDIATE), so the second waits for the first instead. The
test holds each build just after its read until the other has read too (or a second has passed), so the two
transactions overlap for sure.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest
from django.db import connection

from taxonomy.clustering import TaxonomyParams
from taxonomy.models import Taxonomy
from taxonomy.services import taxonomy_build
from tests.taxonomy.test_taxonomy_services import HashEmbedder

WORDS = ["honesty", "safety", "care", "art", "logic", "speed"]
VALUES = [f"{a} {b}" for a in WORDS for b in WORDS if a != b]


@pytest.mark.django_db(transaction=True)
def test_two_builds_of_one_name_at_once_are_both_stored() -> None:
    both_read = threading.Barrier(2)
    errors: list[BaseException] = []

    def hold_after_reading_the_version(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if "MAX(" in sql.upper() and "analysis_taxonomy" in sql:
            # When the other build is waiting for the write lock instead, the barrier breaks and this one goes on.
            with contextlib.suppress(threading.BrokenBarrierError):
                both_read.wait(timeout=1.0)
        return result

    def build(seed: int) -> None:
        try:
            with connection.execute_wrapper(hold_after_reading_the_version):
                taxonomy_build(
                    values=VALUES,
                    name="together",
                    params=TaxonomyParams(levels=2, n_top=3, seed=seed, neighbourhood_size=5),
                    embedder=HashEmbedder(),
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=build, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert sorted(Taxonomy.objects.filter(name="together").values_list("version", flat=True)) == [1, 2]
