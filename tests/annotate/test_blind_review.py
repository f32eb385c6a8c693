"""Blind review enforced by Label Studio itself, checked as the reviewers: their own logins, API and web session.

Three reviewers get an organization each on the session's Label Studio (the app manages it); the sample is
pushed; then each reviewer, logged in through Label Studio's login form and with their own API token, sees
only their own project and tasks, and gets 404 for another reviewer's project, task, annotation and export.
A labeling config changed in Label Studio is detected as drift and its reviews are not read.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import httpx
import pytest

from annotate import labeling_config, services
from annotate.label_studio import LabelStudio
from annotate.local_server import LocalLabelStudio
from annotate.models import Annotation, Annotator, LabelStudioProject, ProjectStatus
from annotate.selectors import sample_independence
from tests.annotate.factories import run_with_extractions

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]


@dataclass
class Reviewer:
    email: str
    password: str
    annotator_id: int
    web: httpx.Client
    api: LabelStudio
    project_id: int
    task_ids: list[int]


def web_login(url: str, email: str, password: str) -> httpx.Client:
    """A browser-like session: Label Studio's login form, its CSRF cookie, the session cookie it sets."""
    web = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
    web.get("/user/login/")
    answer = web.post(
        "/user/login/",
        data={"email": email, "password": password, "csrfmiddlewaretoken": web.cookies.get("csrftoken", "")},
        headers={"Referer": f"{url}/user/login/"},
    )
    assert answer.status_code == 302, f"login of {email} refused ({answer.status_code})"
    return web


def _status(web: httpx.Client, path: str) -> int:
    return web.get(path).status_code


REFUSED = (403, 404)


def _assert_refused(me: Reviewer, others: list[Reviewer], annotations: dict[str, int]) -> None:
    """Every way to another reviewer's work is refused to ``me``, by web session and by token."""
    for other in others:
        paths = [
            f"/api/projects/{other.project_id}",
            f"/api/projects/{other.project_id}/export?exportType=JSON",
            f"/api/tasks?project={other.project_id}",
            f"/api/projects/{other.project_id}/next",
            f"/api/annotations/{annotations[other.email]}",
            *(f"/api/tasks/{task_id}" for task_id in other.task_ids),
            *(f"/api/tasks/{task_id}/annotations" for task_id in other.task_ids),
        ]
        token = {"Authorization": f"Token {me.api._api_key}"}
        for path in paths:
            assert _status(me.web, path) in REFUSED, f"{me.email} opened {path} of {other.email} (web session)"
            answer = httpx.get(f"{me.api.url}{path}", headers=token, timeout=60)
            assert answer.status_code in REFUSED, f"{me.email} opened {path} of {other.email} (API token)"
        assert not me.api.project_exists(other.project_id)
        assert other.project_id not in {p["id"] for p in me.web.get("/api/projects").json()["results"]}


def _sample_with_three_blind_reviewers(
    label_studio: LabelStudio, local_label_studio: LocalLabelStudio
) -> tuple[int, list[Reviewer]]:
    run = run_with_extractions(6)
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=6, seed=3)
    tag = uuid.uuid4().hex[:6]
    passwords = {f"blind-{tag}-{i}@example.org": secrets.token_urlsafe(12) for i in range(3)}
    ids = [services.annotator_get_or_create(email=email).pk for email in passwords]
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=ids, reviewers_per_item=2)
    accounts = services.annotators_blind_setup(
        annotator_ids=ids, passwords=passwords, server=local_label_studio, client=label_studio
    )
    assert sorted(a.email for a in accounts if a.created) == sorted(passwords)
    assert len({a.organization_id for a in accounts}) == 3, "one organization per reviewer"
    services.sample_push(sample_id=sample.pk, client=label_studio)
    reviewers = []
    for email, password in passwords.items():
        web = web_login(label_studio.url, email, password)
        token = web.get("/api/current-user/token").json()["token"]
        project = LabelStudioProject.objects.get(sample=sample, annotator__email=email)
        reviewers.append(
            Reviewer(
                email=email,
                password=password,
                annotator_id=project.annotator_id,
                web=web,
                api=LabelStudio(url=label_studio.url, api_key=token, retries=0),
                project_id=int(project.label_studio_project_id or 0),
                task_ids=sorted(int(t or 0) for t in project.tasks.values_list("label_studio_task_id", flat=True)),
            )
        )
    return sample.pk, reviewers


