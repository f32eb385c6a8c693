"""A database made before the analysis app was split into taxonomy and results migrates forward with every row kept.

The models changed app but kept their tables: the migrations only move them between the apps' states. The test
goes back to the migrations of that time, writes rows through the historical models, migrates forward and reads
every row back through the new models. It runs on SQLite and, with DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from results.models import ResidualAnalysis, ResidualCell
from taxonomy.models import Taxonomy, TaxonomyEdit, TaxonomyNode, ValueMapping

# The last migration of the analysis app before the split; the new apps had no migration then.
BEFORE_SPLIT: list[tuple[str, str | None]] = [
    ("analysis", "0005_residual_analysis_request_key"),
    ("taxonomy", None),
    ("results", None),
]


def _migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def _latest() -> list[tuple[str, str | None]]:
    executor = MigrationExecutor(connection)
    return list(executor.loader.graph.leaf_nodes())


def _state_before_split(executor: MigrationExecutor) -> Any:
    """The models as they were: every other app at its latest migration, analysis before the split."""
    moved = {"analysis", "taxonomy", "results"}
    nodes = [n for n in executor.loader.graph.leaf_nodes() if n[0] not in moved]
    return executor.loader.project_state([*nodes, ("analysis", "0005_residual_analysis_request_key")]).apps


def _write_old_rows(apps: Any) -> dict[str, Any]:
    """One row of each moved model (and the rows they point at), through the models as they were."""
    user = apps.get_model(*get_user_model()._meta.label.split(".")).objects.create(username="keeper")
    dataset = apps.get_model("corpus", "Dataset").objects.create(name="kept")
    run = apps.get_model("extraction", "ExtractionRun").objects.create(dataset=dataset, prompt_set="default")
    taxonomy = apps.get_model("analysis", "Taxonomy").objects.create(
        name="ai-values", version=7, source="imported", params={"path": "values_tree.csv"}, created_by=user
    )
    node = apps.get_model("analysis", "TaxonomyNode")
    top = node.objects.create(taxonomy=taxonomy, key="top:1", level=1, name="Care", size=1)
    leaf = node.objects.create(taxonomy=taxonomy, key="empathy", level=0, name="empathy", parent=top)
    edit = apps.get_model("analysis", "TaxonomyEdit").objects.create(
        taxonomy=taxonomy, node=top, action="rename", before={"name": "c1"}, after={"name": "Care"}, user=user
    )
    mapping = apps.get_model("analysis", "ValueMapping").objects.create(
        taxonomy=taxonomy, value="Empathy.", node=leaf, method="exact", similarity=1.0, threshold=0.8
    )
    analysis = apps.get_model("analysis", "ResidualAnalysis").objects.create(
        row_feature="ai_values",
        col_feature="task",
        row_level=1,
        row_taxonomy=taxonomy,
        dataset=dataset,
        run=run,
        params={"min_conversations": 5},
        summary={"rows": 1, "cols": 1},
        n_conversations=42,
        critical_value=4.33,
        request_key="kept-key",
        created_by=user,
    )
    cell = apps.get_model("analysis", "ResidualCell").objects.create(
        analysis=analysis,
        row_label="Care",
        col_label="coding",
        observed=12,
        expected=3.5,
        residual=4.8,
        p_value=1e-6,
        p_exact=2e-6,
        significant=True,
        odds_ratio=3.1,
        or_low=1.5,
        or_high=6.4,
        or_corrected=False,
    )
    return {
        "user": user.pk,
        "dataset": dataset.pk,
        "run": run.pk,
        "taxonomy": taxonomy.pk,
        "top": top.pk,
        "leaf": leaf.pk,
        "edit": edit.pk,
        "mapping": mapping.pk,
        "analysis": analysis.pk,
        "cell": cell.pk,
    }


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_the_split_keeps_every_row() -> None:
    latest = _latest()
    try:
        executor = _migrate(BEFORE_SPLIT)
        ids = _write_old_rows(_state_before_split(executor))
    finally:
        _migrate(latest)

    taxonomy = Taxonomy.objects.get(pk=ids["taxonomy"])
    assert (taxonomy.name, taxonomy.version, taxonomy.source) == ("ai-values", 7, "imported")
    assert taxonomy.params == {"path": "values_tree.csv"}
    assert taxonomy.created_by_id == ids["user"]
    leaf = TaxonomyNode.objects.select_related("parent").get(pk=ids["leaf"])
    assert leaf.parent is not None
    assert (leaf.key, leaf.level, leaf.parent_id, leaf.parent.name) == ("empathy", 0, ids["top"], "Care")
    assert list(taxonomy.nodes.order_by("level").values_list("pk", flat=True)) == [ids["leaf"], ids["top"]]
    edit = TaxonomyEdit.objects.get(pk=ids["edit"])
    assert (edit.node_id, edit.action, edit.before, edit.after) == (
        ids["top"],
        "rename",
        {"name": "c1"},
        {"name": "Care"},
    )
    mapping = ValueMapping.objects.get(pk=ids["mapping"])
    assert (mapping.value, mapping.node_id, mapping.method, mapping.threshold) == (
        "Empathy.",
        ids["leaf"],
        "exact",
        0.8,
    )

    analysis = ResidualAnalysis.objects.get(pk=ids["analysis"])
    assert (analysis.row_taxonomy_id, analysis.dataset_id, analysis.run_id) == (
        ids["taxonomy"],
        ids["dataset"],
        ids["run"],
    )
    assert (analysis.n_conversations, analysis.critical_value, analysis.request_key) == (42, 4.33, "kept-key")
    assert analysis.params == {"min_conversations": 5}
    cell = ResidualCell.objects.get(pk=ids["cell"])
    assert (cell.analysis_id, cell.row_label, cell.col_label, cell.observed, cell.residual) == (
        ids["analysis"],
        "Care",
        "coding",
        12,
        4.8,
    )
    assert list(analysis.cells.values_list("pk", flat=True)) == [ids["cell"]]
    # New rows continue the old sequences instead of colliding with the kept ones.
    newer = Taxonomy.objects.create(name="ai-values", version=8, source="built")
    assert newer.pk > ids["taxonomy"]
