"""Writes of the review loop, one module per concern.

- :mod:`~annotate.services.samples`: review samples drawn from an extraction run, annotators, assignment.
- :mod:`~annotate.services.push`: one Label Studio project per annotator, ensured, and its tasks pushed.
- :mod:`~annotate.services.intake`: annotations stored as one row per feature, from webhooks or an export.
- :mod:`~annotate.services.webhooks`: webhook calls stored at once and applied by a drain, each once.
- :mod:`~annotate.services.reconcile`: the database brought in line with Label Studio, project by project.
- :mod:`~annotate.services.flags`: consistency flags on reviews, refreshed at intake.
- :mod:`~annotate.services.adjudication`: a lead's verdict on an output, in place of the reviewers' majority.
- :mod:`~annotate.services.blind`: each reviewer in a Label Studio organization of their own; drift of the form.

Every step can be rerun after a crash and picks up where it stopped. The services are importable from
here (``from annotate import services``) as well as from their module.
"""

from annotate.services.adjudication import AdjudicationError, adjudication_check, adjudication_record
from annotate.services.blind import (
    annotators_blind_setup,
    label_config_same,
    project_client,
    project_drift_check,
)
from annotate.services.flags import review_flags_refresh
from annotate.services.intake import IntakeReport, annotations_mark_deleted, annotations_upsert
from annotate.services.push import ProjectDeletedError, PushReport, project_mark_deleted, sample_push
from annotate.services.reconcile import ReconcileReport, annotations_reconcile, project_reconcile
from annotate.services.samples import (
    STRATIFY_BY_MODEL,
    annotator_get_or_create,
    annotator_link_label_studio,
    review_sample_assign,
    review_sample_create,
)
from annotate.services.webhooks import (
    webhook_event_process,
    webhook_events_drain,
    webhook_payload_check,
    webhook_receive,
)

__all__ = [
    "STRATIFY_BY_MODEL",
    "AdjudicationError",
    "IntakeReport",
    "ProjectDeletedError",
    "PushReport",
    "ReconcileReport",
    "adjudication_check",
    "adjudication_record",
    "annotations_mark_deleted",
    "annotations_reconcile",
    "annotations_upsert",
    "annotator_get_or_create",
    "annotator_link_label_studio",
    "annotators_blind_setup",
    "label_config_same",
    "project_client",
    "project_drift_check",
    "project_mark_deleted",
    "project_reconcile",
    "review_flags_refresh",
    "review_sample_assign",
    "review_sample_create",
    "sample_push",
    "webhook_event_process",
    "webhook_events_drain",
    "webhook_payload_check",
    "webhook_receive",
]
