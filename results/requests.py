"""What a residual analysis is asked for (pure): one frozen object that the API, the command, the task and the
service share, so the parameters are spelt out once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from results.residuals import Comparisons


@dataclass(frozen=True)
class ResidualRequest:
    """``rows`` x ``cols`` adjusted residuals between two extracted features.

    ``dataset_id`` / ``run_id`` limit the conversations read (neither: all); ``row_level`` / ``col_level`` group
    values by their taxonomy ancestor at that level, from ``row_taxonomy_id`` / ``col_taxonomy_id`` or the newest
    taxonomy of the feature. ``min_conversations`` is the privacy threshold (None: the ANALYSIS_MIN_CONVERSATIONS
    setting); ``alpha`` and ``comparisons`` set the Bonferroni family; ``top_k`` associations are kept per row and
    column; ``subjective_only`` keeps the conversations judged subjective; ``include_none`` counts "none" as a
    human value.
    """

    rows: str
    cols: str
    dataset_id: int | None = None
    run_id: int | None = None
    row_level: int | None = None
    col_level: int | None = None
    row_taxonomy_id: int | None = None
    col_taxonomy_id: int | None = None
    min_conversations: int | None = None
    alpha: float = 0.05
    comparisons: Comparisons = "rows"
    top_k: int = 10
    subjective_only: bool = True
    include_none: bool = False

    def sides(self) -> tuple[tuple[str, str, int | None, int | None], ...]:
        """(side, feature, level, taxonomy id) of the rows and of the columns."""
        return (
            ("rows", self.rows, self.row_level, self.row_taxonomy_id),
            ("cols", self.cols, self.col_level, self.col_taxonomy_id),
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (what a queued task receives)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResidualRequest:
        """The request from :meth:`as_dict` (fields left out take their defaults); an unknown field is an error."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown residual request field(s): {', '.join(unknown)}")
        return cls(**data)
