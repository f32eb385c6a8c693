"""The base every statistic's result derives from: a frozen dataclass that turns itself into JSON-ready dicts."""

from __future__ import annotations

from typing import Any


class Result:
    """What every result shares: ``as_dict()``, nested results and tuples turned into dicts and lists (for JSON)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in self.__dataclass_fields__:  # type: ignore[attr-defined]
            val = getattr(self, key)
            out[key] = val.as_dict() if hasattr(val, "as_dict") else (list(val) if isinstance(val, tuple) else val)
        return out
