"""Text rendering of a run report, shared by the ``extract`` and ``extraction_report`` commands."""

from __future__ import annotations

from typing import Any


def report_lines(report: dict[str, Any], *, raw_chars: int = 160) -> list[str]:
    p, c = report["progress"], report["costs"]
    lines = [
        f"run {report['id']}: {report['prompt_set']} on {report['dataset']} via {report['provider']} "
        f"-> {report['status']}" + (f" ({report['error']})" if report["error"] else ""),
        f"  conversations {p['conversations']} (subjective {p['subjective']}); items {p['total']}: "
        f"done {p['done']} (parse errors {p['parse_errors']}), failed {p['failed']}, pending {p['pending']}",
        f"  tokens: input {c['input_tokens']}, output {c['output_tokens']}, cache write "
        f"{c['cache_creation_input_tokens']}, cache read {c['cache_read_input_tokens']}; "
        f"requests {c['requests']}, mean latency {c['mean_latency_ms']} ms",
        f"  cost: ${c['cost_usd']} for {c['conversations']} conversations = "
        f"${c['cost_usd_per_1000_conversations']} per 1,000 conversations",
    ]
    shared = c.get("by_feature_shared", {})
    if shared:
        lines.append("  per feature: as booked per call | shared out (" + c.get("share_rule", "") + ")")
    for feature, f in c.get("by_feature", {}).items():
        s = shared.get(feature)
        share = f" | ${s['cost_usd']} = ${s['cost_usd_per_1000_conversations']} per 1,000 conversations" if s else ""
        lines.append(f"    {feature:18} ${f['cost_usd']}  ({f['extractions']} extractions){share}")
    if report["failures"]:
        lines.append(f"  items that failed or could not be parsed ({len(report['failures'])} shown):")
        for item in report["failures"]:
            raw = item["raw_text"].replace("\n", " ")
            raw = raw if len(raw) <= raw_chars else raw[: raw_chars - 3] + "..."
            lines.append(f"    {item['conversation']} {item['feature']} [{item['status']}]: {item['error']}")
            if raw:
                lines.append(f"      raw: {raw}")
    return lines
