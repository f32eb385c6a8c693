"""What the reviewer reads: the review protocol and the transcript, as HTML that Label Studio shows.

The protocol lives in one Markdown file a lead can edit (``annotate/protocol/review_protocol.md``): an
introduction, then one ``## <feature>`` section per feature. The introduction and every section go into the
project's instruction dialog (shown before the first task); each section also appears above its feature in the
labeling form. Only a small, safe subset of Markdown is rendered (paragraphs, ``-`` lists, ``**bold**``,
``*italic*``); everything else is escaped text, so the file cannot inject markup into Label Studio.

The transcript is rendered here too, as escaped HTML per task: one block per turn with its speaker, line
breaks and lists kept as written (``white-space: pre-wrap``), no timestamps and no region widgets.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PROTOCOL_FILE = Path(__file__).resolve().parent / "protocol" / "review_protocol.md"
SPEAKERS = {"user": "Human", "assistant": "Assistant", "system": "System"}
FIRST_TURN_CHARS = 200


@dataclass(frozen=True)
class ReviewProtocol:
    """The protocol file, split: a title, the introduction, and one Markdown section per feature."""

    title: str
    introduction: str
    sections: Mapping[str, str]


def review_protocol_parse(text: str, *, known_features: Iterable[str], source: str = "protocol") -> ReviewProtocol:
    """Split the protocol Markdown; raises ``ValueError`` naming ``source:line`` for an unknown feature section."""
    known = set(known_features)
    title = ""
    intro_lines: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] = intro_lines
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("## "):
            feature = line[3:].strip()
            if feature not in known:
                raise ValueError(f"{source}:{number}: section {feature!r} is not a feature; use one of {sorted(known)}")
            if feature in sections:
                raise ValueError(f"{source}:{number}: a second section for {feature!r}")
            current = sections[feature] = []
        elif line.startswith("# ") and not title:
            title = line[2:].strip()
        else:
            current.append(line)
    return ReviewProtocol(
        title=title,
        introduction="\n".join(intro_lines).strip(),
        sections={feature: "\n".join(lines).strip() for feature, lines in sections.items()},
    )


def review_protocol_read(*, known_features: Iterable[str], path: Path = PROTOCOL_FILE) -> ReviewProtocol:
    return review_protocol_parse(path.read_text(encoding="utf-8"), known_features=known_features, source=str(path))


def _inline(text: str) -> str:
    escaped = html.escape(text, quote=True)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escaped)
    return re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<i>\1</i>", escaped)


def markdown_html(text: str) -> str:
    """Paragraphs (blank-line separated) and ``-`` lists, with bold and italic; all other text escaped."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.rstrip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        if lines[0].lstrip().startswith("- "):
            items: list[str] = []
            for line in lines:
                if line.lstrip().startswith("- "):
                    items.append(line.lstrip()[2:])
                elif items:  # a wrapped line continues the item above
                    items[-1] += " " + line.strip()
            # Inline style: Label Studio's stylesheet removes list bullets.
            out.append(
                '<ul style="list-style: disc; padding-left: 1.5em">'
                + "".join(f"<li>{_inline(item)}</li>" for item in items)
                + "</ul>"
            )
        else:
            out.append("<p>" + _inline(" ".join(line.strip() for line in lines)) + "</p>")
    return "\n".join(out)


def instructions_html(
    protocol: ReviewProtocol,
    *,
    features: Sequence[str],
    labels: Mapping[str, str],
    keys: Sequence[tuple[str, str]] = (),
) -> str:
    """The instruction dialog: title, introduction, each reviewed feature's section, and the keyboard keys."""
    parts = [f"<h2>{html.escape(protocol.title)}</h2>"] if protocol.title else []
    parts.append(markdown_html(protocol.introduction))
    for feature in features:
        section = protocol.sections.get(feature)
        if section:
            parts.append(f"<h3>{html.escape(labels.get(feature, feature))}</h3>")
            parts.append(markdown_html(section))
    if keys:
        rows = "".join(
            f"<tr><td><kbd>{html.escape(key)}</kbd></td><td>{html.escape(action)}</td></tr>" for key, action in keys
        )
        parts.append(f"<h3>Keys</h3><table>{rows}</table>")
    return "\n".join(parts)


def dialogue_html(messages: Iterable[Mapping[str, str]]) -> str:
    """The conversation as escaped HTML: one block per turn, its speaker in bold, its text as written."""
    turns = []
    for message in messages:
        speaker = SPEAKERS.get(message.get("role", ""), message.get("role", "") or "?")
        colour = "#f4f7fb" if speaker == "Human" else "#ffffff"
        turns.append(
            f'<div style="margin:0 0 8px 0;padding:6px 10px;border-left:3px solid #c9d3e0;background:{colour}">'
            f"<b>{html.escape(speaker)}</b>"
            f'<div style="white-space:pre-wrap;margin-top:2px">{html.escape(message.get("content", ""))}</div>'
            "</div>"
        )
    return "".join(turns)


def first_turn(messages: Iterable[Mapping[str, str]], *, limit: int = FIRST_TURN_CHARS) -> str:
    """The first human turn as one line of plain text (for Label Studio's task list)."""
    for message in messages:
        if message.get("role") == "user":
            text = " ".join(message.get("content", "").split())
            return text if len(text) <= limit else text[: limit - 1] + "…"
    return ""
