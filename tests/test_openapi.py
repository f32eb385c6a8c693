"""The OpenAPI schema is complete: ``manage.py spectacular --validate --fail-on-warn`` passes, and the endpoints that
had no request or response schema (plain ``APIView``s) now describe their bodies, so the docs and a generated client
are right there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = Path(tmp_path_factory.mktemp("openapi")) / "schema.yaml"
    GENERATOR_STATS.reset()  # only this generation's warnings count
    # Raises SchemaGenerationError on any warning or error, and validates the result against the OpenAPI 3 schema.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    loaded: dict[str, Any] = yaml.safe_load(out.read_text())
    return loaded


def _body(schema: dict[str, Any], path: str, method: str, media: str = "application/json") -> dict[str, Any]:
    ref: str = schema["paths"][path][method]["requestBody"]["content"][media]["schema"]["$ref"]
    component: dict[str, Any] = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return component


def test_the_schema_generates_without_warnings_and_validates(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    assert "/api/analysis/taxonomy-nodes/{id}/rename/" in schema["paths"]


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/api/analysis/taxonomy-nodes/{id}/rename/", {"name", "description"}),
        ("/api/analysis/taxonomy-nodes/{id}/merge/", {"into"}),
        ("/api/analysis/taxonomy-nodes/{id}/move/", {"new_parent"}),
        ("/api/analysis/taxonomies/build/", {"name", "feature", "levels", "sizes", "seed"}),
        ("/api/analysis/taxonomies/{id}/map/", {"feature", "dataset", "threshold"}),
        ("/api/analysis/residuals/", {"rows", "cols", "min_conversations", "comparisons"}),
    ],
)
def test_write_endpoints_describe_their_request_bodies(schema: dict[str, Any], path: str, fields: set[str]) -> None:
    assert fields <= set(_body(schema, path, "post")["properties"]), path


def test_the_taxonomy_upload_is_multipart_with_its_file(schema: dict[str, Any]) -> None:
    content = schema["paths"]["/api/analysis/taxonomies/import/"]["post"]["requestBody"]["content"]
    body = content["multipart/form-data"]["schema"]
    assert body["properties"]["file"]["format"] == "binary"
    assert body["required"] == ["file"]


def test_reads_describe_their_parameters_and_answers(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    descriptive = paths["/api/analysis/descriptive/"]["get"]
    assert {p["name"] for p in descriptive["parameters"]} >= {"dataset", "run", "min_conversations"}
    ancestors = paths["/api/analysis/taxonomies/{id}/ancestors/"]["get"]
    assert [p["required"] for p in ancestors["parameters"] if p["name"] == "level"] == [True]
    export = paths["/api/validation/gold-sets/{id}/export/"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"application/x-ndjson", "text/csv"}
    # The list and the detail of residual analyses no longer collide on one operation id.
    assert paths["/api/analysis/residuals/"]["get"]["operationId"] == "analysis_residuals_list"
    assert paths["/api/analysis/residuals/{id}/"]["get"]["operationId"] == "analysis_residuals_retrieve"
