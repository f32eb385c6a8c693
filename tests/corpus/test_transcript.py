from corpus.transcript import render_transcript


def test_renders_the_papers_transcript_form() -> None:
    messages = [
        {"role": "user", "content": "  Hi there \n"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ]
    assert (
        render_transcript(messages) == "Human: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: Tell me a joke."
    )


def test_system_messages_are_labelled() -> None:
    text = render_transcript([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert text.startswith("System: Be brief.\n\nHuman: Hi")
