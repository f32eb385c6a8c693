"""The dashboard, a dataset's conversations and one conversation: login, roles, and the figures they show."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.roles import Role
from tests.pages import Loop, build_loop, client_as
from workbench import views


@pytest.fixture
def loop(db: None) -> Loop:
    return build_loop()


def _text(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def test_anonymous_users_are_sent_to_log_in(loop: Loop) -> None:
    for url in ["/", f"/datasets/{loop.alpha.pk}/", f"/conversations/{loop.conversations[0].pk}/"]:
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url


@pytest.mark.parametrize("role", [None, Role.ANNOTATOR])
def test_dataset_and_conversation_pages_need_lead_or_prompt_engineer(loop: Loop, role: str | None) -> None:
    client = client_as(role)
    assert client.get(f"/datasets/{loop.alpha.pk}/").status_code == 403
    assert client.get(f"/conversations/{loop.conversations[0].pk}/").status_code == 403


def test_dashboard_for_a_lead_shows_every_step(loop: Loop) -> None:
    text = _text(client_as(Role.LEAD), "/")
    assert re.search(rf'<a href="/datasets/{loop.alpha.pk}/">alpha</a></td>\s*<td>22</td>', text)
    assert re.search(rf'<a href="/datasets/{loop.beta.pk}/">beta</a></td>\s*<td>1</td>', text)
    # The run: 44 items (22 conversations x 2 features), all answered (a parse error is an answer); 44 x $0.001.
    assert f'<a href="/extraction/runs/{loop.run.pk}/">run {loop.run.pk}</a>' in text
    assert "44 / 44 (100.0%)" in text
    assert "$0.0440" in text
    # Agreement: 4 of the 5 reviewed AI-values outputs judged correct.
    assert f'href="/validation/runs/{loop.run.pk}/?snapshot={loop.snapshot.pk}"' in text
    # Wilson 95%: [37.6%, 96.4%], too wide for the default ≥ 95% ± 5%, and its upper end is above 95%: not yet.
    assert re.search(
        r'ai_values <span class="status status-not_yet">not yet \([\d,]+ more reviews\)</span> 80.0% ± 29.4%, n = 5',
        text,
    )
    assert f'<a href="/analysis/taxonomies/{loop.taxonomy.pk}/">ai-values v3</a>' in text
    assert f'<a href="/analysis/residuals/{loop.residuals.pk}/">ai_values × task</a>' in text
    # Cost per run as a chart: one bar, $0.0440 as its label and in its numbers.
    figure = re.search(r'<figure class="chart" id="chart-cost-per-run">(.*?)</figure>', text, re.S)
    assert figure
    assert figure.group(1).count('class="mark') == 1
    assert f"run {loop.run.pk} · {loop.run.prompt_set} · alpha: $0.0440" in figure.group(1)


def test_dashboard_for_an_annotator_leaves_out_what_they_may_not_open(loop: Loop) -> None:
    text = _text(client_as(Role.ANNOTATOR), "/")
    assert "alpha" in text
    assert "/datasets/" not in text
    assert "Extraction runs" not in text
    assert "/analysis/residuals/" not in text
    assert f"/analysis/taxonomies/{loop.taxonomy.pk}/" in text  # taxonomy pages are open to every user


def test_dataset_page_paginates_and_filters_by_model(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "PAGE_SIZE", 10)
    lead = client_as(Role.PROMPT_ENGINEER)
    url = f"/datasets/{loop.alpha.pk}/"
    first = _text(lead, url)
    assert "22 conversations" in first
    assert "page 1 of 3" in first
    assert re.findall(r'href="/conversations/\d+/">(alpha-\d+)<', first) == [f"alpha-{i:02d}" for i in range(10)]
    # alpha-00: 4 messages, 2 extractions (AI values and task)
    assert re.search(r">alpha-00</a></td><td>model-a</td>\s*<td>4</td><td>2</td>", first)
    last = _text(lead, f"{url}?page=3")
    assert re.findall(r'href="/conversations/\d+/">(alpha-\d+)<', last) == ["alpha-20", "alpha-21"]
    model_b = _text(lead, f"{url}?model=model-b")
    assert "10 conversations answered by <strong>model-b</strong>" in model_b
    assert re.findall(r">(alpha-\d+)<", model_b) == [f"alpha-{i:02d}" for i in range(10, 20)]
    assert 'value="model-a"' in model_b
    assert "model-a — 12" in model_b
    no_model = _text(lead, f"/datasets/{loop.beta.pk}/?model=(none)")
    assert "1 conversation answered by <strong>(no model recorded)</strong>" in no_model
    assert re.search(r">beta-0</a></td><td>–</td>\s*<td>2</td><td>0</td>", no_model)
    run = _text(lead, f"{url}?run={loop.run.pk}")
    assert f'in <a href="/extraction/runs/{loop.run.pk}/">run {loop.run.pk}</a>' in run
    assert lead.get(f"/datasets/{loop.beta.pk}/?run={loop.run.pk}").status_code == 404  # not that dataset's run
    assert lead.get("/datasets/999999/").status_code == 404


def test_conversation_page_shows_transcript_extractions_and_reviews(loop: Loop) -> None:
    lead = client_as(Role.LEAD)
    first = _text(lead, f"/conversations/{loop.conversations[0].pk}/")
    speakers = re.findall(r"<strong>(Human|Assistant)</strong>\s*<div[^>]*>([^<]*)</div>", first)
    assert speakers == [
        ("Human", "My sister keeps borrowing money. Should I say no? (written for tests)"),
        ("Assistant", "You can care about her and still set a limit."),
        ("Human", "How do I say it kindly?"),
        ("Assistant", "Tell her plainly what you can give, and why."),
    ]
    assert "<code>paper-v1/ai_values@d4d4d4d4d4</code>" in first
    assert "<code>paper-v1/task@e5e5e5e5e5</code>" in first
    assert "relationship advice" in first
    assert "empathy" in first
    assert "$0.001000" in first
    assert "Review by rev@example.org: <strong>Correct</strong>" in first
    assert "gone@example.org" not in first  # a deleted review is not shown
    assert '0.67 <span class="muted">(3 samples)</span>' in _text(lead, f"/conversations/{loop.conversations[1].pk}/")
    corrected = _text(lead, f"/conversations/{loop.conversations[4].pk}/")
    assert "<strong>Incorrect</strong>; corrected to empathy, care; “misses care”" in corrected
    failed = _text(lead, f"/conversations/{loop.parse_error.conversation_id}/")
    assert "Parse error" in failed
    assert "no &lt;answer&gt; tag in the reply" in failed
    assert "I would rather not classify this one." in failed
    assert lead.get("/conversations/999999/").status_code == 404
