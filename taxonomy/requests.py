"""What a taxonomy build is asked for (pure): one frozen object that the API, the command, the task and the
service share, so the clustering parameters are derived in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from taxonomy.clustering import TaxonomyParams


@dataclass(frozen=True)
class TaxonomyBuildRequest:
    """A new version of taxonomy ``name`` over ``feature``'s values (from ``dataset_id`` only, when given).

    The shape is ``levels`` levels (the values included) with ``top`` top-level clusters, or, when ``sizes`` is
    given, exactly those sizes of levels 1.. (which fixes the levels and the top). With ``stability`` a second build
    with ``stability_seed`` (default: ``seed`` + 1) measures the agreement of the two (ARI per level).
    """

    name: str = "ai-values"
    feature: str = "ai_values"
    dataset_id: int | None = None
    levels: int = 4
    top: int = 5
    sizes: tuple[int, ...] | None = None
    seed: int = 0
    neighbourhood_size: int = 40
    stability: bool = True
    stability_seed: int | None = None

    def params(self) -> TaxonomyParams:
        """The clustering parameters of the build."""
        sizes = tuple(self.sizes) if self.sizes else None
        return TaxonomyParams(
            levels=len(sizes) + 1 if sizes else self.levels,
            n_top=sizes[-1] if sizes else self.top,
            seed=self.seed,
            neighbourhood_size=self.neighbourhood_size,
            level_sizes=sizes,
        )

    def check(self) -> None:
        """Raise ``TaxonomyError`` when explicit sizes cannot form a tree (before any value is read)."""
        if self.sizes:
            self.params().targets(self.sizes[0])

    def second_seed(self) -> int | None:
        """The seed of the stability build, or None without one."""
        if not self.stability:
            return None
        return self.seed + 1 if self.stability_seed is None else self.stability_seed

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (what a queued task receives)."""
        data = asdict(self)
        data["sizes"] = list(self.sizes) if self.sizes else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaxonomyBuildRequest:
        """The request from :meth:`as_dict` (fields left out take their defaults); an unknown field is an error."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown taxonomy build field(s): {', '.join(unknown)}")
        sizes = data.get("sizes")
        return cls(**{**data, "sizes": tuple(sizes) if sizes else None})
