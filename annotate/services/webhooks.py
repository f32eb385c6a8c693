"""Webhook calls from Label Studio: validated and stored at once, applied later by a drain, each exactly once.

The request does one thing: one ``INSERT ... ON CONFLICT DO NOTHING`` of the call (deduplicated by the digest of
its project and body) and, when no drain is waiting, the queuing of one. A drain applies the stored calls oldest
first through intake (:mod:`annotate.services.intake`); a call signed for one project may speak about that
project only (``annotate.webhook_auth``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from annotate.label_studio import ANNOTATION_ACTIONS, LsAnnotation, stored_id
from annotate.models import Annotation, EventStatus, WebhookEvent
from annotate.services.bulk import chunks
from annotate.services.intake import IntakeReport, annotations_mark_deleted, annotations_upsert
from corpus.reading import load_json

logger = logging.getLogger(__name__)


def webhook_payload_check(*, payload: Any) -> tuple[str, list[LsAnnotation] | list[int]]:
    """Validate a webhook body; returns its action and annotations (or deleted ids). Raises ``ValueError``."""
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object")
    action = payload.get("action")
    if not isinstance(action, str) or not action:
        raise ValueError("'action' is missing")
    if action not in ANNOTATION_ACTIONS:
        return action, []
    if action == "ANNOTATIONS_DELETED":
        entries = payload.get("annotations")
        if not isinstance(entries, list):
            raise ValueError("ANNOTATIONS_DELETED needs an 'annotations' list")
        if not all(isinstance(e, dict) for e in entries):
            raise ValueError("every entry of 'annotations' must be an object with an integer 'id'")
        return action, [stored_id(e.get("id"), f"annotations[{i}].id") for i, e in enumerate(entries)]
    raw = payload.get("annotation")
    if raw is None:
        raise ValueError(f"{action} needs an 'annotation'")
    raw_list = raw if isinstance(raw, list) else [raw]
    tasks = payload.get("task")
    task_list = tasks if isinstance(tasks, list) else [tasks] * len(raw_list)
    out = []
    for i, entry in enumerate(raw_list):
        task = task_list[i] if i < len(task_list) else None
        task_id = task.get("id") if isinstance(task, dict) else None
        out.append(LsAnnotation.from_payload(entry, task_id=task_id))
    return action, out


def _deletions_in_scope(annotation_ids: Sequence[int], scope: int, report: IntakeReport) -> list[int]:
    """The ids a call signed for project ``scope`` may delete: not those stored for another project's tasks."""
    foreign: set[int] = set()
    for chunk in chunks(sorted(set(annotation_ids))):
        foreign.update(
            Annotation.objects.filter(label_studio_annotation_id__in=chunk)
            .exclude(task__project__label_studio_project_id=scope)
            .values_list("label_studio_annotation_id", flat=True)
        )
    if foreign:
        report.refused += sorted(foreign)
        report.problems.append(f"deletion of annotation(s) {sorted(foreign)} not applied: not of project {scope}")
    return [i for i in annotation_ids if i not in foreign]


#: Set in the cache while a drain of the received webhook events is queued and has not started: a burst of calls
#: queues one drain, not a task per call. It expires, so a drain lost with its worker cannot hold off the next one
#: for long (and the periodic drain, ``CELERY_BEAT_SCHEDULE``, takes whatever is left).
DRAIN_QUEUED_KEY = "annotate:webhook-drain-queued"
DRAIN_QUEUED_S = 60
#: Received events a drain reads at a time (it applies them one by one, oldest first).
DRAIN_BATCH = 500


