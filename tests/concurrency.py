"""Writers that number versions (read the latest, insert the next) run at the same time, each held just after its
read until the others have read too, so their transactions overlap for sure."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connection

T = TypeVar("T")


def writers_at_once(writers: list[Callable[[], T]], *, table: str) -> tuple[list[T], list[BaseException]]:
    """Run the writers in threads, each held after its ``MAX(`` read of ``table`` until the others have read too
    (or a second has passed: on SQLite the other writer waits for the write lock instead). What they returned, and
    what they raised."""
    all_read = threading.Barrier(len(writers))
    stored: list[T] = []
    errors: list[BaseException] = []

    def hold_after_reading_the_version(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if "MAX(" in sql.upper() and table in sql:
            with contextlib.suppress(threading.BrokenBarrierError):
                all_read.wait(timeout=1.0)
        return result

    def write(writer: Callable[[], T]) -> None:
        try:
            with connection.execute_wrapper(hold_after_reading_the_version):
                stored.append(writer())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(writer,)) for writer in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return stored, errors
