"""Terminal rendering shared by the validation commands (rich tables)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from django.core.management.base import OutputWrapper
from rich.console import Console
from rich.table import Table


def as_text(render: Callable[[dict[str, Any], Console], None], report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    render(report, Console(file=buffer, width=160, no_color=True))
    return buffer.getvalue()


def write_report(
    out: OutputWrapper,
    report: dict[str, Any],
    snapshot_id: int | None,
    *,
    as_json: bool,
    render: Callable[[dict[str, Any], Console], None],
) -> None:
    """The report as one JSON document (carrying the snapshot id when it was saved), or as tables followed by
    the snapshot it was saved as."""
    if as_json:
        out.write(json.dumps(report if snapshot_id is None else {"snapshot": snapshot_id, **report}))
        return
    out.write(as_text(render, report))
    if snapshot_id is not None:
        out.write(f"saved as snapshot {snapshot_id}")


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def share_cell(row: dict[str, Any]) -> str:
    return f"{pct(row['estimate'])} ± {100 * row['half_width']:.1f}  [{pct(row['low'])}, {pct(row['high'])}]"


def value_cell(res: dict[str, Any] | None) -> str:
    if not res:
        return "–"
    if res.get("value") is None:
        return f"undefined: {res.get('reason')}"
    ci = res.get("ci")
    tail = f"  [{ci['low']:.3f}, {ci['high']:.3f}]" if ci and ci.get("low") is not None else ""
    return f"{res['value']:.3f}{tail}"


def render_agreement(report: dict[str, Any], console: Console) -> None:
    counts = report["counts"]
    console.print(
        f"Run {report['run']}: {counts['reviews']} reviews of {counts['outputs']} outputs "
        f"({counts['conversations']} conversations) by {counts['annotators']} annotators; "
        f"{report['params']['correct_rule']}."
    )
    for grouping, rows in report["agreement"].items():
        table = Table(title=f"Share judged correct, by {grouping.replace('_', ' ')} (95% Wilson)")
        keys = ["feature"] if grouping == "feature" else ["feature", grouping]
        for k in keys:
            table.add_column(k)
        table.add_column("n", justify="right")
        table.add_column("correct", justify="right")
        table.add_column("share ± half-width [interval]")
        has_more = rows and "more_for_target" in rows[0]
        if has_more:
            table.add_column(f"more for ±{100 * report['params']['target_half_width']:.0f}%", justify="right")
        for r in rows:
            cells = [str(r.get(k) if r.get(k) is not None else "–") for k in keys]
            cells += [str(r["n"]), str(r["correct"]), share_cell(r)]
            if has_more:
                cells.append(str(r["more_for_target"]))
            table.add_row(*cells)
        console.print(table)
    labels = Table(title="Machine labels vs reviewer labels")
    for col in ("feature", "pairs", "exact match", "mean Jaccard", "mean MASI", "unknown"):
        labels.add_column(col)
    for feature, r in report["labels"].items():
        labels.add_row(
            feature,
            str(r["n"]),
            pct(r.get("exact_match")),
            f"{r['mean_jaccard']:.3f}" if "mean_jaccard" in r else "–",
            f"{r['mean_masi']:.3f}" if "mean_masi" in r else "–",
            str(r["unknown"]),
        )
    console.print(labels)
    cm = report["response_type_confusion"]
    if cm["n"]:
        table = Table(title=f"Response type: machine (rows) vs reviewer (columns), n={cm['n']}")
        table.add_column("")
        for lab in cm["labels"]:
            table.add_column(lab[:12], justify="right")
        for lab, row in zip(cm["labels"], cm["matrix"], strict=True):
            table.add_row(lab, *(str(x) for x in row))
        console.print(table)
    rel = Table(title="Reliability among reviewers (verdicts; 95% bootstrap intervals)")
    for col in ("feature", "outputs", "alpha", "Fleiss κ", "AC1", "agreement", "labels alpha"):
        rel.add_column(col)
    for feature, r in report["reliability"].items():
        if "verdict" not in r:
            rel.add_row(feature, str(r["outputs_with_several_reviews"]), r.get("reason", ""), "", "", "", "")
            continue
        v = r["verdict"]
        rel.add_row(
            feature,
            str(r["outputs_with_several_reviews"]),
            value_cell(v["alpha"]),
            value_cell(v["fleiss_kappa"]),
            value_cell(v["gwet_ac1"]),
            value_cell(v["percent_agreement"]),
            value_cell(r.get("labels")),
        )
    console.print(rel)


def render_comparison(report: dict[str, Any], console: Console) -> None:
    on_gold = report.get("params", {}).get("method") == "gold set"
    b, c = report["baseline"], report["candidate"]
    names = [f"{side['spec']}" + (f" ({side['model']})" if side.get("model") else "") for side in (b, c)]
    console.print(
        f"Baseline {names[0]} vs candidate {names[1]}" + (f" (model {report['model']})" if report.get("model") else "")
    )
    if on_gold:
        g = report["gold_set"]
        console.print(f"On gold set {g['name']} v{g['version']}; correct = {report['params']['correct_rule']}")
    where = "gold conversations" if on_gold else "conversations"
    table = Table(title=f"Per feature: paired on the same {where} (exact McNemar, Holm across features)")
    cols = ["feature", "n", "baseline", "candidate", "difference [95%]", "p", "p Holm", "verdict", "more items"]
    for col in [*cols, *(["F1 Δ soft [95%]"] if on_gold else [])]:
        table.add_column(col)
    for feature, r in report["features"].items():
        if not r.get("n"):
            table.add_row(feature, "0", r.get("reason", ""), *[""] * (len(table.columns) - 3))
            continue
        d = r["difference"]
        more = r.get("more_items")
        row = [
            feature,
            str(r["n"]),
            share_cell(r["baseline"]),
            share_cell(r["candidate"]),
            _signed(d),
            f"{r['mcnemar']['p_value']:.3g}",
            f"{r['mcnemar']['p_holm']:.3g}",
            r["verdict"],
            "–" if more is None else str(more),
        ]
        if on_gold:
            f1 = r.get("metric_difference", {}).get("f1_soft")
            row.append("" if f1 is None else _signed(f1))
        table.add_row(*row)
    console.print(table)
    for feature, r in report["features"].items():
        for flip in r.get("flipped", []):
            who = "candidate only" if flip["candidate_correct"] else "baseline only"
            line = f"  {feature}: conversation {flip['conversation_id']} ({flip['external_id']}) correct {who}"
            if on_gold:
                line += f"; baseline {flip['baseline']}, candidate {flip['candidate']}, gold {flip['gold']}"
            console.print(line)


def _signed(d: dict[str, Any]) -> str:
    low, high = d.get("low"), d.get("high")
    if low is None or high is None:
        return f"{100 * d['estimate']:+.1f}"
    return f"{100 * d['estimate']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"