def _event_insert(*, action: str, digest: str, payload: Any, project_id: int | None) -> int | None:
    """Store a new event in one statement, the call's only write; None when its digest is stored already.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL and SQLite alike) instead of a look-up, a
    transaction and an insert: the webhook answers Label Studio in one round trip to the database.
    """
    values: dict[str, Any] = {
        "action": action[:40],
        "digest": digest,
        "label_studio_project_id": project_id,
        "payload": payload,
        "status": EventStatus.RECEIVED,
        "error": "",
        "received_at": timezone.now(),
    }
    fields: list[Field[Any, Any]] = [WebhookEvent._meta.get_field(name) for name in values]  # type: ignore[misc]
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(WebhookEvent._meta.db_table)} ({', '.join(qn(str(f.column)) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT ({qn('digest')}) DO NOTHING RETURNING {qn('id')}"
    )
    params = [f.get_db_prep_save(v, connection) for f, v in zip(fields, values.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return int(row[0]) if row else None


def webhook_receive(*, body: bytes, project_id: int | None = None) -> tuple[int, bool]:
    """Validate and store a webhook call, then queue a drain of the received calls; a repeated body is stored once.

    ``project_id``: the Label Studio project whose webhook secret signed the call (it may speak about that
    project only). Returns the event's id and whether it is new. Raises ``ValueError`` for a malformed body
    (nothing stored).
    """
    try:
        payload = load_json(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8 JSON: {exc.reason} at byte {exc.start}") from exc
    except ValueError as exc:
        raise ValueError(f"the body is not JSON we accept: {exc}") from exc
    action, _ = webhook_payload_check(payload=payload)
    digest = hashlib.sha256(f"{project_id}:".encode() + body).hexdigest()
    event_id = _event_insert(action=action, digest=digest, payload=payload, project_id=project_id)
    if event_id is None:
        return WebhookEvent.objects.values_list("pk", flat=True).get(digest=digest), False
    transaction.on_commit(webhook_drain_request)
    return event_id, True


def webhook_drain_request() -> None:
    """Queue a drain of the received events, unless one is queued and has not started yet.

    A broker that is down loses nothing: the events are stored, and the periodic drain applies them.
    """
    from annotate.tasks import webhook_events_drain_task

    try:
        if not cache.add(DRAIN_QUEUED_KEY, 1, DRAIN_QUEUED_S):
            return
    except Exception:  # the cache is unreachable: queue a drain anyway (one too many is harmless)
        logger.warning("webhook drain: the cache is unreachable; queuing a drain for this call", exc_info=True)
    try:
        webhook_events_drain_task.delay()
    except (OSError, KombuOperationalError) as exc:
        _drain_mark_not_queued()
        logger.warning("webhook events stored, their drain not queued (%s): the periodic drain applies them", exc)


def _drain_mark_not_queued() -> None:
    try:
        cache.delete(DRAIN_QUEUED_KEY)
    except Exception:  # the cache is unreachable: the key expires by itself
        logger.warning("webhook drain: could not clear the queued mark", exc_info=True)


def webhook_events_drain() -> IntakeReport:
    """Apply every received webhook event, oldest first; returns the merged report.

    The queued mark is cleared first, so a call stored from now on queues a drain of its own: no event waits for a
    drain that has already read past it. Several drains may run at once: each event is applied under a row lock
    that the others skip (:func:`webhook_event_process`), and once only.
    """
    _drain_mark_not_queued()
    report = IntakeReport()
    after = 0
    while True:
        ids = list(
            WebhookEvent.objects.filter(status=EventStatus.RECEIVED, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:DRAIN_BATCH]
        )
        if not ids:
            return report
        for event_id in ids:
            report.merge(webhook_event_process(event_id=event_id))
        after = ids[-1]


def webhook_event_process(*, event_id: int) -> IntakeReport:
    """Apply a stored webhook event. Idempotent: a processed event is not applied again, and an event another
    worker is applying right now is skipped (its row is locked). A failure rolls back what the event had written
    and marks it failed with the reason: it never stays 'received'."""
    report = IntakeReport()
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(pk=event_id, status=EventStatus.RECEIVED)
            .first()
        )
        if event is None:
            return report
        try:
            with transaction.atomic():
                report = _event_apply(event)
        except ValueError as exc:
            event.status, event.error = EventStatus.FAILED, str(exc)
        except Exception as exc:  # an event must never stay 'received' for ever: record why it failed
            logger.exception("webhook event %s failed", event_id)
            event.status, event.error = EventStatus.FAILED, f"{type(exc).__name__}: {str(exc)[:500]}"
        else:
            if report.unknown_tasks:
                event.status = EventStatus.UNKNOWN_TASK
                tasks = sorted(set(report.unknown_tasks))
                event.error = f"annotation(s) for Label Studio task(s) we did not push: {tasks}"
            else:
                event.status = EventStatus.PROCESSED
                event.error = "; ".join(report.problems)
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "error", "processed_at"])
    return report


def _event_apply(event: WebhookEvent) -> IntakeReport:
    report = IntakeReport()
    action, parsed = webhook_payload_check(payload=event.payload)
    scope = event.label_studio_project_id
    if action == "ANNOTATIONS_DELETED":
        ids: list[int] = parsed  # type: ignore[assignment]
        if scope is not None:
            ids = _deletions_in_scope(ids, scope, report)
        report.deleted = annotations_mark_deleted(annotation_ids=ids, scope=scope)
    elif action in ANNOTATION_ACTIONS:
        report = annotations_upsert(annotations=parsed, scope=scope)  # type: ignore[arg-type]
    return report
