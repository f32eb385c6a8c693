"""The `agreement` and `compare_prompts` management commands."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.validation.conftest import Study
from validation.models import ReportSnapshot


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_agreement_json(study: Study) -> None:
    report = json.loads(_run("agreement", "--run", str(study.run.pk), "--json", "--n-boot", "20"))
    assert report["run"] == study.run.pk
    feature = {r["feature"]: r for r in report["agreement"]["feature"]}
    assert feature["response_type"]["n"] == 20
    assert feature["response_type"]["correct"] == 16
    assert report["params"]["n_boot"] == 20


def test_agreement_table_and_save(study: Study) -> None:
    text = _run("agreement", "--run", str(study.run.pk), "--n-boot", "20", "--save", "--no-progress")
    assert "Share judged correct, by feature" in text
    assert "80.0% ±" in text  # response type: 16 of 20
    assert "Reliability among reviewers" in text
    snapshot = ReportSnapshot.objects.get()
    assert f"saved as snapshot {snapshot.pk}" in text
    assert snapshot.run_id == study.run.pk
    assert snapshot.payload["counts"]["reviews"] == 110


def test_agreement_errors(db: None) -> None:
    with pytest.raises(CommandError, match="run 424242: no extraction run with id 424242"):
        _run("agreement", "--run", "424242")


def test_compare_prompts(study: Study) -> None:
    report = json.loads(_run("compare_prompts", "paper-v1", "paper-v2", "--json"))
    ai = report["features"]["ai_values"]
    assert ai["candidate"]["correct"] - ai["baseline"]["correct"] == 2
    assert len(ai["flipped"]) == 2
    text = _run("compare_prompts", f"paper-v1/ai_values@{study.v1.content_hash[:6]}", str(study.v2.pk), "--save")
    assert "no detectable difference" in text
    assert "correct candidate only" in text
    assert ReportSnapshot.objects.get().candidate == str(study.v2.pk)


def test_compare_prompts_errors(study: Study) -> None:
    with pytest.raises(CommandError, match="no prompt version matches 'paper-v7'"):
        _run("compare_prompts", "paper-v1", "paper-v7")
