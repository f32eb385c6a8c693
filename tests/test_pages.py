"""Every server-rendered page, rendered once with data and once empty, with undefined template variables as errors."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from accounts.roles import Role
from annotate.models import ReviewItem
from annotate.services import adjudication_record, review_flags_refresh
from extraction import page_urls as extraction_pages
from extraction.models import Extraction, PromptVersion
from results import page_urls as results_pages
from taxonomy import page_urls as taxonomy_pages
from tests.pages import Loop, build_loop, client_as, strict_templates
from tests.validation import factories as f
from validation import page_urls as validation_pages
from validation.services import agreement_snapshot_create
from workbench import urls as workbench_pages

#: Targets of forms (POST only, answering with a redirect): each is tested with its app's page.
POST_ONLY = {"validation-trust-target", "taxonomy-edit-page"}
PAGE_NAMES = sorted(
    p.name
    for module in (workbench_pages, extraction_pages, validation_pages, taxonomy_pages, results_pages)
    for p in module.urlpatterns
    if isinstance(p, URLPattern) and p.name and p.name not in POST_ONLY
)


def _disputed(loop: Loop) -> int:
    """A second reviewer who says "correct" while changing the labels of conversation 1 (a flagged disagreement),
    a lead's adjudication of it, and a snapshot that lists it; returns the disputed output's extraction id."""
    values = Extraction.objects.get(conversation=loop.conversations[1], feature="ai_values")
    item = ReviewItem.objects.get(conversation=loop.conversations[1])
    f.review(
        item=item,
        extraction=values,
        annotator=f.AnnotatorFactory.create(),
        verdict="correct",
        corrected_labels=["care"],
    )
    review_flags_refresh()
    adjudication_record(extraction_id=values.pk, verdict="incorrect", labels=["empathy", "care"], comment="both")
    agreement_snapshot_create(run_id=loop.run.pk, n_boot=10)
    return values.pk


def _urls(loop: Loop) -> dict[str, list[str]]:
    """Every page with the data of the loop (several variants where the page has options)."""
    disputed = _disputed(loop)
    return {
        "home": [reverse("home")],
        "dataset-page": [
            reverse("dataset-page", args=[loop.alpha.pk]),
            reverse("dataset-page", args=[loop.alpha.pk]) + "?page=1&model=model-a",
            reverse("dataset-page", args=[loop.alpha.pk]) + f"?run={loop.run.pk}",
            reverse("dataset-page", args=[loop.beta.pk]) + "?model=(none)",
            reverse("dataset-page", args=[loop.alpha.pk]) + "?label=empathy&subjective=no&reviewed=yes",
        ],
        "conversation-page": [reverse("conversation-page", args=[c.pk]) for c in loop.conversations],
        "extraction-run-page": [reverse("extraction-run-page", args=[loop.run.pk])],
        "validation-run-page": [reverse("validation-run-page", args=[loop.run.pk])],
        "taxonomy-list-page": [reverse("taxonomy-list-page")],
        "taxonomy-detail-page": [reverse("taxonomy-detail-page", args=[loop.taxonomy.pk])],
        "residual-list-page": [reverse("residual-list-page")],
        "descriptive-page": [
            reverse("descriptive-page"),
            reverse("descriptive-page") + f"?dataset={loop.alpha.name}",
            reverse("descriptive-page") + f"?run={loop.run.pk}",
            reverse("descriptive-page") + "?dataset=no-such-set",
        ],
        "residual-page": [reverse("residual-page", args=[loop.residuals.pk])],
        "adjudication-list-page": [
            reverse("adjudication-list-page"),
            reverse("adjudication-list-page") + f"?run={loop.run.pk}",
        ],
        "adjudication-page": [
            reverse("adjudication-page", args=[disputed]),
            reverse("adjudication-page", args=[loop.parse_error.pk]),
        ],
        **_prompt_urls(loop),
    }


def _prompt_urls(loop: Loop) -> dict[str, list[str]]:
    """The prompt engineer's pages, on the file sets and the versions the loop registered."""
    versions = list(PromptVersion.objects.order_by("pk")[:2])
    return {
        "prompt-set-list": [reverse("prompt-set-list")],
        "prompt-set-page": [reverse("prompt-set-page", args=[name]) for name in ("paper-v1", "fused-v1")],
        "prompt-version-page": [reverse("prompt-version-page", args=[v.pk]) for v in versions],
        "prompt-diff-page": [
            reverse("prompt-diff-page"),
            reverse("prompt-diff-page") + f"?a={versions[0].pk}&b={versions[1].pk}",
            reverse("prompt-diff-page") + f"?a={versions[0].pk}&b={versions[0].pk}",
        ],
        "prompt-candidate-page": [
            reverse("prompt-candidate-page", args=["paper-v1"]),
            reverse("prompt-candidate-page", args=["fused-v1"]) + "?feature=fused",
        ],
        "prompt-run-new": [
            reverse("prompt-run-new", args=["paper-v1"]),
            reverse("prompt-run-new", args=["fused-v1"]) + f"?dataset={loop.beta.name}&limit=2",
        ],
        "prompt-run-page": [reverse("prompt-run-page", args=[loop.run.pk])],
        "prompt-run-progress": [reverse("prompt-run-progress", args=[loop.run.pk])],
        "prompt-set-download": [reverse("prompt-set-download", args=["paper-v1"])],
        "prompt-compare-page": [
            reverse("prompt-compare-page"),
            reverse("prompt-compare-page") + "?a=paper-v1&b=fused-v1",
        ],
    }


@pytest.mark.django_db
def test_every_page_renders_without_template_errors(settings: Any, admin_client: Client) -> None:
    strict_templates(settings)
    urls = _urls(build_loop())
    assert sorted(urls) == PAGE_NAMES, "a page without a rendering test"
    for name, variants in urls.items():
        for url in variants:
            response = admin_client.get(url)
            assert response.status_code == 200, (name, url, response.status_code)
    assert Client().get(reverse("login")).status_code == 200
    annotator = client_as(Role.ANNOTATOR)
    for name in ("home", "taxonomy-list-page"):
        assert annotator.get(reverse(name)).status_code == 200, name
    for role in (Role.ANNOTATOR, Role.PROMPT_ENGINEER):
        for url in urls["adjudication-list-page"] + urls["adjudication-page"]:
            assert client_as(role).get(url).status_code == 403, (role, url)


@pytest.mark.django_db
def test_pages_render_on_an_empty_database(settings: Any, admin_client: Client) -> None:
    strict_templates(settings)
    pages = ("home", "taxonomy-list-page", "residual-list-page", "prompt-diff-page", "prompt-compare-page")
    for name in (*pages, "adjudication-list-page"):
        text = admin_client.get(reverse(name)).content.decode()
        assert "yet" in text, name  # each empty table says how to fill it
