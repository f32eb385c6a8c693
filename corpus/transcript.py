"""Render a conversation in the paper's TRANSCRIPT form, as the extraction prompts expect it.

The paper's prompts embed the conversation as alternating "Human: ..." / "Assistant: ..." turns
(Appendix A.2-A.3). System messages are shown as "System: ...".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

SPEAKERS = {"user": "Human", "assistant": "Assistant", "system": "System"}


def render_transcript(messages: Iterable[Mapping[str, str]]) -> str:
    """Return the messages as ``"Human: …\\n\\nAssistant: …"`` blocks separated by blank lines."""
    parts = []
    for message in messages:
        speaker = SPEAKERS[message["role"]]
        parts.append(f"{speaker}: {message['content'].strip()}")
    return "\n\n".join(parts)
