"""Writes of the validation app: report snapshots and trust targets (``snapshots``), gold sets (``gold``)."""

from validation.services.gold import (
    GoldSetError,
    gold_rows_read,
    gold_set_create_from_reviews,
    gold_set_freeze,
    gold_set_import,
)
from validation.services.snapshots import (
    TrustTargetError,
    agreement_snapshot_create,
    comparison_payload,
    comparison_snapshot_create,
    trust_target_clear,
    trust_target_set,
)

__all__ = [
    "GoldSetError",
    "TrustTargetError",
    "agreement_snapshot_create",
    "comparison_payload",
    "comparison_snapshot_create",
    "gold_rows_read",
    "gold_set_create_from_reviews",
    "gold_set_freeze",
    "gold_set_import",
    "trust_target_clear",
    "trust_target_set",
]
