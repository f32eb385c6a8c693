"""The protocol file and the transcript as the reviewer reads them."""

from __future__ import annotations

import pytest

from annotate import instructions


def test_transcript_keeps_turns_line_breaks_and_lists_and_escapes_markup() -> None:
    messages = [
        {"role": "user", "content": "Two things:\n- cheap\n- close to <b>home</b>\n\nThanks"},
        {"role": "assistant", "content": "<script>alert(1)</script> Sure."},
    ]
    html = instructions.dialogue_html(messages)
    assert html.count("<b>Human</b>") == 1
    assert html.count("<b>Assistant</b>") == 1
    assert "Two things:\n- cheap\n- close to &lt;b&gt;home&lt;/b&gt;\n\nThanks" in html, "line breaks kept as written"
    assert "white-space:pre-wrap" in html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "00:00" not in html


def test_first_turn_is_the_first_human_message_on_one_line() -> None:
    messages = [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "Plan  my\ntrip"},
        {"role": "user", "content": "later"},
    ]
    assert instructions.first_turn(messages) == "Plan my trip"
    long = instructions.first_turn([{"role": "user", "content": "x" * 500}])
    assert len(long) == instructions.FIRST_TURN_CHARS
    assert long.endswith("…")
    assert instructions.first_turn([{"role": "assistant", "content": "hi"}]) == ""


def test_markdown_subset_renders_paragraphs_lists_and_emphasis_and_escapes_the_rest() -> None:
    html = instructions.markdown_html(
        "A **bold** and *italic* line\ncontinued.\n\n- one\n  wrapped\n- two <img src=x onerror=alert(1)>"
    )
    assert html == (
        "<p>A <b>bold</b> and <i>italic</i> line continued.</p>\n"
        '<ul style="list-style: disc; padding-left: 1.5em"><li>one wrapped</li>'
        "<li>two &lt;img src=x onerror=alert(1)&gt;</li></ul>"
    )


def test_protocol_sections_must_name_features_and_unknown_ones_name_the_line() -> None:
    text = "# Title\n\nIntro.\n\n## task\n\nThe task.\n\n## politeness\n\nNo."
    with pytest.raises(ValueError, match=r"review_protocol.md:9: section 'politeness' is not a feature"):
        instructions.review_protocol_parse(text, known_features=["task"], source="review_protocol.md")
    protocol = instructions.review_protocol_parse(text.split("## politeness")[0], known_features=["task"])
    assert (protocol.title, protocol.introduction, dict(protocol.sections)) == (
        "Title",
        "Intro.",
        {"task": "The task."},
    )


def test_the_repository_protocol_follows_the_papers_appendix_a4() -> None:
    protocol = instructions.review_protocol_read(
        known_features=["ai_values", "human_values", "ai_values_stated", "response_type", "subjectivity", "task"]
    )
    intro = " ".join(protocol.introduction.split())
    assert "think of what you would have answered" in intro
    assert "over-inferring" in intro
    assert "under-inferring" in intro
    assert "levels 3-4" in protocol.sections["subjectivity"]
    assert "exact" in protocol.sections["subjectivity"]
