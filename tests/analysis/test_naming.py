"""Naming clusters with a language model through a plain ``complete(prompt) -> str`` function."""

from __future__ import annotations

import pytest

from analysis.naming import PROMPT_PATH, NamingError, PromptNamer


def test_prompt_lists_members_most_central_first_and_reads_the_name() -> None:
    prompts: list[str] = []

    def complete(prompt: str) -> str:
        prompts.append(prompt)
        return "Thinking...\n<name> Honest\n communication </name>\n<description>Saying what is true.</description>"

    namer = PromptNamer(complete, max_members=2)
    assert namer.name_cluster(["honesty", "candour", "truthfulness"]) == "Honest communication"
    assert not namer.is_fallback
    prompt = prompts[0]
    assert "- honesty\n- candour" in prompt
    assert "truthfulness" not in prompt  # beyond max_members
    assert "3 values" in prompt
    assert "first 2" in prompt
    assert "{{" not in prompt


def test_the_shipped_prompt_has_every_placeholder() -> None:
    text = PROMPT_PATH.read_text(encoding="utf-8")
    for placeholder in ("{{members}}", "{{count}}", "{{shown}}", "<name>"):
        assert placeholder in text


@pytest.mark.parametrize("reply", ["no tags at all", "<name>   </name>"])
def test_an_unreadable_reply_is_an_error(reply: str) -> None:
    with pytest.raises(NamingError, match="no <name>"):
        PromptNamer(lambda _: reply).name_cluster(["honesty"])
    with pytest.raises(NamingError, match="empty"):
        PromptNamer(lambda _: reply).name_cluster([])
