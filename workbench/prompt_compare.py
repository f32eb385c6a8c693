"""The comparison grid, in the manner of promptfoo: a gold set's conversations x two prompt versions (or sets).

Each cell is one side's answer on one feature, coloured by agreement with the gold label (the validation app's
stated rule); filters keep only the conversations where the sides differ or where one fails. Above the grid, per
side, the share correct with its Wilson interval, the cost per 1,000 conversations and the mean latency; at the
top, the paired verdict per feature (exact McNemar, Holm across features) from ``validation.scores``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import analyst_required
from extraction.models import PromptVersion
from stats.errors import EmptyInputError
from validation.scores import gold_comparison, gold_grid, gold_score
from validation.selectors import GoldSetSpecError, PromptSpecError, gold_set_list

FILTERS = {"": "all conversations", "differences": "only differences", "failures": "only failures"}
N_BOOT = 1000


def _cell_class(cell: dict[str, Any] | None) -> str:
    if cell is None or cell.get("missing"):
        return "none"
    return "ok" if cell["correct"] else "wrong"


def _answer_text(answer: Any) -> str:
    if answer is None:
        return "(no answer)"
    if isinstance(answer, list):
        return ", ".join(str(a) for a in answer) or "none"
    return str(answer)


def grid_rows(grid: dict[str, Any], *, only: str) -> list[dict[str, Any]]:
    """The grid's rows for the template: per feature the gold answer, then each side's answer and its colour."""
    rows = []
    for row in grid["rows"]:
        if (only == "differences" and not row["differs"]) or (only == "failures" and not row["fails"]):
            continue
        if not any(f in row["gold"] for f in grid["features"]):
            continue  # a conversation of the gold set with no gold label for the compared features
        groups = []
        for feature in grid["features"]:
            if feature not in row["gold"]:
                blank = {"css": "nogold", "text": "—"}
                groups.append({"gold": "—", "cells": [blank for _ in grid["specs"]]})
                continue
            cells = []
            for spec in grid["specs"]:
                cell = row["cells"].get(spec, {}).get(feature)
                cells.append({"css": _cell_class(cell), "text": _answer_text(cell["answer"]) if cell else "—"})
            groups.append({"gold": _answer_text(row["gold"][feature]), "cells": cells})
        rows.append({"id": row["conversation_id"], "external_id": row["external_id"], "groups": groups})
    return rows


def _headline(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for feature, entry in sorted(comparison["features"].items()):
        out.append(
            {
                "feature": feature,
                "verdict": entry.get("verdict", entry.get("reason", "not compared")),
                "n": entry.get("n", 0),
                "difference": entry.get("difference"),
                "p_holm": (entry.get("mcnemar") or {}).get("p_holm"),
                "more_items": entry.get("more_items"),
                "flipped": len(entry.get("flipped", [])),
            }
        )
    return out


@analyst_required
def prompt_compare_page(request: HttpRequest) -> HttpResponse:
    gold_sets = list(gold_set_list())
    gold_param = request.GET.get("gold", "")
    gold_set = next((g for g in gold_sets if str(g.pk) == gold_param), gold_sets[0] if gold_sets else None)
    specs = sorted(set(PromptVersion.objects.values_list("prompt_set", flat=True)))
    a, b = request.GET.get("a", "").strip(), request.GET.get("b", "").strip()
    only = request.GET.get("only", "") if request.GET.get("only", "") in FILTERS else ""
    context: dict[str, Any] = {
        "gold_sets": gold_sets,
        "gold_set": gold_set,
        "specs": specs,
        "a": a,
        "b": b,
        "only": only,
        "filters": list(FILTERS.items()),
        "error": "",
        "grid": None,
    }
    if gold_set is not None and a and b:
        try:
            grid = gold_grid(gold_set_id=gold_set.pk, specs=[a, b])
            comparison = gold_comparison(gold_set_id=gold_set.pk, baseline=a, candidate=b, n_boot=N_BOOT)
        except (PromptSpecError, GoldSetSpecError, EmptyInputError) as exc:
            context["error"] = str(exc)
        else:
            context |= {
                "grid": grid,
                "rows": grid_rows(grid, only=only),
                "scored": len(grid_rows(grid, only="")),
                "verdicts": _headline(comparison),
                "comparison": comparison,
                "columns": [
                    {"spec": v["spec"], "features": sorted(v["features"].items()), "cost": v["cost"]}
                    for v in grid["versions"]
                ],
            }
    return render(request, "workbench/prompts/compare.html", context, status=400 if context["error"] else 200)


def version_gold_scores(version: PromptVersion, *, n_boot: int = 200) -> list[dict[str, Any]]:
    """The version's share correct on each gold set it has outputs for, per feature it produced (Wilson)."""
    out = []
    for gold_set in gold_set_list():
        try:
            scored = gold_score(gold_set_id=gold_set.pk, spec=str(version.pk), n_boot=n_boot)
        except (PromptSpecError, GoldSetSpecError, EmptyInputError):
            continue
        for feature, entry in sorted(scored["features"].items()):
            correct = entry.get("correct")
            if correct and entry["n"] > entry.get("missing", 0):
                out.append({"gold_set": gold_set, "feature": feature, "n": entry["n"], **correct})
    return out
