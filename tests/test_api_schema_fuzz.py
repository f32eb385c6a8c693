"""schemathesis over the whole OpenAPI schema, as a lead and as an annotator: no response is a 5xx, and every status
answered is one the schema documents for that operation.

Each operation gets generated requests, valid ones (positive mode) and invalid ones (negative mode), sent to the app
in process (WSGI) with a token, on a database holding the sample dataset and a replayed run, so reads find rows and
writes start real work (tasks run eagerly). Throttling is off so that every request reaches its view
(tests/test_throttling.py covers the 429s). The bounds keep the test to a few minutes on two cores.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from accounts.roles import Role, user_add_role
from config.wsgi import application
from tests.conftest import REPO_ROOT

#: Generated requests per operation: (role, mode, examples). Annotators are refused almost everywhere: fewer.
PLAN = [
    (Role.LEAD, GenerationMode.POSITIVE, 15),
    (Role.LEAD, GenerationMode.NEGATIVE, 5),
    (Role.ANNOTATOR, GenerationMode.POSITIVE, 3),
]
#: The schema itself takes no input worth varying and is slow to render: a few requests.
SCHEMA_EXAMPLES = 2
#: Failures kept per operation for the report (the first ones; later examples still run).
KEPT = 3


@pytest.fixture
def tokens(db: None, django_user_model: Any, settings: Any) -> Iterator[dict[str, str]]:
    settings.API_THROTTLE_RATES = {}
    call_command("import_conversations", str(REPO_ROOT / "sample" / "conversations.jsonl"), "--dataset", "sample")
    call_command("extract", "--dataset", "sample", "--prompts", "paper-v1")
    keys = {}
    for role in (Role.LEAD, Role.ANNOTATOR):
        user = django_user_model.objects.create_user(f"fuzz-{role}")
        user_add_role(user=user, role=role)
        keys[str(role)] = Token.objects.create(user=user).key
    # As Django's test client does: the requests run inside the test's transaction, which the end-of-request
    # connection cleanup would otherwise close.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield keys
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _fuzz(operation: Any, *, token: str, mode: GenerationMode, examples: int, seen: Counter[str]) -> list[str]:
    """Send up to ``examples`` generated requests; return what failed (a status code and its check)."""
    failures: list[str] = []
    label = operation.label

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def send(case: Any) -> None:
        headers = {"Authorization": f"Token {token}"}
        response = case.call(headers=headers)
        seen[f"{label} {response.status_code}"] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance], headers=headers)
        except Exception as exc:  # schemathesis raises its failures as a group
            if len(failures) < KEPT:
                failures.append(f"{label} ({mode.value}): {response.status_code}: {str(exc)[:500]}")

    with contextlib.suppress(Unsatisfiable):  # nothing in this operation's input can be made invalid (negative mode)
        send()
    return failures


def test_no_operation_answers_a_server_error_or_an_undocumented_status(tokens: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, headers=_auth(tokens))
    operations: list[Any] = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    seen: Counter[str] = Counter()
    took: dict[str, float] = {}
    failures: list[str] = []
    for role, mode, examples in PLAN:
        for operation in operations:
            n = SCHEMA_EXAMPLES if operation.path == "/api/schema/" else examples
            started = time.monotonic()
            failures += _fuzz(operation, token=tokens[str(role)], mode=mode, examples=n, seen=seen)
            took[operation.label] = took.get(operation.label, 0.0) + time.monotonic() - started
    assert not failures, "\n".join(failures)
    # The requests reached every operation, and got past authentication, validation and lookups.
    assert {label.rsplit(" ", 1)[0] for label in seen} == {op.label for op in operations}
    statuses = Counter(label.rsplit(" ", 1)[1] for label in seen.elements())
    assert {"200", "400", "403", "404"} <= set(statuses), statuses
    assert not any(code.startswith("5") for code in statuses)
    print(f"{sum(statuses.values())} requests over {len(operations)} operations: {dict(sorted(statuses.items()))}")
    print("slowest:", sorted(((round(s, 1), label) for label, s in took.items()), reverse=True)[:6])


def _auth(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Token {tokens[str(Role.LEAD)]}"}
