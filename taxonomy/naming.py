"""Naming taxonomy clusters with a language model (no Django import).

:class:`PromptNamer` fills ``prompts/taxonomy/name_cluster.md`` with a cluster's members (most central first) and
hands it to a ``complete(prompt) -> text`` function. The function is whatever the deployment wires through the
``TAXONOMY_NAMER`` setting (a dotted path), normally a thin wrapper over the extraction client; without one the
build uses :class:`taxonomy.clustering.CentralMemberNamer` and flags every name as a fallback.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

PROMPT_PATH = Path(__file__).resolve().parent.parent / "prompts" / "taxonomy" / "name_cluster.md"
_NAME = re.compile(r"<name>(.*?)</name>", re.DOTALL)
_DESCRIPTION = re.compile(r"<description>(.*?)</description>", re.DOTALL)


class NamingError(RuntimeError):
    """The language model's answer could not be read as a cluster name."""


class PromptNamer:
    """Names a cluster by asking a language model; ``is_fallback`` is false."""

    is_fallback = False

    def __init__(self, complete: Callable[[str], str], *, template: str | None = None, max_members: int = 40) -> None:
        self.complete = complete
        self.template = template if template is not None else PROMPT_PATH.read_text(encoding="utf-8")
        self.max_members = max_members
        self._descriptions: dict[tuple[str, ...], str] = {}

    def render(self, members: list[str]) -> str:
        shown = members[: self.max_members]
        return (
            self.template.replace("{{count}}", str(len(members)))
            .replace("{{shown}}", str(len(shown)))
            .replace("{{members}}", "\n".join(f"- {m}" for m in shown))
        )

    def name_cluster(self, members: list[str]) -> str:
        if not members:
            raise NamingError("cannot name an empty cluster")
        try:
            reply = self.complete(self.render(members))
        except Exception as exc:  # any provider's failure (unconfigured, unreachable) ends the build cleanly
            raise NamingError(f"the language model could not name a cluster of {len(members)} values: {exc}") from exc
        match = _NAME.search(reply)
        name = match.group(1).strip() if match else ""
        if not name:
            raise NamingError(f"the naming reply has no <name>...</name>: {reply[:200]!r}")
        described = _DESCRIPTION.search(reply)
        self._descriptions[tuple(members)] = " ".join(described.group(1).split()) if described else ""
        return " ".join(name.split())

    def describe_cluster(self, members: list[str]) -> str:
        """The description from the reply that named these members (no second request)."""
        return self._descriptions.pop(tuple(members), "")