@pytest.mark.django_db(transaction=True)
def test_each_reviewer_sees_only_their_own_project_tasks_and_annotations(
    label_studio: LabelStudio, local_label_studio: LocalLabelStudio
) -> None:
    sample_id, reviewers = _sample_with_three_blind_reviewers(label_studio, local_label_studio)
    assert sample_independence(sample_id=sample_id).independent
    assert all(len(r.task_ids) == 4 for r in reviewers), "6 items x 2 reviews over 3 reviewers"
    annotations = {
        r.email: r.api.annotation_create(
            task_id=r.task_ids[0], result=labeling_config.accept_all_result(), lead_time=2.0
        ).annotation_id
        for r in reviewers
    }

    for me in reviewers:
        # Through the web session (what the browser does) and through the API with their own token.
        listed = {p["id"] for p in me.web.get("/api/projects").json()["results"]}
        assert listed == {me.project_id}
        assert set(me.api.projects()) == {me.project_id}
        tasks = me.web.get("/api/tasks", params={"project": me.project_id}).json()["tasks"]
        assert sorted(t["id"] for t in tasks) == me.task_ids
        assert _status(me.web, f"/api/annotations/{annotations[me.email]}") == 200
        assert [u["email"] for u in me.web.get("/api/users").json()] == [me.email], "no other reviewer is listed"
        others = [r for r in reviewers if r is not me]
        _assert_refused(me, others, annotations)
        # Label Studio lets a user pick their active organization; here it refuses, and nothing opens up.
        other_org = Annotator.objects.get(pk=others[0].annotator_id).label_studio_organization_id
        assert other_org is not None
        answer = me.web.patch(
            f"/api/users/{me.web.get('/api/current-user/whoami').json()['id']}/",
            json={"active_organization": other_org},
            headers={"X-CSRFToken": me.web.cookies.get("csrftoken") or "", "Referer": me.api.url},
        )
        assert answer.status_code == 405, answer.text
        _assert_refused(me, others, annotations)
    # The admin of the shared organization does not see them either.
    assert not set(label_studio.projects()) & {r.project_id for r in reviewers}


@pytest.mark.django_db(transaction=True)
def test_a_labeling_config_changed_in_label_studio_is_drift_and_its_reviews_are_not_read(
    label_studio: LabelStudio, local_label_studio: LocalLabelStudio
) -> None:
    sample_id, reviewers = _sample_with_three_blind_reviewers(label_studio, local_label_studio)
    for r in reviewers:
        r.api.annotation_create(task_id=r.task_ids[0], result=labeling_config.accept_all_result(), lead_time=2.0)
    changer = reviewers[0]
    config = changer.api.project_label_config(changer.project_id)
    changed = config.replace("</View>\n</View>", '</View>\n  <Header value="my own question"/>\n</View>')
    assert changed != config
    # The community edition has no roles: Label Studio lets the reviewer change their form (so the app must notice).
    answer = changer.web.patch(
        f"/api/projects/{changer.project_id}",
        json={"label_config": changed},
        headers={"X-CSRFToken": changer.web.cookies.get("csrftoken") or "", "Referer": changer.api.url},
    )
    assert answer.status_code == 200, answer.text

    report = services.annotations_reconcile(sample_id=sample_id, client=label_studio)
    drifted = LabelStudioProject.objects.get(sample_id=sample_id, annotator_id=changer.annotator_id)
    assert drifted.status == ProjectStatus.DRIFTED
    assert "changed in Label Studio" in drifted.status_detail
    assert any("changed in Label Studio" in p for p in report.problems)
    read = set(Annotation.objects.filter(item__sample_id=sample_id).values_list("annotator_id", flat=True))
    assert read == {r.annotator_id for r in reviewers[1:]}, "the drifted project's review is not read"
    status = sample_independence(sample_id=sample_id)
    assert status.drifted == [drifted.title]

    pushed = services.sample_push(sample_id=sample_id, client=label_studio)
    assert pushed.drifted == [drifted.pk], "nothing is pushed into a changed form"

    # A lead who checked the change puts the app's form back; the project's reviews are read again.
    restored = services.sample_push(sample_id=sample_id, client=label_studio, restore_config=True)
    assert restored.drifted == []
    assert services.label_config_same(changer.api.project_label_config(changer.project_id), config)
    services.annotations_reconcile(sample_id=sample_id, client=label_studio)
    read = set(Annotation.objects.filter(item__sample_id=sample_id).values_list("annotator_id", flat=True))
    assert read == {r.annotator_id for r in reviewers}
