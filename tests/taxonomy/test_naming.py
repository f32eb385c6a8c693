"""Naming clusters with a language model through a plain ``complete(prompt) -> str`` function."""

from __future__ import annotations

import pytest

from taxonomy.naming import PROMPT_PATH, NamingError, PromptNamer


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
    assert namer.describe_cluster(["honesty", "candour", "truthfulness"]) == "Saying what is true."
    assert len(prompts) == 1  # the description came with the name


def test_a_built_taxonomy_keeps_the_llm_descriptions() -> None:
    import numpy as np

    from taxonomy.clustering import TaxonomyParams, build_hierarchy

    def complete(prompt: str) -> str:
        first = prompt.split("<values>\n- ", 1)[1].split("\n", 1)[0]
        return f"<name>Group of {first}</name><description>Values like {first}.</description>"

    x = np.eye(4)[[0, 0, 1, 1, 2, 2, 3, 3]] + 0.01 * np.arange(8)[:, None]
    vals = [f"v{i}" for i in range(8)]
    h = build_hierarchy(vals, x, TaxonomyParams(levels=2, n_top=4, neighbourhood_size=50), PromptNamer(complete))
    for c in h.levels[1]:
        assert c.name.startswith("Group of v")
        assert c.description == f"Values like {c.name.removeprefix('Group of ')}."
        assert not c.name_is_fallback


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
