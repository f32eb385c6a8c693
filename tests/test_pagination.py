"""Every list endpoint pages with ?limit= (1 to 1000) and ?offset=; out-of-range values are a 400, not a 500."""

from __future__ import annotations

import pytest

from accounts.roles import Role
from corpus.models import Dataset
from tests.clients import client_for

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/corpus/datasets/",
    "/api/annotate/samples/",
    "/api/analysis/taxonomies/",
    "/api/analysis/residuals/",
]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        (f"limit={2**63}", "limit"),
        (f"limit={2**64 + 5}", "limit"),
        ("limit=1001", "limit"),
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("limit=x", "limit"),
        (f"offset={2**63}", "offset"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
    ],
)
def test_out_of_range_paging_is_a_400_naming_the_parameter(django_user_model, url: str, query: str, field: str) -> None:  # type: ignore[no-untyped-def]
    lead = client_for(django_user_model, Role.LEAD)
    answer = lead.get(f"{url}?{query}")
    assert answer.status_code == 400, (url, query, answer.status_code)
    assert list(answer.json()) == [field]


def test_limit_and_offset_page_through_a_list(django_user_model) -> None:  # type: ignore[no-untyped-def]
    for n in range(5):
        Dataset.objects.create(name=f"set-{n}")
    lead = client_for(django_user_model, Role.LEAD)
    everything = lead.get("/api/corpus/datasets/")
    assert everything["X-Total-Count"] == "5"
    names = [d["name"] for d in everything.json()]
    assert sorted(names) == [f"set-{n}" for n in range(5)]
    first = lead.get("/api/corpus/datasets/?limit=2")
    assert [d["name"] for d in first.json()] == names[:2]
    assert 'rel="next"' in first["Link"]
    assert "offset=2" in first["Link"]
    last = lead.get("/api/corpus/datasets/?limit=2&offset=4")
    assert [d["name"] for d in last.json()] == names[4:]
    assert 'rel="next"' not in last["Link"]
    assert lead.get("/api/corpus/datasets/?limit=1000&offset=9223372036854775807").json() == []
