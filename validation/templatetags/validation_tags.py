"""Template filters for validation pages: percentages and dictionary lookups."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


@register.filter
def get(mapping: dict[str, Any] | None, key: str) -> Any:
    return None if mapping is None else mapping.get(key)


@register.filter
def coef(result: dict[str, Any] | None) -> str:
    if not result:
        return "–"
    if result.get("value") is None:
        return f"undefined ({result.get('reason')})"
    ci = result.get("ci") or {}
    if ci.get("low") is None:
        return f"{result['value']:.3f}"
    return f"{result['value']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]"
